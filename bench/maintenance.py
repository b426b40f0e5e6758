"""Times the maintenance and quiz jobs (and media-metadata-batch) on a demo-sized platform.

    .venv/bin/python bench/maintenance.py --users 10000
    .venv/bin/python bench/maintenance.py --users 100000 [--source synthetic] [--jobs stats-reconcile,...]

The platform comes from ``jobctl.demo.build_demo`` (cached under bench/out/ by user count); with
``--source synthetic`` (or when the demo is unavailable) a quick synthetic platform of the same
shape is generated instead. Each run works on a fresh copy of the cached database and media root.
The demo has no feed_presort rows unless the feed job ran, so the bench adds a synthetic
feed_presort (about 60 rows per active user, generated 0-6 days before now: about half aged out)
unless the table already exists. Each job runs in its own forked process so that its peak memory
(ru_maxrss) is its own. Targets at 100,000 users on 2 cores: stats-reconcile and quiz-answer-stats
under 30 s, feed-presort-cleanup under 10 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobctl.context import make_context  # noqa: E402
from jobctl.db import connect  # noqa: E402
from jobctl.schema import create_platform, ensure_indexes  # noqa: E402
from jobctl.timeutil import fmt_ts, parse_ts  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
NOW = "2026-11-29T03:00:00Z"
JOBS = ["stats-reconcile", "quiz-answer-stats", "feed-presort-cleanup",
        "media-orphan-cleanup", "media-metadata-batch"]


# -- the platform ------------------------------------------------------------------------------------------

def cached_platform(users: int, source: str) -> tuple[Path, Path, str]:
    """(db, media root, source used) of the cached platform for ``users``, built when missing."""
    OUT.mkdir(exist_ok=True)
    if source in ("auto", "demo"):
        try:
            from jobctl.demo import build_demo
        except ImportError:
            if source == "demo":
                raise
            print("jobctl.demo.build_demo is not available: using a synthetic platform", flush=True)
        else:
            db, media = OUT / f"maint-demo-{users}.db", OUT / f"maint-demo-{users}-media"
            if not db.exists():
                t = time.perf_counter()
                build_demo(db, media, users, seed=42, now=parse_ts(NOW))
                print(f"built demo platform ({users} users) in {time.perf_counter() - t:.1f} s", flush=True)
            return db, media, "demo"
    db, media = OUT / f"maint-synthetic-{users}.db", OUT / f"maint-synthetic-{users}-media"
    if not db.exists():
        t = time.perf_counter()
        build_synthetic(db, media, users)
        print(f"built synthetic platform ({users} users) in {time.perf_counter() - t:.1f} s", flush=True)
    return db, media, "synthetic"


def working_copy(db: Path, media: Path, users: int) -> tuple[Path, Path]:
    work_db, work_media = OUT / f"maint-work-{users}.db", OUT / f"maint-work-{users}-media"
    for p in (work_db, Path(f"{work_db}-wal"), Path(f"{work_db}-shm")):
        p.unlink(missing_ok=True)
    src = sqlite3.connect(db)
    dst = sqlite3.connect(work_db)
    src.backup(dst)
    src.close()
    dst.close()
    if work_media.exists():
        shutil.rmtree(work_media)
    if media.exists():
        shutil.copytree(media, work_media, symlinks=True)
    else:
        work_media.mkdir()
    return work_db, work_media


def build_synthetic(db: Path, media: Path, n: int, seed: int = 42) -> None:
    """A platform shaped like the demo's, fast to generate: counters mostly right, 1% drifted."""
    import numpy as np

    rng = np.random.default_rng(seed)
    now = parse_ts(NOW).timestamp()
    ts = lambda secs: [fmt_ts(datetime.fromtimestamp(float(s), timezone.utc)) for s in secs]  # noqa: E731
    db.unlink(missing_ok=True)
    conn = connect(db)
    create_platform(conn)
    countries = ["DE", "FR", "US", "GB", "ES", "IT", "NL", "SE", "PL", "BR", "IN", "JP", None]
    genders = ["woman", "man", "nonbinary"]
    born = rng.integers(-20 * 365, 38 * 365, n)          # days since 1950-01-01
    deleted = rng.random(n) < .02
    hidden = rng.random(n) < .03
    created = now - rng.uniform(30, 900, n) * 86400
    base = datetime(1950, 1, 1).date()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (id, username, display_name, email, birthdate, gender, seeking, country, "
        "visibility, created_at, last_active_at, deleted_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [(i + 1, f"user{i + 1}", f"User {i + 1}", f"u{i + 1}@example.com",
          (base + timedelta(days=int(born[i]))).isoformat(), genders[i % 3], "woman,man",
          countries[int(rng.integers(len(countries)))], "hidden" if hidden[i] else "public",
          c, NOW, NOW if deleted[i] else None)
         for i, c in enumerate(ts(created))])
    # follows: ~15 per user
    k = rng.poisson(15, n)
    src = np.repeat(np.arange(1, n + 1), k)
    dst = rng.integers(1, n + 1, len(src))
    pairs = np.unique(src.astype(np.int64) * (n + 1) + dst)
    src, dst = pairs // (n + 1), pairs % (n + 1)
    ok = src != dst
    conn.executemany("INSERT INTO follows VALUES (?,?,?)",
                     zip(src[ok].tolist(), dst[ok].tolist(), ["2026-10-01T00:00:00Z"] * int(ok.sum())))
    # posts: ~5 per user, 5% deleted
    n_posts = n * 5
    authors = rng.integers(1, n + 1, n_posts)
    p_created = ts(now - rng.uniform(0, 60, n_posts) * 86400)
    p_deleted = rng.random(n_posts) < .05
    conn.executemany("INSERT INTO posts (id, author_id, body, created_at, deleted_at) VALUES (?,?,?,?,?)",
                     [(i + 1, int(authors[i]), "post body #tag", p_created[i], NOW if p_deleted[i] else None)
                      for i in range(n_posts)])
    # likes ~8 per post, comments ~2 (5% deleted), shares ~1
    k = rng.poisson(8, n_posts)
    lp = np.repeat(np.arange(1, n_posts + 1), k)
    lu = rng.integers(1, n + 1, len(lp))
    pairs = np.unique(lu.astype(np.int64) * (n_posts + 1) + lp)
    conn.executemany("INSERT INTO post_likes VALUES (?,?,'2026-11-20T00:00:00Z')",
                     zip((pairs // (n_posts + 1)).tolist(), (pairs % (n_posts + 1)).tolist()))
    k = rng.poisson(2, n_posts)
    cp = np.repeat(np.arange(1, n_posts + 1), k)
    cdel = rng.random(len(cp)) < .05
    conn.executemany("INSERT INTO comments (post_id, author_id, body, created_at, deleted_at) VALUES (?,?,?,?,?)",
                     [(int(p), int(a), "nice", "2026-11-20T00:00:00Z", NOW if d else None)
                      for p, a, d in zip(cp, rng.integers(1, n + 1, len(cp)), cdel)])
    k = rng.poisson(1, n_posts)
    sp = np.repeat(np.arange(1, n_posts + 1), k)
    conn.executemany("INSERT INTO shares (post_id, user_id, created_at) VALUES (?,?,'2026-11-20T00:00:00Z')",
                     zip(sp.tolist(), rng.integers(1, n + 1, len(sp)).tolist()))
    # quiz: 20 likert (5 options) + 40 match (4 options); each user answers ~70%
    opt_id, options = 0, []
    for q in range(1, 61):
        likert = q <= 20
        conn.execute("INSERT INTO quiz_questions (id, text, kind, trait, area) VALUES (?,?,?,?,?)",
                     (q, f"Q{q}", "likert" if likert else "match", "openness" if likert else None,
                      None if likert else "values"))
        opts = []
        for pos in range(1, (5 if likert else 4) + 1):
            opt_id += 1
            conn.execute("INSERT INTO quiz_options VALUES (?,?,?,?)", (opt_id, q, pos, f"o{pos}"))
            opts.append(opt_id)
        options.append(opts)
    answers = []
    for q, opts in enumerate(options, start=1):
        takers = np.flatnonzero(rng.random(n) < .7) + 1
        picks = rng.integers(0, len(opts), len(takers))
        answers += [(int(u), q, opts[int(o)]) for u, o in zip(takers, picks)]
    conn.executemany("INSERT INTO quiz_answers (user_id, question_id, option_id, answered_at) "
                     "VALUES (?,?,?,'2026-01-01T00:00:00Z')", answers)
    # media: avatars (70% of users), post media (30% of posts), 3% unattached (half old), stray files
    media_rows, mid = [], 0
    avatars = []
    for u in np.flatnonzero(rng.random(n) < .7) + 1:
        mid += 1
        media_rows.append((mid, int(u), f"avatars/{mid % 100:02d}/{mid}.jpg", "2026-01-01T00:00:00Z"))
        avatars.append((mid, int(u)))
    post_media = []
    for p in np.flatnonzero(rng.random(n_posts) < .3) + 1:
        mid += 1
        media_rows.append((mid, int(authors[p - 1]), f"posts/{mid % 100:02d}/{mid}.jpg", "2026-01-01T00:00:00Z"))
        post_media.append((int(p), mid))
    for i in range(int(.03 * len(media_rows))):
        mid += 1
        created = "2026-11-01T00:00:00Z" if i % 2 else "2026-11-29T01:00:00Z"
        media_rows.append((mid, 1, f"uploads/{mid % 100:02d}/{mid}.jpg", created))
    conn.executemany("INSERT INTO media (id, owner_id, path, kind, created_at) VALUES (?,?,?,'image',?)", media_rows)
    conn.executemany("UPDATE users SET avatar_media_id = ? WHERE id = ?", avatars)
    conn.executemany("INSERT INTO post_media (post_id, media_id) VALUES (?,?)", post_media)
    old = parse_ts("2026-11-01T00:00:00Z").timestamp()
    for _, _, path, _ in media_rows:
        f = media / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"\xff\xd8 tiny jpeg stand-in " + path.encode())
        os.utime(f, (old, old))
    for i in range(int(.01 * len(media_rows))):
        f = media / "stray" / f"{i % 50:02d}" / f"stray{i}.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"stray")
        os.utime(f, (old, old))
    conn.execute("COMMIT")
    # Counters: right, then 1% of them drifted.
    conn.execute("BEGIN")
    conn.execute("UPDATE users SET follower_count = (SELECT COUNT(*) FROM follows WHERE followee_id = users.id),"
                 " following_count = (SELECT COUNT(*) FROM follows WHERE follower_id = users.id),"
                 " post_count = (SELECT COUNT(*) FROM posts WHERE author_id = users.id AND deleted_at IS NULL)")
    conn.execute("UPDATE posts SET like_count = (SELECT COUNT(*) FROM post_likes WHERE post_id = posts.id),"
                 " comment_count = (SELECT COUNT(*) FROM comments WHERE post_id = posts.id AND deleted_at IS NULL),"
                 " share_count = (SELECT COUNT(*) FROM shares WHERE post_id = posts.id)")
    conn.execute("UPDATE users SET follower_count = follower_count + 1 WHERE abs(random()) % 100 = 0")
    conn.execute("UPDATE posts SET like_count = like_count + 2 WHERE abs(random()) % 100 = 0")
    conn.execute("COMMIT")
    conn.close()


def add_feed_presort(db: Path) -> int:
    """A synthetic feed_presort when the feed job has not written one: 4 sections × 15 per user,
    each user's rows generated 0-144 hours before now (deterministic), so about half are aged out."""
    conn = connect(db)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'feed_presort'").fetchone():
            return conn.execute("SELECT COUNT(*) FROM feed_presort").fetchone()[0]
        try:  # the feed job's own table definition, when it exists
            from jobctl.jobs.feed.presort import FEED_PRESORT_DDL as ddl
        except ImportError:
            ddl = """CREATE TABLE feed_presort (user_id INTEGER NOT NULL, section TEXT NOT NULL,
                position INTEGER NOT NULL, item_type TEXT NOT NULL, item_id INTEGER NOT NULL, score REAL,
                generated_at TEXT NOT NULL, PRIMARY KEY (user_id, section, position)) WITHOUT ROWID"""
        conn.execute(ddl)
        conn.execute("BEGIN")
        conn.execute("""
            WITH RECURSIVE pos(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM pos WHERE n < 15),
            sections(section, kind) AS (VALUES ('following', 'post'), ('for_you', 'post'),
                                               ('matches', 'user'), ('trending', 'post'))
            INSERT INTO feed_presort
            SELECT u.id, s.section, pos.n, s.kind, (u.id * 31 + pos.n) % 1000003, 1.0,
                   strftime('%Y-%m-%dT%H:%M:%SZ', julianday(:now) - ((u.id * 7919) % 1440) / 240.0)
            FROM users u CROSS JOIN sections s CROSS JOIN pos
            WHERE u.visibility != 'hidden' ORDER BY u.id, s.section, pos.n""", {"now": NOW})
        conn.execute("COMMIT")
        return conn.execute("SELECT COUNT(*) FROM feed_presort").fetchone()[0]
    finally:
        conn.close()


# -- timing ---------------------------------------------------------------------------------------------------

#: Where each job is declared (imported directly: the whole catalogue need not be complete).
FUNCS = {"stats-reconcile": ("maintenance", "stats_reconcile"),
         "media-orphan-cleanup": ("maintenance", "media_orphan_cleanup"),
         "feed-presort-cleanup": ("maintenance", "feed_presort_cleanup"),
         "media-metadata-batch": ("media", "media_metadata_batch"),
         "quiz-answer-stats": ("quiz", "quiz_answer_stats")}


def _run_job(name: str, db: str, media: str, params: dict, out) -> None:
    try:
        import importlib

        module, func = FUNCS[name]
        spec = getattr(importlib.import_module(f"jobctl.jobs.{module}"), func).spec
        conn = connect(db)
        ensure_indexes(conn)
        given = {k: v for k, v in params.items() if spec.param(k) is not None}
        ctx = make_context(conn, spec, given, media_root=media)
        t = time.perf_counter()
        result = spec.func(ctx)
        seconds = time.perf_counter() - t
        conn.close()
        out.put({"seconds": seconds, "done": ctx.done, "result": result,
                 "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    except BaseException as exc:  # report, never leave the parent waiting
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def time_job(name: str, db: Path, media: Path, params: dict) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_run_job, args=(name, str(db), str(media), params, q))
    proc.start()
    out = q.get()
    proc.join()
    if "error" in out:
        raise SystemExit(f"{name} failed: {out['error']}")
    return out


def summarise(result: dict) -> str:
    keep = {k: v for k, v in result.items() if not isinstance(v, (list, dict))}
    return json.dumps(keep)[:300]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--source", choices=["auto", "demo", "synthetic"], default="auto")
    ap.add_argument("--jobs", default=",".join(JOBS))
    args = ap.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    # Built in a child process, so that this parent stays small and each job's ru_maxrss is its own.
    with mp.get_context("spawn").Pool(1) as pool:
        db, media, source = pool.apply(cached_platform, (args.users, args.source))
    work_db, work_media = working_copy(db, media, args.users)
    feed_rows = add_feed_presort(work_db)
    os.sync()   # the setup's gigabyte of dirty pages must not be billed to the first job that writes
    conn = sqlite3.connect(work_db)
    sizes = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
             for t in ("users", "posts", "follows", "post_likes", "quiz_answers", "media", "feed_presort")}
    conn.close()
    n_files = sum(len(f) for _, _, f in os.walk(work_media))
    print(f"\n{args.users} users ({source}), {os.cpu_count()} cores, now = {NOW}")
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()) + f"; media files {n_files:,}")
    print(f"peak MB = the job process's ru_maxrss (it starts from this parent's "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    print(f"{'job':<24}{'seconds':>9}{'units':>11}{'units/s':>12}{'peak MB':>9}  result")
    for name in jobs:
        params = {"now": NOW}
        if name == "media-metadata-batch":
            try:
                import jobctl.jobs.media  # noqa: F401
            except ImportError:
                print(f"{name:<24} not available yet")
                continue
        if name == "media-orphan-cleanup":
            dry = time_job(name, work_db, work_media, {**params, "dry_run": True})
            print(f"{name + ' (dry)':<24}{dry['seconds']:9.2f}{dry['done']:11,}"
                  f"{dry['done'] / max(dry['seconds'], 1e-9):12,.0f}{dry['maxrss_mb']:9.0f}  {summarise(dry['result'])}")
        os.sync()
        r = time_job(name, work_db, work_media, params)
        units = r["done"]
        if name == "media-metadata-batch":
            units = r["result"].get("ok", 0) + r["result"].get("failed", 0) or units
        print(f"{name:<24}{r['seconds']:9.2f}{units:11,}{units / max(r['seconds'], 1e-9):12,.0f}"
              f"{r['maxrss_mb']:9.0f}  {summarise(r['result'])}", flush=True)
    print(f"(feed_presort rows before cleanup: {feed_rows:,}; units = rows checked, rows written or "
          f"files handled, as each job counts its progress; media-metadata-batch: files per second)")


if __name__ == "__main__":
    main()
