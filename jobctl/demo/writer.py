"""Write a generated :class:`Platform` table by table: into a fresh SQLite file (multi-row INSERTs)
or into a PostgreSQL database (COPY). :func:`_fill` is the same for both: it hands each table's
columns to an ``insert(table, columns, rows)`` of the backend."""

from __future__ import annotations

import sqlite3
from itertools import chain
from pathlib import Path
from typing import Callable

import numpy as np

from ..schema import ensure_indexes, schema_sql
from .generate import Platform
from .interests import interest_rows
from .media import FORMATS
from .people import CITIES, COUNTRY_CODES, GENDERS, VISIBILITY, seeking_text
from .quiz import option_rows, question_rows
from .rand import date_strings, ts_strings

CHUNK = 200_000
PER_STATEMENT = 50
Column = Callable[[int, int], list]


def ints(a: np.ndarray) -> Column:
    return lambda s, e: a[s:e].tolist()


def ints_or_null(a: np.ndarray, null: int = -1) -> Column:
    def col(s, e):
        part = a[s:e]
        out = part.astype(object)
        out[part == null] = None
        return out.tolist()
    return col


def floats_or_null(a: np.ndarray) -> Column:
    def col(s, e):
        part = a[s:e]
        out = part.astype(object)
        out[np.isnan(part)] = None
        return out.tolist()
    return col


def stamps(a: np.ndarray) -> Column:
    return lambda s, e: ts_strings(a[s:e])


def texts(values) -> Column:
    return lambda s, e: list(values[s:e])


def insert(conn: sqlite3.Connection, table: str, columns: dict[str, Column], rows: int) -> int:
    """INSERT ``rows`` rows in chunks inside one transaction, :data:`PER_STATEMENT` rows per
    statement (multi-row VALUES halves the per-row cost of ``executemany``)."""
    width = len(columns)
    one = "(" + ", ".join("?" * width) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    many, single, step = head + ", ".join([one] * PER_STATEMENT), head + one, width * PER_STATEMENT
    conn.execute("BEGIN")          # no ROLLBACK on error: the caller discards the whole file
    for s in range(0, rows, CHUNK):
        e = min(rows, s + CHUNK)
        cols = [col(s, e) for col in columns.values()]
        full = (e - s) // PER_STATEMENT * PER_STATEMENT
        flat = list(chain.from_iterable(zip(*(c[:full] for c in cols))))
        conn.executemany(many, (flat[i:i + step] for i in range(0, len(flat), step)))
        conn.executemany(single, zip(*(c[full:] for c in cols)))
    conn.execute("COMMIT")
    return rows


def copy_insert(conn) -> Callable[[object, str, dict[str, Column], int], int]:
    """An ``insert`` for :func:`_fill` that COPYs into PostgreSQL (the caller holds the transaction)."""
    from ..backend.postgres import copy_columns

    def insert_pg(_conn, table: str, columns: dict[str, Column], rows: int) -> int:
        for s in range(0, rows, CHUNK):
            e = min(rows, s + CHUNK)
            copy_columns(conn, table, list(columns), zip(*(col(s, e) for col in columns.values())))
        return rows
    return insert_pg


