"""interest-relationships: co-occurrence, support, confidence, lift, min_count and per_interest."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import run_job
from jobctl.errors import JobFailed
from jobctl.jobs import search
from jobctl.jobs.search.formulas import cooccurrence, relationships
from search_support import table


@pytest.fixture
def interests(platform):
    """N = 8 users with interests; |A| = 6, |B| = 4, |C| = 4, |D| = 2;
    co(A,B) = co(A,C) = co(B,C) = 3, co(A,D) = 1. A hidden user with A,B does not count."""
    p = platform
    A, B, C, D = (p.interest(n) for n in ("hiking", "yoga", "meditation", "chess"))
    sets = [(A, B, C), (A, B, C), (A, B), (A, C), (B, C), (A,), (D,), (D, A), ()]
    for s in sets:
        u = p.user()
        for i in s:
            p.likes_interest(u, i)
    hidden = p.user(visibility="hidden")
    p.likes_interest(hidden, A)
    p.likes_interest(hidden, B)
    run_job(p, search.user_interest_sets)
    return A, B, C, D


def rels(p):
    return table(p, "interest_relationships", "interest_id, lift DESC, co_count DESC, related_interest_id")


def test_known_counts_support_confidence_lift(platform, interests):
    A, B, C, D = interests
    result = run_job(platform, search.interest_relationships, min_count=2)
    assert result == {"pairs": 6, "interests": 4, "users_with_interests": 8}
    got = {(r[0], r[1]): r[2:] for r in rels(platform)}
    expected = {
        (A, B): (3, 3 / 8, 3 / 6, 1.0), (A, C): (3, 3 / 8, 3 / 6, 1.0),
        (B, A): (3, 3 / 8, 3 / 4, 1.0), (B, C): (3, 3 / 8, 3 / 4, 1.5),
        (C, A): (3, 3 / 8, 3 / 4, 1.0), (C, B): (3, 3 / 8, 3 / 4, 1.5),
    }
    assert set(got) == set(expected)
    for key, (co, support, confidence, lift) in expected.items():
        assert got[key][0] == co
        assert got[key][1:] == pytest.approx((support, confidence, lift))
    cols = platform.columns("interest_relationships")
    assert cols == ["interest_id", "related_interest_id", "co_count", "support", "confidence", "lift"]


def test_min_count_floor(platform, interests):
    A, B, C, D = interests
    run_job(platform, search.interest_relationships)              # default min_count 5: nothing qualifies
    assert rels(platform) == []
    run_job(platform, search.interest_relationships, min_count=3)
    assert len(rels(platform)) == 6
    run_job(platform, search.interest_relationships, min_count=4)
    assert rels(platform) == []
    run_job(platform, search.interest_relationships, min_count=1)
    got = {(r[0], r[1]): r for r in rels(platform)}
    assert len(got) == 8
    assert got[(A, D)][2:] == pytest.approx((1, 1 / 8, 1 / 6, (1 / 6) / (2 / 8)))
    assert got[(D, A)][2:] == pytest.approx((1, 1 / 8, 1 / 2, (1 / 2) / (6 / 8)))


def test_per_interest_keeps_best_lift_then_lowest_id(platform, interests):
    A, B, C, D = interests
    run_job(platform, search.interest_relationships, min_count=2, per_interest=1)
    # A: B and C tie on lift and co_count -> lower id (B); B: C has lift 1.5; C: B has lift 1.5
    assert [(r[0], r[1]) for r in rels(platform)] == [(A, B), (B, C), (C, B)]


def test_needs_interest_members(platform):
    with pytest.raises(JobFailed, match="run user-interest-sets first"):
        run_job(platform, search.interest_relationships)


def test_cooccurrence_on_hand_made_arrays():
    users = np.array([1, 1, 2, 2, 2, 3, 3])
    items = np.array([10, 20, 10, 20, 30, 30, 30])        # (3, 30) twice: counted once
    ids, sizes, co, n = cooccurrence(users, items)
    assert ids.tolist() == [10, 20, 30] and sizes.tolist() == [2, 2, 2] and n == 3
    assert co.toarray().tolist() == [[0, 2, 1], [2, 0, 1], [1, 1, 0]]
    rel = relationships(ids, sizes, co, n, min_count=1, per_interest=1)
    # 10: related 20 (co 2, lift 2/2 / (2/3) = 1.5) beats 30 (co 1, lift 0.75)
    assert rel.rows()[0][:3] == (10, 20, 2)
    assert rel.lift[0] == pytest.approx(1.5)


def test_empty_input():
    ids, sizes, co, n = cooccurrence(np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    assert n == 0 and len(relationships(ids, sizes, co, n, min_count=1)) == 0


def _brute(members: dict[int, set[int]], min_count: int, per_interest: int):
    users = {u for u, s in members.items() if s}
    n = len(users)
    by = {}
    for u, s in members.items():
        for i in s:
            by.setdefault(i, set()).add(u)
    out = []
    for a in sorted(by):
        cand = []
        for b in by:
            if b == a:
                continue
            co = len(by[a] & by[b])
            if co >= min_count:
                lift = Fraction(co, len(by[a])) / Fraction(len(by[b]), n)
                cand.append((-lift, -co, b))
        for neg_lift, neg_co, b in sorted(cand)[:per_interest]:
            out.append((a, b, -neg_co, float(-neg_lift)))
    return out


@settings(max_examples=60, deadline=None)
@given(members=st.dictionaries(st.integers(1, 40), st.sets(st.integers(1, 8), max_size=6), max_size=40),
       min_count=st.integers(1, 4), per_interest=st.integers(1, 5))
def test_matches_brute_force(members, min_count, per_interest):
    pairs = [(u, i) for u, s in members.items() for i in s]
    users = np.array([p[0] for p in pairs], dtype=np.int64)
    items = np.array([p[1] for p in pairs], dtype=np.int64)
    ids, sizes, co, n = cooccurrence(users, items)
    rel = relationships(ids, sizes, co, n, min_count=min_count, per_interest=per_interest)
    got = [(a, b, c, lift) for a, b, c, _s, _c, lift in rel.rows()]
    want = _brute(members, min_count, per_interest)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want])
    assert (rel.support <= 1).all() and (rel.confidence <= 1).all() and (rel.lift > 0).all()
    lift = {(a, b): x for a, b, _c, _s, _f, x in rel.rows()}
    assert all(lift[(b, a)] == x for (a, b), x in lift.items() if (b, a) in lift)   # exactly symmetric


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
