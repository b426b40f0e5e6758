"""Runs claimed jobs in this process, batch by batch, and records everything in the ledger.

After each batch the job calls ``ctx.checkpoint``: the runner records progress, cursor and
heartbeat, answers a pending cancel with :class:`JobCancelled`, and the job sleeps ``pause_ms``.
A heartbeat thread keeps the job visibly alive during a long batch. SIGINT/SIGTERM request a
cancel: the job stops at its next batch boundary and is recorded as cancelled.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .context import JobContext, Reporter
from .db import ShadowTracker, storage_fault
from .errors import JobCancelled, JobctlError, RunFault, StorageFault, TransitionRefused
from .ledger import FINAL, Ledger, Status
from .registry import Registry
from .schema import ensure_indexes, open_platform

HEARTBEAT_S = float(os.environ.get("JOBCTL_HEARTBEAT_S", "5"))
PROGRESS_EVERY_S = 0.25


@dataclass
class Interrupt:
    """Set by a signal handler: the running job stops at its next batch boundary."""

    reason: str | None = None
    count: int = 0

    def __bool__(self) -> bool:
        return self.reason is not None


class LedgerReporter(Reporter):
    """Reports a running job's progress to the ledger (throttled) and relays cancel requests.

    Every write here is advisory: a busy or full ledger skips it (the next flush, or the final
    transition, carries the latest progress and cursor) and never fails the job. Log lines that
    could not be written wait for the next write."""

    #: After a skipped write, leave the ledger alone this long (seconds) so a lock costs the job little.
    BACKOFF_S = 2.0

    def __init__(self, ledger: Ledger, job_id: int, interrupt: Interrupt):
        super().__init__()
        self.ledger, self.job_id, self.interrupt = ledger, job_id, interrupt
        self.remote_cancel = False
        self._last = 0.0
        self._pending: list[tuple[str, str]] = []
        self._quiet_until = 0.0

    def progress(self, done: int, total: int | None, cursor: Any) -> None:
        super().progress(done, total, cursor)
        t = time.monotonic()
        if t - self._last >= PROGRESS_EVERY_S and t >= self._quiet_until:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        stop = self.ledger.progress(self.job_id, self.done, self.total, self.cursor)
        self.remote_cancel = stop or self.remote_cancel
        self._flush_logs()

    def snapshot(self) -> tuple[int, int | None, Any]:
        return self.done, self.total, self.cursor

    def log(self, level: str, message: str) -> None:
        super().log(level, message)
        self._pending.append((level, message))
        self._flush_logs()

    def _flush_logs(self) -> None:
        while self._pending and time.monotonic() >= self._quiet_until:
            level, message = self._pending[0]
            if not self.ledger.log(self.job_id, level, message, advisory=True):
                self._quiet_until = time.monotonic() + self.BACKOFF_S
                return
            self._pending.pop(0)

    def cancel_requested(self) -> bool:
        return bool(self.interrupt) or self.remote_cancel


class _Heartbeat(threading.Thread):
    """One thread per runner: beats for whichever job the runner has in hand, with its own connection.
    A busy or full ledger skips a beat; an unopenable one is tried again at the next beat."""

    def __init__(self, ledger_path: Path, every: float):
        super().__init__(daemon=True, name="jobctl-heartbeat")
        self.ledger_path, self.every = ledger_path, every
        self.current: tuple[int, LedgerReporter] | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        ledger = None
        try:
            while not self.halt.wait(self.every):
                current = self.current
                if current is None:
                    continue
                try:
                    ledger = ledger or Ledger(self.ledger_path)
                    if ledger.heartbeat(current[0]):
                        current[1].remote_cancel = True
                except JobctlError:
                    pass  # a locked or full ledger delays one heartbeat; the next one will do
        finally:
            if ledger is not None:
                ledger.close()


@dataclass
class Runner:
    ledger: Ledger
    registry: Registry
    db_path: Path
    media_root: Path
    interrupt: Interrupt = field(default_factory=Interrupt)
    heartbeat_s: float = HEARTBEAT_S
    #: The job ids a waiter (`enqueue --wait`) runs for; None for a worker, whose signal cancels.
    waiting_for: list[int] | None = None
    _conn: Any = None
    _beat: _Heartbeat | None = None

    def platform(self):
        """The platform connection, opened and checked once per runner."""
        if self._conn is None:
            self._conn = open_platform(self.db_path)
            ensure_indexes(self._conn)
        return self._conn

    def close(self) -> None:
        if self._beat is not None:
            self._beat.halt.set()
            self._beat.join(timeout=2)
            self._beat = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def execute(self, job: dict) -> dict:
        """Run a job this process has claimed (status running) to its end; returns its final row.

        The job always ends settled — success, failed or cancelled — before this returns: the final
        transition is retried while the ledger is busy or full. A failed or cancelled run first drops
        the shadow tables it created. A ledger fault that retrying cannot cure (corrupt, read-only)
        is raised, so that the process ends and `stalled` finds the job with its worker gone."""
        job_id = job["id"]
        reporter = LedgerReporter(self.ledger, job_id, self.interrupt)
        if self._beat is None:
            self._beat = _Heartbeat(self.ledger.path, self.heartbeat_s)
            self._beat.start()
        shadows = None
        try:
            try:
                spec = self.registry.get(job["name"])
                params = spec.resolve_params(job["params"], strict=False)
                conn = self.platform()
                if conn.in_transaction:  # a job that failed mid-statement must not leak its transaction
                    conn.execute("ROLLBACK")
                ctx = JobContext(db=conn, params=params, media_root=self.media_root, job_id=job_id,
                                 cursor=job.get("cursor") if spec.resumable else None, reporter=reporter)
                shadows = ctx.shadows = ShadowTracker(conn)
                if spec.uses_now:
                    reporter.log("info", f"now = {ctx.params['now']}")
                self._beat.current = (job_id, reporter)
                ctx.check_cancel()
                result = dict(spec.func(ctx) or {})
                if spec.uses_now:
                    result.setdefault("now", ctx.params["now"])
            except JobCancelled:
                self._clean_up(shadows, reporter)
                reason = self.interrupt.reason or "cancelled by operator"
                if self.interrupt and not reporter.remote_cancel and self.waiting_for is not None \
                        and not self.ledger.ours_alone(job_id, self.waiting_for):
                    # a waiter's signal never cancels a job another batch owns: it goes back to the queue
                    settle = lambda: self.ledger.requeue(job_id, f"the waiting command was {reason}",  # noqa: E731
                                                         progress=reporter.snapshot())
                else:
                    settle = lambda: self.ledger.mark_cancelled(job_id, reason,  # noqa: E731
                                                                progress=reporter.snapshot())
            except (JobctlError, sqlite3.Error) as exc:
                settle = self._failure(reporter, shadows, job_id, self._message(exc))
            except Exception as exc:  # a bug in a job: record it with its traceback, keep the worker alive
                settle = self._failure(reporter, shadows, job_id, f"{type(exc).__name__}: {exc}")
            else:
                if reporter.done or reporter.total is not None:
                    reporter.flush()
                settle = lambda: self.ledger.finish(job_id, result)  # noqa: E731
            # Outside the job's own errors: a ledger fault here is not the job's failure but this
            # process's, raised once retrying cannot cure it.
            self._settle(settle)
        finally:
            if self._beat is not None:
                self._beat.current = None
            if shadows is not None:
                shadows.close()
        return self.ledger.get(job_id)

    def _message(self, exc: BaseException) -> str:
        """A job's error line: a platform driver error names the platform database and what to do."""
        if isinstance(exc, sqlite3.Error):
            return str(storage_fault("platform", self.db_path, exc))
        return str(exc)

    def _failure(self, reporter: LedgerReporter, shadows: ShadowTracker | None, job_id: int,
                 message: str) -> Callable[[], Any]:
        """Clean up after a failed job; returns its fail transition (with the traceback of now)."""
        tb = traceback.format_exc()
        self._clean_up(shadows, reporter)
        return lambda: self.ledger.fail(job_id, message, tb, progress=reporter.snapshot())

    def _clean_up(self, shadows: ShadowTracker | None, reporter: LedgerReporter) -> None:
        """Drop the half-built shadow tables of a failed or cancelled run (never masking its error)."""
        if shadows is None or not shadows.names:
            return
        conn = shadows.conn
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            dropped = shadows.drop_all()
        except sqlite3.Error as exc:
            reporter.log("warning", f"could not drop the shadow tables {', '.join(shadows.names)} "
                                    f"({storage_fault('platform', self.db_path, exc)}); the next run drops them")
            return
        if dropped:
            reporter.log("info", f"dropped the half-built shadow table(s) {', '.join(dropped)}")
        reporter._flush_logs()

    def _settle(self, transition: Callable[[], Any]) -> None:
        try:
            transition()
        except TransitionRefused:
            pass  # someone else (stalled cleanup, an operator) already settled this job


