"""The search group: privacy-safe profile snapshots, the full-text index, interest sets and
related interests.

How each job stays safe to kill at any instant:

* searchable-user updates per entity: the user ids are cut into consecutive id ranges that
  together cover every possible id, and each range is one transaction that deletes the range's
  snapshot rows and inserts the range's active users. A killed run leaves every range either
  old or new, and the next run rewrites them all; rows of users who became hidden, were deleted
  or vanished are removed by the range that covers them.
* profile-search-index, user-interest-sets and interest-relationships rebuild their tables aside
  (:meth:`~jobctl.context.JobContext.rebuild`) and swap them in with one transaction, so readers
  see the old tables or the new ones, never a missing or partial one.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date

import numpy as np

from ...backend import dialect
from ...db import table_exists
from ...errors import JobFailed
from ...registry import Param, job
from ...timeutil import age_on
from ..shared import ACTIVE_USER, TRAITS, active_user
from . import index as idx
from .formulas import cooccurrence, relationships
from .privacy import redact_contacts, scrub_own

_MIN_ID, _MAX_ID = -(2 ** 63), 2 ** 63 - 1

SEARCHABLE_USERS_SQL = """CREATE TABLE IF NOT EXISTS searchable_users (
    user_id      INTEGER PRIMARY KEY,
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    age          INTEGER,
    gender       TEXT,
    city         TEXT,
    country      TEXT,
    bio          TEXT NOT NULL DEFAULT '',
    interests    TEXT NOT NULL DEFAULT '',
    traits       TEXT,
    visibility   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
)"""
_SNAPSHOT_COLS = ("user_id", "username", "display_name", "age", "gender", "city", "country", "bio",
                  "interests", "traits", "visibility", "updated_at")


def id_ranges(ids: list[int], size: int) -> list[tuple[int, int, int]]:
    """Consecutive half-open ranges (lo, hi] covering every possible id, each holding up to
    ``size`` of ``ids`` (sorted); returned as (lo, hi, count). Always at least one range."""
    out, lo = [], _MIN_ID
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        hi = chunk[-1] if start + size < len(ids) else _MAX_ID
        out.append((lo, hi, len(chunk)))
        lo = hi
    return out or [(_MIN_ID, _MAX_ID, 0)]


# -- profile-search-index ------------------------------------------------------------------------

def _fts_batches(conn, size: int):
    last = _MIN_ID
    while True:
        rows = conn.execute(
            f"SELECT user_id, {', '.join(idx.COLUMNS)} FROM searchable_users WHERE user_id > ? "
            f"ORDER BY user_id LIMIT ?", (last, size)).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [(r[0], *(idx.fold(v) for v in r[1:])) for r in rows]


def _merge_index(ctx, table: str, pages: int = 400) -> int:
    """Merge the index's segments towards one (FTS5 'merge' with a negative page count), in short
    steps, each its own transaction."""
    steps = 0
    while True:
        with ctx.transaction() as conn:
            before = conn.total_changes
            conn.execute(f"INSERT INTO \"{table}\"(\"{table}\", rank) VALUES ('merge', ?)", (-pages,))
            worked = conn.total_changes - before > 1
        steps += 1
        ctx.checkpoint(advance=0)
        if not worked:
            return steps


def heavy_expressions(conn, table: str, min_matches: int) -> list[str]:
    """The single-word search expressions that touch at least ``min_matches`` profiles: words in
    that many profiles, and 2- and 3-letter words whose name-prefix expansion reads that many
    (someone typing 'an' reads the doclists of every word starting with 'an')."""
    conn.execute("DROP TABLE IF EXISTS temp.profile_search_vocab")
    conn.execute(f"CREATE VIRTUAL TABLE temp.profile_search_vocab USING fts5vocab(main, \"{table}\", row)")
    try:
        words = [r[0] for r in conn.execute(
            "SELECT term FROM temp.profile_search_vocab WHERE doc >= ? ORDER BY doc DESC, term", (min_matches,))]
        for n in (2, 3):
            words += [r[0] for r in conn.execute(
                f"""SELECT substr(term, 1, {n}) AS p FROM temp.profile_search_vocab WHERE length(term) >= {n}
                    GROUP BY p HAVING sum(doc) >= ? ORDER BY sum(doc) DESC, p""", (min_matches,))]
    finally:
        conn.execute("DROP TABLE temp.profile_search_vocab")
    return list(dict.fromkeys(q[0] for q in map(idx.build_queries, words) if q))


def _precompute(ctx, index: str, top, min_matches: int) -> int:
    """Rank the heaviest single-word searches on the new ``index`` once, into the rebuilt ``top``."""
    conn = ctx.db
    ranked = idx.ranked_sql(index)
    count = f'SELECT count(*) FROM "{index}" WHERE "{index}" MATCH ?'
    exprs = heavy_expressions(conn, index, min_matches)
    for expr in exprs:
        hits = conn.execute(ranked, (expr, idx.TOP_KEEP)).fetchall()
        matches = conn.execute(count, (expr,)).fetchone()[0]
        top.insert([(expr, pos, uid, score, matches) for pos, (uid, score) in enumerate(hits, 1)])
        ctx.checkpoint(advance=0)
    return len(exprs)


@job("profile-search-index", group="search",
     writes=["profile_search", "profile_search_top"], rebuilds=True, depends_on=["searchable-user"],
     summary="Builds searchable user profiles",
     description="Creates a fast full-text search index of all searchable profiles (like a phone "
                 "book for your app): names, usernames, cities, interests and bios, accents folded "
                 "so 'zoe' finds Zoë. The new index is built aside and swapped in at once, so "
                 "searches keep working on the old index while it is rebuilt. The rankings of the "
                 "most common single words are computed once here, so those searches stay instant.",
     when="When user profiles change significantly, or to rebuild the index (after searchable-user).",
     impact="Profile search works faster and shows more relevant results.",
     params=[Param("precompute_min", "int", 4000, min=1,
                   help="single-word searches matching at least this many profiles are ranked in advance")],
     batch_size=2000, pause_ms=5)
def profile_search_index(ctx):
    conn = ctx.db
    if not table_exists(conn, "searchable_users"):
        raise JobFailed("searchable_users does not exist yet: run searchable-user first")
    started = time.monotonic()
    ctx.set_total(conn.execute("SELECT count(*) FROM searchable_users").fetchone()[0])
    engine = idx.text_index(conn)           # FTS5 on SQLite, a tsvector + GIN table on PostgreSQL
    # the index and its precomputed rankings change together
    with ctx.rebuild_together({idx.LIVE: engine.ddl, idx.TOP: idx.top_sql}) as new:
        index, top = new[idx.LIVE], new[idx.TOP]
        indexed = 0
        for rows in _fts_batches(conn, ctx.batch_size):
            indexed += index.insert(rows, (engine.key,) + idx.COLUMNS)
            ctx.checkpoint(advance=len(rows))
        built = time.monotonic()
        # FTS5 only: merge the segments, rank the heaviest searches once (a GIN index needs neither)
        steps = _merge_index(ctx, index.name) if engine.precomputes else 0
        merged = time.monotonic()
        heavy = _precompute(ctx, index.name, top, ctx.params["precompute_min"]) if engine.precomputes else 0
    ctx.log(f"{indexed} profiles indexed in {built - started:.1f} s, merged in {steps} steps "
            f"({merged - built:.1f} s), {heavy} common searches ranked in advance "
            f"({time.monotonic() - merged:.1f} s); index swapped in")
    return {"profiles_indexed": indexed, "precomputed_searches": heavy}


# -- user-interest-sets ---------------------------------------------------------------------------

MEMBERS_SQL = """CREATE TABLE "{name}" (
    interest_id INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (interest_id, user_id)
) WITHOUT ROWID"""
STATS_SQL = """CREATE TABLE "{name}" (
    interest_id  INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    member_count INTEGER NOT NULL
)"""


@job("user-interest-sets", group="search",
     writes=["interest_members", "interest_stats"], rebuilds=True,
     summary="Organizes users by interests",
     description="Groups active users by shared interests (e.g. all users who like 'hiking' or "
                 "'photography') and counts each interest's members. Hidden and deleted users are "
                 "left out.",
     when="After users update their interests (daily with the search group).",
     impact="\"Find people who like X\" searches work better.",
     batch_size=1000, pause_ms=5)
def user_interest_sets(ctx):
    conn = ctx.db
    ids = [r[0] for r in conn.execute(f"SELECT id FROM users WHERE {ACTIVE_USER} ORDER BY id")]
    ctx.set_total(len(ids))
    # both tables change together
    with ctx.rebuild_together({"interest_members": MEMBERS_SQL, "interest_stats": STATS_SQL}) as new:
        members, stats = new["interest_members"], new["interest_stats"]
        for lo, hi, count in id_ranges(ids, ctx.batch_size):
            members.execute(
                f"""INSERT INTO "{{name}}" (interest_id, user_id)
                    SELECT ui.interest_id, ui.user_id FROM user_interests AS ui
                    JOIN interests AS i ON i.id = ui.interest_id
                    JOIN users AS u ON u.id = ui.user_id
                    WHERE ui.user_id > ? AND ui.user_id <= ? AND {active_user("u")}""",
                (lo, hi))
            ctx.checkpoint(advance=count)
        stats.execute(f"""INSERT INTO "{{name}}" (interest_id, name, member_count)
                          SELECT i.id, i.name, (SELECT count(*) FROM "{members.name}" AS m WHERE m.interest_id = i.id)
                          FROM interests AS i""")
    n_members, n_interests = conn.execute(
        "SELECT count(*), count(DISTINCT interest_id) FROM interest_members").fetchone()
    ctx.log(f"{n_members} memberships over {n_interests} interests")
    return {"memberships": n_members, "interests_with_members": n_interests, "active_users": len(ids)}


# -- searchable-user ---------------------------------------------------------------------------

def _traits_json(values) -> str | None:
    """The five trait scores as JSON, rounded half up to whole points; NULL without any."""
    if values is None or all(v is None for v in values):
        return None
    return json.dumps({t: (None if v is None else math.floor(v + 0.5)) for t, v in zip(TRAITS, values)})


def _age(birthdate: str | None, today: date) -> int | None:
    try:
        return age_on(birthdate, today) if birthdate else None
    except ValueError:
        return None


def snapshot_row(user: tuple, interests: list[str], traits, today: date, updated_at: str) -> tuple:
    """One searchable_users row from a users row (id, username, display_name, email, birthdate,
    gender, city, country, latitude, longitude, bio, visibility): age instead of birthdate,
    contacts redacted from the bio, the user's own private values scrubbed from every text."""
    (uid, username, display_name, email, birthdate, gender, city, country, lat, lon, bio, visibility) = user
    own = dict(email=email, birthdate=birthdate, latitude=lat, longitude=lon)
    age = _age(birthdate, today)
    return (uid, scrub_own(username, **own), scrub_own(display_name, **own), age, gender,
            scrub_own(city, **own), scrub_own(country, **own), scrub_own(redact_contacts(bio), **own),
            ",".join(interests), _traits_json(traits), visibility, updated_at)


