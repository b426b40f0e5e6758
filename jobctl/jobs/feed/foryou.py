"""feed-presort's 'for_you' ranking: exact top-k by Σ affinity, without scoring every recent post.

A post's score for a user is the sum of the user's affinity weights over the post's features (its
creator, topics and hashtags); the section keeps the k best posts with score > 0, score descending
then post_id descending, leaving out excluded posts (own, blocked authors, already liked).

Why it is exact although most posts sharing a feature are never scored (a threshold argument):

* Rank the user's features by weight, w_1 >= w_2 >= ... A post p has n(p) features; let i be the
  best rank among the user's features it has. Its other matched features have ranks > i, so
  score(p) <= S(i, n(p)) = w_i + w_(i+1) + ... + w_(i+n(p)-1).
* Suppose some eligible posts are already scored and θ is the k-th best of those scores. The true
  k-th best is at least θ, so a post of the top k has S(i, n(p)) >= θ: it has at least need(i)
  features, need(i) being the least n with S(i, n) >= θ, and it is in the list of feature i.
* Each feature's post list is stored sorted by n(p) descending, so those posts are a prefix whose
  length is read from a table. The union of the prefixes over the user's features holds every post
  that can reach the top k (ties at θ included); scoring just those gives the exact answer.

Scores are rounded to 9 decimals, so that sums equal on paper but added in another order (a last-bit
difference) tie exactly and post_id decides.

θ comes from a small seed: the heads of the user's heaviest features' lists (their richest posts).
When the seed has fewer than k eligible posts, every post sharing a feature is scored.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

SEED_FEATURES = 5        # the user's heaviest features that seed θ ...
SEED_PER_FEATURE = 64    # ... with this many posts from the head of each one's list
SCORE_DECIMALS = 9       # scores are rounded to this many decimals


def gather(ptr: np.ndarray, data: np.ndarray, rows: np.ndarray, lens: np.ndarray):
    """``data[ptr[r] : ptr[r] + lens[i]]`` for each ``rows[i]``, concatenated; with the segment ids."""
    offsets = _offsets(ptr[rows], lens)
    return data[offsets], np.repeat(np.arange(len(rows)), lens)


def _offsets(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lens[i] - 1`` for each i, concatenated (one cumsum)."""
    keep = lens > 0
    starts, lens = starts[keep], lens[keep]
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    steps[0] = starts[0]
    ends = np.cumsum(lens)
    # at each segment start, jump from the previous segment's last position to this start
    steps[ends[:-1]] = starts[1:] - (starts[:-1] + lens[:-1] - 1)
    return np.cumsum(steps)


