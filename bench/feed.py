"""Benchmark the feed group on a demo platform.

    .venv/bin/python bench/feed.py --users 10000
    .venv/bin/python bench/feed.py --users 100000 [--seed 42] [--no-matching] [--synthetic]

The demo platform (``jobctl.demo.build_demo``) is cached under bench/out/ keyed by user count and
seed; every run works on a fresh copy of it, so each figure is a first run on untouched data. The
jobs run in the feed group's order, with its matching dependencies (build-user-traits,
match-scores) when they are in the catalogue. Printed per job: wall time, this process's CPU time
(other processes share the machine's cores), rows in the job's table, rows per second of wall time,
and the process's peak RSS so far. ``--synthetic`` uses a quick built-in generator instead of the
demo (for when the demo is not available).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobctl import graph  # noqa: E402
from jobctl.context import JobContext  # noqa: E402
from jobctl.db import connect  # noqa: E402
from jobctl.errors import CatalogueError  # noqa: E402
from jobctl.registry import load_catalogue  # noqa: E402
from jobctl.schema import create_platform, ensure_indexes  # noqa: E402
from jobctl.timeutil import parse_ts  # noqa: E402
from floors import print_floors  # noqa: E402  (bench/floors.py)

OUT = ROOT / "bench" / "out"
NOW = "2026-11-29T03:00:00Z"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_db(users: int, seed: int, synthetic: bool) -> tuple[Path, float | None]:
    kind = "synthetic" if synthetic else "demo"
    path = OUT / f"feed-{kind}-{users}-s{seed}.db"
    if path.exists():
        return path, None
    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if synthetic:
        build_synthetic(path, users, seed)
    else:
        from jobctl.demo import build_demo
        build_demo(path, OUT / f"feed-media-{users}-s{seed}", users, seed=seed, now=parse_ts(NOW))
    return path, time.perf_counter() - t


def build_synthetic(path: Path, n: int, seed: int) -> None:
    """A quick platform with the demo's rough proportions: 3.5 posts per user over six weeks,
    ~7 likes, ~1 comment and ~0.3 shares per post (heavy-tailed), ~6 follows per user, 3% blockers."""
    from datetime import datetime, timezone

    import numpy as np
    from jobctl.timeutil import fmt_ts
    try:
        from jobctl.demo.interests import NAMES
    except ImportError:
        NAMES = [f"interest {i}" for i in range(200)]
    rng = np.random.default_rng(seed)
    now = int(parse_ts(NOW).timestamp())
    ts = lambda a: [fmt_ts(datetime.fromtimestamp(int(x), timezone.utc)) for x in a]  # noqa: E731
    conn = connect(path)
    create_platform(conn)
    day = 86400
    last = now - (rng.exponential(12, n) * day).astype(np.int64)
    vis = rng.choice(["public", "members", "hidden"], n, p=[.8, .15, .05])
    deleted = np.where(rng.random(n) < .02, now - day, 0)
    users = [(i + 1, f"u{i + 1}", f"User {i + 1}", f"u{i + 1}@example.com", "1995-01-01", "woman", "man",
              vis[i], "2025-01-01T00:00:00Z", t, None if not deleted[i] else fmt_ts(datetime.fromtimestamp(int(deleted[i]), timezone.utc)))
             for i, t in enumerate(ts(last))]
    appeal = rng.lognormal(0, 1.25, n)
    p_appeal = appeal / appeal.sum()
    n_posts = int(3.5 * n)
    author = rng.choice(n, n_posts, p=p_appeal) + 1
    x = np.log1p(rng.random(n_posts) * np.expm1(1.2)) / 1.2
    created = np.sort(now - 42 * day + (x * 42 * day).astype(np.int64))
    zipf = 1 / np.arange(1, len(NAMES) + 1) ** 1.05
    zipf /= zipf.sum()
    extra = ["#weekendvibes", "#tbt", "#selfcare", "#goodvibes", "#café", "#été"]
    bodies = []
    for _ in range(n_posts):
        chosen = [NAMES[i] for i in rng.choice(len(NAMES), rng.choice(4, p=[.12, .45, .3, .13]), p=zipf)]
        tags = ["#" + c.replace(" ", "") for c in chosen if rng.random() < .55]
        if rng.random() < .25:
            tags.append(extra[rng.integers(len(extra))])
        bodies.append(f"Spent the day on {' and '.join(chosen) or 'nothing much'} with friends, "
                      f"such a lovely afternoon in the city {' '.join(tags)}")
    posts = list(zip(range(1, n_posts + 1), author.tolist(), bodies, ts(created)))
    heat = rng.lognormal(0, 1.1, n_posts)

    def events(rate):
        count = rng.poisson(rate * heat)
        post = np.repeat(np.arange(n_posts), count)
        user = rng.choice(n, len(post), p=p_appeal ** .5 / (p_appeal ** .5).sum()) + 1
        at = np.minimum(created[post] + rng.exponential(6 * 3600, len(post)).astype(np.int64), now)
        key = np.unique(np.stack([user, post]), axis=1, return_index=True)[1]
        return user[key], post[key] + 1, at[key]

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO users (id, username, display_name, email, birthdate, gender, seeking, "
                     "visibility, created_at, last_active_at, deleted_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", users)
    conn.executemany("INSERT INTO interests (id, name) VALUES (?, ?)", enumerate(NAMES, 1))
    conn.executemany("INSERT INTO posts (id, author_id, body, created_at) VALUES (?,?,?,?)", posts)
    for table, rate in (("post_likes", 4.0), ("comments", 0.6), ("shares", .15)):
        u, p, at = events(rate)
        rows = zip(u.tolist(), p.tolist(), ts(at))
        if table == "post_likes":
            conn.executemany("INSERT OR IGNORE INTO post_likes (user_id, post_id, created_at) VALUES (?,?,?)", rows)
        elif table == "comments":
            conn.executemany("INSERT INTO comments (author_id, post_id, body, created_at) VALUES (?,?,'nice',?)", rows)
        else:
            conn.executemany("INSERT INTO shares (user_id, post_id, created_at) VALUES (?,?,?)", rows)
    fsrc = np.repeat(np.arange(1, n + 1), rng.poisson(6, n))
    fdst = rng.choice(n, len(fsrc), p=p_appeal) + 1
    fat = now - (rng.random(len(fsrc)) * 60 * day).astype(np.int64)
    conn.executemany("INSERT OR IGNORE INTO follows VALUES (?,?,?)",
                     ((a, b, t) for a, b, t in zip(fsrc.tolist(), fdst.tolist(), ts(fat)) if a != b))
    bsrc = rng.choice(n, n // 30) + 1
    conn.executemany("INSERT OR IGNORE INTO blocks VALUES (?,?,'2026-01-01T00:00:00Z')",
                     ((a, b) for a, b in zip(bsrc.tolist(), (rng.choice(n, len(bsrc)) + 1).tolist()) if a != b))
    conn.execute("COMMIT")
    conn.close()


def platform_counts(conn) -> dict:
    q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {"users": q("SELECT count(*) FROM users"), "posts": q("SELECT count(*) FROM posts"),
            "posts_7d": q("SELECT count(*) FROM posts WHERE created_at >= '2026-11-22T03:00:00Z'"),
            "likes": q("SELECT count(*) FROM post_likes"), "comments": q("SELECT count(*) FROM comments"),
            "shares": q("SELECT count(*) FROM shares"), "follows": q("SELECT count(*) FROM follows"),
            "interests": q("SELECT count(*) FROM interests")}


def run_job(conn, spec, params: dict) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of this process, result)."""
    resolved = spec.resolve_params({"pause_ms": 0, **params}, strict=False)
    ctx = JobContext(db=conn, params=resolved)
    t, c = time.perf_counter(), time.process_time()
    result = spec.func(ctx)
    return time.perf_counter() - t, time.process_time() - c, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-matching", action="store_true", help="skip build-user-traits and match-scores")
    ap.add_argument("--synthetic", action="store_true", help="use the built-in quick generator, not the demo")
    ap.add_argument("--keep", action="store_true", help="keep the working copy (bench/out/feed-run-*.db)")
    args = ap.parse_args()
    print_floors()  # the same run's floors, so figures compare across machines

    src, built = demo_db(args.users, args.seed, args.synthetic)
    work = OUT / f"feed-run-{args.users}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, work)
    conn = connect(work)
    ensure_indexes(conn)

    print(f"feed benchmark: {args.users} users, seed {args.seed}, now {NOW}, {os.cpu_count()} cores"
          + (f", platform built in {built:.1f} s" if built is not None else ", cached platform"))
    print("platform:", json.dumps(platform_counts(conn)))

    try:
        registry = load_catalogue()
        specs = graph.resolve(registry, groups=["feed"])
    except CatalogueError as exc:          # the matching jobs are not in the catalogue yet
        print(f"(catalogue incomplete: {exc}; running the feed jobs only)")
        from jobctl.jobs import feed
        registry = None
        specs = [f.spec for f in (feed.content_features, feed.trending, feed.affinity, feed.feed_presort)]
    if args.no_matching:
        specs = [s for s in specs if s.group == "feed"]
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other processes share the 2 cores: "
          f"'cpu s' is this process's own CPU time)")
    print(f"{'job':<20}{'wall s':>8}{'cpu s':>8}{'rows':>10}{'rows/s':>10}{'peak MB':>9}  result")
    total = total_cpu = 0.0
    for spec in specs:
        params = {"now": NOW} if spec.uses_now else {}
        secs, cpu, result = run_job(conn, spec, params)
        total, total_cpu = total + secs, total_cpu + cpu
        table = spec.writes[0] if spec.writes else None
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table else 0
        print(f"{spec.name:<20}{secs:>8.2f}{cpu:>8.2f}{rows:>10}{rows / secs if secs else 0:>10.0f}{peak_mb():>9.0f}  "
              f"{json.dumps(result)[:150]}")
    print(f"{'whole group':<20}{total:>8.2f}{total_cpu:>8.2f}   (load average now {os.getloadavg()[0]:.2f})")
    secs, cpu, result = run_job(conn, next(s for s in specs if s.name == "content-features"), {"now": NOW})
    print(f"{'content-features again (nothing new)':<36}{secs:>6.2f} s  {json.dumps(result)}")
    conn.close()
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