def _snapshot_batch(conn, lo: int, hi: int, today: date, updated_at: str, with_traits: bool) -> list[tuple]:
    users = conn.execute(
        f"""SELECT id, username, display_name, email, birthdate, gender, city, country, latitude, longitude,
                   bio, visibility
            FROM users WHERE id > ? AND id <= ? AND {ACTIVE_USER} ORDER BY id""", (lo, hi)).fetchall()
    interests: dict[int, list[str]] = {}
    for uid, name in conn.execute(
            f"""SELECT ui.user_id, i.name FROM user_interests AS ui JOIN interests AS i ON i.id = ui.interest_id
               WHERE ui.user_id > ? AND ui.user_id <= ?
               ORDER BY ui.user_id, {dialect(conn).text_order("i.name")}""", (lo, hi)):
        interests.setdefault(uid, []).append(name)
    traits = {}
    if with_traits:
        traits = {r[0]: r[1:] for r in conn.execute(
            f"SELECT user_id, {', '.join(TRAITS)} FROM user_traits WHERE user_id > ? AND user_id <= ?", (lo, hi))}
    return [snapshot_row(u, interests.get(u[0], []), traits.get(u[0]), today, updated_at) for u in users]


@job("searchable-user", group="search",
     writes=["searchable_users"], depends_on=["build-user-traits"], uses_now=True,
     summary="Updates search-friendly profile snapshots",
     description="Creates simplified versions of profiles optimized for search: one row per active "
                 "user with their public name, age, city, interests and personality traits. Private "
                 "info is left out (no e-mail, birthdate or exact location), e-mail addresses and "
                 "phone numbers typed into bios are redacted, and hidden or deleted users are removed.",
     when="After profile updates or trait building (daily with the search group).",
     impact="Search results are more accurate and respect privacy settings.",
     batch_size=1000, pause_ms=5)