# -- loops used by the commands ---------------------------------------------------------------------

def run_until_done(runner: Runner, ids: list[int], *, poll_s: float = 0.2,
                   on_wait: Callable[[str], None] | None = None) -> list[dict]:
    """Run (or wait for workers to run) the jobs ``ids`` until every one is final.

    It also runs, or waits for, every unfinished job they depend on wherever it was queued (a reused
    job may depend on another batch's job), so the wait always ends. When it can run nothing and
    waits on jobs another process runs, ``on_wait`` gets one line saying which (each time it
    changes). On an interrupt, the job in hand stops at its batch boundary and the jobs of ``ids``
    still queued are cancelled — except those another batch owns or needs. A ledger fault that
    retrying cannot cure raises :class:`RunFault` (exit 1). Returns the final job rows of ``ids``.
    """
    ledger = runner.ledger
    runner.waiting_for = list(ids)
    released = False
    last_wait = None
    while True:
        try:
            if runner.interrupt and not released:
                ledger.release(ids, f"cancelled: the waiting command was {runner.interrupt.reason}")
                released = True
            jobs = {j["id"]: j for j in ledger.jobs(ids=ids)}
            if released or all(jobs[i]["status"] in FINAL for i in ids):
                return [jobs[i] for i in ids]  # interrupted: what other batches own stays queued for them
            needed = ledger.needed([i for i in ids if jobs[i]["status"] not in FINAL])
            job = None if runner.interrupt else ledger.claim(only=needed, stop=lambda: bool(runner.interrupt))
        except TransitionRefused:
            raise
        except (JobctlError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.DatabaseError):
                exc = storage_fault("ledger", ledger.path, exc)
            if isinstance(exc, StorageFault) and exc.transient:
                time.sleep(poll_s)  # a read refused by an exclusive lock: wait, the claim retries itself
                continue
            raise RunFault(str(exc)) from None
        if job is not None:
            _execute(runner, job)
            continue
        if on_wait:
            text = waiting_for(ledger, needed)
            if text and text != last_wait:
                on_wait(text)
            last_wait = text
        time.sleep(poll_s)


