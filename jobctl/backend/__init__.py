"""Where the platform lives: an SQLite file (the embedded default) or a PostgreSQL server.

* :func:`is_url` / :func:`as_target` tell a ``postgresql://`` URL from a file path;
* :func:`redact` is the one way any target is printed (no password ever);
* :func:`dialect` gives a connection's SQL hooks (:mod:`.sqlite` documents each one);
* :func:`is_postgres` is the one test the shared helpers in :mod:`jobctl.db` and
  :mod:`jobctl.schema` make to pick the PostgreSQL implementation in :mod:`.postgres`.
Jobs never branch on the backend: they call the helpers and the dialect hooks.
"""

from __future__ import annotations

from .sqlite import SQLITE, Dialect
from .url import as_target, check_url, is_url, redact

__all__ = ["Dialect", "SQLITE", "as_target", "check_url", "dialect", "is_postgres", "is_url", "redact"]


def dialect(conn) -> Dialect:
    """The SQL hooks of ``conn``'s backend (SQLite for a plain sqlite3 connection)."""
    return getattr(conn, "dialect", SQLITE)


def is_postgres(conn) -> bool:
    return dialect(conn).name == "postgres"
