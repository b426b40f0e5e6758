"""The social graph: heavy-tailed follows and a few blocks (some mutual)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .people import COUNTRY_CODES, Users
from .rand import NO_TS, GroupSampler, pystream, stream, weighted


@dataclass
class Edges:
    src: np.ndarray     # user index (follower / blocker)
    dst: np.ndarray     # user index (followee / blocked)
    at: np.ndarray      # epoch seconds


def appeal(seed: int, users: Users) -> np.ndarray:
    """How much attention each user draws (heavy-tailed): drives follows and engagement."""
    rng = stream(seed, "appeal")
    a = rng.lognormal(0, 1.25, users.n)
    a *= np.array([1.0, .6, .15])[users.visibility]
    a *= np.array([1.0, .5, .2])[users.activity]
    a[users.deleted != NO_TS] *= .3
    return a


def _deleted_or_inf(users: Users) -> np.ndarray:
    return np.where(users.deleted == NO_TS, np.iinfo(np.int64).max, users.deleted)


def make_follows(seed: int, users: Users, appeal_: np.ndarray) -> Edges:
    rng = stream(seed, "follows")
    n = users.n
    degree = np.round(rng.lognormal(np.log(5), 1.0, n) * np.array([1.2, .8, .4])[users.activity])
    degree[rng.random(n) < .08] = 0
    degree = np.minimum(degree, min(n - 1, 1500)).astype(np.int64)

    tries = np.ceil(degree * 1.7).astype(np.int64)
    src = np.repeat(np.arange(n), tries)
    local = (rng.random(len(src)) < .55)
    by_country = GroupSampler(np.maximum(users.country, 0), appeal_ * (users.country >= 0),
                              len(COUNTRY_CODES))
    local &= by_country.usable(users.country[src])
    dst = weighted(rng, appeal_, len(src))
    dst[local] = by_country.sample(rng, users.country[src[local]])
    keep = (src != dst) & (users.seeks(src, dst) | (rng.random(len(src)) < .35))
    src, dst = src[keep], dst[keep]

    key = src * n + dst
    _, first = np.unique(key, return_index=True)
    first.sort()
    src, dst = src[first], dst[first]
    start = np.searchsorted(src, np.arange(n))
    keep = (np.arange(len(src)) - start[src]) < degree[src]
    src, dst = src[keep], dst[keep]

    lo = np.maximum(users.created[src], users.created[dst])
    hi = np.minimum(users.active_until[src], _deleted_or_inf(users)[dst])
    ok = hi >= lo
    src, dst, lo, hi = src[ok], dst[ok], lo[ok], hi[ok]
    at = lo + (rng.random(len(src)) * (hi - lo)).astype(np.int64)
    order = np.lexsort((dst, src))
    return Edges(src[order], dst[order], at[order])


def make_blocks(seed: int, users: Users, follows: Edges, appeal_: np.ndarray) -> Edges:
    """About 3% of users block one to three people: often someone they were connected to,
    otherwise someone nearby they might have matched with; some blocks are mutual."""
    rng, r = stream(seed, "blocks"), pystream(seed, "blocks")
    n = users.n
    if n < 2:
        return Edges(*(np.zeros(0, dtype=np.int64),) * 3)
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(follows.src.tolist(), follows.dst.tolist()):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    by_country = GroupSampler(np.maximum(users.country, 0), appeal_ * (users.country >= 0) + 1e-9,
                              len(COUNTRY_CODES))
    created, until = users.created.tolist(), users.active_until.tolist()
    blockers = rng.choice(n, max(1, round(.03 * n)), replace=False).tolist()
    pairs: dict[tuple[int, int], int] = {}

    def add(u: int, v: int, lo: int) -> int | None:
        lo = max(lo, created[u], created[v])
        if u == v or (u, v) in pairs or until[u] < lo:
            return None
        pairs[(u, v)] = lo + int(r.random() * (until[u] - lo))
        return pairs[(u, v)]

    for u in blockers:
        for _ in range(min(int(rng.geometric(.6)), 3)):
            for _attempt in range(6):
                if neighbours.get(u) and r.random() < .3:
                    v = r.choice(neighbours[u])
                elif users.country[u] >= 0:
                    v = int(by_country.sample(rng, users.country[u:u + 1])[0])
                else:
                    v = r.randrange(n)
                if not users.seeks(np.array([u]), np.array([v]))[0] and r.random() < .7:
                    continue
                t = add(u, v, 0)
                if t is not None:
                    if r.random() < .15:
                        add(v, u, t)                     # blocked back
                    break
    if n >= 10 and not any((v, u) in pairs for u, v in pairs):   # make sure a mutual block exists
        for (u, v), t in sorted(pairs.items()):
            if add(v, u, t) is not None:
                break
    items = sorted(pairs.items())
    return Edges(np.array([p[0][0] for p in items], dtype=np.int64),
                 np.array([p[0][1] for p in items], dtype=np.int64),
                 np.array([p[1] for p in items], dtype=np.int64))
