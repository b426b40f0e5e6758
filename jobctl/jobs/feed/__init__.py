"""The feed group: content-features, trending, affinity, feed-presort.

Each job reads the platform with set-based SQL, computes with numpy (:mod:`.formulas`, :mod:`.text`)
and writes its derived table in short transactions:

* ``post_features`` is updated per post (insert-or-replace a batch of posts per transaction);
* ``trending_posts`` and ``user_affinities`` are rebuilt wholesale aside and swapped in
  (:meth:`~jobctl.context.JobContext.rebuild`), so a killed run leaves the previous table untouched;
* ``feed_presort`` replaces all sections of a batch of users in one transaction, so every user has
  either the previous feed or the new one.

Time windows compare the platform's ISO-8601 text timestamps with ``now`` formatted the same way;
both edges are inclusive (``now − window <= t <= now``).
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np

from ...backend import dialect
from ...db import table_exists
from ...registry import Param, job
from ...timeutil import fmt_ts
from ..shared import ACTIVE_USER, active_user, contains, sorted_position
from . import formulas as fm
from . import presort as fp
from . import text as ft

ACTIVE_AUTHOR = active_user("a")


def _ago(ctx, **delta) -> str:
    """``now`` minus ``delta``, formatted as the platform stores timestamps."""
    return fmt_ts(ctx.now - timedelta(**delta))


def _chunks(seq, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def _json_ids(ids) -> str:
    return json.dumps([int(i) for i in ids])


# == content-features ================================================================================

POST_FEATURES_DDL = """CREATE TABLE IF NOT EXISTS post_features (
    post_id     INTEGER PRIMARY KEY,
    hashtags    TEXT NOT NULL,   -- JSON array: lower-cased, unique, in order of first appearance
    topics      TEXT NOT NULL,   -- JSON array of interest names, sorted
    keywords    TEXT NOT NULL,   -- JSON array: top 5 TF-IDF terms
    computed_at TEXT NOT NULL
)"""


@job("content-features", group="feed",
     writes=["post_features"], uses_now=True,
     summary="Analyzes posts to understand their content",
     description="Reads posts to find their hashtags, the interests (topics) they talk about and their "
                 "five most distinctive words (TF-IDF keywords). By default only new and edited posts "
                 "are analysed; full=true analyses every post again. Features of deleted posts are removed.",
     when="Automatically after new posts are created, or with full=true to analyse older posts again "
          "(for example after new interests were added).",
     impact="Better content recommendations in user feeds.",
     params=[Param("full", "bool", False, help="analyse every post again, not only new and edited ones")],
     batch_size=1000, pause_ms=5)
def content_features(ctx):
    db = ctx.db
    with ctx.transaction():
        db.execute(POST_FEATURES_DDL)
    full = bool(ctx.params.get("full"))
    stale = [r[0] for r in db.execute(
        "SELECT f.post_id FROM post_features f LEFT JOIN posts p ON p.id = f.post_id "
        "WHERE p.id IS NULL OR p.deleted_at IS NOT NULL ORDER BY f.post_id")]
    if full:
        pending = [r[0] for r in db.execute("SELECT id FROM posts WHERE deleted_at IS NULL ORDER BY id")]
    else:
        pending = [r[0] for r in db.execute(
            "SELECT p.id FROM posts p LEFT JOIN post_features f ON f.post_id = p.id "
            "WHERE p.deleted_at IS NULL AND (f.post_id IS NULL OR p.edited_at > f.computed_at) ORDER BY p.id")]
    mode = "full" if full else "incremental"
    if not pending and not stale:
        ctx.set_total(0)
        ctx.log("nothing to do: every post's features are up to date")
        return {"mode": mode, "posts_analysed": 0, "rows_removed": 0, "up_to_date": True,
                "message": "nothing to do: no new, edited or deleted posts since the last run"}
    ctx.set_total(len(pending) + len(stale))

    for ids in _chunks(stale, ctx.batch_size):
        with ctx.transaction():
            db.execute(f"DELETE FROM post_features WHERE {dialect(db).in_ids('post_id', '?')}",
                       (_json_ids(ids),))
        ctx.checkpoint(advance=len(ids))

    # Document frequencies over the whole corpus of non-deleted posts, recounted every run so that
    # new posts' keywords are ranked against the corpus as it is now.
    df, n_docs = ft.document_frequencies(b for (b,) in db.execute("SELECT body FROM posts WHERE deleted_at IS NULL"))
    ctx.check_cancel()
    matcher = ft.TopicMatcher(name for (name,) in db.execute(
        f"SELECT name FROM interests ORDER BY {dialect(db).text_order('name')}"))
    stamp = ctx.now_str
    analysed = 0
    for ids in _chunks(pending, ctx.batch_size):
        rows = []
        for pid, body in db.execute(f"SELECT id, body FROM posts WHERE {dialect(db).in_ids('id', '?')} "
                                    "AND deleted_at IS NULL", (_json_ids(ids),)):
            tags = ft.hashtags(body)
            rows.append((pid, _dump(tags), _dump(matcher.topics(body, tags)),
                         _dump(ft.keywords(ft.terms(body), df, n_docs)), stamp))
        with ctx.transaction():
            db.executemany(dialect(db).upsert("post_features", ["post_id", "hashtags", "topics", "keywords",
                                                                "computed_at"], ["post_id"]), rows)
        analysed += len(rows)
        ctx.checkpoint(advance=len(ids), cursor=ids[-1])
    return {"mode": mode, "posts_analysed": analysed, "rows_removed": len(stale), "corpus_posts": n_docs,
            "up_to_date": False}


def _dump(items: list[str]) -> str:
    return json.dumps(items, ensure_ascii=False)


# == trending =========================================================================================

TRENDING_DDL = """CREATE TABLE "{name}" (
    post_id     INTEGER PRIMARY KEY,
    score       REAL NOT NULL,
    rank        INTEGER NOT NULL,
    computed_at TEXT NOT NULL,
    engagement  INTEGER NOT NULL,   -- E = likes + 2·comments + 3·shares
    age_hours   REAL NOT NULL
)"""

TRENDING_SQL = f"""
SELECT p.id, {{epoch_created}},
       (SELECT count(*) FROM post_likes l WHERE l.post_id = p.id AND l.created_at <= :now),
       (SELECT count(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL AND c.created_at <= :now),
       (SELECT count(*) FROM shares s WHERE s.post_id = p.id AND s.created_at <= :now)
FROM posts p JOIN users a ON a.id = p.author_id
WHERE p.deleted_at IS NULL AND p.created_at >= :start AND p.created_at <= :now AND {ACTIVE_AUTHOR}
"""


@job("trending", group="feed",
     writes=["trending_posts"], rebuilds=True, depends_on=["content-features"], uses_now=True,
     summary="Identifies popular content",
     description="Calculates which posts are getting the most engagement right now: likes, comments and "
                 "shares (weighted 1, 2 and 3) of posts from the last window_hours, divided by "
                 "(age in hours + 2) to the power gravity, so fresh engagement beats old. Keeps the top "
                 "`limit` posts.",
     when="Regularly (every few hours) to keep trending content fresh.",
     impact="Users see what's hot in the community.",
     params=[Param("window_hours", "int", 72, min=1, help="only posts created this many hours before now (inclusive)"),
             Param("gravity", "float", 1.8, min=0, help="how fast age pulls a post down: E / (age_hours + 2) ** gravity"),
             Param("limit", "int", 100, min=1, help="how many posts to keep")],
     batch_size=1000, pause_ms=5)
def trending(ctx):
    db = ctx.db
    p = ctx.params
    rows = db.execute(TRENDING_SQL.format(epoch_created=dialect(db).epoch("p.created_at")), {"now": ctx.now_str, "start": _ago(ctx, hours=p["window_hours"])}).fetchall()
    ctx.check_cancel()
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    e = fm.engagement(arr[:, 2], arr[:, 3], arr[:, 4])
    age_hours = (int(ctx.now.timestamp()) - arr[:, 1]) / fm.SECONDS_PER_HOUR
    scores = fm.gravity_scores(e, age_hours, p["gravity"])
    top = fm.rank_trending(arr[:, 0], scores, p["limit"])
    out = [(int(arr[i, 0]), float(scores[i]), rank, ctx.now_str, int(e[i]), float(age_hours[i]))
           for rank, i in enumerate(top, start=1)]
    ctx.set_total(len(out))
    with ctx.rebuild("trending_posts", TRENDING_DDL) as new:
        for chunk in _chunks(out, ctx.batch_size):
            new.insert(chunk)
            ctx.checkpoint(advance=len(chunk))
    return {"posts_considered": len(rows), "posts_ranked": len(out),
            "top_post_id": out[0][0] if out else None}


# == affinity ===========================================================================================

AFFINITY_DDL = """CREATE TABLE "{name}" (
    user_id     INTEGER NOT NULL,
    target_type TEXT NOT NULL,      -- 'creator' | 'topic' | 'hashtag'
    target      TEXT NOT NULL,      -- creator: the author's user id as text
    weight      REAL NOT NULL,
    PRIMARY KEY (user_id, target_type, target)
) WITHOUT ROWID"""

# Engagement events in the window; posts and users are checked in numpy (one lookup array each),
# which is much cheaper than joining every event.
# {epoch}, {topics}, {hashtags}: the dialect's spelling of epoch seconds and JSON array elements
EVENTS_SQL = """
SELECT user_id, post_id, 1, {epoch} FROM post_likes
  WHERE created_at >= :start AND created_at <= :now
UNION ALL
SELECT author_id, post_id, 2, {epoch} FROM comments
  WHERE deleted_at IS NULL AND created_at >= :start AND created_at <= :now
UNION ALL
SELECT user_id, post_id, 3, {epoch} FROM shares
  WHERE created_at >= :start AND created_at <= :now
"""

FOLLOWS_SQL = """
SELECT f.follower_id, f.followee_id, {epoch}
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.follower_id != f.followee_id AND f.created_at <= :now AND u.deleted_at IS NULL
"""

FEATURES_SQL = """
SELECT f.post_id, 'topic', j.value FROM post_features f, {topics} j
UNION ALL
SELECT f.post_id, 'hashtag', j.value FROM post_features f, {hashtags} j
"""


@job("affinity", group="feed",
     writes=["user_affinities"], rebuilds=True, depends_on=["content-features"], uses_now=True,
     summary="Learns what each user likes",
     description="Tracks which creators, topics and hashtags each user engages with: every like, comment "
                 "and share (weights 1, 2, 3) of someone else's post in the last lookback_days counts for "
                 "the post's creator, topics and hashtags, halved every half_life_days; following someone "
                 "counts 2, decayed from the follow date. Keeps each user's top per_type of each kind.",
     when="Daily or weekly to update user preferences.",
     impact="Feeds become more personalized over time.",
     params=[Param("lookback_days", "int", 90, min=1, help="only engagements this many days before now count"),
             Param("half_life_days", "float", 14.0, min=0.01, help="an engagement this old counts half"),
             Param("per_type", "int", 50, min=1, help="targets kept per user for each type")],
     batch_size=500, pause_ms=5)
def affinity(ctx):
    db = ctx.db
    p = ctx.params
    now_s = int(ctx.now.timestamp())
    args = {"now": ctx.now_str, "start": _ago(ctx, days=p["lookback_days"])}
    ev_user, ev_post, ev_author, ev_w, ev_t = _engagements(db, args)
    fo = _int_rows(db.execute(FOLLOWS_SQL.format(epoch=dialect(db).epoch("f.created_at")), args), 3)
    ctx.check_cancel()
    hl = p["half_life_days"]
    ev_w = ev_w * fm.decay(now_s - ev_t, hl)
    fo_w = 2.0 * fm.decay(now_s - fo[:, 2], hl)
    # creators: engagements and follows together
    cu, ca, cw = fm.group_sum(np.r_[ev_user, fo[:, 0]], np.r_[ev_author, fo[:, 1]], np.r_[ev_w, fo_w])
    # topics and hashtags: per (user, post) first, then spread over the posts' features
    eu, ep, ew = fm.group_sum(ev_user, ev_post, ev_w)
    names, kinds, f_posts, f_ids = _post_feature_incidence(db, np.unique(ep))
    fu, fi, fw = fm.spread_to_features(eu, ep, ew, f_posts, f_ids, len(names))
    ctx.check_cancel()

    cw, fw = fm.round_sig(cw), fm.round_sig(fw)
    k = p["per_type"]
    authors = np.unique(ca)
    text_rank = np.argsort(np.argsort(authors.astype(str), kind="stable"), kind="stable")
    tables = {"creator": _top_targets(cu, ca, text_rank[np.searchsorted(authors, ca)], cw, k)}
    for kind in ("hashtag", "topic"):
        sel = kinds[fi] == kind if fi.size else np.zeros(0, dtype=bool)
        # feature ids number (kind, name) in sorted order: comparing ids compares names
        tables[kind] = _top_targets(fu[sel], fi[sel], fi[sel], fw[sel], k)
    names = names.tolist()
    as_text = {"creator": lambda codes: [str(c) for c in codes],
               "hashtag": lambda codes: [names[c] for c in codes], "topic": lambda codes: [names[c] for c in codes]}
    users = np.unique(np.concatenate([t[0] for t in tables.values()]))
    ctx.set_total(len(users))

    counts = {kind: 0 for kind in tables}
    with ctx.rebuild("user_affinities", AFFINITY_DDL) as new:
        for batch in _chunks(users, ctx.batch_size):
            lo, hi = batch[0], batch[-1]
            rows = []
            for kind in ("creator", "hashtag", "topic"):       # primary-key order
                u, t, w = tables[kind]
                a, b = np.searchsorted(u, lo, "left"), np.searchsorted(u, hi, "right")
                rows.extend(zip(u[a:b].tolist(), [kind] * (b - a), as_text[kind](t[a:b].tolist()), w[a:b].tolist()))
                counts[kind] += int(b - a)
            new.insert(rows)
            ctx.checkpoint(advance=len(batch), cursor=int(hi))
    return {"users": int(len(users)), "engagements": int(len(ev_user)), "follows": int(len(fo)),
            "rows": sum(counts.values()), "rows_by_type": counts}




def _engagements(db, args: dict):
    """(user, post, author, weight, epoch seconds) of every counted engagement: in the window, with a
    non-deleted post by someone else, by a non-deleted user."""
    ev = _int_rows(db.execute(EVENTS_SQL.format(epoch=dialect(db).epoch("created_at")), args), 4)
    posts = _int_rows(db.execute("SELECT id, author_id FROM posts WHERE deleted_at IS NULL ORDER BY id"), 2)
    gone = _int_rows(db.execute("SELECT id FROM users WHERE deleted_at IS NOT NULL ORDER BY id"), 1)[:, 0]
    pos, found = sorted_position(posts[:, 0], ev[:, 1])
    author = posts[pos, 1] if len(posts) else ev[:, 1]
    keep = found & (author != ev[:, 0]) & ~contains(gone, ev[:, 0])
    ev, author = ev[keep], author[keep]
    return ev[:, 0], ev[:, 1], author, ev[:, 2].astype(np.float64), ev[:, 3]


def _int_rows(cursor, width: int, chunk: int = 200_000) -> np.ndarray:
    """Fetch an all-integer result into an (n, width) array, a chunk at a time."""
    parts = []
    while True:
        rows = cursor.fetchmany(chunk)
        if not rows:
            break
        parts.append(np.array(rows, dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.int64)


def _post_feature_incidence(db, posts: np.ndarray):
    """(names, kinds, post ids, feature ids): every (post, topic/hashtag) of ``posts`` from post_features.

    Feature ids number the distinct (kind, name) pairs in sorted order, so comparing ids compares names.
    """
    empty = np.zeros(0, dtype=np.int64)
    if not table_exists(db, "post_features") or posts.size == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object), empty, empty
    d = dialect(db)
    rows = db.execute(FEATURES_SQL.format(topics=d.json_items("f.topics"), hashtags=d.json_items("f.hashtags"))).fetchall()
    pid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    keep = np.isin(pid, posts)
    rows = [r for r, k in zip(rows, keep) if k]
    vocab = sorted({(r[1], r[2]) for r in rows})
    index = {key: i for i, key in enumerate(vocab)}
    f_ids = np.fromiter((index[(r[1], r[2])] for r in rows), dtype=np.int64, count=len(rows))
    names = np.array([v[1] for v in vocab], dtype=object)
    kinds = np.array([v[0] for v in vocab], dtype=object)
    return names, kinds, pid[keep], f_ids


def _top_targets(users, targets, text_order, weights, k: int):
    """Each user's top ``k`` targets by weight (ties: target text ascending, given by ``text_order``).

    Returns (users, target codes, weights), sorted by user then target text.
    """
    if users.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    idx, _ = fm.top_k_per_group(users, weights, text_order, k)
    idx = idx[np.lexsort((text_order[idx], users[idx]))]
    return users[idx], targets[idx], weights[idx]


# == feed-presort ==========================================================================================

@job("feed-presort", group="feed",
     writes=["feed_presort"], depends_on=["match-scores", "trending", "affinity"], uses_now=True,
     summary="Pre-organizes each user's feed",
     description="Builds four ready-to-show sections for every user active in the last active_days: "
                 "'matches' (best match scores), 'following' (recent posts of people they follow, newest "
                 "first), 'trending' (the trending list) and 'for_you' (recent posts scored by the user's "
                 "affinity to their creator, topics and hashtags). Blocked, hidden and deleted users, the "
                 "user's own posts and (for 'for_you') posts already liked are left out.",
     when="After match scores and affinity updates.",
     impact="Users see a perfectly organized feed when they open the app.",
     params=[Param("active_days", "int", 30, min=1, help="only users active this many days before now get a new feed"),
             Param("recent_days", "int", 7, min=1, help="'following' and 'for_you' show posts of this many days"),
             Param("per_section", "int", 20, min=1, help="items per section")],
     batch_size=500, pause_ms=5)
def feed_presort(ctx):
    db = ctx.db
    p = ctx.params
    with ctx.transaction():
        db.execute(fp.FEED_PRESORT_DDL)
    users = [r[0] for r in db.execute(
        f"SELECT id FROM users WHERE {ACTIVE_USER} AND last_active_at >= ? "
        "ORDER BY id", (_ago(ctx, days=p["active_days"]),))]
    ctx.set_total(len(users))
    builder = fp.PresortBuilder(db, now=ctx.now_str, recent_start=_ago(ctx, days=p["recent_days"]),
                                per_section=p["per_section"])
    counts = {s: 0 for s in fp.SECTIONS}
    try:
        builder.prepare()
        ctx.check_cancel()
        for batch in _chunks(users, ctx.batch_size):
            rows = builder.build(batch)
            with ctx.transaction():
                db.execute(f"DELETE FROM feed_presort WHERE {dialect(db).in_ids('user_id', '?')}",
                           (_json_ids(batch),))
                db.executemany("INSERT INTO feed_presort (user_id, section, position, item_type, item_id, "
                               "score, generated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            for r in rows:
                counts[r[1]] += 1
            ctx.checkpoint(advance=len(batch), cursor=batch[-1])
    finally:
        builder.close()
    return {"users": len(users), "rows": sum(counts.values()), "rows_by_section": counts,
            "recent_posts": builder.n_recent, "trending_posts": len(builder.trending)}
