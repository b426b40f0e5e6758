"""One connection factory for every SQLite database jobctl opens.

WAL mode, a busy timeout and autocommit (``isolation_level=None``) so that every write
transaction is explicit and short: ``with transaction(conn): ...``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from . import faults
from .errors import LedgerFault, PlatformFault, StorageFault

#: How long a statement waits for another process's lock before giving up (JOBCTL_BUSY_TIMEOUT_MS).
BUSY_TIMEOUT_MS = int(os.environ.get("JOBCTL_BUSY_TIMEOUT_MS", "10000"))


def connect(path: str | Path, *, readonly: bool = False, timeout_ms: int | None = None,
            wal: bool = True) -> sqlite3.Connection:
    """Open ``path`` with WAL, busy timeout and foreign keys; autocommit mode.

    ``wal=False`` leaves the journal mode as it is (to inspect a file before changing it)."""
    timeout_ms = BUSY_TIMEOUT_MS if timeout_ms is None else timeout_ms
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, isolation_level=None,
                               timeout=timeout_ms / 1000, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=timeout_ms / 1000,
                               check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    if not readonly and wal:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
    if not readonly:
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN [IMMEDIATE] … COMMIT, ROLLBACK on any exception. Nested use makes a SAVEPOINT."""
    if conn.in_transaction:
        name = f"sp_{id(conn)}_{_depth(conn)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


#: Yielding the lock, only when it helps. SQLite's lock is not a queue: a waiting app connection
#: polls with growing sleeps (1, 2, 5, 10, 25, 50, 100 ms …) and misses short gaps, so back-to-back
#: job transactions starve it; a pause as long as the lock was held (× YIELD_FACTOR) lets it in.
#: But with nobody waiting that pause is pure loss (a fifth to a half of a write-bound job's time).
#: SQLite cannot tell us who waits, so the evidence is indirect, per database file:
#:
#: * another connection committed since our last commit (``PRAGMA data_version`` changed): the
#:   database is *contended* for the next HOT_WINDOW_S seconds, and every transaction is followed by
#:   the pause. (How long our own BEGIN IMMEDIATE waited is not used: a writer we waited for has
#:   committed, which data_version shows anyway, while the wait itself also counts the GIL and the
#:   CPU scheduler — a thread building rows made it a false alarm every few hundred transactions);
#: * otherwise (no other writer seen for HOT_WINDOW_S): no pause, except one PROBE_GAP_S gap (longer
#:   than the busy handler's longest sleep, so a waiting writer surely gets in, and its commit is the
#:   evidence above) whenever PROBE_EVERY_S passed without any such gap; gaps the job leaves anyway
#:   (computing between batches) count. That bounds the idle cost to PROBE_GAP_S / PROBE_EVERY_S.
#:
#: A database starts contended (until HOT_WINDOW_S passes without evidence): assume the app is there.
YIELD_FACTOR = float(os.environ.get("JOBCTL_YIELD_FACTOR", "1.0"))
YIELD_MAX_S = 0.25
HOT_WINDOW_S = 0.5
PROBE_GAP_S = 0.11
PROBE_EVERY_S = 4.0   # well under busy timeouts (the app bench 5 s, jobctl 10 s): a lone writer waits at most this


class _YieldState:
    __slots__ = ("data_version", "hot_until", "last_gap", "last_release", "held_s", "paused_s",
                 "transactions", "contended")

    def __init__(self, now: float):
        self.data_version: int | None = None
        self.hot_until = now + HOT_WINDOW_S
        self.last_gap = now
        self.last_release = now
        self.held_s = self.paused_s = 0.0
        self.transactions = self.contended = 0


_yield_states: dict[str, _YieldState] = {}


def _db_file(conn: sqlite3.Connection) -> str:
    try:
        return conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}"
    except sqlite3.Error:
        return f"?{id(conn)}"


def _yield_state(conn: sqlite3.Connection) -> _YieldState:
    path = _db_file(conn)       # one cheap pragma: keyed by file, so the evidence outlives a connection
    state = _yield_states.get(path)
    if state is None:
        state = _yield_states[path] = _YieldState(time.monotonic())
    return state


