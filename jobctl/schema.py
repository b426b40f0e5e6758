"""The platform's schema (a verbatim copy of the contract) and the checks made before any job runs.

jobctl never creates platform tables in a database the operator pointed it at; only
``jobctl demo`` calls :func:`create_platform`. :func:`ensure_indexes` adds the indexes
the jobs need (the contract allows indexes, nothing else).
"""

from __future__ import annotations

import os
import sqlite3
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .backend import is_postgres, is_url
from .db import connect
from .errors import DatabaseError

#: Indexes the jobs rely on. Names are prefixed so that they are recognisably jobctl's.
INDEXES = [
    "CREATE INDEX IF NOT EXISTS jobctl_posts_author ON posts(author_id, created_at)",
    "CREATE INDEX IF NOT EXISTS jobctl_posts_created ON posts(created_at)",
    "CREATE INDEX IF NOT EXISTS jobctl_likes_post ON post_likes(post_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_comments_post ON comments(post_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_shares_post ON shares(post_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_shares_user ON shares(user_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_comments_author ON comments(author_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_follows_followee ON follows(followee_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_blocks_blocked ON blocks(blocked_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_user_interests_interest ON user_interests(interest_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_quiz_answers_question ON quiz_answers(question_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_post_media_media ON post_media(media_id)",
    "CREATE INDEX IF NOT EXISTS jobctl_users_avatar ON users(avatar_media_id)",
]


def schema_sql() -> str:
    return resources.files("jobctl").joinpath("platform_schema.sql").read_text()


@lru_cache(maxsize=1)
def expected_columns() -> dict[str, list[str]]:
    """{table: [column, ...]} as the contract defines them."""
    mem = sqlite3.connect(":memory:")
    mem.executescript(schema_sql())
    out = {}
    for (name,) in mem.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY rowid"):
        out[name] = [r[1] for r in mem.execute(f'PRAGMA table_info("{name}")')]
    mem.close()
    return out


def create_platform(conn: sqlite3.Connection) -> None:
    """Create the platform tables and jobctl's indexes (for ``demo`` and tests only)."""
    if is_postgres(conn):
        from .backend import postgres
        conn.raw.execute(postgres.schema_sql())
    else:
        conn.executescript(schema_sql())
    ensure_indexes(conn)


def ensure_indexes(conn: sqlite3.Connection) -> None:
    """Create the indexes of :data:`INDEXES` that are missing. On PostgreSQL only the missing ones
    are even attempted: CREATE INDEX IF NOT EXISTS would still wait for a share lock on the table."""
    todo = INDEXES
    if is_postgres(conn):
        from .backend import postgres
        have = postgres.existing_indexes(conn)
        todo = [sql for sql in INDEXES if sql.split()[5] not in have]
    for sql in todo:
        conn.execute(sql)


def missing_schema(conn: sqlite3.Connection) -> list[str]:
    """What the database lacks of the contract: 'table users' or 'column users.email'."""
    missing = []
    for table, cols in expected_columns().items():
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        if not have:
            missing.append(f"table {table}")
            continue
        missing.extend(f"column {table}.{c}" for c in cols if c not in have)
    return missing


def open_platform(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the platform database at ``path`` (an SQLite file or a ``postgresql://`` URL) after
    checking it holds the platform schema.

    Raises :class:`DatabaseError` with one operator-facing line (never a password) otherwise.
    """
    if is_url(str(path)):
        from .backend import postgres
        return postgres.open_platform(str(path), readonly=readonly, expected=expected_columns())
    p = Path(path)
    if not p.exists():
        raise DatabaseError(f"platform database not found: {p} (create one with `jobctl demo`, or pass --db)")
    if p.is_dir():
        raise DatabaseError(f"platform database path is a directory: {p}")
    if not os.access(p, os.R_OK):
        raise DatabaseError(f"cannot read platform database {p}: permission denied")
    # The file is never open()ed directly: closing any descriptor of an SQLite file releases this
    # process's POSIX locks on it and would corrupt the WAL of connections already open here.
    conn = None
    try:
        conn = connect(p, readonly=readonly, wal=False)
        missing = missing_schema(conn)
        if not readonly and not missing:
            _check_writable(p)
            conn.execute("PRAGMA journal_mode = WAL")  # only once it is known to be the platform
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if "not a database" in str(exc):
            raise DatabaseError(f"not an SQLite database: {p}") from None
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise DatabaseError(f"platform database is read-only: {p} (jobs write their derived tables "
                                "into it; check the file's and its folder's permissions)") from None
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseError(f"platform database {p} is locked by another process; try again") from None
        raise DatabaseError(f"cannot open platform database {p}: {exc}") from None
    if missing:
        conn.close()
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise DatabaseError(f"{p} is not a platform database: missing {shown}")
    return conn


def _check_writable(p: Path) -> None:
    """Refuse a read-only platform up front instead of failing in a job's first write."""
    folder = p.resolve().parent
    if not os.access(p, os.W_OK) or not os.access(folder, os.W_OK):
        raise sqlite3.OperationalError("readonly")


def has_platform_data(path: str | Path) -> bool:
    """True when ``path`` is an SQLite file whose users table holds rows (demo refuses to overwrite it)."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT EXISTS(SELECT 1 FROM users)").fetchone()[0] == 1
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
