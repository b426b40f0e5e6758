"""The facts every job group shares (jobctl/jobs/shared.py), known answers."""

from __future__ import annotations

import numpy as np

from jobctl.jobs.shared import (ACTIVE_USER, TRAITS, active_user, blocked_pairs, contains, is_blocked, pair_codes,
                                sorted_position)


def test_active_user_leaves_out_deleted_and_hidden_users(platform):
    p = platform
    live, hidden, gone = p.user(), p.user(visibility="hidden"), p.user(deleted_at="2026-01-01T00:00:00Z")
    assert p.rows(f"SELECT id FROM users WHERE {ACTIVE_USER} ORDER BY id") == [(live,)]
    assert p.rows(f"SELECT u.id FROM users u WHERE NOT ({active_user('u')}) ORDER BY u.id") == [(hidden,), (gone,)]


def test_sorted_lookups_clip_and_report_what_is_missing():
    ids = np.array([3, 5, 9])
    pos, found = sorted_position(ids, [5, 10, 1, 9])
    assert pos.tolist() == [1, 2, 0, 2] and found.tolist() == [True, False, False, True]
    assert contains(np.array([], dtype=np.int64), [1, 2]).tolist() == [False, False]


def test_blocked_pairs_either_way_between_known_users(platform):
    p = platform
    a, b, c, outsider = p.user(), p.user(), p.user(), p.user()
    p.insert("blocks", blocker_id=b, blocked_id=a, created_at="2026-01-01T00:00:00Z")
    p.insert("blocks", blocker_id=c, blocked_id=outsider, created_at="2026-01-01T00:00:00Z")
    ids = np.array([a, b, c])
    index_of = lambda x: np.where(sorted_position(ids, x)[1], sorted_position(ids, x)[0], -1)  # noqa: E731
    codes = blocked_pairs(p.conn, index_of, len(ids))
    assert codes.tolist() == pair_codes(np.array([0]), np.array([1]), 3).tolist()
    assert is_blocked(codes, np.array([0, 1, 0]), np.array([1, 0, 2]), 3).tolist() == [True, True, False]
    assert len(TRAITS) == 5
