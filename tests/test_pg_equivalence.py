"""The same demo on SQLite and on PostgreSQL, every job run on both: every table compared row for row.

Floats equal within 1e-9 relative, timestamps as the same instants, JSON as the same values. The
search index itself differs by design (FTS5 vs tsvector); what it answers is compared instead.
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from typer.testing import CliRunner

from jobctl.backend import postgres
from jobctl.cli import app
from jobctl.timeutil import parse_ts

NOW = "2026-11-29T03:00:00Z"
USERS = 200
#: FTS5's own tables (the virtual table and its shadow tables): compared through `search`.
FTS_TABLES = ("profile_search",)


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output)
    return result.output


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(sqlite connection, postgres connection) after demo + enqueue --all --wait on each."""
    from pgserver import scratch_database
    tmp = tmp_path_factory.mktemp("equivalence")
    with scratch_database() as url:
        for name, db in (("sqlite", str(tmp / "platform.db")), ("postgres", url)):
            opts = ["--db", db, "--ledger", str(tmp / f"{name}-ledger.db"), "--media-root", str(tmp / f"{name}-media")]
            _cli(*opts, "demo", "--users", str(USERS), "--seed", "11", "--now", NOW)
            _cli(*opts, "enqueue", "--all", "--wait", "-p", f"now={NOW}")
        lite = sqlite3.connect(tmp / "platform.db")
        pg = postgres.connect(url)
        try:
            yield lite, pg, tmp, url
        finally:
            lite.close()
            pg.close()


def _tables(lite) -> list[str]:
    names = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return [n for n in names if not n.startswith("sqlite_") and not n.startswith(FTS_TABLES)]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, str) and isinstance(b, str) and a != b:
        if a[:1] in "[{" and b[:1] in "[{":
            return _same_json(json.loads(a), json.loads(b))
        try:
            return parse_ts(a) == parse_ts(b)
        except ValueError:
            return False
    return a == b


def _same_json(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return _same(a, b) if not isinstance(a, (dict, list)) else False


def _key(lite, table: str):
    info = list(lite.execute(f'PRAGMA table_info("{table}")'))
    pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    cols = [r[1] for r in info]
    idx = [cols.index(c) for c in pk] or [i for i, r in enumerate(info) if r[2].upper() != "REAL"]
    return cols, lambda row: tuple((v is None, v) for v in (row[i] for i in idx))


def test_every_table_holds_the_same_rows(both):
    lite, pg, _, _ = both
    tables = _tables(lite)
    assert {"match_scores", "feed_presort", "searchable_users", "quiz_answer_stats"} <= set(tables)
    for table in tables:
        cols, key = _key(lite, table)
        select = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"'
        a = sorted(lite.execute(select).fetchall(), key=key)
        b = sorted(pg.execute(select).fetchall(), key=key)
        assert len(a) == len(b), f"{table}: {len(a)} rows on SQLite, {len(b)} on PostgreSQL"
        for ra, rb in zip(a, b):
            bad = [c for c, x, y in zip(cols, ra, rb) if not _same(x, y)]
            assert not bad, f"{table}: columns {bad} differ:\n  sqlite   {ra}\n  postgres {rb}"


def test_derived_timestamps_are_timestamptz_on_postgres(both):
    _, pg, _, _ = both
    types = dict(pg.execute("SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = current_schema()").fetchall())
    assert types["match_scores.computed_at"] == "timestamp with time zone"
    assert types["feed_presort.generated_at"] == "timestamp with time zone"
    assert types["match_scores.user_id"] == "bigint"


@pytest.mark.parametrize("text", ["hiking", "berlin", "coffee music", "anna", "photography travel"])
def test_search_finds_the_same_users(both, text):
    _, _, tmp, url = both
    found = {}
    for name, db in (("sqlite", str(tmp / "platform.db")), ("postgres", url)):
        out = _cli("--db", db, "search", text, "--limit", "1000", "--json")
        found[name] = {r["user_id"] for r in json.loads(out)}
    assert found["sqlite"] == found["postgres"]
