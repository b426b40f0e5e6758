"""Shared helpers of tests/reliability: the demo platform, snapshots, and running jobctl.

One small demo platform is built per test session and brought to a "previous" state: every job
run once at NOW0 (a day before NOW), then platform data changed so that every job's new output
differs from its previous output. Each test copies that state (closed database file + media
folder, mtimes kept) into its own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from typer.testing import CliRunner

import pgserver
from jobctl.backend import is_postgres, is_url
from jobctl.db import table_exists, transaction

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

NOW = "2026-11-29T03:00:00Z"        # the platform's present; the runs under test compute for it
NOW0 = "2026-11-28T03:00:00Z"       # the previous run of every job
USERS = 200

_runner = CliRunner()


# -- running jobctl --------------------------------------------------------------------------------

class Site:
    """A platform database, its media root and a ledger, in one folder. ``url``: the platform is
    that PostgreSQL database instead of ``platform.db``."""

    def __init__(self, folder: Path, url: str | None = None):
        self.folder = Path(folder)
        self.db = url or self.folder / "platform.db"
        self.media = self.folder / "media"
        self.ledger = self.folder / "ledger.db"

    @property
    def args(self) -> list[str]:
        return ["--db", str(self.db), "--ledger", str(self.ledger), "--media-root", str(self.media)]

    def cli(self, *args: str):
        """jobctl in this process (Typer's CliRunner): same commands, no interpreter start-up."""
        from jobctl.cli import app
        return _runner.invoke(app, [*self.args, *args], catch_exceptions=False)

    def env(self, **extra: str) -> dict:
        e = dict(os.environ)
        e.pop("JOBCTL_FAULT", None)
        e.update({"JOBCTL_DB": str(self.db), "JOBCTL_LEDGER": str(self.ledger),
                  "JOBCTL_MEDIA_ROOT": str(self.media), "JOBCTL_HEARTBEAT_S": "0.2",
                  "JOBCTL_PLUGINS": "crash_hooks", "JOBCTL_CRASH_HOOKS": "1",
                  "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), str(REPO), e.get("PYTHONPATH", "")]))})
        e.update(extra)
        return e

    def spawn(self, *args: str, **extra) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "jobctl.cli", *self.args, *args], env=self.env(**extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.folder,
                                start_new_session=True)

    def run(self, *args: str, timeout: float = 120, **extra) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jobctl.cli", *self.args, *args], env=self.env(**extra),
                              capture_output=True, text=True, timeout=timeout, cwd=self.folder)

    def ledger_jobs(self) -> list[dict]:
        if not self.ledger.exists():
            return []
        conn = sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id")]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()


def copy_site(src: Site, folder: Path) -> Site:
    """A copy of ``src``'s platform (a closed database: a file copy is consistent; on PostgreSQL a
    database created from it as a template) and media."""
    if is_url(src.db):
        dst = Site(folder, url=pgserver.copy_database(src.db))
        dst.folder.mkdir(parents=True, exist_ok=True)
    else:
        dst = Site(folder)
        dst.folder.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            assert not Path(f"{src.db}{suffix}").exists(), "copy a closed database only"
        shutil.copy2(src.db, dst.db)
    shutil.copytree(src.media, dst.media, symlinks=True, copy_function=shutil.copy2)
    return dst


def job_args(name: str, params: dict) -> list[str]:
    out = [name]
    for k, v in params.items():
        out += ["-p", f"{k}={v}"]
    return out


# -- snapshots -------------------------------------------------------------------------------------

FTS_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")


def table_names(conn: sqlite3.Connection) -> list[str]:
    """Every table whose rows are content: FTS5 virtual tables yes, their shadow tables no."""
    if is_postgres(conn):
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                           "ORDER BY tablename COLLATE \"C\"").fetchall()]
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchall()
    virtual = {n for n, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")}
    shadow = {v + s for v in virtual for s in FTS_SUFFIXES}
    return sorted(n for n, _ in rows if n not in shadow)


def table_rows(conn: sqlite3.Connection, name: str) -> tuple:
    """All rows, sorted by every column (SQLite's total order over mixed types)."""
    if is_postgres(conn):
        n = len(conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description)
        order = ", ".join(str(i + 1) for i in range(n))
        return tuple(conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall())
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (name,)).fetchone()[0] or ""
    virtual = sql.upper().startswith("CREATE VIRTUAL TABLE")
    cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
    select = (["rowid"] if virtual else []) + [f'"{c}"' for c in cols]
    order = ", ".join(str(i + 1) for i in range(len(select)))
    return tuple(conn.execute(f'SELECT {", ".join(select)} FROM "{name}" ORDER BY {order}').fetchall())


def _open(db: Path) -> sqlite3.Connection:
    """A plain connection: reads the WAL a killed process left, and on close checkpoints it and
    removes it (a read-only connection would leave -wal/-shm files behind). Only reads here."""
    if is_url(db):
        from jobctl.backend import postgres
        return postgres.connect(db)
    assert Path(db).exists(), db
    return sqlite3.connect(db)


def snapshot(db: Path) -> dict[str, tuple]:
    conn = _open(db)
    try:
        return {t: table_rows(conn, t) for t in table_names(conn)}
    finally:
        conn.close()


