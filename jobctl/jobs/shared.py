"""Facts every job group shares, each defined once: who counts as an active user, the Big Five
traits, blocked pairs, and lookups in sorted id arrays."""

from __future__ import annotations

import numpy as np

#: The Big Five traits, in the order of user_traits' columns and of every trait array.
TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def active_user(alias: str = "") -> str:
    """SQL condition: the user (``alias.``-qualified columns) is neither deleted nor hidden. Only
    active users are matched, searched, shown in feeds and counted as authors."""
    a = f"{alias}." if alias else ""
    return f"{a}deleted_at IS NULL AND {a}visibility != 'hidden'"


#: :func:`active_user` on the unqualified ``users`` table.
ACTIVE_USER = active_user()


def sorted_position(sorted_values: np.ndarray, x) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``x`` is in the sorted array ``sorted_values``: (position, found). A position
    not found is clipped into the array (0 when it is empty), so it can index it safely."""
    sorted_values = np.asarray(sorted_values)
    x = np.asarray(x)
    if sorted_values.size == 0:
        return np.zeros(np.shape(x), dtype=np.int64), np.zeros(np.shape(x), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_values, x), sorted_values.size - 1)
    return pos, sorted_values[pos] == x


def contains(sorted_values: np.ndarray, x) -> np.ndarray:
    """Whether each of ``x`` is in the sorted array ``sorted_values``."""
    return sorted_position(sorted_values, x)[1]


def pair_codes(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """One code per unordered pair of positions below ``n``: min·n + max."""
    return np.minimum(a, b) * n + np.maximum(a, b)


def blocked_pairs(conn, index_of, n: int) -> np.ndarray:
    """Blocks (either way) between the ``n`` users that ``index_of`` maps ids to (−1: none of
    them), as sorted unique :func:`pair_codes` of their positions."""
    rows = conn.execute("SELECT blocker_id, blocked_id FROM blocks").fetchall()
    if not rows or n == 0:
        return np.zeros(0, dtype=np.int64)
    arr = np.array(rows, dtype=np.int64)
    a, b = index_of(arr[:, 0]), index_of(arr[:, 1])
    ok = (a >= 0) & (b >= 0) & (a != b)
    return np.unique(pair_codes(a[ok], b[ok], n))


def is_blocked(codes: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Whether the pairs of positions (a, b) are among the blocked pair ``codes``."""
    return contains(codes, pair_codes(a, b, n))
