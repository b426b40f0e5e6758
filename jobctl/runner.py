"""Runs claimed jobs in this process, batch by batch, and records everything in the ledger.

After each batch the job calls ``ctx.checkpoint``: the runner records progress, cursor and
heartbeat, answers a pending cancel with :class:`JobCancelled`, and the job sleeps ``pause_ms``.
A heartbeat thread keeps the job visibly alive during a long batch. SIGINT/SIGTERM request a
cancel: the job stops at its next batch boundary and is recorded as cancelled.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .context import JobContext, Reporter
from .errors import JobCancelled, JobctlError, TransitionRefused
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
    """Reports a running job's progress to the ledger (throttled) and relays cancel requests."""

    def __init__(self, ledger: Ledger, job_id: int, interrupt: Interrupt):
        super().__init__()
        self.ledger, self.job_id, self.interrupt = ledger, job_id, interrupt
        self.remote_cancel = False
        self._last = 0.0

    def progress(self, done: int, total: int | None, cursor: Any) -> None:
        super().progress(done, total, cursor)
        t = time.monotonic()
        if t - self._last >= PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        self.remote_cancel = self.ledger.progress(self.job_id, self.done, self.total, self.cursor) or self.remote_cancel

    def log(self, level: str, message: str) -> None:
        super().log(level, message)
        self.ledger.log(self.job_id, level, message)

    def cancel_requested(self) -> bool:
        return bool(self.interrupt) or self.remote_cancel


class _Heartbeat(threading.Thread):
    """One thread per runner: beats for whichever job the runner has in hand, with its own connection."""

    def __init__(self, ledger_path: Path, every: float):
        super().__init__(daemon=True, name="jobctl-heartbeat")
        self.ledger_path, self.every = ledger_path, every
        self.current: tuple[int, LedgerReporter] | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        ledger = None
        try:
            ledger = Ledger(self.ledger_path)
            while not self.halt.wait(self.every):
                current = self.current
                if current is None:
                    continue
                try:
                    if ledger.heartbeat(current[0]):
                        current[1].remote_cancel = True
                except JobctlError:
                    pass  # a locked ledger delays one heartbeat; the next one will do
        except JobctlError:
            pass
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
        """Run a job this process has claimed (status running) to its end; returns its final row."""
        job_id = job["id"]
        reporter = LedgerReporter(self.ledger, job_id, self.interrupt)
        if self._beat is None:
            self._beat = _Heartbeat(self.ledger.path, self.heartbeat_s)
            self._beat.start()
        try:
            spec = self.registry.get(job["name"])
            params = spec.resolve_params(job["params"], strict=False)
            conn = self.platform()
            if conn.in_transaction:  # a job that failed mid-statement must not leak its transaction
                conn.execute("ROLLBACK")
            ctx = JobContext(db=conn, params=params, media_root=self.media_root, job_id=job_id,
                             cursor=job.get("cursor") if spec.resumable else None, reporter=reporter)
            if spec.uses_now:
                self.ledger.log(job_id, "info", f"now = {ctx.params['now']}")
            self._beat.current = (job_id, reporter)
            ctx.check_cancel()
            result = spec.func(ctx)
            result = dict(result or {})
            if spec.uses_now:
                result.setdefault("now", ctx.params["now"])
            if reporter.done or reporter.total is not None:
                reporter.flush()
            self.ledger.finish(job_id, result)
        except JobCancelled:
            self._settle(reporter.flush)
            reason = self.interrupt.reason or "cancelled by operator"
            self._settle(lambda: self.ledger.mark_cancelled(job_id, reason))
        except JobctlError as exc:
            self._record_failure(reporter, job_id, str(exc))
        except Exception as exc:  # a bug in a job: record it with its traceback, keep the worker alive
            self._record_failure(reporter, job_id, f"{type(exc).__name__}: {exc}")
        finally:
            if self._beat is not None:
                self._beat.current = None
        return self.ledger.get(job_id)

    def _record_failure(self, reporter: LedgerReporter, job_id: int, message: str) -> None:
        tb = traceback.format_exc()
        self._settle(reporter.flush)
        self._settle(lambda: self.ledger.fail(job_id, message, tb))

    def _settle(self, transition: Callable[[], Any]) -> None:
        try:
            transition()
        except TransitionRefused:
            pass  # someone else (stalled cleanup, an operator) already settled this job
        except JobctlError:
            pass  # the ledger is unavailable: stalled detection will find the job


# -- loops used by the commands ---------------------------------------------------------------------

def run_until_done(runner: Runner, ids: list[int], *, poll_s: float = 0.2,
                   on_wait: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Run (or wait for workers to run) the jobs ``ids`` until every one is final.

    On an interrupt, the job in hand stops at its batch boundary and the rest still queued
    are cancelled. Returns the final job rows in the order of ``ids``.
    """
    ledger = runner.ledger
    while True:
        if runner.interrupt:
            for job in ledger.jobs(ids=ids):
                if job["status"] == Status.QUEUED:
                    try:
                        ledger.cancel(job["id"])
                    except TransitionRefused:
                        pass
        jobs = {j["id"]: j for j in ledger.jobs(ids=ids)}
        pending = [i for i in ids if jobs[i]["status"] not in FINAL]
        if not pending:
            return [jobs[i] for i in ids]
        job = None if runner.interrupt else ledger.claim(only=pending)
        if job is not None:
            runner.execute(job)
            continue
        if on_wait:
            on_wait([jobs[i] for i in pending])
        time.sleep(poll_s)


def work(runner: Runner, *, once: bool, poll_s: float = 1.0) -> int:
    """The worker loop: claim and run runnable jobs; ``once`` returns when none is left."""
    n = 0
    while not runner.interrupt:
        job = runner.ledger.claim()
        if job is None:
            if once:
                break
            time.sleep(poll_s)
            continue
        runner.execute(job)
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