def columns(db: Path, table: str) -> list[str]:
    conn = _open(db)
    try:
        if is_postgres(conn):
            return [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? ORDER BY ordinal_position", (table,)).fetchall()]
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    finally:
        conn.close()


def primary_key(db: Path, table: str) -> list[str]:
    conn = _open(db)
    try:
        if is_postgres(conn):
            return [r[0] for r in conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)", (table,)).fetchall()]
        return [r[1] for r in sorted((r for r in conn.execute(f'PRAGMA table_info("{table}")') if r[5]),
                                     key=lambda r: r[5])]
    finally:
        conn.close()


def files(root: Path) -> dict[str, str]:
    """Every file under the media root: relative path -> sha256 (symlinks as 'link:target')."""
    out = {}
    for base, dirs, names in os.walk(root):
        for n in names + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            p = os.path.join(base, n)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            else:
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def by_key(rows: tuple, key_idx: list[int]) -> dict[tuple, tuple]:
    out: dict[tuple, list] = {}
    for r in rows:
        out.setdefault(tuple(r[i] for i in key_idx), []).append(r)
    return {k: tuple(v) for k, v in out.items()}


# -- the session's platform ---------------------------------------------------------------------------

def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def change_platform(site: Site) -> dict:
    """What happens on the platform between the previous runs and the runs under test.

    Counters drift, users add interests, some users hide, new posts and likes arrive, snapshot
    bios change (so the index rebuilt from them differs), and unattached media rows and stray
    files appear (old enough to be cleaned up)."""
    conn = _open(site.db)
    try:
        with transaction(conn):
            conn.execute("UPDATE users SET follower_count = follower_count + 3 WHERE id % 5 = 0")
            conn.execute("UPDATE users SET post_count = post_count + 1 WHERE id % 7 = 1")
            conn.execute("UPDATE posts SET like_count = like_count + 2 WHERE id % 4 = 0")
            conn.execute("UPDATE posts SET share_count = share_count + 1 WHERE id % 9 = 2")
            n_interests = conn.execute("SELECT max(id) FROM interests").fetchone()[0]
            conn.executemany("INSERT INTO user_interests (user_id, interest_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             [(u, (u * 7) % n_interests + 1) for u in range(1, USERS + 1, 3)])
            conn.execute("UPDATE users SET visibility = 'hidden' WHERE id IN (3, 17, 60, 101)")
            authors = [r[0] for r in conn.execute(
                "SELECT id FROM users WHERE deleted_at IS NULL AND visibility='public' ORDER BY id LIMIT 12")]
            first_post = conn.execute("SELECT max(id) FROM posts").fetchone()[0] + 1
            for i, a in enumerate(authors):
                conn.execute("INSERT INTO posts (id, author_id, body, created_at) VALUES (?, ?, ?, ?)",
                             (first_post + i, a, f"late night #hiking and #coffee thoughts number {i}",
                              f"2026-11-29T0{i % 3}:1{i % 6}:00Z"))
                for liker in authors:
                    if liker != a and (liker + i) % 3 == 0:
                        conn.execute("INSERT INTO post_likes (user_id, post_id, created_at) VALUES (?,?,?) "
                                     "ON CONFLICT DO NOTHING",
                                     (liker, first_post + i, "2026-11-29T02:30:00Z"))
            if table_exists(conn, "searchable_users"):
                conn.execute("UPDATE searchable_users SET bio = bio || ' recently edited lighthouse' "
                             "WHERE user_id % 4 = 0")
            # unattached media (old) with real files, and stray files nobody names
            src = conn.execute("SELECT path FROM media WHERE kind='image' AND metadata_error IS NULL "
                               "ORDER BY id LIMIT 1").fetchone()[0]
            data = (site.media / src).read_bytes()
            old = "2026-11-20T00:00:00Z"
            first_media = conn.execute("SELECT max(id) FROM media").fetchone()[0] + 1
            for i in range(5):
                rel = f"u/orphans/o{i}.jpg"
                (site.media / "u" / "orphans").mkdir(parents=True, exist_ok=True)
                (site.media / rel).write_bytes(data)
                os.utime(site.media / rel, (_epoch(old), _epoch(old)))
                conn.execute("INSERT INTO media (id, owner_id, path, kind, mime, created_at) VALUES (?,?,?,?,?,?)",
                             (first_media + i, authors[i], rel, "image", "image/jpeg", old))
            for i in range(3):
                rel = f"u/strays/s{i}.jpg"
                (site.media / "u" / "strays").mkdir(parents=True, exist_ok=True)
                (site.media / rel).write_bytes(data[: 1000 + i])
                os.utime(site.media / rel, (_epoch(old), _epoch(old)))
        if not is_postgres(conn):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"posts_added": len(authors), "orphans_added": 5, "strays_added": 3}


def build_previous_state(folder: Path, url: str | None = None) -> Site:
    """demo (USERS users, seed 42, now NOW) → every job at NOW0 → platform changes (see above).
    ``url``: in that (empty) PostgreSQL database."""
    from jobctl.demo import build_demo
    site = Site(folder, url=url)
    site.folder.mkdir(parents=True, exist_ok=True)
    build_demo(site.db, site.media, USERS, seed=42, now=datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc))
    res = site.cli("enqueue", "--all", "--wait", "-p", f"now={NOW0}", "-p", "pause_ms=0",
                   "-p", "min_count=3", "-p", "per_interest=10")
    assert res.exit_code == 0, res.output
    change_platform(site)
    site.ledger.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{site.ledger}{suffix}").unlink(missing_ok=True)
        assert not Path(f"{site.db}{suffix}").exists()
    return site


def dump(obj) -> str:
    return json.dumps(obj, default=str)[:2000]
