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


class StorageFault(JobctlError):
    """A database that opened fine cannot do its work now: locked by another process, its disk full,
    an I/O error. The message names which database (platform or ledger), its path, the cause and what
    to do. Raised before anything was done, the command is refused (exit 2: nothing changed, try
    again); during a run it becomes a :class:`RunFault` (exit 1)."""

    def __init__(self, which: str, path, cause: str, advice: str, *, transient: bool):
        self.which, self.path, self.cause, self.advice, self.transient = which, path, cause, advice, transient
        label = "ledger" if which == "ledger" else "platform database"
        super().__init__(f"{label} {path} {cause}; {advice}")


class LedgerFault(StorageFault, LedgerError):
    """A storage fault of the ledger."""


class PlatformFault(StorageFault, DatabaseError):
    """A storage fault of the platform database."""


class RunFault(JobctlError):
    """A ledger or platform fault in the middle of a run (jobs were queued or started): exit 1, not the
    exit 2 of refused input. Every job this process held was settled before it is raised."""

    exit_code = 1


class UpstreamNotDone(JobctlError):
    """A retry whose upstream job failed or was cancelled and has no newer run to wait for."""
