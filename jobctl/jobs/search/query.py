"""The query side of profile search: what `jobctl search` calls.

What a person types is always plain words (see :func:`jobctl.jobs.search.index.build_queries`):
it is split on white space and every piece becomes a quoted FTS5 string, so `AND`, `NEAR(`, `*`,
`:`, `^`, `-`, parentheses and quotes are only ever text, and the table's own tokenizer splits each
piece exactly as it split the indexed text. All words must match; the last word also matches as a
name prefix ('ann' finds Anna), an exact word scoring above a prefix. When no profile has every
word, profiles with any of them are returned, still in bm25 order (ties by user id).

The heaviest single-word searches were ranked when the index was built (``profile_search_top``);
those are read from there, everything else is ranked by FTS5 on the spot. Either way the order is
the weighted bm25 of the index.

Only active users appear: results are joined with the searchable_users snapshot and with the live
users row (deleted_at, visibility), so someone who hides their profile vanishes from search at once.
"""

from __future__ import annotations

import difflib
import sqlite3

from ...backend import dialect
from ...db import table_exists
from ...errors import DatabaseError, UsageError
from ..shared import active_user
from . import index as idx
from .index import build_queries, query_words  # noqa: F401  (re-exported)

_NO_INDEX = ("no search index yet: run `jobctl run profile-search-index` "
             "(or `jobctl enqueue --group search --wait`)")
_NO_SETS = ("no interest sets yet: run `jobctl run user-interest-sets` "
            "(or `jobctl enqueue --group search --wait`)")

_PROFILE_SQL = f"""
SELECT s.user_id, s.username, s.display_name, s.age, s.city, s.country, s.interests
FROM searchable_users AS s JOIN users AS u ON u.id = s.user_id
WHERE s.user_id IN ({{marks}}) AND {active_user("u")}
"""
_TOP_SQL = f'SELECT user_id, score, matches FROM "{idx.TOP}" WHERE expr = ? ORDER BY pos LIMIT ?'


def _require(conn: sqlite3.Connection, *tables: str, message: str) -> None:
    try:
        ok = all(table_exists(conn, t) for t in tables)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot read the platform database: {exc}") from None
    if not ok:
        raise DatabaseError(message)


def _row(r: tuple, score) -> dict:
    return {"user_id": r[0], "username": r[1], "display_name": r[2], "age": r[3], "city": r[4],
            "country": r[5], "interests": [s for s in (r[6] or "").split(",") if s], "score": score}


def search_profiles(conn: sqlite3.Connection, text: str, limit: int = 20) -> list[dict]:
    """Active profiles matching ``text`` (plain words), best bm25 first, at most ``limit``.

    Each dict: user_id, display_name, age, city, score (positive, higher is better), username,
    country, interests (list). Raises DatabaseError when no index has been built yet.
    """
    _require(conn, idx.LIVE, "searchable_users", message=_NO_INDEX)
    if limit <= 0:
        return []
    index = idx.text_index(conn)
    has_top = index.precomputes and table_exists(conn, idx.TOP)
    try:
        for expr in index.queries(text):
            found = (has_top and _from_top(conn, expr, limit)) or _ranked(conn, index, expr, limit)
            if found:
                return found
    except Exception as exc:  # sqlite3.OperationalError or psycopg's UndefinedTable
        if "no such table" in str(exc) or "does not exist" in str(exc):  # dropped since the check
            raise DatabaseError(_NO_INDEX) from None
        raise
    return []


def _profiles(conn: sqlite3.Connection, hits: list[tuple]) -> list[dict]:
    """The active profiles among ranked (user_id, score) hits, in the hits' order."""
    ids = [h[0] for h in hits]
    rows = {r[0]: r for r in conn.execute(_PROFILE_SQL.format(marks=",".join("?" * len(ids))), ids)}
    return [_row(rows[uid], score) for uid, score, *_ in hits if uid in rows]


def _ranked(conn: sqlite3.Connection, index, expr, limit: int) -> list[dict]:
    # bm25 ranking happens inside FTS5 (bounded by LIMIT); the page's profiles are then read by id.
    # Profiles filtered out there (hidden or deleted since the index was built) are replaced by
    # fetching a longer ranked list, so a page is only short when the matches run out.
    fetch = limit + 10
    while True:
        hits = index.ranked(conn, idx.LIVE, expr, fetch)
        out = _profiles(conn, hits) if hits else []
        if len(out) >= limit or len(hits) < fetch:
            return out[:limit]
        fetch *= 4


def _from_top(conn: sqlite3.Connection, expr: str, limit: int) -> list[dict] | None:
    """The precomputed ranking of ``expr``, or None when there is none or it runs short."""
    fetch = limit + 10
    while True:
        hits = conn.execute(_TOP_SQL, (expr, fetch)).fetchall()
        if not hits:
            return None
        out = _profiles(conn, hits)
        if len(out) >= limit:
            return out[:limit]
        if len(hits) < fetch:                 # the whole stored list was read
            return out if len(hits) == hits[0][2] else None
        fetch *= 4


def interest_members(conn: sqlite3.Connection, name: str, limit: int = 50) -> list[dict]:
    """Active members of the interest called ``name`` (case and spacing ignored), by display name.

    Same keys as :func:`search_profiles`, with score None (there is no relevance to rank by). Raises
    UsageError (with a did-you-mean) for an unknown interest, DatabaseError before user-interest-sets ran.
    """
    _require(conn, "interest_members", "searchable_users", message=_NO_SETS)
    wanted = " ".join(str(name).split()).lower()
    found = conn.execute("SELECT id FROM interests WHERE lower(name) = ?", (wanted,)).fetchone()
    if found is None:
        names = [r[0] for r in conn.execute("SELECT name FROM interests ORDER BY name")]
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UsageError(f"unknown interest {name!r}{hint}")
    if limit <= 0:
        return []
    rows = conn.execute(
        f"""SELECT s.user_id, s.username, s.display_name, s.age, s.city, s.country, s.interests
            FROM interest_members AS m
            JOIN searchable_users AS s ON s.user_id = m.user_id
            JOIN users AS u ON u.id = s.user_id
            WHERE m.interest_id = ? AND {active_user("u")}
           ORDER BY {dialect(conn).nocase("s.display_name")}, s.user_id
           LIMIT ?""", (found[0], limit)).fetchall()
    return [_row(r, None) for r in rows]