def searchable_user(ctx):
    conn = ctx.db
    with ctx.transaction():
        conn.execute(SEARCHABLE_USERS_SQL)
    with_traits = table_exists(conn, "user_traits")
    if not with_traits:
        ctx.log("user_traits does not exist yet (build-user-traits has not run): traits left empty")
    ids = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
    ctx.set_total(len(ids))
    today, stamp = ctx.now.date(), ctx.now_str
    marks = ", ".join("?" * len(_SNAPSHOT_COLS))
    kept = removed = 0
    for lo, hi, count in id_ranges(ids, ctx.batch_size):
        rows = _snapshot_batch(conn, lo, hi, today, stamp, with_traits)
        with ctx.transaction():
            before = {r[0] for r in conn.execute(
                "SELECT user_id FROM searchable_users WHERE user_id > ? AND user_id <= ?", (lo, hi))}
            conn.execute("DELETE FROM searchable_users WHERE user_id > ? AND user_id <= ?", (lo, hi))
            conn.executemany(f"INSERT INTO searchable_users ({', '.join(_SNAPSHOT_COLS)}) VALUES ({marks})", rows)
        kept += len(rows)
        removed += len(before - {r[0] for r in rows})
        ctx.checkpoint(advance=count)
    ctx.log(f"{kept} active users snapshotted, {removed} removed")
    return {"users": kept, "removed": removed, "skipped_inactive": len(ids) - kept}


