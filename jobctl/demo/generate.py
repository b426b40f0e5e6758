"""Generate a whole synthetic platform in memory (numpy arrays and lists), no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .content import Events, Posts, make_engagement, make_posts
from .interests import Interests, make_interests
from .media import MediaPlan, plan_media
from .mediafiles import Templates
from .people import Users, make_users
from .quiz import Answers, make_answers
from .rand import NO_TS, stream
from .social import Edges, appeal, make_blocks, make_follows
from .text import bios, comment_bodies, post_bodies


@dataclass
class Platform:
    now_s: int
    users: Users
    bios: list[str]
    interests: Interests
    answers: Answers
    follows: Edges
    blocks: Edges
    posts: Posts
    post_bodies: list[str]
    likes: Events
    comments: Events
    comment_bodies: list[str]
    shares: Events
    user_counts: np.ndarray     # n x 3: follower_count, following_count, post_count as stored
    post_counts: np.ndarray     # posts x 3: like_count, comment_count, share_count as stored
    media: MediaPlan
    templates: Templates


def generate(seed: int, n: int, now_s: int, say: Callable[[str], None]) -> Platform:
    say(f"generating {n:,} users")
    users = make_users(seed, n, now_s)
    interests = make_interests(seed, users)
    user_bios = bios(seed, users, interests)
    say("generating quiz answers")
    answers = make_answers(seed, users, now_s)
    say("generating follows and blocks")
    pull = appeal(seed, users)
    follows = make_follows(seed, users, pull)
    blocks = make_blocks(seed, users, follows, pull)
    say("generating posts, likes, comments and shares")
    posts = make_posts(seed, users, pull, now_s)
    likes, comments, shares = make_engagement(seed, users, posts, follows, now_s)
    popular = np.argsort(-interests.popularity, kind="stable")[:40]
    bodies, topics = post_bodies(seed, posts, users, interests, popular)
    c_bodies = comment_bodies(seed, comments.post, topics, popular)

    rng = stream(seed, "counters")
    live_posts = posts.deleted == NO_TS
    live_comments = comments.deleted == NO_TS
    user_counts = np.column_stack([
        np.bincount(follows.dst, minlength=n), np.bincount(follows.src, minlength=n),
        np.bincount(posts.author[live_posts], minlength=n)])
    post_counts = np.column_stack([
        np.bincount(likes.post, minlength=len(posts)),
        np.bincount(comments.post[live_comments], minlength=len(posts)),
        np.bincount(shares.post, minlength=len(posts))])
    user_counts, post_counts = drift(rng, user_counts), drift(rng, post_counts)

    say("planning media")
    templates = Templates(seed)
    media = plan_media(seed, users, posts, now_s, templates)
    return Platform(now_s, users, user_bios, interests, answers, follows, blocks, posts, bodies,
                    likes, comments, c_bodies, shares, user_counts, post_counts, media, templates)


def drift(rng: np.random.Generator, true: np.ndarray, share: float = .03) -> np.ndarray:
    """Counter caches as a real platform has them: ~``share`` of rows (at least one) wrong
    in one column, by a few counts either way, never negative."""
    out = true.copy()
    rows = len(true)
    if not rows:
        return out
    hit = rng.random(rows) < share
    hit[rng.integers(rows)] = True
    col = rng.integers(0, true.shape[1], rows)
    delta = rng.choice([-3, -2, -1, 1, 1, 2, 3, 5, 8], rows)
    r = np.flatnonzero(hit)
    wrong = np.maximum(true[r, col[r]] + delta[r], 0)
    out[r, col[r]] = np.where(wrong == true[r, col[r]], true[r, col[r]] + 1, wrong)
    return out
