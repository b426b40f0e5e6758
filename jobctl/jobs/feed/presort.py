"""Building feed-presort's four sections for a batch of users (the job itself is in ``feed.py``).

Nothing here scores every post for every user:

* 'matches' and 'following' read only the batch's own match_scores and follows rows (best first),
  then drop inactive and blocked users with numpy and keep the first k per user;
* 'trending' filters the (short) trending list per user;
* 'for_you' considers only posts that share a feature (creator, topic, hashtag) with the user's
  affinities, and of those only the ones that can still reach the top (``feed_foryou``). The recent
  posts and their features are loaded once per run into temporary tables, which the per-batch
  queries join.

"Active" users and authors: :func:`jobctl.jobs.shared.active_user`. A block in either
direction hides the pair from each other in every section.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from ...backend import dialect
from ...db import table_exists, transaction
from . import foryou as fy
from ..shared import ACTIVE_USER, active_user, contains, sorted_position
from . import formulas as fm

SECTIONS = ("matches", "following", "trending", "for_you")

FEED_PRESORT_DDL = """CREATE TABLE IF NOT EXISTS feed_presort (
    user_id      INTEGER NOT NULL,
    section      TEXT NOT NULL,      -- 'matches' | 'following' | 'trending' | 'for_you'
    position     INTEGER NOT NULL,   -- 1..n within the section
    item_type    TEXT NOT NULL,      -- 'user' (matches) | 'post'
    item_id      INTEGER NOT NULL,
    score        REAL,               -- match score, trending score, for_you score; NULL for 'following'
    generated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, section, position)
) WITHOUT ROWID"""

RECENT = "temp.jobctl_feed_recent"
VOCAB = "temp.jobctl_feed_vocab"

# Blocks and inactive (deleted or hidden) users are filtered in Python from per-batch sets: cheaper
# than two NOT EXISTS probes per row.
MATCHES_SQL = """
SELECT user_id, candidate_id, candidate_id, score FROM match_scores
WHERE {in_ids[user_id]}
ORDER BY user_id, rank, candidate_id"""

FOLLOWING_SQL = """
SELECT f.follower_id, p.author_id, p.id FROM follows f
JOIN posts p ON p.author_id = f.followee_id
WHERE {in_ids[f.follower_id]} AND p.deleted_at IS NULL
  AND p.created_at >= :start AND p.created_at <= :now
ORDER BY f.follower_id, p.created_at DESC, p.id DESC"""

INACTIVE_SQL = f"SELECT id FROM users WHERE NOT ({ACTIVE_USER})"

TRENDING_SQL = f"""
SELECT t.post_id, p.author_id, t.score FROM trending_posts t
JOIN posts p ON p.id = t.post_id JOIN users a ON a.id = p.author_id
WHERE p.deleted_at IS NULL AND {active_user("a")}
ORDER BY t.rank, t.post_id DESC"""

RECENT_SQL = f"""
SELECT p.id, p.author_id FROM posts p JOIN users a ON a.id = p.author_id
WHERE p.deleted_at IS NULL AND p.created_at >= :start AND p.created_at <= :now
  AND {active_user("a")}
