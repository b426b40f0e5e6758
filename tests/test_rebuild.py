"""The one rebuild path (JobContext.rebuild): leftover dropped, shadow built aside, swapped in on a
clean exit, dropped on a failure or a cancel. The crash suite proves the same path under SIGKILL for
every rebuilding job; this proves its contract once, on a toy table."""

from __future__ import annotations

import pytest

from jobctl.context import ROWS_PER_TRANSACTION, JobContext, Reporter
from jobctl.db import table_exists, transaction
from jobctl.errors import JobCancelled

DDL = 'CREATE TABLE "{name}" (k INTEGER PRIMARY KEY, v TEXT NOT NULL)'


def ctx_on(platform, reporter=None) -> JobContext:
    return JobContext(db=platform.conn, params={"pause_ms": 0}, reporter=reporter)


def rows(platform, table="toy"):
    return platform.rows(f'SELECT k, v FROM "{table}" ORDER BY k')


def test_clean_rebuild_swaps_in_and_leaves_nothing_aside(platform):
    ctx = ctx_on(platform)
    with ctx.rebuild("toy", DDL, post_sql=['CREATE INDEX toy_v ON toy(v)']) as new:
        assert new.name == "toy__new" and table_exists(platform.conn, "toy__new")
        assert new.insert([(1, "a"), (2, "b")]) == 2
        assert not table_exists(platform.conn, "toy")            # nobody sees it before the swap
    assert rows(platform) == [(1, "a"), (2, "b")]
    assert platform.rows("SELECT name FROM sqlite_master WHERE name LIKE 'toy\\_\\_%' ESCAPE '\\'") == []
    assert platform.rows("SELECT name FROM sqlite_master WHERE type='index' AND name='toy_v'") == [("toy_v",)]


def test_inserts_are_chunked_and_columns_may_be_named(platform):
    ctx = ctx_on(platform)
    many = [(f"v{i}", i) for i in range(ROWS_PER_TRANSACTION * 2 + 3)]
    with ctx.rebuild("toy", DDL) as new:
        new.insert(many, columns=["v", "k"])
        new.execute('INSERT INTO "{name}" (k, v) VALUES (?, ?)', (-1, "sql"))
        assert new.rows == len(many)
    assert len(rows(platform)) == len(many) + 1


def test_a_leftover_shadow_of_a_killed_run_is_dropped_first(any_platform):
    platform = any_platform
    with transaction(platform.conn):
        platform.conn.execute('CREATE TABLE toy__new (junk TEXT)')
        platform.conn.execute("INSERT INTO toy__new VALUES ('stale')")
    with ctx_on(platform).rebuild("toy", DDL) as new:
        new.insert([(1, "fresh")])
    assert rows(platform) == [(1, "fresh")]


@pytest.mark.parametrize("stop", ["error", "cancel"])
def test_a_failed_or_cancelled_rebuild_drops_its_shadow_and_keeps_the_live_table(any_platform, stop):
    platform = any_platform
    with ctx_on(platform).rebuild("toy", DDL) as new:
        new.insert([(1, "old")])
    reporter = Reporter()
    ctx = ctx_on(platform, reporter)
    with pytest.raises(RuntimeError if stop == "error" else JobCancelled):
        with ctx.rebuild("toy", DDL) as new:
            new.insert([(2, "new")])
            if stop == "error":
                raise RuntimeError("disk full")
            reporter.cancel = True
            ctx.checkpoint()
    assert rows(platform) == [(1, "old")]
    assert not table_exists(platform.conn, "toy__new")


def test_tables_rebuilt_together_swap_together(platform):
    ctx = ctx_on(platform)
    with ctx.rebuild_together({"toy": DDL, "toy_count": 'CREATE TABLE "{name}" (n INTEGER)'}) as new:
        new["toy"].insert([(1, "a"), (2, "b")])
        new["toy_count"].execute(f'INSERT INTO "{{name}}" SELECT count(*) FROM "{new["toy"].name}"')
    assert rows(platform) == [(1, "a"), (2, "b")]
    assert platform.rows("SELECT n FROM toy_count") == [(2,)]
    with pytest.raises(RuntimeError):
        with ctx.rebuild_together({"toy": DDL, "toy_count": 'CREATE TABLE "{name}" (n INTEGER)'}) as new:
            new["toy"].insert([(3, "c")])
            raise RuntimeError("boom")
    assert rows(platform) == [(1, "a"), (2, "b")]
    assert not table_exists(platform.conn, "toy__new") and not table_exists(platform.conn, "toy_count__new")


@pytest.mark.parametrize("stop", ["error", "cancel"])
def test_the_runner_drops_the_shadow_of_a_failed_or_cancelled_run(any_platform, tmp_path, stop):
    """Through the runner, on both backends: the job ends failed or cancelled, its shadow is gone (the
    runner's ShadowTracker sees it on SQLite through an authorizer, on PostgreSQL because
    ctx.rebuild registers it), and the live table is the old one."""
    from jobctl.ledger import Ledger
    from jobctl.registry import Registry, job
    from jobctl.runner import Runner

    reg = Registry()

    @job("toy-rebuild", group="toy", summary="A toy rebuild", description="Rebuilds toy.", when="Never.",
         impact="None.", writes=["toy"], rebuilds=True, registry=reg)
    def toy_rebuild(ctx):
        with ctx.rebuild("toy", DDL) as new:
            new.insert([(2, "new")])
            if stop == "error":
                raise RuntimeError("the platform went away")
            ctx.reporter.cancel = True
            ctx.checkpoint()
        return {}

    platform = any_platform
    with ctx_on(platform).rebuild("toy", DDL) as new:
        new.insert([(1, "old")])
    ledger = Ledger(tmp_path / "ledger.db")
    _, (queued,) = ledger.enqueue([("toy-rebuild", "toy", {"pause_ms": 0, "batch_size": 10}, [])])
    runner = Runner(ledger=ledger, registry=reg, db_path=platform.path, media_root=tmp_path)
    try:
        claimed = ledger.claim()
        if stop == "cancel":
            ledger.cancel(queued["id"])
        final = runner.execute(claimed)
    finally:
        runner.close()
        ledger.close()
    assert final["status"] == ("failed" if stop == "error" else "cancelled")
    assert not table_exists(platform.conn, "toy__new")
    assert rows(platform) == [(1, "old")]
