"""What a running job sees: its parameters, the platform database and the batch boundary.

A job function takes one :class:`JobContext` and returns a JSON-able result dict. It works
batch by batch; after each batch it calls :meth:`JobContext.checkpoint`, which records progress,
cursor and heartbeat, raises :class:`~jobctl.errors.JobCancelled` when a cancel was requested,
and sleeps ``pause_ms`` so that the platform's own writes keep flowing.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from . import faults
from .backend import dialect
from .db import yielding_transaction
from .errors import JobCancelled
from .timeutil import fmt_ts, parse_ts, utcnow


class Reporter:
    """Where a context reports to. The runner's reporter writes the ledger; this one keeps memory."""

    def __init__(self):
        self.total: int | None = None
        self.done = 0
        self.cursor: Any = None
        self.logs: list[tuple[str, str]] = []
        self.cancel = False

    def progress(self, done: int, total: int | None, cursor: Any) -> None:
        self.done, self.total, self.cursor = done, total, cursor

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def cancel_requested(self) -> bool:
        return self.cancel


class JobContext:
    def __init__(self, *, db: sqlite3.Connection, params: dict[str, Any], media_root: Path | str = "media",
                 job_id: int | None = None, cursor: Any = None, reporter: Reporter | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.db = db
        self.params = dict(params)
        self.media_root = Path(media_root)
        self.job_id = job_id
        self.cursor = cursor
        self.reporter = reporter or Reporter()
        self._sleep = sleep
        self.total: int | None = None
        self.done = 0
        if self.params.get("now"):
            self.now: datetime = parse_ts(self.params["now"])
        else:
            self.now = utcnow()
            if "now" in self.params:
                self.params["now"] = fmt_ts(self.now)

    # -- parameters ------------------------------------------------------------------------
    @property
    def now_str(self) -> str:
        """``now`` as the platform formats timestamps ('2026-11-29T03:00:00Z')."""
        return fmt_ts(self.now)

    @property
    def batch_size(self) -> int:
        return int(self.params.get("batch_size") or 1000)

    @property
    def pause_ms(self) -> int:
        return int(self.params.get("pause_ms") or 0)

    # -- database --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the platform database (BEGIN IMMEDIATE … COMMIT), then a
        pause as long as the lock was held, so the platform's own writers get their turn."""
        with yielding_transaction(self.db) as conn:
            yield conn
            faults.reach("commit")

    def insert_many(self, sql: str, rows, chunk: int | None = None) -> int:
        """Insert ``rows`` into a table nobody reads yet (a shadow table), ``chunk`` rows per short
        transaction so the platform's own writers never wait long for the lock (SQLite); on
        PostgreSQL one COPY. Returns rows written."""
        d = dialect(self.db)
        rows = rows if isinstance(rows, list) else list(rows)
        chunk = chunk or d.rows_per_transaction or max(1, len(rows))
        for start in range(0, len(rows), chunk):
            with self.transaction() as conn:
                d.insert_rows(conn, sql, rows[start:start + chunk])
        return len(rows)

    # -- progress ----------------------------------------------------------------------------
    def set_total(self, total: int | None) -> None:
        self.total = total
        self.reporter.progress(self.done, self.total, self.cursor)

    def checkpoint(self, done: int | None = None, *, advance: int | None = None, cursor: Any = None,
                   pause: bool = True) -> None:
        """Call at every batch boundary, after the batch's transaction committed."""
        if advance is not None:
            self.done += advance
        elif done is not None:
            self.done = done
        if cursor is not None:
            self.cursor = cursor
        self.reporter.progress(self.done, self.total, self.cursor)
        faults.reach("checkpoint")
        if self.reporter.cancel_requested():
            raise JobCancelled()
        if pause and self.pause_ms > 0:
            self._sleep(self.pause_ms / 1000)
            if self.reporter.cancel_requested():
                raise JobCancelled()

    def check_cancel(self) -> None:
        """Raise JobCancelled if a cancel is pending (for use between phases without progress)."""
        if self.reporter.cancel_requested():
            raise JobCancelled()

    def log(self, message: str, level: str = "info") -> None:
        self.reporter.log(level, message)


def make_context(db: sqlite3.Connection, spec, params: dict | None = None, **kw) -> JobContext:
    """A context for calling a job function directly (tests): defaults filled, no pause."""
    resolved = spec.resolve_params({"pause_ms": 0, **(params or {})})
    return JobContext(db=db, params=resolved, **kw)
