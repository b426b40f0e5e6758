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
