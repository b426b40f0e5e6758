"""Operator-facing errors.

The CLI catches :class:`JobctlError` only, prints its message as one line on stderr
and exits with ``exit_code``. Anything else is a bug and shows its traceback.
"""


class JobctlError(Exception):
    """Base class: something the operator can act on."""

    exit_code = 2


class UsageError(JobctlError):
    """Refused input: a bad command line, option or value."""


class UnknownJob(JobctlError):
    """A job or group name that is not in the catalogue."""


class ParamError(JobctlError):
    """A job parameter that is unknown, of the wrong type, out of range or missing."""


class CatalogueError(JobctlError):
    """The catalogue itself is inconsistent (duplicate name, unknown dependency, cycle)."""


class DatabaseError(JobctlError):
    """The platform database is missing, unreadable, not SQLite or lacks the platform schema."""


class LedgerError(JobctlError):
    """The ledger is locked, corrupt or unreadable."""


class NotFound(JobctlError):
    """A ledger id that does not exist."""


class TransitionRefused(JobctlError):
    """A state transition that the job's current status does not allow."""

    def __init__(self, job_id: int, wanted: str, found: str | None):
        self.job_id, self.wanted, self.found = job_id, wanted, found
        super().__init__(
            f"job {job_id}: cannot {wanted}, its status is {found or 'unknown'}"
        )


class JobFailed(JobctlError):
    """Raised by a job for a clean, expected failure (the message is the error shown)."""

    exit_code = 1


class JobCancelled(Exception):
    """Raised inside a running job at a batch boundary when a cancel was requested."""