ORDER BY p.id"""

RECENT_FEATURES_SQL = f"""
SELECT r.col, 'topic', j.value FROM {RECENT} r JOIN post_features f ON f.post_id = r.post_id, {{topics}} j
UNION ALL
SELECT r.col, 'hashtag', j.value FROM {RECENT} r JOIN post_features f ON f.post_id = r.post_id, {{hashtags}} j"""

BLOCKS_SQL = """
SELECT blocker_id, blocked_id FROM blocks WHERE {in_ids[blocker_id]}
UNION
SELECT blocked_id, blocker_id FROM blocks WHERE {in_ids[blocked_id]}"""

AFFINITIES_SQL = f"""
SELECT a.user_id, v.col, a.weight FROM user_affinities a
JOIN {VOCAB} v ON v.target_type = a.target_type AND v.target = a.target
WHERE {{in_ids[a.user_id]}} AND a.weight > 0"""

LIKED_SQL = f"""
SELECT l.user_id, r.col FROM post_likes l JOIN {RECENT} r ON r.post_id = l.post_id
WHERE {{in_ids[l.user_id]}}"""


class PresortBuilder:
    """Run-wide state (recent posts, their features, the trending list) and per-batch section building."""

    def __init__(self, db: sqlite3.Connection, *, now: str, recent_start: str, per_section: int):
        self.db, self.now, self.start, self.k = db, now, recent_start, per_section
        d = dialect(db)
        self._spelling = {"in_ids": _InIds(d), "topics": d.json_items("f.topics"),
                          "hashtags": d.json_items("f.hashtags")}
        self.trending: list[tuple[int, int, float]] = []
        self.n_recent = 0
        self.has_matches = self.has_affinities = False

    # -- run-wide --------------------------------------------------------------------------------
    def prepare(self) -> None:
        db = self.db
        self.has_matches = table_exists(db, "match_scores")
        self.inactive = np.array([r[0] for r in db.execute(INACTIVE_SQL)], dtype=np.int64)
        self.inactive.sort()
        self.has_affinities = table_exists(db, "user_affinities")
        if table_exists(db, "trending_posts"):
            self.trending = db.execute(TRENDING_SQL).fetchall()
        self._trending_authors = {author for _, author, _ in self.trending}
        recent = np.array(db.execute(RECENT_SQL, {"start": self.start, "now": self.now}).fetchall(),
                          dtype=np.int64).reshape(-1, 2)
        self.post_ids, self.authors = recent[:, 0], recent[:, 1]
        self.n_recent = len(self.post_ids)
        self._drop_temp()
        # Temporary tables live in this connection's own temp database: filling them takes no
        # lock on the platform database (a deferred transaction, never BEGIN IMMEDIATE).
        with transaction(db, immediate=False):
            db.execute(f"CREATE TABLE {RECENT} (post_id INTEGER PRIMARY KEY, col INTEGER NOT NULL)")
            db.executemany(f"INSERT INTO {RECENT} VALUES (?, ?)", zip(self.post_ids.tolist(), range(self.n_recent)))
        dialect(db).analyze(db, RECENT)
        # features: each recent post's creator, topics and hashtags
        cols = list(range(self.n_recent))
        keys = [("creator", str(a)) for a in self.authors.tolist()]
        if table_exists(db, "post_features"):
            for col, kind, value in db.execute(self._sql(RECENT_FEATURES_SQL)):
                cols.append(col)
                keys.append((kind, value))
        vocab = sorted(set(keys))
        index = {key: i for i, key in enumerate(vocab)}
        with transaction(db, immediate=False):
            db.execute(f"CREATE TABLE {VOCAB} (target_type TEXT, target TEXT, col INTEGER, "
                       f"PRIMARY KEY (target_type, target)) WITHOUT ROWID")
            db.executemany(f"INSERT INTO {VOCAB} VALUES (?, ?, ?)", ((t, v, i) for (t, v), i in index.items()))
        dialect(db).analyze(db, VOCAB)
        self.n_features = len(vocab)
        feat_posts = fm.feature_post_matrix(cols, [index[k] for k in keys], self.n_features, self.n_recent)
        self.index = fy.ForYouIndex(feat_posts, self.post_ids)
        # each author's recent posts, to exclude own and blocked authors' posts
        self.uniq_authors, a_idx = np.unique(self.authors, return_inverse=True)
        a_idx = a_idx.ravel()
        self.author_len = np.bincount(a_idx, minlength=len(self.uniq_authors)).astype(np.int64)
        self.author_ptr = np.r_[0, np.cumsum(self.author_len)].astype(np.int64)
        self.author_cols = np.argsort(a_idx, kind="stable").astype(np.int64)

    def _sql(self, template: str) -> str:
        """``template`` with the dialect's id-list and JSON-array spelling filled in."""
        return template.format(**self._spelling)

    def close(self) -> None:
        self._drop_temp()

    def _drop_temp(self) -> None:
        self.db.execute(f"DROP TABLE IF EXISTS {RECENT}")
        self.db.execute(f"DROP TABLE IF EXISTS {VOCAB}")

    # -- per batch -------------------------------------------------------------------------------
    def build(self, users: list[int]) -> list[tuple]:
        """Rows (user_id, section, position, item_type, item_id, score, generated_at) for ``users``."""
        ids = np.asarray(users, dtype=np.int64)
        rng = {"ids": json.dumps(users), "start": self.start, "now": self.now}
        pairs = self.db.execute(self._sql(BLOCKS_SQL), rng).fetchall()
        blocked: dict[int, set[int]] = {}
        for u, v in pairs:
            blocked.setdefault(u, set()).add(v)
        block_keys = np.sort(np.array([_pair(u, v) for u, v in pairs], dtype=np.int64))
        rows: list[tuple] = []
        if self.has_matches:
            rows += self._ranked("matches", "user", self.db.execute(self._sql(MATCHES_SQL), rng).fetchall(), ids, block_keys)
        rows += self._ranked("following", "post", self.db.execute(self._sql(FOLLOWING_SQL), rng).fetchall(), ids, block_keys)
        rows += self._trending(users, blocked)
        rows += self._for_you(ids, rng, blocked)
        return rows

    def _ranked(self, section: str, item_type: str, fetched: list[tuple], ids: np.ndarray,
                block_keys: np.ndarray) -> list[tuple]:
        """Section rows from ``fetched`` ((user, other user, item[, score]) ordered by user, then best
        first): the first k per batch user whose other user is not themselves, active, not blocked."""
        if not fetched:
            return []
        cols = list(zip(*fetched))
        users = np.array(cols[0], dtype=np.int64)
        other = np.array(cols[1], dtype=np.int64)
        _, ok = _rows_of(ids, users)
        ok &= (other != users) & ~contains(self.inactive, other) & ~contains(block_keys, _pair(users, other))
        idx = np.flatnonzero(ok)
        u = users[idx]
        starts = np.flatnonzero(np.concatenate(([True], u[1:] != u[:-1])))
        pos = np.arange(idx.size) - np.repeat(starts, np.diff(np.append(starts, idx.size))) + 1
        keep = pos <= self.k
        idx, pos = idx[keep], pos[keep]
        items = np.asarray(cols[2], dtype=np.int64)[idx].tolist()
        scores = np.asarray(cols[3], dtype=np.float64)[idx].tolist() if len(cols) > 3 else [None] * idx.size
        n = idx.size
        return list(zip(users[idx].tolist(), [section] * n, pos.tolist(), [item_type] * n, items, scores,
                        [self.now] * n))

    def _trending(self, users: list[int], blocked: dict[int, set[int]]) -> list[tuple]:
        """The trending list minus the user's own posts and blocked authors' (most users: its head)."""
        out, k, now = [], self.k, self.now
        authors = self._trending_authors
        default = [(pos, pid, score) for pos, (pid, _, score) in enumerate(self.trending[:k], start=1)]
        for u in users:
            hidden = blocked.get(u, set())
            if u not in authors and authors.isdisjoint(hidden):
                items = default
            else:
                kept = [(pid, score) for pid, author, score in self.trending if author != u and author not in hidden]
                items = [(pos, pid, score) for pos, (pid, score) in enumerate(kept[:k], start=1)]
            out.extend((u, "trending", pos, "post", pid, score, now) for pos, pid, score in items)
        return out

    def _for_you(self, ids: np.ndarray, rng: dict, blocked: dict[int, set[int]]) -> list[tuple]:
        if not self.has_affinities or self.n_recent == 0:
            return []
        aff = np.array(self.db.execute(self._sql(AFFINITIES_SQL), rng).fetchall(), dtype=np.float64).reshape(-1, 3)
        a_rows, a_ok = _rows_of(ids, aff[:, 0].astype(np.int64))
        if not a_ok.any():
            return []
        liked = np.array(self.db.execute(self._sql(LIKED_SQL), rng).fetchall(), dtype=np.int64).reshape(-1, 2)
        l_rows, l_ok = _rows_of(ids, liked[:, 0])
        # the user's own posts and their blocked authors' posts are out too
        pairs_u = np.r_[ids, np.array([u for u, vs in blocked.items() for _ in vs], dtype=np.int64)]
        pairs_a = np.r_[ids, np.array([v for vs in blocked.values() for v in vs], dtype=np.int64)]
        p_rows, p_ok = _rows_of(ids, pairs_u)
        a_pos, a_found = _rows_of(self.uniq_authors, pairs_a)
        p_ok &= a_found
        posts, seg = fy.gather(self.author_ptr, self.author_cols, a_pos[p_ok], self.author_len[a_pos[p_ok]])
        e_rows = np.r_[p_rows[p_ok][seg], l_rows[l_ok]]
        e_cols = np.r_[posts, liked[l_ok, 1]]
        rows, cols, scores, pos = fy.for_you(self.index, a_rows[a_ok], aff[a_ok, 1].astype(np.int64), aff[a_ok, 2],
                                             e_rows, e_cols, self.k)
        return list(zip(ids[rows].tolist(), ["for_you"] * len(rows), pos.tolist(), ["post"] * len(rows),
                        self.post_ids[cols].tolist(), scores.tolist(), [self.now] * len(rows)))


class _InIds:
    """``{in_ids[column]}`` in a template: the dialect's "column is one of the JSON array :ids"."""

    def __init__(self, d):
        self.d = d

    def __getitem__(self, column: str) -> str:
        return self.d.in_ids(column, ":ids")


def _pair(u, v):
    """One integer per ordered pair of user ids (ids below 2**31)."""
    return np.asarray(u, dtype=np.int64) * (1 << 32) + np.asarray(v, dtype=np.int64)


def _rows_of(ids: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index of each user in the sorted batch ``ids`` and whether it is in the batch at all."""
    return sorted_position(ids, users)
