"""Whether a running job still has a live worker: stalled and suspect jobs.

A running job is *stalled* when its worker process is gone on this host or its heartbeat is too
old, and *suspect* when its heartbeat lies in the future beyond the clock tolerance.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from .ledger_schema import Status
from .timeutil import parse_iso

#: How far the clocks of the hosts sharing a ledger may disagree (seconds): a heartbeat up to this far
#: in the future counts as fresh, one from another host counts as stale only this much later.
CLOCK_TOLERANCE_S = float(os.environ.get("JOBCTL_CLOCK_TOLERANCE_S", "120"))


def stall_reason(job: dict, after: float, now: datetime | None, *, host: str, tolerance: float) -> str | None:
    """Why a running job counts as stalled, or None: its worker process is gone on ``host`` (this
    one); or its heartbeat (a NULL one counts from the start) is older than ``after`` seconds — plus
    ``tolerance`` when another host wrote it; or it is *suspect*: its heartbeat lies further in the
    future than ``tolerance``, so its age cannot be judged (a worker whose clock is wrong) and
    nothing says a process still acts on it."""
    if job["status"] != Status.RUNNING:
        return None
    now = now or datetime.now(timezone.utc)
    if job["worker_host"] == host and job["worker_pid"] and not pid_alive(job["worker_pid"]):
        return f"worker pid {job['worker_pid']} is gone"
    beat = parse_iso(job["heartbeat_at"] or job["started_at"])
    if beat is None:
        return None
    age = (now - beat).total_seconds()
    if -age > tolerance:
        return (f"suspect: heartbeat {int(-age)} s in the future, beyond the {tolerance:g} s clock tolerance "
                f"(is the clock of {job['worker_host'] or 'its host'} wrong?)")
    slack = 0 if job["worker_host"] == host else tolerance
    if age > after + slack:
        return f"no heartbeat for {int(age)} s"
    return None


def stall_label(reason: str) -> str:
    """'stalled: <reason>', or the reason itself when it already says what it is ('suspect: …')."""
    return reason if reason.startswith("suspect") else f"stalled: {reason}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) still answers kill(0): look at /proc where there is one.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
