"""trending: gravity scores at a fixed now, the window edge, what counts, order, limit, kill safety."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import NOW, run_job
from jobctl.jobs import feed
from jobctl.jobs.feed import formulas as feed_math



def table(platform):
    return platform.rows("SELECT post_id, score, rank FROM trending_posts ORDER BY rank")


@pytest.fixture
def world(platform):
    p = platform
    author, fan1, fan2, fan3 = (p.user() for _ in range(4))
    w = {"author": author}
    # 10 h old: 2 likes + 1 comment (+1 deleted comment) + 1 share -> E = 2 + 2 + 3 = 7
    w["a"] = a = p.post(author, "a", created_at="2026-11-28T17:00:00Z")
    p.like(fan1, a, "2026-11-28T18:00:00Z")
    p.like(fan2, a, "2026-11-28T18:00:00Z")
    p.comment(fan3, a, created_at="2026-11-28T19:00:00Z")
    p.comment(fan2, a, created_at="2026-11-28T19:00:00Z", deleted_at="2026-11-28T20:00:00Z")
    p.share(fan3, a, "2026-11-28T20:00:00Z")
    # 2 h old: 1 like now, 1 like after now (not counted) -> E = 1
    w["b"] = b = p.post(author, "b", created_at="2026-11-29T01:00:00Z")
    p.like(fan1, b, NOW)
    p.like(fan2, b, "2026-11-29T03:00:01Z")
    # exactly on the window edge (72 h): counted
    w["edge"] = edge = p.post(author, "edge", created_at="2026-11-26T03:00:00Z")
    p.like(fan1, edge, "2026-11-27T00:00:00Z")
    # one second too old
    w["old"] = old = p.post(author, "old", created_at="2026-11-26T02:59:59Z")
    p.like(fan1, old, "2026-11-27T00:00:00Z")
    # no engagement at all: left out
    w["quiet"] = p.post(author, "quiet", created_at="2026-11-29T00:00:00Z")
    # deleted post, hidden author, deleted author, created after now: left out
    w["deleted"] = d = p.post(author, "d", created_at="2026-11-28T20:00:00Z", deleted_at="2026-11-28T21:00:00Z")
    hidden = p.user(visibility="hidden")
    gone = p.user(deleted_at="2026-11-01T00:00:00Z")
    w["hidden"] = h = p.post(hidden, "h", created_at="2026-11-28T20:00:00Z")
    w["gone"] = g = p.post(gone, "g", created_at="2026-11-28T20:00:00Z")
    w["future"] = f = p.post(author, "f", created_at="2026-11-29T04:00:00Z")
    for post in (d, h, g, f):
        p.like(fan1, post, "2026-11-28T22:00:00Z")
    return w


def test_scores_and_order_by_hand(platform, world):
    result = run_job(platform, feed.trending)
    rows = table(platform)
    expected = {world["a"]: 7 / 12 ** 1.8, world["b"]: 1 / 4 ** 1.8, world["edge"]: 1 / 74 ** 1.8}
    assert [r[0] for r in rows] == [world["b"], world["a"], world["edge"]]   # 0.0824 > 0.0799 > 0.00043
    assert [r[2] for r in rows] == [1, 2, 3]
    for post_id, score, _ in rows:
        assert math.isclose(score, expected[post_id], rel_tol=1e-12)
    assert result["posts_ranked"] == 3
    extra = platform.rows("SELECT engagement, age_hours, computed_at FROM trending_posts WHERE post_id = ?", world["a"])
    assert extra == [(7, 10.0, NOW)]


def test_gravity_and_window_parameters(platform, world):
    run_job(platform, feed.trending, gravity=0)                     # score = E
    assert [(r[0], r[1]) for r in table(platform)] == [(world["a"], 7.0), (world["edge"], 1.0), (world["b"], 1.0)]
    run_job(platform, feed.trending, window_hours=10)               # only 'a' (exactly 10 h) and 'b'
    assert {r[0] for r in table(platform)} == {world["a"], world["b"]}


def test_limit_and_ties_by_post_id_descending(platform):
    u, fan = platform.user(), platform.user()
    posts = [platform.post(u, str(i), created_at="2026-11-28T03:00:00Z") for i in range(4)]
    for p in posts:
        platform.like(fan, p, "2026-11-28T04:00:00Z")
    run_job(platform, feed.trending, limit=3)
    rows = table(platform)
    assert [r[0] for r in rows] == sorted(posts, reverse=True)[:3]
    assert len({r[1] for r in rows}) == 1


def test_rerun_replaces_the_table(platform, world):
    run_job(platform, feed.trending)
    platform.conn.execute("UPDATE posts SET deleted_at = ? WHERE id = ?", (NOW, world["b"]))
    run_job(platform, feed.trending)
    assert [r[0] for r in table(platform)] == [world["a"], world["edge"]]


def test_empty_platform(platform):
    assert run_job(platform, feed.trending)["posts_ranked"] == 0
    assert table(platform) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.floats(0, 72)),
                min_size=1, max_size=30), st.integers(1, 10))
def test_rank_trending_matches_brute_force(events, limit):
    ids = np.arange(1, len(events) + 1)
    likes, comments, shares, ages = (np.array(c) for c in zip(*events))
    scores = feed_math.gravity_scores(feed_math.engagement(likes, comments, shares), ages, 1.8)
    got = ids[feed_math.rank_trending(ids, scores, limit)].tolist()
    brute = sorted((i for i in ids.tolist() if scores[i - 1] > 0), key=lambda i: (-scores[i - 1], -i))[:limit]
    assert got == brute
    # more engagement never ranks lower at the same age; older never ranks higher at the same E
    assert np.all(feed_math.gravity_scores(likes + 1, ages, 1.8) >= feed_math.gravity_scores(likes, ages, 1.8))
    assert np.all(feed_math.gravity_scores(likes, ages + 1, 1.8) <= feed_math.gravity_scores(likes, ages, 1.8))


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
