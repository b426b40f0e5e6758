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
from .backend import dialect, is_postgres

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


#: After a job's write transaction, stay away from the lock for this share of the time it was held.
#: SQLite's lock is not a queue: a waiting app connection polls with growing sleeps (1, 2, 5, 10,
#: 25, 50 ms …) and misses short gaps, so back-to-back job transactions starve it.
YIELD_FACTOR = float(os.environ.get("JOBCTL_YIELD_FACTOR", "1.0"))
YIELD_MAX_S = 0.25


@contextmanager
def yielding_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction followed by a pause proportional to how long it held the lock (only on a
    backend with a database-wide write lock: not PostgreSQL)."""
    start = time.monotonic()
    with transaction(conn) as c:
        yield c
    if dialect(conn).yields_lock and not conn.in_transaction:
        time.sleep(min(YIELD_MAX_S, (time.monotonic() - start) * YIELD_FACTOR))


_depths: dict[int, int] = {}


def _depth(conn: sqlite3.Connection) -> int:
    _depths[id(conn)] = _depths.get(id(conn), 0) + 1
    return _depths[id(conn)]


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    if is_postgres(conn):
        from .backend import postgres
        return postgres.table_exists(conn, name)
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
    then dropped. ``secure_delete = FAST`` (this SQLite build defaults to on) skips overwriting
    the freed pages. A kill midway leaves a partly emptied table that the next call finishes.
    On PostgreSQL a plain DROP in a short transaction (see :func:`jobctl.backend.postgres.drop_table`).
    """
    if is_postgres(conn):
        from .backend import postgres
        return postgres.drop_table(conn, name)
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
    while True:
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
    """Insert ``rows`` into ``table`` with one prepared statement (the caller holds the transaction);
    on PostgreSQL with COPY."""
    if not rows:
        return
    if is_postgres(conn):
        from .backend import postgres
        return postgres.copy_columns(conn, table, columns, rows)
    cols = " (" + ", ".join(f'"{c}"' for c in columns) + ")" if columns else ""
    marks = ", ".join("?" * len(rows[0]))
    conn.executemany(f'INSERT INTO "{table}"{cols} VALUES ({marks})', rows)


def swap_in_together(conn: sqlite3.Connection, swaps: Sequence[tuple[str, str, Sequence[str]]]) -> None:
    """Replace several live tables by their shadows, ``(shadow, live, post_sql)`` each, in one
    transaction: readers see all the old tables or all the new ones."""
    if is_postgres(conn):
        from .backend import postgres
        return postgres.swap_in_together(conn, swaps)
    if len(swaps) == 1:
        swap_in(conn, *swaps[0])
        return
    for _shadow, live, _post in swaps:   # a killed run's swapped-out leftovers, in short chunks
        drop_table(conn, f"{live}__old")
    with transaction(conn):
        for shadow, live, post_sql in swaps:
            swap_in(conn, shadow, live, post_sql)


def swap_in(conn: sqlite3.Connection, shadow: str, live: str, post_sql: Sequence[str] = ()) -> None:
    """Atomically replace table ``live`` by the fully built ``shadow``.

    One transaction renames ``live`` to ``<live>__old`` and ``shadow`` to ``live`` (and runs
    ``post_sql``, e.g. index creation on the new table): readers see the old table or the new
    one, never a missing or half-built one. The old table is dropped afterwards in a short
    transaction of its own (a kill in between leaves ``<live>__old``, dropped by the next swap).
    Called inside an outer transaction (to swap several tables together) the old tables are
    dropped inside it. On PostgreSQL see :func:`jobctl.backend.postgres.swap_in`.
    """
    if is_postgres(conn):
        from .backend import postgres
        return postgres.swap_in(conn, shadow, live, post_sql)
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