class ForYouIndex:
    """The recent posts indexed both ways (post → features, feature → posts by feature count)."""

    def __init__(self, feat_posts: sparse.csr_matrix, post_ids, *, seed_features: int = SEED_FEATURES,
                 seed_per_feature: int = SEED_PER_FEATURE):
        n_feat, n_posts = feat_posts.shape
        self.post_ids = np.asarray(post_ids, dtype=np.int64)
        self.seed_features, self.seed_per_feature = seed_features, seed_per_feature
        coo = feat_posts.tocoo()
        f, p = coo.row.astype(np.int64), coo.col.astype(np.int64)
        # post → features, features ascending (the order a post's score is summed in)
        order = np.lexsort((f, p))
        self.n = np.bincount(p, minlength=n_posts).astype(np.int64)
        self.p_ptr = np.r_[0, np.cumsum(self.n)].astype(np.int64)
        self.p_feats = f[order]
        self.n_max = int(self.n.max()) if n_posts else 0
        # feature → posts, richest posts (most features) first
        order = np.lexsort((-p, -self.n[p], f))
        self.f_len = np.bincount(f, minlength=n_feat).astype(np.int64)
        self.f_ptr = np.r_[0, np.cumsum(self.f_len)].astype(np.int64)
        self.f_posts = p[order]
        # cnt_ge[f, m]: posts in f's list with at least m features (m = 0 .. n_max + 1)
        hist = np.zeros((n_feat, self.n_max + 2), dtype=np.int64)
        np.add.at(hist, (f, self.n[p]), 1)
        self.cnt_ge = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
        self._w = np.zeros(n_feat)                # the user's weight per feature, zero elsewhere
        self._excluded = np.zeros(n_posts, dtype=bool)
        self._mark = np.zeros(n_posts, dtype=bool)
        self._ranks = np.arange(1, self.n_max + 1)

    def _score(self, posts: np.ndarray) -> np.ndarray:
        lens = self.n[posts]
        weights = self._w[self.p_feats[_offsets(self.p_ptr[posts], lens)]]
        scores = np.bincount(np.repeat(np.arange(posts.size), lens), weights=weights, minlength=posts.size)
        # sums equal on paper can differ in the last bit when added in another order: rounding makes
        # them tie exactly, so post_id decides as the contract says
        return np.round(scores, SCORE_DECIMALS)

    def _eligible(self, posts: np.ndarray):
        """The distinct ``posts`` with score > 0 that are not excluded, ascending, with their scores."""
        if posts.size * 32 < self._mark.size:
            posts = np.sort(posts)
            posts = posts[np.concatenate(([True], posts[1:] != posts[:-1]))] if posts.size else posts
        else:                                   # many: a bitmap is cheaper than sorting
            self._mark[posts] = True
            posts = np.flatnonzero(self._mark)
            self._mark[posts] = False
        scores = self._score(posts)
        ok = (scores > 0) & ~self._excluded[posts]
        return posts[ok], scores[ok]

    def top_k(self, cols, weights, excluded, k: int) -> tuple[np.ndarray, np.ndarray]:
        """One user's best ``k`` (post columns, scores): score descending, then post_id descending.

        ``cols``/``weights``: the user's affinity features and weights (> 0, each feature once);
        ``excluded``: post columns that may not appear.
        """
        cols = np.asarray(cols, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        excluded = np.asarray(excluded, dtype=np.int64)
        self._w[cols] = weights
        self._excluded[excluded] = True
        try:
            order = np.argsort(-weights, kind="stable")
            theta = self._seed_theta(cols[order[:self.seed_features]], k)
            if theta > 0:
                posts, scores = self._candidates(cols, weights, order, theta)
            else:
                posts, scores = self._eligible(self.f_posts[_offsets(self.f_ptr[cols], self.f_len[cols])])
        finally:
            self._w[cols] = 0.0
            self._excluded[excluded] = False
        if posts.size > k:
            kth = np.partition(scores, posts.size - k)[posts.size - k]
            keep = scores >= kth
            posts, scores = posts[keep], scores[keep]
        order = np.lexsort((-self.post_ids[posts], -scores))[:k]
        return posts[order], scores[order]

    def _candidates(self, cols, weights, order, theta):
        """Eligible posts (and scores) of the prefixes of the features' lists that can reach θ."""
        # margin: a rounded score may exceed its exact bound by half a unit of the last decimal
        need = self._need(weights, order, theta - 10.0 ** -SCORE_DECIMALS - 1e-12 * theta)
        lens = self.cnt_ge[cols, np.minimum(need, self.n_max + 1)]
        return self._eligible(self.f_posts[_offsets(self.f_ptr[cols], lens)])

    def _need(self, weights: np.ndarray, order: np.ndarray, theta: float) -> np.ndarray:
        """For each feature: the fewest features a post of its list needs to possibly score >= θ.

        need(i) = least n with S(i, n) >= θ, ranks by weight in ``order``; n_max + 1 when even
        n_max features cannot get there.
        """
        m = len(order)
        cum = np.zeros(m + self.n_max + 1)
        np.cumsum(weights[order], out=cum[1:m + 1])
        cum[m + 1:] = cum[m]
        reach = (cum[np.arange(m)[:, None] + self._ranks] - cum[:m, None]) >= theta    # S(i, n) >= θ
        need = np.empty(m, dtype=np.int64)
        need[order] = np.where(reach[:, -1], reach.argmax(axis=1) + 1, self.n_max + 1)
        return need

    def _seed_theta(self, top: np.ndarray, k: int) -> float:
        """A lower bound of the user's true k-th best score (0 when the seed is too small)."""
        if top.size == 0:
            return 0.0
        seed = self.f_posts[_offsets(self.f_ptr[top], np.minimum(self.f_len[top], self.seed_per_feature))]
        return _kth(self._eligible(seed)[1], k)


def _kth(scores: np.ndarray, k: int) -> float:
    """The k-th largest of distinct posts' ``scores`` (0 when there are fewer than k)."""
    if scores.size < k:
        return 0.0
    return float(np.partition(scores, scores.size - k)[scores.size - k])


def for_you(index: ForYouIndex, aff_rows, aff_cols, aff_weights, excl_rows, excl_cols, k: int):
    """:meth:`ForYouIndex.top_k` for many users at once (rows of a batch).

    ``aff_*``: (row, feature column, weight) of every affinity; ``excl_*``: (row, post column) pairs
    that may not appear. Returns (rows, post columns, scores, 1-based positions), by row then position.
    """
    aff_rows = np.asarray(aff_rows, dtype=np.int64)
    order = np.argsort(aff_rows, kind="stable")
    a_rows, a_cols = aff_rows[order], np.asarray(aff_cols, dtype=np.int64)[order]
    a_w = np.asarray(aff_weights, dtype=np.float64)[order]
    keep = a_w > 0
    a_rows, a_cols, a_w = a_rows[keep], a_cols[keep], a_w[keep]
    excl_rows = np.asarray(excl_rows, dtype=np.int64)
    e_order = np.argsort(excl_rows, kind="stable")
    e_rows, e_cols = excl_rows[e_order], np.asarray(excl_cols, dtype=np.int64)[e_order]
    out_r, out_c, out_s, out_p = [], [], [], []
    rows = np.unique(a_rows)
    a_lo, a_hi = np.searchsorted(a_rows, rows, "left"), np.searchsorted(a_rows, rows, "right")
    e_lo, e_hi = np.searchsorted(e_rows, rows, "left"), np.searchsorted(e_rows, rows, "right")
    for r, al, ah, el, eh in zip(rows.tolist(), a_lo.tolist(), a_hi.tolist(), e_lo.tolist(), e_hi.tolist()):
        posts, scores = index.top_k(a_cols[al:ah], a_w[al:ah], e_cols[el:eh], k)
        out_r.append(np.full(posts.size, r, dtype=np.int64))
        out_c.append(posts)
        out_s.append(scores)
        out_p.append(np.arange(1, posts.size + 1))
    if not out_r:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0), e
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s), np.concatenate(out_p)
