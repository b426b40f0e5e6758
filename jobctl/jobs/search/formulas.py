"""Interest co-occurrence maths for interest-relationships, as plain functions over numpy arrays.

The user × interest incidence matrix X (1 where a user has an interest) gives every pair's
co-occurrence count in one sparse product: C = Xᵀ X, C[a, b] = users with both a and b, and the
diagonal C[a, a] = |a|. No loop over users or pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Relationships:
    """Parallel arrays, one entry per kept (interest, related interest) pair, in output order."""

    interest: np.ndarray
    related: np.ndarray
    co_count: np.ndarray
    support: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray

    def __len__(self) -> int:
        return len(self.interest)

    def rows(self) -> list[tuple]:
        return list(zip(self.interest.tolist(), self.related.tolist(), self.co_count.tolist(),
                        self.support.tolist(), self.confidence.tolist(), self.lift.tolist()))


def cooccurrence(user_ids: np.ndarray, interest_ids: np.ndarray):
    """From membership pairs (user_ids[i] has interest_ids[i]; pairs unique): the interest ids
    (sorted), their sizes |a|, the co-occurrence matrix C (sparse CSR, int64, zero diagonal) over
    those ids, and N = number of distinct users."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    interest_ids = np.asarray(interest_ids, dtype=np.int64)
    users, u_idx = np.unique(user_ids, return_inverse=True)
    interests, i_idx = np.unique(interest_ids, return_inverse=True)
    x = sparse.csr_matrix((np.ones(len(u_idx), dtype=np.int64), (u_idx, i_idx)),
                          shape=(len(users), len(interests)))
    x.sum_duplicates()
    x.data[:] = 1                               # a repeated pair still counts once
    co = (x.T @ x).tocsr()
    sizes = co.diagonal().astype(np.int64)
    co.setdiag(0)
    co.eliminate_zeros()
    return interests, sizes, co, len(users)


def relationships(interests: np.ndarray, sizes: np.ndarray, co, n_users: int, *,
                  min_count: int = 5, per_interest: int = 20) -> Relationships:
    """Support, confidence and lift of every ordered pair with co ≥ ``min_count``; each interest's
    top ``per_interest`` by lift desc, co_count desc, related id asc.

    support = co/N, confidence = co/|a|, lift = confidence / (|b|/N) = co·N / (|a|·|b|).
    """
    coo = sparse.coo_matrix(co)
    keep = coo.data >= min_count
    a, b, c = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep].astype(np.int64)
    size_a, size_b = sizes[a], sizes[b]
    # For a fixed a, lift ∝ co/|b|; IEEE division is correctly rounded, so equal ratios give equal
    # keys and ties fall through to co_count and then to the related id exactly.
    key = c / size_b
    related_id = interests[b]
    order = np.lexsort((related_id, -c, -key, a))
    a, b, c, related_id = a[order], b[order], c[order], related_id[order]
    size_a, size_b = size_a[order], size_b[order]
    rank = _rank_within_groups(a)
    top = rank < per_interest
    a, b, c, related_id, size_a, size_b = (v[top] for v in (a, b, c, related_id, size_a, size_b))
    support = c / n_users
    confidence = c / size_a
    # confidence / (|b| / N) computed as co·N / (|a|·|b|): integer products are exact, so one
    # rounding, and lift(a, b) == lift(b, a) exactly, as it is mathematically
    lift = (c * n_users) / (size_a * size_b)
    return Relationships(interests[a], related_id, c, support, confidence, lift)


def _rank_within_groups(sorted_keys: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal keys (keys already grouped)."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(sorted_keys)]))
    return np.arange(len(sorted_keys)) - run_start
