"""content-features: post_features rows, incremental runs, full=true, deleted posts, kill safety."""

import json
import math

import pytest

from builders import NOW, run_job
from jobctl.jobs import feed

LATER = "2026-11-30T03:00:00Z"


def features(platform):
    return {pid: (json.loads(h), json.loads(t), json.loads(k), at)
            for pid, h, t, k, at in platform.rows("SELECT * FROM post_features ORDER BY post_id")}


def small(platform):
    u = platform.user()
    for name in ("hiking", "board games", "art"):
        platform.interest(name)
    p1 = platform.post(u, "Party time! #BoardGames night, then #Hiking and #hiking trails trails")
    p2 = platform.post(u, "Modern art gallery trails")
    p3 = platform.post(u, "Board games and coffee")
    return u, p1, p2, p3


def test_features_by_hand(platform):
    _, p1, p2, p3 = small(platform)
    result = run_job(platform, feed.content_features)
    assert result["posts_analysed"] == 3 and result["up_to_date"] is False
    rows = features(platform)
    assert rows[p1][0] == ["boardgames", "hiking"]
    assert rows[p1][1] == ["board games", "hiking"]          # 'art' is not in 'party'
    assert rows[p2][1] == ["art"]
    assert rows[p3][1] == ["board games"]
    assert all(r[3] == NOW for r in rows.values())
    # p1 terms: party time boardgames night hiking hiking trails trails (8); N = 3
    # df: trails 2 (p1, p2), hiking 1, everything else in p1: 1
    tf_idf = {"hiking": 2 / 8 * math.log(3), "trails": 2 / 8 * math.log(3 / 2),
              "boardgames": 1 / 8 * math.log(3), "night": 1 / 8 * math.log(3),
              "party": 1 / 8 * math.log(3), "time": 1 / 8 * math.log(3)}
    assert tf_idf["hiking"] > tf_idf["boardgames"] > tf_idf["trails"]
    assert rows[p1][2] == ["hiking", "boardgames", "night", "party", "time"]
    # p3: board games coffee, each 1/3·ln 3; 'board' and 'games' are only in p3 ('boardgames' is one term)
    assert rows[p3][2] == ["board", "coffee", "games"]


def test_second_run_does_no_work_and_says_so(platform):
    small(platform)
    run_job(platform, feed.content_features)
    before = features(platform)
    result = run_job(platform, feed.content_features, now=LATER)
    assert result["up_to_date"] is True and result["posts_analysed"] == 0
    assert "nothing to do" in result["message"]
    assert features(platform) == before                      # computed_at not even touched


def test_incremental_picks_new_and_edited_posts_only(platform):
    u, p1, p2, p3 = small(platform)
    run_job(platform, feed.content_features)
    platform.conn.execute("UPDATE posts SET body = 'Now about #art', edited_at = '2026-11-29T10:00:00Z' WHERE id = ?",
                          (p2,))
    p4 = platform.post(u, "A new #hiking post")
    result = run_job(platform, feed.content_features, now=LATER)
    assert result["posts_analysed"] == 2
    rows = features(platform)
    assert rows[p2][:2] == (["art"], ["art"]) and rows[p2][3] == LATER
    assert rows[p4][1] == ["hiking"] and rows[p4][3] == LATER
    assert rows[p1][3] == NOW and rows[p3][3] == NOW
    # an edit made before the features were computed does not count as new
    platform.conn.execute("UPDATE posts SET edited_at = '2026-11-29T00:00:00Z' WHERE id = ?", (p3,))
    assert run_job(platform, feed.content_features, now=LATER)["up_to_date"] is True


def test_deleted_posts_lose_their_row_and_leave_the_corpus(platform):
    _, p1, p2, p3 = small(platform)
    run_job(platform, feed.content_features)
    platform.conn.execute("UPDATE posts SET deleted_at = ? WHERE id = ?", (NOW, p2))
    result = run_job(platform, feed.content_features, now=LATER)
    assert result["rows_removed"] == 1 and result["posts_analysed"] == 0
    assert set(features(platform)) == {p1, p3}
    # full=true recounts df without p2: 'trails' is now only in p1, so it outranks the once-only terms
    result = run_job(platform, feed.content_features, now=LATER, full=True)
    assert result["posts_analysed"] == 2 and result["mode"] == "full"
    rows = features(platform)
    assert rows[p1][2] == ["hiking", "trails", "boardgames", "night", "party"]
    assert all(r[3] == LATER for r in rows.values())


def test_full_redoes_everything(platform):
    small(platform)
    run_job(platform, feed.content_features)
    platform.interest("coffee")                            # new interest: only full=true applies it to old posts
    assert run_job(platform, feed.content_features, now=LATER)["up_to_date"] is True
    result = run_job(platform, feed.content_features, now=LATER, full=True)
    assert result["posts_analysed"] == 3
    assert features(platform)[3][1] == ["board games", "coffee"]


def test_no_posts(platform):
    result = run_job(platform, feed.content_features)
    assert result["posts_analysed"] == 0 and result["up_to_date"] is True
    assert platform.rows("SELECT count(*) FROM post_features") == [(0,)]



@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