def write_platform(path: Path, p: Platform, say: Callable[[str], None]) -> dict[str, int]:
    """Create the platform schema in the new file ``path`` and fill it; returns row counts."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        # a brand-new file nobody else can see yet: no journal, no fsync, big cache
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1048576",
                       "temp_store = MEMORY", "locking_mode = EXCLUSIVE", "threads = 2"):
            conn.execute(f"PRAGMA {pragma}")
        conn.executescript(schema_sql())
        counts = _fill(conn, p, say)
        say("creating indexes")
        conn.execute("BEGIN")
        ensure_indexes(conn)
        conn.execute("COMMIT")
        conn.execute("PRAGMA locking_mode = NORMAL")
        conn.execute("PRAGMA journal_mode = WAL")       # what every jobctl connection expects
    finally:
        conn.close()
    return counts


def _fill(conn, p: Platform, say, insert=insert) -> dict[str, int]:
    u, n = p.users, p.users.n
    avatar = np.full(n, -1, dtype=np.int64)
    for owner, media_id in p.media.avatar_of.items():
        avatar[owner] = media_id
    city = np.array([c[1] for c in CITIES] + [None], dtype=object)[u.city]
    country = np.array(COUNTRY_CODES + [None], dtype=object)[u.country]
    seeking = np.array([seeking_text(b) for b in range(8)], dtype=object)[u.seek_bits]
    counts: dict[str, int] = {}
    say("writing users")
    counts["users"] = insert(conn, "users", {
        "id": ints(u.ids), "username": texts(u.username), "display_name": texts(u.display_name),
        "email": texts(u.email), "birthdate": lambda s, e: date_strings(u.birth[s:e]),
        "gender": texts(np.array(GENDERS, dtype=object)[u.gender]), "seeking": texts(seeking),
        "age_min": ints(u.age_min), "age_max": ints(u.age_max), "city": texts(city),
        "country": texts(country), "latitude": floats_or_null(u.lat), "longitude": floats_or_null(u.lon),
        "bio": texts(p.bios), "visibility": texts(np.array(VISIBILITY, dtype=object)[u.visibility]),
        "created_at": stamps(u.created), "last_active_at": stamps(u.last_active),
        "deleted_at": stamps(u.deleted), "avatar_media_id": ints_or_null(avatar),
        "follower_count": ints(p.user_counts[:, 0]), "following_count": ints(p.user_counts[:, 1]),
        "post_count": ints(p.user_counts[:, 2])}, n)
    counts["blocks"] = _edges(conn, insert, "blocks", ("blocker_id", "blocked_id"), p.blocks)
    say("writing follows")
    counts["follows"] = _edges(conn, insert, "follows", ("follower_id", "followee_id"), p.follows)

    irows = interest_rows()
    counts["interests"] = insert(conn, "interests", {
        "id": texts([r[0] for r in irows]), "name": texts([r[1] for r in irows])}, len(irows))
    owner = np.repeat(np.arange(n), np.diff(p.interests.user_ptr))
    order = np.lexsort((p.interests.ids, owner))
    counts["user_interests"] = insert(conn, "user_interests", {
        "user_id": ints(owner[order] + 1), "interest_id": ints(p.interests.ids[order] + 1)}, len(order))

    say("writing quiz answers")
    q, o = question_rows(), option_rows()
    counts["quiz_questions"] = insert(conn, "quiz_questions", {
        name: texts([row[k] for row in q])
        for k, name in enumerate(("id", "text", "kind", "trait", "reverse_keyed", "area"))}, len(q))
    counts["quiz_options"] = insert(conn, "quiz_options", {
        name: texts([row[k] for row in o])
        for k, name in enumerate(("id", "question_id", "position", "text"))}, len(o))
    a = p.answers
    accepted = a.accepted_json()
    counts["quiz_answers"] = insert(conn, "quiz_answers", {
        "user_id": ints(a.user + 1), "question_id": ints(a.question + 1), "option_id": ints(a.option_ids()),
        "accepted_option_ids": lambda s, e: accepted[s:e].tolist(),
        "importance": ints_or_null(a.importance), "answered_at": stamps(a.answered)}, len(a.user))

    say("writing posts and engagement")
    po = p.posts
    counts["posts"] = insert(conn, "posts", {
        "id": ints(np.arange(1, len(po) + 1)), "author_id": ints(po.author + 1), "body": texts(p.post_bodies),
        "created_at": stamps(po.created), "edited_at": stamps(po.edited), "deleted_at": stamps(po.deleted),
        "like_count": ints(p.post_counts[:, 0]), "comment_count": ints(p.post_counts[:, 1]),
        "share_count": ints(p.post_counts[:, 2])}, len(po))
    lk = p.likes                                        # primary-key order inserts fastest
    order = np.lexsort((lk.post, lk.user))
    counts["post_likes"] = insert(conn, "post_likes", {
        "user_id": ints(lk.user[order] + 1), "post_id": ints(lk.post[order] + 1),
        "created_at": stamps(lk.at[order])}, len(order))
    c = p.comments
    counts["comments"] = insert(conn, "comments", {
        "id": ints(np.arange(1, len(c.user) + 1)), "post_id": ints(c.post + 1), "author_id": ints(c.user + 1),
        "body": texts(p.comment_bodies), "created_at": stamps(c.at), "deleted_at": stamps(c.deleted)},
        len(c.user))
    sh = p.shares
    counts["shares"] = insert(conn, "shares", {
        "id": ints(np.arange(1, len(sh.user) + 1)), "post_id": ints(sh.post + 1), "user_id": ints(sh.user + 1),
        "created_at": stamps(sh.at)}, len(sh.user))

    items = p.media.items
    counts["media"] = insert(conn, "media", {
        "id": texts([it.id for it in items]), "owner_id": texts([it.owner + 1 for it in items]),
        "path": texts([it.path for it in items]), "kind": texts([FORMATS[it.fmt][0] for it in items]),
        "mime": texts([FORMATS[it.fmt][1] for it in items]),
        "created_at": stamps(np.array([it.created for it in items], dtype=np.int64))}, len(items))
    attached = sorted((it.post + 1, it.id, it.position) for it in items if it.post >= 0)
    counts["post_media"] = insert(conn, "post_media", {
        name: texts([row[k] for row in attached])
        for k, name in enumerate(("post_id", "media_id", "position"))}, len(attached))
    return counts


def _edges(conn, insert, table: str, names: tuple[str, str], edges) -> int:
    return insert(conn, table, {names[0]: ints(edges.src + 1), names[1]: ints(edges.dst + 1),
                                "created_at": stamps(edges.at)}, len(edges.src))


#: Platform tables with an identity id, whose sequences must continue after the demo's own ids.
IDENTITY_TABLES = ("users", "interests", "quiz_questions", "quiz_options", "posts", "comments", "shares", "media")


def write_platform_pg(conn, p: Platform, say: Callable[[str], None], replace: list[str]) -> dict[str, int]:
    """Create the platform schema in the PostgreSQL database of ``conn`` and fill it by COPY, all in
    one transaction (nobody sees a half-built demo). ``replace``: tables dropped first (--force)."""
    from ..backend.postgres import schema_sql
    from ..db import transaction
    with transaction(conn):
        for table in replace:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
        conn.raw.execute(schema_sql())
        counts = _fill(conn, p, say, insert=copy_insert(conn))
        say("creating indexes")
        ensure_indexes(conn)
        for table in IDENTITY_TABLES:        # the app's next insert must not reuse a demo id
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
    conn.raw.execute("ANALYZE")
    return counts
