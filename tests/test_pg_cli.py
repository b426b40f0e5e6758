"""The command line against a PostgreSQL platform: bad targets refused in one line, passwords never
printed, the demo created, refilled only with --force."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobctl.backend import as_target, check_url, is_url, redact
from jobctl.cli import app
from jobctl.errors import DatabaseError

NOW = "2026-11-29T03:00:00Z"
SECRET = "s3cr3t-pw"


def invoke(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:pw@db.example:5433/app?sslmode=require", "postgresql://u:***@db.example:5433/app?sslmode=require"),
    ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
    ("postgresql://u@h/db?password=pw&sslmode=disable", "postgresql://u@h/db?password=***&sslmode=disable"),
    ("postgresql://h:5432/db", "postgresql://h:5432/db"),
    ("cannot reach postgresql://a:b@c/d: refused", "cannot reach postgresql://a:***@c/d: refused"),
    ("platform.db", "platform.db"),
])
def test_redact(url, expected):
    assert redact(url) == expected


def test_targets():
    assert is_url("postgresql://h/db") and is_url("postgres://h/db") and not is_url("pg.db")
    assert as_target("postgresql://u@h/db") == "postgresql://u@h/db"      # not a Path: '//' kept
    assert str(as_target("dir/platform.db")) == "dir/platform.db"
    parts = check_url("postgresql://me:pw@/app?host=/var/run/postgresql&sslmode=disable")
    assert parts["host"] == "/var/run/postgresql" and parts["dbname"] == "app" and parts["user"] == "me"
    with pytest.raises(DatabaseError, match=r"\*\*\*") as err:
        check_url(f"postgresql://u:{SECRET}@h:port/db")
    assert SECRET not in str(err.value)


def _bad_targets(pg_url):
    base = pg_url.rsplit("/", 1)[0].replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    return {
        "unreachable server": ("postgresql://postgres:" + SECRET + "@127.0.0.1:1/x", "cannot connect"),
        "missing database": (base + "/jobctl_no_such_db", 'database "jobctl_no_such_db" does not exist'),
        "unknown role": (base.replace("postgres:", "jobctl_nobody:", 1) + "/postgres", "jobctl_nobody"),
        "not a platform": (base + "/" + pg_url.rsplit("/", 1)[1], "is not a platform database: missing table users"),
        "malformed port": (f"postgresql://postgres:{SECRET}@127.0.0.1:port/x", "malformed PostgreSQL URL"),
        "malformed host": (f"postgresql://postgres:{SECRET}@[::1/x", "malformed PostgreSQL URL"),
        "unknown parameter": (base + "/x?colour=blue", "malformed PostgreSQL URL"),
        "raw @ in the password": (base.replace(SECRET, SECRET + "@x") + "/x", "write an '@' in the password as %40"),
    }


def test_bad_targets_are_one_line_exit_2_nothing_queued(pg_url, tmp_path):
    ledger = tmp_path / "ledger.db"
    for case, (url, message) in _bad_targets(pg_url).items():
        for command in (["enqueue", "--all"], ["run", "trending"], ["search", "anna"]):
            r = invoke("--db", url, "--ledger", str(ledger), "--media-root", str(tmp_path), *command)
            assert r.exit_code == 2, (case, command, r.output)
            assert message in r.output, (case, r.output)
            assert SECRET not in r.output, (case, r.output)
            assert len(r.output.strip().splitlines()) == 1, (case, r.output)
    assert not ledger.exists() or _queued(ledger) == 0


def _queued(ledger) -> int:
    import sqlite3
    return sqlite3.connect(ledger).execute("SELECT count(*) FROM jobs").fetchone()[0]


def test_demo_creates_the_schema_and_refuses_to_overwrite(pg_url, tmp_path):
    media = str(tmp_path / "media")
    r = invoke("--db", pg_url, "--media-root", media, "demo", "--users", "30", "--now", NOW)
    assert r.exit_code == 0, r.output
    assert "users" in r.output and "30" in r.output
    again = invoke("--db", pg_url, "--media-root", media, "demo", "--users", "30", "--now", NOW)
    assert again.exit_code == 2 and "already holds a platform with users; pass --force" in again.output
    forced = invoke("--db", pg_url, "--media-root", media, "demo", "--users", "12", "--now", NOW, "--force")
    assert forced.exit_code == 0, forced.output
    from jobctl.backend import postgres
    conn = postgres.connect(pg_url)
    try:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 12
        # the app's next insert continues after the demo's ids
        new_id = conn.execute("INSERT INTO posts (author_id, body, created_at) VALUES (1, 'x', now()) "
                              "RETURNING id").fetchone()[0]
        assert new_id == conn.execute("SELECT max(id) FROM posts").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM posts WHERE id = ?", (new_id,)).fetchone()[0] == 1
    finally:
        conn.close()


def test_demo_and_all_jobs_on_postgres(pg_url, tmp_path):
    """The issue's done-when, small: demo then enqueue --all --wait succeed."""
    opts = ["--db", pg_url, "--ledger", str(tmp_path / "l.db"), "--media-root", str(tmp_path / "m")]
    assert invoke(*opts, "demo", "--users", "60", "--now", NOW).exit_code == 0
    r = invoke(*opts, "enqueue", "--all", "--wait", "-p", f"now={NOW}")
    assert r.exit_code == 0, r.output
    s = invoke(*opts, "search", "music", "--json")
    assert s.exit_code == 0, s.output
