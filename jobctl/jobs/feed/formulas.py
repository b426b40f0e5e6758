"""The feed jobs' maths as plain functions over numpy arrays (no SQL here).

* trending: ``E = likes + 2·comments + 3·shares``, ``score = E / (age_hours + 2) ** gravity``.
* affinity: an engagement of weight w at age a counts ``w · 0.5 ** (a / half_life)``.
* feed-presort 'for_you': the features × posts incidence matrix (the ranking is in ``feed_foryou``).
* ranking: the best k rows of every group, with an explicit tie-break, in one vectorised sort.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


# -- trending --------------------------------------------------------------------------------------

def engagement(likes, comments, shares) -> np.ndarray:
    """E = likes + 2·comments + 3·shares."""
    return (np.asarray(likes, dtype=np.float64) + 2.0 * np.asarray(comments, dtype=np.float64)
            + 3.0 * np.asarray(shares, dtype=np.float64))


def gravity_scores(e, age_hours, gravity: float) -> np.ndarray:
    """Hacker-News gravity: E / (age_hours + 2) ** gravity."""
    return np.asarray(e, dtype=np.float64) / np.power(np.asarray(age_hours, dtype=np.float64) + 2.0, gravity)


def rank_trending(post_ids, scores, limit: int) -> np.ndarray:
    """Indices of the top ``limit`` posts with score > 0: score descending, then post_id descending."""
    post_ids = np.asarray(post_ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = np.flatnonzero(scores > 0)
    order = keep[np.lexsort((-post_ids[keep], -scores[keep]))]
    return order[:limit]


# -- affinity --------------------------------------------------------------------------------------

def decay(age_seconds, half_life_days: float) -> np.ndarray:
    """0.5 ** (age / half-life): 1 now, 0.5 one half-life ago."""
    age_days = np.asarray(age_seconds, dtype=np.float64) / SECONDS_PER_DAY
    return np.power(0.5, age_days / float(half_life_days))


def group_sum(a, b, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``w`` over equal (a, b) pairs of non-negative integers; returns (a, b, sum) sorted by (a, b)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    if a.size == 0:
        return a, b, w
    base = int(b.max()) + 1
    keys, inv = np.unique(a * base + b, return_inverse=True)
    sums = np.bincount(inv.ravel(), weights=w, minlength=len(keys))
    return keys // base, keys % base, sums


def spread_to_features(users, posts, weights, feat_posts, feat_ids, n_features: int):
    """Per-(user, post) weights pushed to each of the post's features: (user, feature, Σ weight).

    ``feat_posts``/``feat_ids`` list every (post, feature) incidence. Returns COO arrays sorted by
    (user, feature); pairs never formed (no shared post) are absent.
    """
    users = np.asarray(users, dtype=np.int64)
    posts = np.asarray(posts, dtype=np.int64)
    feat_posts = np.asarray(feat_posts, dtype=np.int64)
    if users.size == 0 or feat_posts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    uniq_users, u_idx = np.unique(users, return_inverse=True)
    uniq_posts = np.unique(np.concatenate([posts, feat_posts]))
    p_idx = np.searchsorted(uniq_posts, posts)
    fp_idx = np.searchsorted(uniq_posts, feat_posts)
    eng = sparse.csr_matrix((np.asarray(weights, dtype=np.float64), (u_idx, p_idx)),
                            shape=(len(uniq_users), len(uniq_posts)))
    pf = sparse.csr_matrix((np.ones(len(fp_idx)), (fp_idx, np.asarray(feat_ids, dtype=np.int64))),
                           shape=(len(uniq_posts), n_features))
    out = (eng @ pf).tocoo()
    order = np.lexsort((out.col, out.row))
    return uniq_users[out.row[order]], out.col[order].astype(np.int64), out.data[order]


def round_sig(x, digits: int = 12) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits, so that sums equal on paper but added in
    another order (a last-bit difference) compare equal and the tie-break decides."""
    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    nz = np.isfinite(x) & (x != 0)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x[nz]))))
    out[nz] = np.round(x[nz] * scale) / scale
    return out


# -- ranking ---------------------------------------------------------------------------------------

def top_k_per_group(groups, scores, tiebreak, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` entries of each group: score descending, then ``tiebreak`` ascending.

    Returns (indices into the inputs, 1-based rank within the group), ordered by group then rank.
    """
    groups = np.asarray(groups)
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.asarray(tiebreak), -np.asarray(scores, dtype=np.float64), groups))
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    lengths = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, lengths)
    keep = rank < k
    return order[keep], rank[keep] + 1


# -- feed-presort ----------------------------------------------------------------------------------

def feature_post_matrix(post_cols, feature_ids, n_features: int, n_posts: int) -> sparse.csr_matrix:
    """Incidence matrix features × posts (1 where the post has the feature)."""
    post_cols = np.asarray(post_cols, dtype=np.int64)
    return sparse.csr_matrix((np.ones(post_cols.size), (np.asarray(feature_ids, dtype=np.int64), post_cols)),
                             shape=(n_features, n_posts))
