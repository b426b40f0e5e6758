"""Interests in co-occurring clusters with Zipf-like popularity, and each user's set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .people import Users
from .rand import GroupSampler, csr, stream, weighted
from .vocab import INTEREST_CLUSTERS

NAMES = [name for _, names in INTEREST_CLUSTERS.values() for name in names]
CLUSTER_OF = np.array([c for c, (_, names) in enumerate(INTEREST_CLUSTERS.values()) for _ in names])
RANK_IN_CLUSTER = np.array([r for _, names in INTEREST_CLUSTERS.values() for r in range(len(names))])
AFFINITY = np.array([aff for aff, _ in INTEREST_CLUSTERS.values()])   # clusters x Big Five
#: How mainstream each cluster is (hiking, food, music and travel lead; motors and careers trail).
CLUSTER_WEIGHT = np.array([{"outdoors": 1.6, "food": 1.6, "travel": 1.6, "music": 1.5, "fitness": 1.3,
                            "screen": 1.3, "books": 1.2, "tech": .7, "causes": .7, "family": .8,
                            "motors": .6, "career": .6, "home": .9}.get(c, 1.0)
                           for c in INTEREST_CLUSTERS])


@dataclass
class Interests:
    popularity: np.ndarray     # per interest (index i is interest id i + 1)
    user_ptr: np.ndarray       # CSR: interests of user index u are ids[user_ptr[u]:user_ptr[u+1]]
    ids: np.ndarray            # interest indices (0-based), grouped by user, in the user's order

    def of(self, u: int) -> np.ndarray:
        return self.ids[self.user_ptr[u]:self.user_ptr[u + 1]]


def make_interests(seed: int, users: Users) -> Interests:
    rng = stream(seed, "interests")
    n, n_clusters = users.n, len(AFFINITY)
    cluster_pop = CLUSTER_WEIGHT * rng.lognormal(0, .2, n_clusters)
    popularity = cluster_pop[CLUSTER_OF] / (RANK_IN_CLUSTER + 1.0) ** 1.05

    # each user leans towards three clusters, partly through personality
    score = users.latents[:, :5] @ AFFINITY.T * 1.5 + np.log(cluster_pop) + rng.gumbel(size=(n, n_clusters))
    top = np.argsort(-score, axis=1)[:, :3]
    want = np.clip(np.round(rng.lognormal(np.log(6), .55, n)), 1, 15).astype(np.int64)
    want[rng.random(n) < .03] = 0

    draws = 28
    part = rng.choice(4, (n, draws), p=[.5, .25, .12, .13])          # cluster 1, 2, 3 or anywhere
    cluster = np.take_along_axis(top, np.minimum(part, 2), axis=1).ravel()
    within = GroupSampler(CLUSTER_OF, popularity, n_clusters).sample(rng, cluster)
    anywhere = weighted(rng, popularity, n * draws)
    picked = np.where(part.ravel() == 3, anywhere, within)

    user = np.repeat(np.arange(n), draws)
    key = user * len(NAMES) + picked
    _, first = np.unique(key, return_index=True)                      # first draw of each pair
    first.sort()
    user, picked = user[first], picked[first]
    start = np.searchsorted(user, np.arange(n))
    rank = np.arange(len(user)) - start[user]
    keep = rank < want[user]
    ptr, ids = csr(user[keep], picked[keep], n)
    return Interests(popularity, ptr, ids)


def interest_rows() -> list[tuple[int, str]]:
    return [(i + 1, name) for i, name in enumerate(NAMES)]