def contended(conn: sqlite3.Connection) -> bool:
    """Whether another writer was seen on ``conn``'s database within the last HOT_WINDOW_S."""
    return time.monotonic() < _yield_state(conn).hot_until


def yield_stats() -> dict[str, dict[str, float]]:
    """Per database file: write transactions, seconds the lock was held, seconds paused after them,
    and how many transactions found evidence of another writer."""
    return {path: {"transactions": s.transactions, "held_s": round(s.held_s, 3), "paused_s": round(s.paused_s, 3),
                   "contended": s.contended} for path, s in _yield_states.items()}


@contextmanager
def yielding_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction, followed by a pause as long as it held the lock when another writer was
    seen recently (see YIELD_FACTOR above); a savepoint when already inside a transaction."""
    if conn.in_transaction:
        with transaction(conn) as c:
            yield c
        return
    st = _yield_state(conn)
    asked = time.monotonic()
    with transaction(conn) as c:
        began = time.monotonic()
        version = c.execute("PRAGMA data_version").fetchone()[0]
        if began - st.last_release >= PROBE_GAP_S:
            st.last_gap = began
        if st.data_version is not None and version != st.data_version:
            st.hot_until = began + HOT_WINDOW_S
            st.contended += 1
        yield c
    end = time.monotonic()
    st.data_version = conn.execute("PRAGMA data_version").fetchone()[0]
    st.transactions += 1
    st.held_s += end - began
    pause = 0.0
    if YIELD_FACTOR > 0:
        if end < st.hot_until:
            pause = min(YIELD_MAX_S, (end - asked) * YIELD_FACTOR)
        elif end - st.last_gap >= PROBE_EVERY_S:
            pause = PROBE_GAP_S
    if pause > 0:
        time.sleep(pause)
        st.paused_s += pause
        if pause >= PROBE_GAP_S:
            st.last_gap = time.monotonic()
    st.last_release = time.monotonic()


if os.environ.get("JOBCTL_YIELD_STATS"):      # benchmarks: where the pauses went, written at exit
    import atexit
    import json as _json

    @atexit.register
    def _write_yield_stats() -> None:
        with open(os.environ["JOBCTL_YIELD_STATS"], "a") as fh:
            fh.write(_json.dumps({"pid": os.getpid(), "stats": yield_stats()}) + "\n")


_depths: dict[int, int] = {}


def _depth(conn: sqlite3.Connection) -> int:
    _depths[id(conn)] = _depths.get(id(conn), 0) + 1
    return _depths[id(conn)]


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name=?", (name,)
    ).fetchone() is not None


#: Rows deleted per transaction when emptying a big table before dropping it.
DROP_CHUNK_ROWS = 20_000


def drop_table(conn: sqlite3.Connection, name: str) -> None:
    """Drop a derived table without holding the platform's write lock for long.

    Dropping a table frees all its pages in one transaction: for millions of rows that is seconds
    with the app's writers waiting. So a regular table is first emptied in short transactions of
    DROP_CHUNK_ROWS rows (in key order, which frees whole leaf pages) with a breath between them,
    then dropped — but only while another writer was seen recently (:func:`contended`): with nobody
    waiting, one DROP (about 60 ns a row, 0.14 s for 2.4 M rows) beats emptying in chunks (2 µs a
    row) by 30×, so the chunks stop as soon as the evidence says nobody waits. ``secure_delete = FAST`` (this SQLite build defaults to on) skips overwriting
    the freed pages. A kill midway leaves a partly emptied table that the next call finishes.
    """
    row = conn.execute("SELECT type, sql FROM sqlite_master WHERE name=?", (name,)).fetchone()
    if row is None:
        return
    before = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
    conn.execute("PRAGMA secure_delete = FAST")
    try:
        sql = (row[1] or "").upper()
        if row[0] == "table" and not sql.startswith("CREATE VIRTUAL"):
            _empty_in_chunks(conn, name, without_rowid="WITHOUT ROWID" in sql)
        with transaction(conn):
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        conn.execute(f"PRAGMA secure_delete = {before}")


def _empty_in_chunks(conn: sqlite3.Connection, name: str, *, without_rowid: bool) -> None:
    if without_rowid:
        pk = [r[1] for r in sorted((r for r in conn.execute(f'PRAGMA table_info("{name}")') if r[5]),
                                   key=lambda r: r[5])]
        cols = ", ".join(f'"{c}"' for c in pk)
        key = f"({cols})" if len(pk) > 1 else cols
    else:
        cols = key = "rowid"
    stmt = f'DELETE FROM "{name}" WHERE {key} IN (SELECT {cols} FROM "{name}" LIMIT {DROP_CHUNK_ROWS})'
    while contended(conn):
        with yielding_transaction(conn):
            deleted = conn.execute(stmt).rowcount
        if deleted < DROP_CHUNK_ROWS:
            return


def create_table(conn: sqlite3.Connection, statements: Sequence[str]) -> None:
    """Create a table (and whatever its ``statements`` set up with it) in one transaction."""
    with transaction(conn):
        for sql in statements:
            conn.execute(sql)


def insert_rows(conn: sqlite3.Connection, table: str, rows: Sequence[Sequence],
                columns: Sequence[str] | None = None) -> None:
    """Insert ``rows`` into ``table`` with one prepared statement (the caller holds the transaction)."""
    if not rows:
        return
    cols = " (" + ", ".join(f'"{c}"' for c in columns) + ")" if columns else ""
    marks = ", ".join("?" * len(rows[0]))
    conn.executemany(f'INSERT INTO "{table}"{cols} VALUES ({marks})', rows)


def swap_in_together(conn: sqlite3.Connection, swaps: Sequence[tuple[str, str, Sequence[str]]]) -> None:
    """Replace several live tables by their shadows, ``(shadow, live, post_sql)`` each, in one
    transaction: readers see all the old tables or all the new ones."""
    if len(swaps) == 1:
        swap_in(conn, *swaps[0])
        return
    for _shadow, live, _post in swaps:   # a killed run's swapped-out leftovers, in short chunks
        drop_table(conn, f"{live}__old")
    with transaction(conn):
        for shadow, live, post_sql in swaps:
            swap_in(conn, shadow, live, post_sql)


#: A shadow table is named ``<live>__new``: built aside, then swapped in (or dropped on failure).
SHADOW_SUFFIX = "__new"


def drop_shadow(conn: sqlite3.Connection, name: str) -> None:
    """Drop a half-built shadow table after a failed or cancelled rebuild, in chunks like the swap.

    On a full disk the chunked delete (which rewrites pages into the WAL) can itself fail for want
    of space: then the WAL is checkpointed so that the next write reuses its file from the start, and
    the table is dropped in one go (with secure_delete FAST it writes a few freelist pages only). Either way the freed pages go
    back to the database's freelist, where the app's own writes reuse them.
    """
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    try:
        drop_table(conn, name)
    except sqlite3.OperationalError as exc:
        if "full" not in str(exc) and "I/O" not in str(exc):
            raise
        _drop_on_full_disk(conn, name)
    _checkpoint_quietly(conn, "TRUNCATE")  # and give the WAL's space back to the disk


def _drop_on_full_disk(conn: sqlite3.Connection, name: str) -> None:
    before = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
    conn.execute("PRAGMA secure_delete = FAST")
    try:
        for mode in ("RESTART", "TRUNCATE"):  # reuse the WAL file from its start; else empty it first
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            _checkpoint_quietly(conn, mode)
            try:
                with transaction(conn):
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                return
            except sqlite3.OperationalError:
                if mode == "TRUNCATE":
                    raise
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA secure_delete = {before}")


def _checkpoint_quietly(conn: sqlite3.Connection, mode: str) -> None:
    """Copy the WAL into the database (RESTART: the next writer starts the WAL over; TRUNCATE: and the
    file is emptied), if the disk and the readers allow; best effort."""
    try:
        conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
    except sqlite3.Error:
        pass


class ShadowTracker:
    """Remembers the shadow tables (``*__new``) a job creates on its connection, however it creates
    them (an SQLite authorizer sees every CREATE TABLE), so that a failed or cancelled run drops
    them. :meth:`add` registers one explicitly (for a backend without an authorizer)."""

    _CREATE = (sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VTABLE)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.names: list[str] = []
        conn.set_authorizer(self._authorize)

    def _authorize(self, action, arg1, arg2, dbname, _trigger):
        if action in self._CREATE and dbname in (None, "main") and arg1 and arg1.endswith(SHADOW_SUFFIX):
            self.add(arg1)
        return sqlite3.SQLITE_OK

    def add(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def close(self) -> None:
        self.conn.set_authorizer(None)

    def drop_all(self) -> list[str]:
        """Drop every tracked shadow that still exists (a swapped-in one no longer does). Returns
        their names; raises the first driver error (the caller logs it: the next run drops it)."""
        self.close()
        dropped = []
        for name in self.names:
            if table_exists(self.conn, name):
                drop_shadow(self.conn, name)
                dropped.append(name)
        return dropped


def storage_fault(which: str, path: str | Path, exc: BaseException) -> StorageFault:
    """The one translation of a driver error into an operator's line: which database ("platform" or
    "ledger"), its path, the cause and what to do. ``transient`` faults (locked, full, I/O) may pass
    if the operation is tried again later."""
    text = str(exc)
    low = text.lower()
    cls = LedgerFault if which == "ledger" else PlatformFault
    if "locked" in low or "busy" in low:
        return cls(which, path, f"is locked by another process ({text}, waited for the busy timeout)",
                   "wait for the lock holder (a backup, an sqlite3 shell, another writer) to finish, then try again",
                   transient=True)
    if "full" in low:
        return cls(which, path, f"cannot grow: its disk is full ({text})",
                   "free space on that disk, then try again", transient=True)
    if "i/o" in low:
        return cls(which, path, f"hit a disk I/O error ({text})",
                   "check the disk (is it full or failing?), then try again", transient=True)
    if "readonly" in low or "read-only" in low:
        return cls(which, path, f"is read-only ({text})", "jobctl needs to write it: check the file's and its "
                   "folder's permissions", transient=False)
    if "unable to open" in low:
        return cls(which, path, f"cannot be opened ({text})", "check the path and its permissions", transient=False)
    if "malformed" in low or "not a database" in low:
        return cls(which, path, f"is corrupt ({text})", "restore it from a backup", transient=False)
    return cls(which, path, f"failed: {text}", "see the error above", transient=False)


def swap_in(conn: sqlite3.Connection, shadow: str, live: str, post_sql: Sequence[str] = ()) -> None:
    """Atomically replace table ``live`` by the fully built ``shadow``.

    One transaction renames ``live`` to ``<live>__old`` and ``shadow`` to ``live`` (and runs
    ``post_sql``, e.g. index creation on the new table): readers see the old table or the new
    one, never a missing or half-built one. The old table is dropped afterwards in a short
    transaction of its own (a kill in between leaves ``<live>__old``, dropped by the next swap).
    Called inside an outer transaction (to swap several tables together) the old tables are
    dropped inside it.
    """
    old = f"{live}__old"
    nested = conn.in_transaction
    if not nested:
        drop_table(conn, old)
    with transaction(conn):
        conn.execute(f'DROP TABLE IF EXISTS "{old}"')
        if table_exists(conn, live):
            conn.execute(f'ALTER TABLE "{live}" RENAME TO "{old}"')
        conn.execute(f'ALTER TABLE "{shadow}" RENAME TO "{live}"')
        for sql in post_sql:
            conn.execute(sql)
        faults.reach("swap")
        if nested:
            before = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
            conn.execute("PRAGMA secure_delete = FAST")
            conn.execute(f'DROP TABLE IF EXISTS "{old}"')
            conn.execute(f"PRAGMA secure_delete = {before}")
    if not nested:
        drop_table(conn, old)
