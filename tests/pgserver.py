"""A throw-away PostgreSQL database per test, on the server at JOBCTL_TEST_PG_ADMIN
(default postgresql://postgres@127.0.0.1:5432/postgres).

Without a reachable server the PostgreSQL tests skip with the reason; with JOBCTL_REQUIRE_PG=1
(set by .ci/run) they fail instead, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("JOBCTL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
_unavailable: str | None = None
_checked = False


def _server_problem() -> str | None:
    global _checked, _unavailable
    if not _checked:
        _checked = True
        try:
            import psycopg
            psycopg.connect(ADMIN_URL, connect_timeout=3).close()
        except Exception as exc:  # ImportError, OperationalError: either way no server to test on
            _unavailable = f"no PostgreSQL server at {ADMIN_URL}: {' '.join(str(exc).split())}"
    return _unavailable


def require_server() -> None:
    problem = _server_problem()
    if problem is None:
        return
    if os.environ.get("JOBCTL_REQUIRE_PG") == "1":
        pytest.fail(f"JOBCTL_REQUIRE_PG=1 but {problem}")
    pytest.skip(problem)


def url_for(name: str) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database():
    """Create ``jobctl_test_<hex>``, yield its URL, drop it (closing leftover sessions)."""
    require_server()
    import psycopg
    name = f"jobctl_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_for(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: databases made by copy_database, dropped by drop_copies
_copies: list[str] = []


def copy_database(url: str) -> str:
    """A new database with the content of ``url``'s (CREATE DATABASE … TEMPLATE: a file-level copy;
    nobody may be connected to the original). Dropped by :func:`drop_copies`."""
    import time
    import psycopg
    source = url.rsplit("/", 1)[1]
    name = f"jobctl_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for attempt in range(50):          # a just-closed session may still be leaving
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    _copies.append(name)
    return url_for(name)


def drop_copies() -> None:
    import psycopg
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        while _copies:
            admin.execute(f'DROP DATABASE IF EXISTS "{_copies.pop()}" WITH (FORCE)')
