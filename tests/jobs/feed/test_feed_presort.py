"""feed-presort: each section's content and order by hand, who is processed, kill safety, missing inputs."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import NOW, run_job
from jobctl import graph
from jobctl.backend import is_postgres
from jobctl.jobs import feed
from jobctl.jobs.feed import foryou as feed_foryou
from jobctl.jobs.feed import formulas as feed_math
from jobctl.jobs.feed import presort as feed_presort
from jobctl.registry import Registry, job

YESTERDAY = "2026-11-28T03:00:00Z"


def section(platform, user, name):
    return platform.rows("SELECT position, item_type, item_id, score FROM feed_presort "
                         "WHERE user_id = ? AND section = ? ORDER BY position", user, name)


def items(platform, user, name):
    return [r[2] for r in section(platform, user, name)]


def make_match_scores(p, rows):
    p.conn.execute("CREATE TABLE match_scores (user_id INTEGER, candidate_id INTEGER, score REAL, rank INTEGER, "
                   "computed_at TEXT, PRIMARY KEY (user_id, candidate_id))")
    p.conn.executemany("INSERT INTO match_scores VALUES (?, ?, ?, ?, ?)", [r + (NOW,) for r in rows])


def make_trending(p, post_ids):
    p.conn.execute("CREATE TABLE trending_posts (post_id INTEGER PRIMARY KEY, score REAL, rank INTEGER, computed_at TEXT)")
    p.conn.executemany("INSERT INTO trending_posts VALUES (?, ?, ?, ?)",
                       [(pid, 10.0 - i, i + 1, NOW) for i, pid in enumerate(post_ids)])


def make_affinities(p, rows):
    p.conn.execute("CREATE TABLE user_affinities (user_id INTEGER, target_type TEXT, target TEXT, weight REAL, "
                   "PRIMARY KEY (user_id, target_type, target))")
    p.conn.executemany("INSERT INTO user_affinities VALUES (?, ?, ?, ?)", rows)


def make_features(p, rows):
    p.conn.execute("CREATE TABLE post_features (post_id INTEGER PRIMARY KEY, hashtags TEXT, topics TEXT, "
                   "keywords TEXT, computed_at TEXT)")
    p.conn.executemany("INSERT INTO post_features VALUES (?, ?, ?, '[]', ?)",
                       [(pid, json.dumps(tags), json.dumps(topics), NOW) for pid, topics, tags in rows])


def build_world(p):
    """Viewer 1 and the people around them; returns the post ids by name."""
    for uid in range(1, 11):
        kw = {}
        if uid == 3:
            kw["visibility"] = "hidden"
        if uid == 6:
            kw["deleted_at"] = "2026-11-20T00:00:00Z"
        if uid == 9:
            kw["last_active_at"] = "2026-10-20T00:00:00Z"       # 40 days: not refreshed
        p.user(id=uid, **kw)
    p.block(1, 4)
    p.block(5, 1)
    posts = {
        "8a": p.post(8, "a", created_at="2026-11-29T02:00:00Z"),
        "8b": p.post(8, "b", created_at="2026-11-25T00:00:00Z"),
        "8old": p.post(8, "old", created_at="2026-11-20T00:00:00Z"),
        "8del": p.post(8, "del", created_at="2026-11-28T00:00:00Z", deleted_at="2026-11-28T01:00:00Z"),
        "2a": p.post(2, "2a", created_at="2026-11-28T00:00:00Z"),
        "8c": p.post(8, "c", created_at="2026-11-28T00:00:00Z"),     # same time as 2a, higher id
        "4": p.post(4, "blocked", created_at="2026-11-28T00:00:00Z"),
        "6": p.post(6, "deleted user", created_at="2026-11-28T00:00:00Z"),
        "3": p.post(3, "hidden user", created_at="2026-11-28T00:00:00Z"),
        "5": p.post(5, "blocks me", created_at="2026-11-28T00:00:00Z"),
        "own": p.post(1, "mine", created_at="2026-11-28T00:00:00Z"),
        "10": p.post(10, "cooking", created_at="2026-11-28T00:00:00Z"),
        "10b": p.post(10, "sunset", created_at="2026-11-28T00:00:00Z"),
        "10c": p.post(10, "hike", created_at="2026-11-28T00:00:00Z"),
        "10d": p.post(10, "hike", created_at="2026-11-28T00:00:00Z"),
        "future": p.post(8, "future", created_at="2026-11-29T04:00:00Z"),
    }
    for followee in (2, 3, 4, 6, 8):
        p.follow(1, followee)
    p.like(1, posts["8c"])
    make_match_scores(p, [(1, 2, 90.0, 1), (1, 3, 85.0, 2), (1, 4, 80.0, 3), (1, 5, 75.0, 4), (1, 6, 70.0, 5),
                          (1, 7, 60.0, 6), (2, 1, 90.0, 1)])
    make_trending(p, [posts[k] for k in ("own", "4", "8a", "5", "2a", "3", "8del")])
    make_affinities(p, [(1, "creator", "8", 1.0), (1, "creator", "2", 0.5), (1, "creator", "4", 5.0),
                        (1, "creator", "5", 5.0), (1, "creator", "3", 5.0), (1, "topic", "hiking", 2.0),
                        (1, "hashtag", "sunset", 0.25), (1, "topic", "cooking", 0.0)])
    make_features(p, [(posts["8a"], ["hiking"], ["sunset"]), (posts["2a"], ["hiking"], []),
                      (posts["8c"], ["hiking"], []), (posts["own"], ["hiking"], []),
                      (posts["4"], ["hiking"], []), (posts["5"], ["hiking"], []), (posts["3"], ["hiking"], []),
                      (posts["8old"], ["hiking"], []), (posts["10"], ["cooking"], []),
                      (posts["10b"], [], ["sunset"]), (posts["10c"], ["hiking"], []),
                      (posts["10d"], ["hiking"], []), (posts["future"], ["hiking"], [])])
    return posts


@pytest.fixture
def world(platform):
    return build_world(platform)


def test_matches_in_rank_order_without_hidden_blocked_or_deleted(platform, world):
    run_job(platform, feed.feed_presort)
    assert section(platform, 1, "matches") == [(1, "user", 2, 90.0), (2, "user", 7, 60.0)]
    assert section(platform, 2, "matches") == [(1, "user", 1, 90.0)]


def test_following_newest_first_recent_only(platform, world):
    run_job(platform, feed.feed_presort)
    assert items(platform, 1, "following") == [world["8a"], world["8c"], world["2a"], world["8b"]]
    assert all(r[1] == "post" and r[3] is None for r in section(platform, 1, "following"))


def test_trending_minus_own_blocked_hidden_deleted(platform, world):
    run_job(platform, feed.feed_presort)
    assert items(platform, 1, "trending") == [world["8a"], world["2a"]]
    assert items(platform, 10, "trending") == [world[k] for k in ("own", "4", "8a", "5", "2a")]
    assert [r[3] for r in section(platform, 1, "trending")] == [8.0, 6.0]


def test_for_you_scores_by_hand(platform, world):
    run_job(platform, feed.feed_presort)
    got = [(r[2], r[3]) for r in section(platform, 1, "for_you")]
    assert got == [(world["8a"], 1.0 + 2.0 + 0.25), (world["2a"], 0.5 + 2.0),
                   (world["10d"], 2.0), (world["10c"], 2.0), (world["8b"], 1.0), (world["10b"], 0.25)]
    assert items(platform, 2, "for_you") == []                   # no affinities, nothing scored


def test_who_is_processed_and_old_rows(platform, world):
    platform.conn.execute(feed_presort.FEED_PRESORT_DDL)
    old = [(9, "for_you", 1, "post", world["8a"], 1.0, YESTERDAY),
           (1, "for_you", 15, "post", world["8a"], 1.0, YESTERDAY),
           (3, "trending", 1, "post", world["8a"], 1.0, YESTERDAY)]
    platform.conn.executemany("INSERT INTO feed_presort VALUES (?, ?, ?, ?, ?, ?, ?)", old)
    result = run_job(platform, feed.feed_presort)
    assert result["users"] == 7                                 # 1, 2, 4, 5, 7, 8, 10
    users = {r[0] for r in platform.rows("SELECT DISTINCT user_id FROM feed_presort WHERE generated_at = ?", NOW)}
    assert users <= {1, 2, 4, 5, 7, 8, 10} and 1 in users
    # skipped users (inactive 9, hidden 3) keep their rows; user 1's stale position 15 is gone
    assert platform.rows("SELECT user_id FROM feed_presort WHERE generated_at = ? ORDER BY 1", YESTERDAY) == [(3,), (9,)]
    assert section(platform, 1, "for_you")[-1][0] == 6


def test_per_section_limit_and_active_days(platform, world):
    result = run_job(platform, feed.feed_presort, per_section=2, active_days=60)
    assert result["users"] == 8                                 # 9 is active within 60 days
    for name in feed_presort.SECTIONS:
        assert len(section(platform, 1, name)) <= 2
    assert items(platform, 1, "following") == [world["8a"], world["8c"]]
    assert items(platform, 1, "for_you") == [world["8a"], world["2a"]]


def test_recent_days(platform, world):
    run_job(platform, feed.feed_presort, recent_days=2)
    assert items(platform, 1, "following") == [world["8a"], world["8c"], world["2a"]]


def test_missing_upstream_tables_are_empty(platform):
    a, b = platform.user(), platform.user()
    platform.follow(a, b)
    post = platform.post(b, "hello", created_at=YESTERDAY)
    result = run_job(platform, feed.feed_presort)
    assert result["rows_by_section"] == {"matches": 0, "following": 1, "trending": 0, "for_you": 0}
    assert items(platform, a, "following") == [post]


def test_temp_tables_are_dropped(platform, world):
    run_job(platform, feed.feed_presort)
    if is_postgres(platform.conn):
        assert not platform.has_table(feed_presort.RECENT) and not platform.has_table(feed_presort.VOCAB)
    else:
        assert platform.rows("SELECT name FROM temp.sqlite_master WHERE type = 'table'") == []


def test_feed_group_resolves_in_contract_order():
    reg = Registry()
    for name, deps in (("build-user-traits", []), ("match-scores", ["build-user-traits"])):
        job(name, group="matching", summary="s", description="d", when="w", impact="i",
            depends_on=deps, registry=reg)(lambda ctx: None)
    for fn in (feed.content_features, feed.trending, feed.affinity, feed.feed_presort):
        reg.add(dataclasses.replace(fn.spec))
    names = [s.name for s in graph.resolve(reg, groups=["feed"])]
    assert names == ["build-user-traits", "match-scores", "content-features", "trending", "affinity", "feed-presort"]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_for_you_ranking_matches_brute_force(data):
    """The pruned ranking equals scoring every post, whatever seeds θ (tiny seeds force pruning)."""
    n_rows, n_feat, n_posts = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 30))
    k = data.draw(st.integers(1, 5))
    cell = st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_feat - 1))
    aff = dict(data.draw(st.lists(st.tuples(cell, st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0])), max_size=16)))
    inc = set(data.draw(st.lists(st.tuples(st.integers(0, n_feat - 1), st.integers(0, n_posts - 1)), max_size=60)))
    excl = set(data.draw(st.lists(st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_posts - 1)), max_size=8)))
    post_ids = np.array(sorted(data.draw(st.sets(st.integers(1, 999), min_size=n_posts, max_size=n_posts))))
    a = np.zeros((n_rows, n_feat))
    for (r, f), w in aff.items():
        a[r, f] = w
    x = np.zeros((n_feat, n_posts))
    for f, c in inc:
        x[f, c] = 1
    dense = a @ x
    brute = []
    for r in range(n_rows):
        cands = [c for c in range(n_posts) if dense[r, c] > 0 and (r, c) not in excl]
        cands.sort(key=lambda c: (-round(dense[r, c], 9), -post_ids[c]))
        brute += [(r, c, pos + 1) for pos, c in enumerate(cands[:k])]
    feat_posts = feed_math.feature_post_matrix([c for _, c in inc], [f for f, _ in inc], n_feat, n_posts)
    index = feed_foryou.ForYouIndex(feat_posts, post_ids, seed_features=data.draw(st.integers(0, 3)),
                                    seed_per_feature=data.draw(st.integers(1, 4)))
    keys = list(aff)
    rows, cols, scores, pos = feed_foryou.for_you(index, [r for r, _ in keys], [f for _, f in keys],
                                                  [aff[q] for q in keys], [r for r, _ in excl],
                                                  [c for _, c in excl], k)
    assert list(zip(rows.tolist(), cols.tolist(), pos.tolist())) == brute
    assert np.allclose(scores, [dense[r, c] for r, c, _ in brute])


def test_for_you_prunes_posts_that_cannot_reach_the_top():
    """A feature-rich post tops the list; single-feature posts of light features are never scored."""
    # features 0 (w 3) and 1 (w 2) and 2 (w 1); post 0 has all three, posts 1..40 only feature 2
    inc = [(0, 0), (1, 0), (2, 0)] + [(2, c) for c in range(1, 41)] + [(0, 41), (1, 41)]
    feat_posts = feed_math.feature_post_matrix([c for _, c in inc], [f for f, _ in inc], 3, 42)
    index = feed_foryou.ForYouIndex(feat_posts, np.arange(100, 142), seed_features=2, seed_per_feature=2)
    scored = []
    original = index._score
    index._score = lambda posts: scored.append(len(posts)) or original(posts)
    posts, scores = index.top_k([0, 1, 2], [3.0, 2.0, 1.0], [], 2)
    assert posts.tolist() == [0, 41] and scores.tolist() == [6.0, 5.0]
    # seed: posts 0 and 41 (θ = 5); then only posts with >= 2 features qualify in any list
    assert scored == [2, 2]
    posts, scores = index.top_k([0, 1, 2], [3.0, 2.0, 1.0], [41], 3)      # excluded: θ drops, more scored
    assert posts.tolist() == [0, 40, 39] and scores.tolist() == [6.0, 1.0, 1.0]


def test_for_you_sums_equal_on_paper_tie_and_post_id_decides():
    # post column 0 (id 5): features 0 and 1 → 0.1 + 0.2 = 0.30000000000000004 in floating point;
    # post column 1 (id 10): feature 2 → 0.3. Equal on paper: the higher post_id comes first.
    feat_posts = feed_math.feature_post_matrix([0, 0, 1], [0, 1, 2], 3, 2)
    index = feed_foryou.ForYouIndex(feat_posts, [5, 10])
    posts, scores = index.top_k([0, 1, 2], [0.1, 0.2, 0.3], [], 5)
    assert posts.tolist() == [1, 0] and scores.tolist() == [0.3, 0.3]
    assert feed_math.round_sig(0.1 + 0.2) == feed_math.round_sig(0.3) == 0.3


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
