"""affinity: decayed weights by hand (half-life, lookback edge), follows, self-engagement, top per type."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import NOW, run_job
from jobctl.jobs import feed
from jobctl.jobs.feed import formulas as feed_math

H = 2 ** -0.5          # 0.5 ** (7 / 14): one half of a half-life


def weights(platform, user=None):
    """All rows, or {(target_type, target): weight} of one user."""
    rows = platform.rows("SELECT user_id, target_type, target, weight FROM user_affinities ORDER BY 1, 2, 3")
    if user is None:
        return rows
    return {(t, x): w for u, t, x, w in rows if u == user}


@pytest.fixture
def world(platform):
    p = platform
    u, c, d, e, f, v = (p.user() for _ in range(6))
    gone = p.user(deleted_at="2026-11-01T00:00:00Z")
    p.interest("hiking")
    p.interest("board games")
    pc = p.post(c, "#Hiking with friends", created_at="2026-10-01T00:00:00Z")
    pd = p.post(d, "Board games night #fun", created_at="2026-10-01T00:00:00Z")
    pe = p.post(e, "plain text", created_at="2026-08-01T00:00:00Z")
    pf = p.post(f, "plain text", created_at="2026-08-01T00:00:00Z")
    own = p.post(u, "my own #hiking and #selfie", created_at="2026-10-01T00:00:00Z")
    dead = p.post(c, "#deleted post", created_at="2026-10-01T00:00:00Z", deleted_at="2026-11-02T00:00:00Z")
    p.like(u, pc, "2026-11-15T03:00:00Z")                  # exactly one half-life old: 1 · 0.5
    p.share(u, pc, "2026-11-22T03:00:00Z")                 # half a half-life old: 3 · 2^-0.5
    p.comment(u, pd, created_at=NOW)                       # now: 2
    p.comment(u, pc, created_at=NOW, deleted_at=NOW)       # deleted comment: ignored
    p.follow(u, d, "2026-11-01T03:00:00Z")                 # two half-lives: 2 · 0.25
    p.like(u, pe, "2026-08-31T03:00:00Z")                  # exactly lookback_days old: counted
    p.like(u, pf, "2026-08-31T02:59:59Z")                  # one second older: not counted
    p.like(u, own, NOW)                                    # self-engagement: ignored
    p.share(u, own, NOW)
    p.like(u, dead, NOW)                                   # deleted post: ignored
    p.like(u, pd, "2026-11-29T03:00:01Z")                  # after now: ignored
    p.like(v, pc, NOW)
    p.follow(v, v, NOW)                                    # self-follow: ignored
    p.like(gone, pc, NOW)                                  # deleted user: no affinities
    run_job(platform, feed.content_features)
    return dict(u=u, c=c, d=d, e=e, f=f, v=v, gone=gone)


def test_weights_by_hand(platform, world):
    result = run_job(platform, feed.affinity)
    got = weights(platform, world["u"])
    c, d, e = (str(world[k]) for k in "cde")
    expected = {
        ("creator", c): 0.5 + 3 * H,
        ("creator", d): 2 + 0.5,
        ("creator", e): 0.5 ** (90 / 14),
        ("topic", "hiking"): 0.5 + 3 * H,
        ("topic", "board games"): 2.0,
        ("hashtag", "hiking"): 0.5 + 3 * H,
        ("hashtag", "fun"): 2.0,
    }
    assert got.keys() == expected.keys()
    for key, w in expected.items():
        assert math.isclose(got[key], w, rel_tol=1e-11), key      # weights keep 12 significant digits
    assert weights(platform, world["v"]) == {("creator", c): 1.0, ("topic", "hiking"): 1.0, ("hashtag", "hiking"): 1.0}
    assert {r[0] for r in weights(platform)} == {world["u"], world["v"]}
    assert result["users"] == 2 and result["rows"] == 10


def test_one_half_life_counts_exactly_half(platform):
    u, c = platform.user(), platform.user()
    platform.like(u, platform.post(c, "x"), "2026-11-15T03:00:00Z")
    run_job(platform, feed.affinity)
    assert weights(platform, u) == {("creator", str(c)): 0.5}


def test_half_life_and_lookback_parameters(platform, world):
    run_job(platform, feed.affinity, half_life_days=7, lookback_days=30)
    got = weights(platform, world["u"])
    assert ("creator", str(world["e"])) not in got
    assert math.isclose(got[("creator", str(world["c"]))], 0.25 + 1.5)
    assert math.isclose(got[("creator", str(world["d"]))], 2 + 2 * 0.5 ** 4)


def test_top_per_type_with_ties_by_target_text(platform):
    users = [platform.user() for _ in range(11)]
    u = users[0]
    for author in users[1:]:                             # ten creators, equal weights
        platform.like(u, platform.post(author, "x"), NOW)
    run_job(platform, feed.affinity, per_type=3)
    assert [t for (_, t) in weights(platform, u)] == ["10", "11", "2"]


def test_per_type_keeps_the_heaviest(platform, world):
    run_job(platform, feed.affinity, per_type=1)
    got = weights(platform, world["u"])
    assert set(got) == {("creator", str(world["c"])), ("topic", "hiking"), ("hashtag", "hiking")}


def test_without_post_features_only_creators(platform):
    u, c = platform.user(), platform.user()
    platform.like(u, platform.post(c, "#tag text"), NOW)
    run_job(platform, feed.affinity)
    assert weights(platform, u) == {("creator", str(c)): 1.0}


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1e7), st.floats(0, 1e7), st.floats(0.1, 100))
def test_decay_properties(a, b, half_life):
    da, db_, dab = (float(feed_math.decay(x, half_life)) for x in (a, b, a + b))
    assert 0 < dab <= 1 or dab == 0
    assert math.isclose(dab, da * db_, rel_tol=1e-9, abs_tol=1e-300)
    assert math.isclose(float(feed_math.decay(half_life * 86400, half_life)), 0.5, rel_tol=1e-12)
    assert float(feed_math.decay(14 * 86400, 14.0)) == 0.5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.floats(0, 5)), max_size=40), st.integers(1, 4))
def test_top_k_per_group_matches_brute_force(entries, k):
    g = np.array([e[0] for e in entries], dtype=np.int64)
    t = np.array([e[1] for e in entries], dtype=np.int64)
    s = np.array([e[2] for e in entries])
    idx, rank = feed_math.top_k_per_group(g, s, t, k)
    got = [(int(g[i]), int(r), float(s[i]), int(t[i])) for i, r in zip(idx, rank)]
    brute = []
    for group in sorted(set(g.tolist())):
        members = sorted((i for i in range(len(entries)) if g[i] == group), key=lambda i: (-s[i], t[i]))[:k]
        brute += [(group, r + 1, float(s[i]), int(t[i])) for r, i in enumerate(members)]
    assert got == brute


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