# -- interest-relationships -----------------------------------------------------------------------

RELATIONSHIPS_SQL = """CREATE TABLE "{name}" (
    interest_id         INTEGER NOT NULL,
    related_interest_id INTEGER NOT NULL,
    co_count            INTEGER NOT NULL,
    support             REAL NOT NULL,
    confidence          REAL NOT NULL,
    lift                REAL NOT NULL,
    PRIMARY KEY (interest_id, related_interest_id)
) WITHOUT ROWID"""


@job("interest-relationships", group="search",
     writes=["interest_relationships"], rebuilds=True, depends_on=["user-interest-sets"],
     summary="Finds related interests",
     description="Discovers which interests often go together (e.g. users who like 'yoga' often "
                 "also like 'meditation'): for each pair it counts the users who have both and "
                 "computes support, confidence and lift, keeping each interest's strongest partners.",
     when="Weekly or when interests change significantly (after user-interest-sets).",
     impact="Better interest suggestions and search recommendations.",
     params=[Param("min_count", "int", 5, min=1,
                   help="ignore pairs shared by fewer users than this (noise floor)"),
             Param("per_interest", "int", 20, min=1,
                   help="related interests kept per interest, by lift")],
     batch_size=5000, pause_ms=5)
def interest_relationships(ctx):
    conn = ctx.db
    if not table_exists(conn, "interest_members"):
        raise JobFailed("interest_members does not exist yet: run user-interest-sets first")
    pairs = np.array(conn.execute("SELECT user_id, interest_id FROM interest_members").fetchall(),
                     dtype=np.int64).reshape(-1, 2)
    ctx.checkpoint(pause=False)
    interests, sizes, co, n_users = cooccurrence(pairs[:, 0], pairs[:, 1])
    rel = relationships(interests, sizes, co, n_users, min_count=ctx.params["min_count"],
                        per_interest=ctx.params["per_interest"])
    ctx.set_total(len(rel))
    rows = rel.rows()
    with ctx.rebuild("interest_relationships", RELATIONSHIPS_SQL) as new:
        for start in range(0, len(rows), ctx.batch_size):
            batch = rows[start:start + ctx.batch_size]
            new.insert(batch)
            ctx.checkpoint(advance=len(batch))
    ctx.log(f"{len(rows)} related pairs over {len(interests)} interests and {n_users} users")
    return {"pairs": len(rows), "interests": int(len(interests)), "users_with_interests": int(n_users)}
