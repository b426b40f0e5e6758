"""Posts over the last six weeks and the likes, comments and shares they attract.

Authorship and engagement are heavy-tailed; every event falls after the post, after the
actor signed up, before the actor's last activity, before the post or its author was
deleted, and never after ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .people import RECENT, Users
from .rand import DAY, HOUR, NO_TS, ActiveSampler, csr, pick_from_csr, stream, truncated_delay
from .social import Edges

POST_WINDOW = 42 * DAY
_INF = np.iinfo(np.int64).max


@dataclass
class Posts:
    author: np.ndarray
    created: np.ndarray
    edited: np.ndarray      # NO_TS when never edited
    deleted: np.ndarray     # NO_TS when not deleted
    heat: np.ndarray        # how much engagement the post draws

    def __len__(self) -> int:
        return len(self.author)


@dataclass
class Events:
    user: np.ndarray
    post: np.ndarray
    at: np.ndarray
    deleted: np.ndarray | None = None    # comments only


def make_posts(seed: int, users: Users, appeal: np.ndarray, now_s: int) -> Posts:
    rng = stream(seed, "posts")
    n = users.n
    propensity = (rng.lognormal(0, 1.0, n) * np.where(users.activity == RECENT, 1.0, .35)
                  * appeal ** .3 * (users.last_active != NO_TS))
    propensity = np.minimum(propensity, 40 * np.median(propensity))
    eligible = (users.active_until >= now_s - POST_WINDOW) & (users.last_active != NO_TS)
    total = int(rng.poisson(3.5 * eligible.sum()))
    # a growing platform: the posting rate rises about threefold over the window
    grow = 1.2
    x = np.log1p(rng.random(total) * np.expm1(grow)) / grow
    created = now_s - POST_WINDOW + (x * POST_WINDOW).astype(np.int64)
    author, ok = ActiveSampler(users.active_until, propensity).sample(rng, created)
    ok &= users.created[author] <= created
    author, created = author[ok], created[ok]
    total = len(author)

    # each spotlight user posted within the last 60 hours (so there is always something trending)
    spot = users.spotlight
    spot_t = np.maximum(users.created[spot], now_s - rng.integers(2 * HOUR, 60 * HOUR, len(spot)))
    spot_t = np.minimum(spot_t, users.active_until[spot])
    author = np.concatenate([author, spot])
    created = np.concatenate([created, spot_t])
    heat = rng.lognormal(0, 1.1, len(author)) * (appeal[author] / np.median(appeal)) ** .35
    heat[total:] = np.maximum(heat[total:], 3.0)

    order = np.argsort(created, kind="stable")          # post ids in time order
    author, created, heat = author[order], created[order], heat[order]
    m = len(author)
    cap = np.minimum(now_s, users.active_until[author])
    edited = created + rng.exponential(3 * HOUR, m).astype(np.int64)
    edited = np.where((rng.random(m) < .08) & (np.minimum(edited, cap) > created),
                      np.minimum(edited, cap), NO_TS)
    after = np.maximum(created, edited)
    deleted = np.minimum(after + rng.exponential(DAY, m).astype(np.int64), now_s)
    spotlit = np.isin(np.arange(m), np.flatnonzero(order >= total))
    deleted = np.where((rng.random(m) < .03) & ~spotlit, deleted, NO_TS)
    return Posts(author, created, edited, deleted, heat)


def make_engagement(seed: int, users: Users, posts: Posts, follows: Edges,
                    now_s: int) -> tuple[Events, Events, Events]:
    """(likes, comments, shares), each sorted by time."""
    rng = stream(seed, "engagement")
    pool = np.array([1.0, .12, .02])[users.activity] * (users.last_active != NO_TS)
    followers = csr(follows.dst, follows.src, users.n)
    active = ActiveSampler(users.active_until, pool)
    post_end = np.minimum(np.where(posts.deleted == NO_TS, _INF, posts.deleted),
                          np.where(users.deleted == NO_TS, _INF, users.deleted)[posts.author])

    def draw(rate: np.ndarray, from_followers: float):
        count = rng.poisson(rate)
        post = np.repeat(np.arange(len(posts)), count)
        actor, _ = active.sample(rng, posts.created[post])
        fan, ok = pick_from_csr(rng, *followers, posts.author[post])
        use = ok & (rng.random(len(post)) < from_followers)
        actor[use] = fan[use]
        return post, actor

    def timed(post, actor, scale_h, extra_lo=None):
        lo = np.maximum(posts.created[post], users.created[actor])
        if extra_lo is not None:
            lo = np.maximum(lo, extra_lo)
        hi = np.minimum.reduce([np.full(len(post), now_s), users.active_until[actor], post_end[post]])
        ok = hi >= lo
        scale = rng.lognormal(np.log(scale_h * HOUR), 1.0, len(post))
        at = lo + truncated_delay(rng, scale, hi - lo).astype(np.int64)
        return ok, at

    spot_posts, spot_fans = _spotlight_pairs(users, posts)
    like_p, like_u = draw(4.0 * posts.heat, .45)
    like_p, like_u = np.concatenate([like_p, spot_posts]), np.concatenate([like_u, spot_fans])
    ok, at = timed(like_p, like_u, 3)
    ok &= like_u != posts.author[like_p]
    likes = _first_per_pair(Events(like_u[ok], like_p[ok], at[ok]), users.n)

    com_p, com_u = draw(1.0 * posts.heat ** .8, .55)
    com_p, com_u = np.concatenate([com_p, spot_posts[:1]]), np.concatenate([com_u, spot_fans[:1]])
    ok, at = timed(com_p, com_u, 4)
    ok &= com_u != posts.author[com_p]
    com_p, com_u, at = com_p[ok], com_u[ok], at[ok]
    reply = rng.random(len(com_p)) < .15                   # the author answers some comments
    rp, ru = com_p[reply], posts.author[com_p[reply]]
    rok, rat = timed(rp, ru, 2, extra_lo=at[reply] + 30)
    com_p = np.concatenate([com_p, rp[rok]])
    com_u = np.concatenate([com_u, ru[rok]])
    at = np.concatenate([at, rat[rok]])
    removed = np.minimum(at + rng.exponential(6 * HOUR, len(at)).astype(np.int64), now_s)
    removed = np.where(rng.random(len(at)) < .03, removed, NO_TS)
    order = np.argsort(at, kind="stable")
    comments = Events(com_u[order], com_p[order], at[order], removed[order])

    sh_p, sh_u = draw(.25 * posts.heat ** 1.2, .6)
    sh_p, sh_u = np.concatenate([sh_p, spot_posts[:1]]), np.concatenate([sh_u, spot_fans[:1]])
    ok, at = timed(sh_p, sh_u, 6)
    ok &= sh_u != posts.author[sh_p]
    shares = _first_per_pair(Events(sh_u[ok], sh_p[ok], at[ok]), users.n)
    return likes, comments, shares


def _spotlight_pairs(users: Users, posts: Posts) -> tuple[np.ndarray, np.ndarray]:
    """Every spotlight user engages with every other spotlight user's latest post."""
    spot = users.spotlight
    pairs_p, pairs_u = [], []
    for s in spot.tolist():
        mine = np.flatnonzero(posts.author == s)
        if len(mine):
            for fan in spot.tolist():
                if fan != s:
                    pairs_p.append(mine[-1])
                    pairs_u.append(fan)
    return np.array(pairs_p, dtype=np.int64), np.array(pairs_u, dtype=np.int64)


def _first_per_pair(ev: Events, n_users: int) -> Events:
    """One event per (user, post), the earliest; the result sorted by time."""
    order = np.lexsort((ev.at, ev.post * n_users + ev.user))
    key = (ev.post * n_users + ev.user)[order]
    first = order[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else order
    first = first[np.argsort(ev.at[first], kind="stable")]
    return Events(ev.user[first], ev.post[first], ev.at[first])
