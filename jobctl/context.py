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
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import db as dbops
from . import faults
from .backend import dialect
from .db import yielding_transaction
from .errors import JobCancelled
from .timeutil import fmt_ts, parse_ts, utcnow


#: Rows per write transaction for bulk inserts into shadow tables on SQLite: about 10–30 ms of lock
#: each. A backend without a database-wide write lock (PostgreSQL) inserts each call in one COPY.
ROWS_PER_TRANSACTION = 4000

#: A table definition for :meth:`JobContext.rebuild`: one statement or several, each with ``{name}``
#: where the table's name goes, or a function of the name returning them.
DDL = str | Sequence[str] | Callable[[str], "str | Sequence[str]"]


class Rebuild:
    """A table being rebuilt aside, as :meth:`JobContext.rebuild` hands it out.

    ``name`` is the shadow table (``<live>__new``) that nobody reads yet; :meth:`insert` fills it in
    short transactions; the context swaps it in for ``live`` when the ``with`` block ends cleanly."""

    def __init__(self, ctx: "JobContext", live: str, ddl: DDL, post_sql: Sequence[str] = ()):
        self.ctx = ctx
        self.live = live
        self.name = f"{live}__new"
        self.ddl = ddl
        self.post_sql = list(post_sql)
        self.rows = 0

    def statements(self) -> list[str]:
        ddl = self.ddl(self.name) if callable(self.ddl) else self.ddl
        return [sql.replace("{name}", self.name) for sql in ([ddl] if isinstance(ddl, str) else ddl)]

    def insert(self, rows, columns: Sequence[str] | None = None) -> int:
        """Insert ``rows`` (tuples in column order, or in ``columns`` order), ROWS_PER_TRANSACTION per
        short transaction so the platform's own writers never wait long. Returns the rows written."""
        rows = rows if isinstance(rows, list) else list(rows)
        per = ROWS_PER_TRANSACTION if dialect(self.ctx.db).yields_lock else max(1, len(rows))
        for start in range(0, len(rows), per):
            with self.ctx.transaction() as conn:
                dbops.insert_rows(conn, self.name, rows[start:start + per], columns)
        self.rows += len(rows)
        return len(rows)

    def execute(self, sql: str, params: Sequence | Mapping = ()) -> int:
        """Run one statement that writes the shadow table (``{name}`` in ``sql`` is its name), such as
        an ``INSERT … SELECT``, in its own short transaction. Returns the rows it changed."""
        with self.ctx.transaction() as conn:
            return conn.execute(sql.replace("{name}", self.name), params).rowcount


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
        #: the runner's :class:`~jobctl.db.ShadowTracker`: shadows to drop if this run fails or is cancelled
        self.shadows = None
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

    @contextmanager
    def rebuild(self, live: str, ddl: DDL, *, post_sql: Sequence[str] = ()) -> Iterator[Rebuild]:
        """Rebuild table ``live`` wholesale, aside, and swap it in::

            with ctx.rebuild("user_traits", TRAITS_DDL) as new:
                new.insert(rows)          # as often as needed, with ctx.checkpoint() between batches

        A leftover ``<live>__new`` of a killed run is dropped in short chunks and the shadow is created
        from ``ddl``; on a clean exit it replaces ``live`` in one transaction (running ``post_sql``,
        e.g. index creation, in it), so readers see the old table or the new one, never a partial one.
        On an exception or a cancel the shadow is dropped before the exception goes on."""
        with self.rebuild_together({live: (ddl, post_sql)}) as tables:
            yield tables[live]

    @contextmanager
    def rebuild_together(self, tables: Mapping[str, DDL | tuple[DDL, Sequence[str]]]) -> Iterator[dict[str, Rebuild]]:
        """:meth:`rebuild` for several tables swapped in together, in one transaction (readers see
        all the old ones or all the new ones). ``tables``: live name -> ddl, or (ddl, post_sql).
        Yields live name -> :class:`Rebuild`."""
        new = {live: Rebuild(self, live, *(spec if isinstance(spec, tuple) else (spec,)))
               for live, spec in tables.items()}
        try:
            for r in new.values():
                if self.shadows is not None:            # the runner drops it if this process fails
                    self.shadows.add(r.name)
                dbops.drop_table(self.db, r.name)       # a killed run's leftover
                dbops.create_table(self.db, r.statements())
            yield new
            dbops.swap_in_together(self.db, [(r.name, r.live, r.post_sql) for r in new.values()])
        except BaseException:
            self._drop_shadows(new.values())
            raise

    def _drop_shadows(self, rebuilds) -> None:
        if self.db.in_transaction:      # an exception inside a write: its transaction rolls back first
            return
        for r in rebuilds:
            try:
                dbops.drop_table(self.db, r.name)
            except Exception as exc:   # sqlite3 or psycopg: the original error matters more; the next run drops it
                self.log(f"could not drop {r.name} after the failed rebuild: {exc}", "warning")

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