def waiting_for(ledger: Ledger, ids: list[int]) -> str | None:
    """One line naming the jobs another process is running that ``ids`` wait for, or None."""
    held = []
    for job in ledger.jobs(ids=ids, newest_first=False):
        if job["status"] == Status.RUNNING:
            held.append(job)
        elif job["status"] == Status.QUEUED:
            held.extend(j for j in ledger.jobs(name=job["name"], status="running") if j["id"] not in ids)
    if not held:
        return None
    parts = []
    for j in {j["id"]: j for j in held}.values():
        reason = ledger.stall_reason(j, 300)
        parts.append(f"job {j['id']} {j['name']} (batch {j['batch_id']}), running in pid {j['worker_pid']} "
                     f"on {j['worker_host']}" + (f" — {reason}" if reason else ""))
    return "waiting for " + "; ".join(parts)


def _execute(runner: Runner, job: dict) -> dict:
    """``runner.execute``, with a fault it could not ride out made the run's (exit 1, one line)."""
    try:
        return runner.execute(job)
    except TransitionRefused:
        raise
    except JobctlError as exc:
        raise RunFault(str(exc)) from None
    except sqlite3.DatabaseError as exc:  # a read of the ledger after the job settled
        raise RunFault(str(storage_fault("ledger", runner.ledger.path, exc))) from None


def work(runner: Runner, *, once: bool, poll_s: float = 1.0) -> int:
    """The worker loop: claim and run runnable jobs; ``once`` returns when none is left. While the
    ledger is busy or full an idle worker keeps waiting (the claim retries with backoff)."""
    n = 0
    while not runner.interrupt:
        try:
            job = runner.ledger.claim(stop=lambda: bool(runner.interrupt))
        except JobctlError as exc:
            raise RunFault(str(exc)) from None
        except sqlite3.DatabaseError as exc:  # the read after the claim
            raise RunFault(str(storage_fault("ledger", runner.ledger.path, exc))) from None
        if job is None:
            if once or runner.interrupt:
                break
            time.sleep(poll_s)
            continue
        _execute(runner, job)
        n += 1
    return n


def install_signal_handlers(interrupt: Interrupt) -> Callable[[], None]:
    """SIGINT and SIGTERM request a cancel at the next batch boundary; a second SIGINT aborts.
    Returns a function that restores the previous handlers."""

    def handler(signum, _frame):
        interrupt.count += 1
        if signum == signal.SIGINT and interrupt.count > 1:
            raise KeyboardInterrupt
        interrupt.reason = f"interrupted by {signal.Signals(signum).name}"

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
