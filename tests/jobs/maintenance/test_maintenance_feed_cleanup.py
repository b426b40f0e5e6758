"""feed-presort-cleanup: aged-out rows and deleted users' rows deleted in short batches."""

import pytest

from builders import NOW, Platform, run_job
from jobctl.context import Reporter
from jobctl.jobs import maintenance

FEED = """CREATE TABLE feed_presort (user_id INTEGER NOT NULL, section TEXT NOT NULL, position INTEGER NOT NULL,
    item_type TEXT NOT NULL, item_id INTEGER NOT NULL, score REAL, generated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, section, position)) WITHOUT ROWID"""     # as the feed job creates it
ALL = "SELECT user_id, section, position, generated_at FROM feed_presort ORDER BY 1, 2, 3"


def feed(p, user, generated_at, sections=("matches", "trending"), n=2):
    for s in sections:
        for pos in range(1, n + 1):
            p.insert("feed_presort", user_id=user, section=s, position=pos, item_type="post",
                     item_id=pos, score=1.0, generated_at=generated_at)


def build(p):
    """NOW = 2026-11-29T03:00:00Z; default retention 3 days: cutoff 2026-11-26T03:00:00Z."""
    p.conn.execute(FEED)
    fresh = p.user()
    aged = p.user()
    edge = p.user()
    gone = p.user(deleted_at="2026-11-28T00:00:00Z")
    mixed = p.user()
    odd = p.user()
    feed(p, fresh, "2026-11-28T03:00:00Z")                 # 1 day old: kept
    feed(p, aged, "2026-11-25T03:00:00Z")                  # 4 days old: deleted (4 rows)
    feed(p, edge, "2026-11-26T03:00:00Z")                  # exactly 3 days: not *more than*: kept
    feed(p, gone, "2026-11-29T02:00:00Z")                  # fresh but the user is deleted: deleted (4 rows)
    feed(p, mixed, "2026-11-28T00:00:00Z", sections=("matches",))
    feed(p, mixed, "2026-11-20T00:00:00Z", sections=("following",))     # 2 aged rows of a kept user
    feed(p, odd, "2026-11-20 00:00:00", sections=("matches",), n=1)    # another text form, still an instant
    return dict(fresh=fresh, aged=aged, edge=edge, gone=gone, mixed=mixed, odd=odd)


def test_missing_table_reports_zero(platform):
    result = run_job(platform, maintenance.feed_presort_cleanup)
    assert result["rows_deleted"] == 0


def test_deletes_aged_rows_and_deleted_users_rows_only(platform):
    ids = build(platform)
    result = run_job(platform, maintenance.feed_presort_cleanup)
    left = platform.rows("SELECT user_id, section, COUNT(*) FROM feed_presort GROUP BY 1, 2 ORDER BY 1, 2")
    assert left == [(ids["fresh"], "matches", 2), (ids["fresh"], "trending", 2),
                    (ids["edge"], "matches", 2), (ids["edge"], "trending", 2),
                    (ids["mixed"], "matches", 2)]
    assert (result["rows_deleted"], result["aged_rows_deleted"], result["deleted_user_rows_deleted"]) == (11, 7, 4)
    assert result["cutoff"] == "2026-11-26T03:00:00Z"


def test_retention_days_parameter(platform):
    build(platform)
    result = run_job(platform, maintenance.feed_presort_cleanup, retention_days=0.5)     # cutoff 2026-11-28T15:00:00Z: every row is older
    assert platform.rows("SELECT COUNT(*) FROM feed_presort") == [(0,)]
    assert (result["rows_deleted"], result["cutoff"]) == (21, "2026-11-28T15:00:00Z")


def test_batches_of_one_row_same_answer_and_second_run_deletes_nothing(tmp_path):
    a, b = Platform(tmp_path, "a.db"), Platform(tmp_path, "b.db")
    build(a)
    build(b)
    reporter = Reporter()
    assert run_job(a, maintenance.feed_presort_cleanup)["rows_deleted"] == run_job(b, maintenance.feed_presort_cleanup, batch_size=1, reporter=reporter)["rows_deleted"] == 11
    assert (reporter.done, reporter.total) == (11, 11)
    assert a.rows(ALL) == b.rows(ALL)
    assert run_job(b, maintenance.feed_presort_cleanup)["rows_deleted"] == 0


def test_fresh_rows_written_after_the_scan_survive(platform, monkeypatch):
    ids = build(platform)
    original = maintenance._users_to_clean

    def scan_then_regenerate(conn, cutoff):
        found = original(conn, cutoff)
        conn.execute("UPDATE feed_presort SET generated_at = ? WHERE user_id = ?", (NOW, ids["aged"]))
        return found

    monkeypatch.setattr(maintenance, "_users_to_clean", scan_then_regenerate)
    run_job(platform, maintenance.feed_presort_cleanup)
    assert platform.rows("SELECT COUNT(*) FROM feed_presort WHERE user_id = ?", ids["aged"]) == [(4,)]



@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
