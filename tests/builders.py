"""Tiny hand-built platforms for known-answer tests.

    p = Platform(tmp_path)               # empty platform database + media root
    alice = p.user(gender="woman", seeking="man", birthdate="1996-05-01")
    p.post(alice, "Loving #hiking today", created_at="2026-11-28T10:00:00Z")
"""

from __future__ import annotations

import json
from pathlib import Path

from jobctl.backend import is_postgres
from jobctl.context import Reporter, make_context
from jobctl.db import connect
from jobctl.registry import load_catalogue
from jobctl.schema import create_platform

NOW = "2026-11-29T03:00:00Z"


#: Platform tables whose id the database assigns (returned by Platform.insert).
_ID_TABLES = {"users", "interests", "quiz_questions", "quiz_options", "posts", "comments", "shares", "media"}


class Platform:
    """``url``: build it in that (empty) PostgreSQL database instead of an SQLite file."""

    def __init__(self, tmp_path: Path, name: str = "platform.db", url: str | None = None):
        self.path = url or Path(tmp_path) / name
        self.media_root = Path(tmp_path) / "media"
        self.media_root.mkdir(exist_ok=True)
        if url:
            from jobctl.backend import postgres
            self.conn = postgres.connect(url)
        else:
            self.conn = connect(self.path)
        create_platform(self.conn)
        self._ids: dict[str, int] = {}

    def _next(self, table: str) -> int:
        self._ids[table] = self._ids.get(table, 0) + 1
        return self._ids[table]

    def insert(self, table: str, **row) -> int:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        if is_postgres(self.conn):
            if table not in _ID_TABLES:
                self.conn.execute(sql, list(row.values()))
                return None
            return self.conn.execute(sql + " RETURNING id", list(row.values())).fetchone()[0]
        return self.conn.execute(sql, list(row.values())).lastrowid

    def user(self, id: int | None = None, **kw) -> int:
        uid = id or self._next("users")
        row = dict(id=uid, username=f"user{uid}", display_name=f"User {uid}", email=f"user{uid}@example.com",
                   birthdate="1995-06-15", gender="woman", seeking="man", age_min=18, age_max=99,
                   city="Berlin", country="DE", latitude=52.52, longitude=13.405, bio="",
                   visibility="public", created_at="2025-01-01T00:00:00Z", last_active_at=NOW)
        row.update(kw)
        self.insert("users", **row)
        return uid

    def interest(self, name: str) -> int:
        return self.insert("interests", name=name)

    def likes_interest(self, user_id: int, interest_id: int) -> None:
        self.insert("user_interests", user_id=user_id, interest_id=interest_id)

    def block(self, blocker: int, blocked: int, created_at: str = "2026-01-01T00:00:00Z") -> None:
        self.insert("blocks", blocker_id=blocker, blocked_id=blocked, created_at=created_at)

    def follow(self, follower: int, followee: int, created_at: str = "2026-11-01T00:00:00Z") -> None:
        self.insert("follows", follower_id=follower, followee_id=followee, created_at=created_at)

    def question(self, kind: str, n_options: int = 5, *, trait: str | None = None, reverse: bool = False,
                 area: str | None = None, text: str = "Q") -> tuple[int, list[int]]:
        qid = self.insert("quiz_questions", text=text, kind=kind, trait=trait,
                          reverse_keyed=bool(reverse), area=area)
        opts = [self.insert("quiz_options", question_id=qid, position=i + 1, text=f"option {i + 1}")
                for i in range(n_options)]
        return qid, opts

    def answer(self, user_id: int, question_id: int, option_id: int, accepted: list[int] | None = None,
               importance: int | None = None, answered_at: str = "2026-01-01T00:00:00Z") -> None:
        self.insert("quiz_answers", user_id=user_id, question_id=question_id, option_id=option_id,
                    accepted_option_ids=None if accepted is None else json.dumps(accepted),
                    importance=importance, answered_at=answered_at)

    def post(self, author: int, body: str, created_at: str = "2026-11-28T00:00:00Z", **kw) -> int:
        return self.insert("posts", author_id=author, body=body, created_at=created_at, **kw)

    def like(self, user: int, post: int, created_at: str = "2026-11-28T12:00:00Z") -> None:
        self.insert("post_likes", user_id=user, post_id=post, created_at=created_at)

    def comment(self, author: int, post: int, body: str = "nice", created_at: str = "2026-11-28T12:00:00Z",
                **kw) -> int:
        return self.insert("comments", post_id=post, author_id=author, body=body, created_at=created_at, **kw)

    def share(self, user: int, post: int, created_at: str = "2026-11-28T12:00:00Z") -> int:
        return self.insert("shares", post_id=post, user_id=user, created_at=created_at)

    def media(self, owner: int, path: str, kind: str = "image", created_at: str = "2026-01-01T00:00:00Z",
              content: bytes | None = None, **kw) -> int:
        if content is not None:
            f = self.media_root / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(content)
        return self.insert("media", owner_id=owner, path=path, kind=kind, created_at=created_at, **kw)

    def rows(self, sql: str, *args) -> list[tuple]:
        return self.conn.execute(sql, args).fetchall()

    # -- the catalogue, asked the same way on both backends ------------------------------------------
    def columns(self, table: str) -> list[str]:
        if is_postgres(self.conn):
            return [r[0] for r in self.rows("SELECT column_name FROM information_schema.columns WHERE "
                                            "table_schema = current_schema() AND table_name = ? "
                                            "ORDER BY ordinal_position", table)]
        return [r[1] for r in self.rows(f'PRAGMA table_info("{table}")')]

    def primary_key(self, table: str) -> list[str]:
        if is_postgres(self.conn):
            return [r[0] for r in self.rows(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)", table)]
        return [r[1] for r in sorted((r for r in self.rows(f'PRAGMA table_info("{table}")') if r[5]),
                                     key=lambda r: r[5])]

    def has_table(self, name: str) -> bool:
        from jobctl.db import table_exists
        return table_exists(self.conn, name)

    @property
    def search_key(self) -> str:
        """The profile index's user id column (FTS5's rowid, or user_id)."""
        from jobctl.jobs.search.index import text_index
        return text_index(self.conn).key


# -- running a job in this process ------------------------------------------------------------------

def run_job(db, job, *, reporter=None, media_root=None, cursor=None, **params) -> dict:
    """Run ``job`` (a job function, or a catalogue name) directly on ``db`` (a :class:`Platform` or a
    connection), as the runner would but in this process: parameters resolved and range-checked, no
    pause between batches, and ``now`` = :data:`NOW` for a job that takes it unless given."""
    fn = load_catalogue().get(job).func if isinstance(job, str) else job
    if fn.spec.uses_now:
        params.setdefault("now", NOW)
    conn = db.conn if isinstance(db, Platform) else db
    root = media_root or getattr(db, "media_root", "media")
    return fn(make_context(conn, fn.spec, params, reporter=reporter, media_root=root, cursor=cursor))


# -- reporters that play an operator cancelling a job at a chosen batch boundary -------------------


class CancelAtCheck(Reporter):
    """Asks for a cancel at the ``k``-th batch boundary (the k-th time the job checks, 1-based)."""

    def __init__(self, k: int):
        super().__init__()
        self.k, self.calls = k, 0

    def cancel_requested(self) -> bool:
        self.calls += 1
        return self.calls >= self.k


class CancelWhenDone(Reporter):
    """Asks for a cancel once ``n`` units of work are done (the job stops after that batch)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def cancel_requested(self) -> bool:
        return self.done >= self.n


class CancelAfterReports(Reporter):
    """Asks for a cancel once progress has been reported more than ``n`` times."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.calls = n, 0

    def progress(self, done, total, cursor) -> None:
        super().progress(done, total, cursor)
        self.calls += 1

    def cancel_requested(self) -> bool:
        return self.calls > self.n
