"""Do jobs slow the app down? The app's latency with and without `jobctl enqueue --all --wait` running.

A demo platform of --users users (built once into bench/out/traffic-demo-<users>-s<seed>/, every job
already run once so the app has feeds, matches and a search index to read, as on a platform that ran
its jobs last night) is copied to bench/out/traffic-run-<users>-<pid>/ (removed afterwards unless
--keep). Run one at a time: two runs share the machine's 2 cores and disturb each other. Then:

- phase 2, jobs running: `jobctl enqueue --all --wait -p now=... -p full=true` runs in a subprocess
  (full=true: content-features and media-metadata-batch redo every row, the heaviest nightly run)
  while a second process plays the app;
- phase 1, no jobs: the same app process runs again for the same duration (capped by --max-baseline-s);
- phase 0, jobs alone (skip with --no-alone): the same pipeline on another fresh copy with no app at all.

Both pipeline runs record where jobctl's lock-yielding pauses went (JOBCTL_YIELD_STATS, jobctl/db.py):
with no app the pauses should cost under 5 % of the pipeline; with the app they keep its write p99 low.

The app process, paced at --rate operations per second (half writes, half reads), does what a
dating app does, on one long-lived connection with a 5 s busy timeout, each write its own short
BEGIN IMMEDIATE transaction (on PostgreSQL: BEGIN, and a 5 s lock timeout):

- writes: like a post (+ the post's like_count), publish a post (+ the author's post_count),
  follow someone (+ both users' counters);
- reads: a user's presorted feed (feed_presort), their top matches (match_scores), and a profile
  search (jobctl.jobs.search.query.search_profiles, FTS5 MATCH + bm25) for a common word.

It prints p50, p99 and max latency of writes and reads per phase, error counts ('database is locked'
separately), the pipeline's total time and each job's status. Target: no app error, app write p99
under 100 ms while jobs run (SQLite), under 20 ms (PostgreSQL, issue 15).

--backend postgres: the platform is a PostgreSQL database on the server --pg-admin names, created
the way pipeline.py creates its own (DROP/CREATE DATABASE from the admin connection, then `jobctl
demo`): jobctl_bench_traffic_<users>_s<seed> is prepared once (every job run, then VACUUM ANALYZE)
and each phase gets a file-level copy of it (CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY),
dropped afterwards unless --keep. The app is the same code on psycopg: one autocommit connection
(jobctl.backend.postgres.connect, lock_timeout 5 s), each write its own short BEGIN … COMMIT, the
same statements (INSERT … ON CONFLICT DO NOTHING and RETURNING, which SQLite also speaks), the
search through search_profiles' PostgreSQL full-text path. No lock yielding there (jobs never pause
on PostgreSQL), so the yielding lines say so. Drop the prepared database when done:
`DROP DATABASE jobctl_bench_traffic_<users>_s<seed>`.

    .venv/bin/python bench/app_traffic.py --users 10000
    .venv/bin/python bench/app_traffic.py --backend postgres --users 100000 --no-alone
    nohup .venv/bin/python bench/app_traffic.py --users 100000 > bench/out/traffic-100000.txt 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from floors import print_floors  # noqa: E402  (bench/floors.py)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
JOBCTL = [sys.executable, "-m", "jobctl.cli"]
NOW = "2026-11-29T03:00:00Z"
TARGET_P99_MS = {"sqlite": 100.0, "postgres": 20.0}   # app write p99 while jobs run (PostgreSQL: issue 15)
SLOW_MS = 50.0                       # app operations this slow are listed with the job running then


# -- the app ---------------------------------------------------------------------------------------

def app_connection(db: str, sync: str):
    """The app's one long-lived connection: an SQLite file with a 5 s busy timeout, or (a
    ``postgresql://`` URL) psycopg in autocommit mode with a 5 s lock timeout, behind jobctl's
    sqlite3-shaped wrapper so every read and write below is the same statement on both backends
    (``?`` placeholders; ``BEGIN IMMEDIATE`` is spelled ``BEGIN`` there).

    ``sync`` is SQLite's PRAGMA synchronous; on PostgreSQL the like-for-like durability:
    OFF/NORMAL (WAL, no fsync at commit: a crash of the OS may lose the last commits, never
    corrupts) → synchronous_commit off; FULL (fsync at every commit) → synchronous_commit on."""
    if db.startswith("postgresql://"):
        from jobctl.backend import postgres
        conn = postgres.connect(db)
        conn.raw.execute("SET application_name TO 'app_traffic'")
        conn.raw.execute("SET lock_timeout TO '5s'")     # as the SQLite busy timeout: fail, never hang
        conn.raw.execute(f"SET synchronous_commit TO {'on' if sync == 'FULL' else 'off'}")
        return conn
    conn = sqlite3.connect(db, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute(f"PRAGMA synchronous = {sync}")
    return conn


def app_loop(db: str, out: str, duration: float, stop_file: str, rate: float, seed: int, sync: str) -> None:
    """Play the app until ``duration`` seconds passed or ``stop_file`` exists; write latencies to ``out``."""
    from jobctl.jobs.search.query import search_profiles

    rng = random.Random(seed)
    conn = app_connection(db, sync)
    users = [r[0] for r in conn.execute(
        "SELECT id FROM users WHERE deleted_at IS NULL AND visibility != 'hidden' ORDER BY id")]
    posts = [r[0] for r in conn.execute("SELECT id FROM posts WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 20000")]
    words = [r[0].split()[0] for r in conn.execute("SELECT name FROM interests ORDER BY id")]
    words += [r[0].split()[0] for r in conn.execute(
        "SELECT display_name FROM users WHERE visibility = 'public' ORDER BY id LIMIT 300")]
    words += [r[0] for r in conn.execute("SELECT DISTINCT city FROM users WHERE city IS NOT NULL LIMIT 100")]
    stamp = NOW

    def like():
        u, p = rng.choice(users), rng.choice(posts)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("INSERT INTO post_likes (user_id, post_id, created_at) VALUES (?, ?, ?) "
                            "ON CONFLICT DO NOTHING", (u, p, stamp)).rowcount:
                conn.execute("UPDATE posts SET like_count = like_count + 1 WHERE id = ?", (p,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise

    def post():
        u = rng.choice(users)
        conn.execute("BEGIN IMMEDIATE")
        try:
            new_id = conn.execute("INSERT INTO posts (author_id, body, created_at) VALUES (?, ?, ?) RETURNING id",
                                  (u, f"Out with friends tonight #{rng.choice(words).lower()} {rng.random():.6f}",
                                   stamp)).fetchone()[0]
            conn.execute("UPDATE users SET post_count = post_count + 1 WHERE id = ?", (u,))
            conn.execute("COMMIT")
            posts.append(new_id)
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise

    def follow():
        a, b = rng.choice(users), rng.choice(users)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if a != b and conn.execute("INSERT INTO follows (follower_id, followee_id, created_at) "
                                       "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (a, b, stamp)).rowcount:
                conn.execute("UPDATE users SET following_count = following_count + 1 WHERE id = ?", (a,))
                conn.execute("UPDATE users SET follower_count = follower_count + 1 WHERE id = ?", (b,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise

    def feed():
        conn.execute("SELECT section, position, item_type, item_id, score FROM feed_presort WHERE user_id = ? "
                     "ORDER BY section, position", (rng.choice(users),)).fetchall()

    def matches():
        conn.execute("SELECT candidate_id, score FROM match_scores WHERE user_id = ? ORDER BY rank LIMIT 20",
                     (rng.choice(users),)).fetchall()

    def search():
        search_profiles(conn, rng.choice(words), 20)

    writes, reads = [like, like, post, follow], [feed, matches, search]
    samples = {"write": [], "read": []}
    errors: dict[str, int] = {}
    by_op: dict[str, list] = {}
    slow: list[tuple] = []           # (epoch when the op started, op, ms) of ops over SLOW_MS
    interval = 1.0 / rate
    start = time.monotonic()
    next_at = start
    i = 0
    while time.monotonic() - start < duration and not os.path.exists(stop_file):
        kind = "write" if i % 2 == 0 else "read"
        op = rng.choice(writes if kind == "write" else reads)
        t0 = time.perf_counter()
        try:
            op()
            ms = (time.perf_counter() - t0) * 1000
            samples[kind].append(ms)
            by_op.setdefault(op.__name__, []).append(ms)
            if ms >= SLOW_MS:
                slow.append((time.time() - ms / 1000, op.__name__, ms))
        except Exception as exc:       # every failure is counted, by message, and listed with its time
            key = f"{kind} {op.__name__}: {type(exc).__name__}: {exc}"
            errors[key] = errors.get(key, 0) + 1
            ms = (time.perf_counter() - t0) * 1000
            slow.append((time.time() - ms / 1000, f"{op.__name__} FAILED after {ms:.0f} ms", ms))
        i += 1
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            next_at = time.monotonic()     # behind schedule: do not burst to catch up
    conn.close()
    Path(out).write_text(json.dumps({"seconds": time.monotonic() - start, "samples": samples, "errors": errors,
                                     "by_op": by_op, "slow": slow}))


def spawn_app(db: Path | str, out: Path, duration: float, stop: Path, args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--app", str(db), str(out), str(duration), str(stop),
                             str(args.rate), str(args.seed), args.synchronous])


# -- the platform -------------------------------------------------------------------------------------

def is_pg(target) -> bool:
    return str(target).startswith("postgresql://")


def target_of(folder: Path) -> str:
    """The platform of a prepared or work folder: its platform.db, or the PostgreSQL URL in its PG_URL."""
    url = folder / "PG_URL"
    return url.read_text().strip() if url.exists() else str(folder / "platform.db")


def pg_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


def pg_admin_execute(admin: str, *statements: str) -> None:
    import psycopg
    with psycopg.connect(admin, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def jobctl_env(folder: Path, yield_stats: Path | None = None) -> dict:
    env = dict(os.environ, JOBCTL_DB=target_of(folder), JOBCTL_LEDGER=str(folder / "ledger.db"),
               JOBCTL_MEDIA_ROOT=str(folder / "media"), PYTHONPATH=str(ROOT))
    if yield_stats is not None:
        env["JOBCTL_YIELD_STATS"] = str(yield_stats)
    return env


def run_pipeline(work: Path, stats: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    pipe = subprocess.run([*JOBCTL, "enqueue", "--all", "--wait", "--json", "-p", f"now={NOW}", "-p", "full=true"],
                          env=jobctl_env(work, stats), capture_output=True, text=True)
    return time.perf_counter() - t0, pipe


def yield_summary(stats: Path, db: Path | str, seconds: float) -> dict:
    """The platform database's write transactions, lock held and paused seconds, over all processes."""
    tot = {"transactions": 0, "held_s": 0.0, "paused_s": 0.0, "contended": 0}
    if stats.exists() and not is_pg(db):      # PostgreSQL has no database-wide lock: jobs never pause
        for line in stats.read_text().splitlines():
            for path, st in json.loads(line)["stats"].items():
                if Path(path).resolve() == Path(db).resolve():
                    for k in tot:
                        tot[k] += st[k]
    tot["pipeline_s"] = seconds
    tot["pause_share"] = tot["paused_s"] / seconds if seconds else float("nan")
    return tot


def show_yield(label: str, y: dict) -> None:
    if y.get("backend") == "postgres":
        print(f"  yielding, {label}: none on PostgreSQL (row locks, no database-wide write lock); "
              f"pipeline {y['pipeline_s']:.1f} s")
        return
    print(f"  yielding, {label}: {y['transactions']} job write transactions held the lock {y['held_s']:.1f} s, "
          f"paused {y['paused_s']:.1f} s after them = {100 * y['pause_share']:.1f} % of the pipeline's "
          f"{y['pipeline_s']:.1f} s; {y['contended']} found another writer")


def prepared_platform(users: int, seed: int, backend: str = "sqlite", admin: str = "") -> Path:
    """bench/out/traffic-demo[-pg]-<users>-s<seed>/: a demo platform on which every job ran once.

    On PostgreSQL the platform is the database jobctl_bench_traffic_<users>_s<seed> on ``admin``'s
    server (its URL in the folder's PG_URL), built the way pipeline.py builds its own: created
    fresh from ``admin``, then filled by `jobctl demo`."""
    folder = OUT / (f"traffic-demo-pg-{users}-s{seed}" if backend == "postgres" else f"traffic-demo-{users}-s{seed}")
    done = folder / "READY"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if backend == "postgres":
        name = f"jobctl_bench_traffic_{users}_s{seed}"
        pg_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        (folder / "PG_URL").write_text(pg_url(admin, name) + "\n")
        t0 = time.perf_counter()
        subprocess.run([*JOBCTL, "demo", "--users", str(users), "--seed", str(seed), "--now", NOW],
                       env=jobctl_env(folder), check=True, stdout=subprocess.DEVNULL)
        print(f"  demo platform built in {time.perf_counter() - t0:.0f} s", flush=True)
    else:
        from jobctl.demo import build_demo
        t0 = time.perf_counter()
        build_demo(folder / "platform.db", folder / "media", users, seed=seed,
                   now=datetime(2026, 11, 29, 3, tzinfo=timezone.utc))
        print(f"  demo platform built in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([*JOBCTL, "enqueue", "--all", "--wait", "-p", "now=2026-11-28T03:00:00Z"],
                          env=jobctl_env(folder), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"preparing run failed:\n{proc.stderr[-3000:]}")
    print(f"  first run of every job in {time.perf_counter() - t0:.0f} s", flush=True)
    if backend == "postgres":       # as after a night's autovacuum: the copies start with fresh statistics
        import psycopg
        with psycopg.connect(target_of(folder), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    else:
        conn = sqlite3.connect(folder / "platform.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    (folder / "ledger.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{folder / 'ledger.db'}{suffix}").unlink(missing_ok=True)
    done.write_text("ok\n")
    return folder


def fresh_copy(src: Path, users: int, admin: str = "", tag: str = "") -> Path:
    work = OUT / f"traffic-run-{users}-{os.getpid()}{tag}"     # per run: two runs at once must not share it
    if work.exists():
        drop_copy(work, admin)
    work.mkdir(parents=True)
    if is_pg(target_of(src)):       # a file-level copy of the prepared database (no other session may use it)
        name = f"jobctl_bench_traffic_run_{users}_{os.getpid()}{tag}"
        ready = target_of(src).rsplit("/", 1)[1]
        pg_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                         f'CREATE DATABASE "{name}" TEMPLATE "{ready}" STRATEGY FILE_COPY')
        (work / "PG_URL").write_text(pg_url(admin, name) + "\n")
    else:
        shutil.copy2(src / "platform.db", work / "platform.db")
    shutil.copytree(src / "media", work / "media", copy_function=shutil.copy2)
    return work


def drop_copy(work: Path, admin: str) -> None:
    if is_pg(target_of(work)):
        name = target_of(work).rsplit("/", 1)[1]
        pg_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(work, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def summarise(label: str, res: dict) -> dict:
    locked = sum(n for k, n in res["errors"].items()      # SQLite's busy timeout; PostgreSQL's lock_timeout
                 if any(w in k.lower() for w in ("locked", "busy", "lock timeout", "locknotavailable", "deadlock")))
    row = {"phase": label, "seconds": res["seconds"], "errors": sum(res["errors"].values()), "locked": locked}
    for kind in ("write", "read"):
        v = res["samples"][kind]
        row[kind] = {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99), "max": max(v) if v else float("nan")}
    row["by_op"] = {op: {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99), "max": max(v)}
                    for op, v in sorted(res["by_op"].items())}
    row["error_kinds"] = res["errors"]
    row["slow"] = res.get("slow", [])
    row["failed_at"] = [s for s in row["slow"] if "FAILED" in s[1]]
    return row


def epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def attribute(slow: list, jobs: list[dict]) -> dict[str, list]:
    """Slow app operations grouped by the job that was running when they started."""
    out: dict[str, list] = {}
    for at, op, ms in slow:
        name = next((j["name"] for j in jobs if j.get("started_at") and j.get("finished_at")
                     and epoch(j["started_at"]) - 0.05 <= at <= epoch(j["finished_at"]) + 0.05), "between jobs")
        out.setdefault(name, []).append((op, ms))
    return out


def show(row: dict) -> None:
    print(f"\n{row['phase']}: {row['seconds']:.0f} s of app traffic")
    for kind in ("write", "read"):
        r = row[kind]
        print(f"  {kind:<5}  n={r['n']:>6}  p50 {r['p50']:7.2f} ms  p99 {r['p99']:8.2f} ms  max {r['max']:9.2f} ms")
    for op, r in row["by_op"].items():
        print(f"    {op:<8} n={r['n']:>6}  p50 {r['p50']:7.2f} ms  p99 {r['p99']:8.2f} ms  max {r['max']:9.2f} ms")
    print(f"  errors: {row['errors']} (database is locked / lock timeout / deadlock: {row['locked']})")
    for k, n in list(row["error_kinds"].items())[:10]:
        print(f"    {n:>5} × {k}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--app":
        db, out, duration, stop, rate, seed, sync = sys.argv[2:9]
        app_loop(db, out, float(duration), stop, float(rate), int(seed), sync)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rate", type=float, default=50.0, help="app operations per second (half writes, half reads)")
    ap.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL"],
                    help="the app connection's PRAGMA synchronous (PostgreSQL: FULL = synchronous_commit on, "
                         "else off)")
    ap.add_argument("--max-baseline-s", type=float, default=900.0, help="cap of the no-jobs phase's duration")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the run's copy of the platform afterwards")
    ap.add_argument("--no-alone", action="store_true", help="skip phase 0 (the pipeline with no app)")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="a database on the server to create the benchmark's databases from")
    args = ap.parse_args()
    print_floors()  # the same run's floors, so figures compare across machines

    print(f"app traffic vs jobs: {args.users:,} users, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"app at {args.rate:g} ops/s, {args.backend}", flush=True)
    src = prepared_platform(args.users, args.seed, args.backend, args.pg_admin)
    alone = None
    if not args.no_alone:         # phase 0: the jobs alone, on a copy of their own
        work = fresh_copy(src, args.users, args.pg_admin, "-alone")
        secs, pipe0 = run_pipeline(work, work / "yield-alone.jsonl")
        alone = yield_summary(work / "yield-alone.jsonl", target_of(work), secs)
        alone["exit"] = pipe0.returncode
        alone["backend"] = args.backend
        drop_copy(work, args.pg_admin)
    t0 = time.perf_counter()
    work = fresh_copy(src, args.users, args.pg_admin)
    print(f"  fresh copy of the platform in {time.perf_counter() - t0:.0f} s", flush=True)
    db = target_of(work)

    # phase 2: jobs running
    stop, out2 = work / "stop", work / "app-jobs.json"
    app = spawn_app(db, out2, 10 ** 9, stop, args)
    time.sleep(2.0)                   # the app is up and has loaded its id lists
    pipeline_s, pipe = run_pipeline(work, work / "yield-app.jsonl")
    with_app = yield_summary(work / "yield-app.jsonl", db, pipeline_s)
    with_app["backend"] = args.backend
    stop.touch()
    app.wait()
    with_jobs = summarise("phase 2, jobs running (enqueue --all --wait)", json.loads(out2.read_text()))
    jobs = json.loads(pipe.stdout)["jobs"] if pipe.stdout.strip().startswith("{") else []

    # phase 1: the same app, no jobs, same duration
    stop.unlink()
    out1 = work / "app-idle.json"
    baseline_s = min(with_jobs["seconds"], args.max_baseline_s)
    spawn_app(db, out1, baseline_s, stop, args).wait()
    idle = summarise("phase 1, no jobs", json.loads(out1.read_text()))

    show(idle)
    show(with_jobs)
    print(f"\npipeline (enqueue --all --wait, full=true) in phase 2: {pipeline_s:.1f} s, exit {pipe.returncode}")
    for j in jobs:
        secs = None
        if j.get("started_at") and j.get("finished_at"):
            secs = (datetime.fromisoformat(j["finished_at"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(j["started_at"].replace("Z", "+00:00"))).total_seconds()
        print(f"  {j['name']:<24} {j['status']:<9} {'' if secs is None else f'{secs:8.1f} s'}"
              + (f"  {j['error']}" if j.get("error") else ""))
    print()
    if alone is not None:
        show_yield(f"phase 0, no app (exit {alone['exit']})", alone)
    show_yield("phase 2, app running", with_app)
    blame = attribute(with_jobs["slow"], jobs)
    if blame:
        print(f"\napp operations over {SLOW_MS:g} ms while jobs ran, by the job running then:")
        for name, ops in sorted(blame.items(), key=lambda kv: -max(ms for _, ms in kv[1])):
            worst = max(ops, key=lambda o: o[1])
            failed = [o for o in ops if "FAILED" in o[0]]
            print(f"  {name:<24} {len(ops):>4} ops, worst {worst[1]:8.1f} ms ({worst[0]})"
                  + (f"; {len(failed)} failed: {failed[0][0]}" if failed else ""))
    limit = TARGET_P99_MS[args.backend]
    ok = with_jobs["errors"] == 0 and idle["errors"] == 0 and with_jobs["write"]["p99"] < limit
    print(f"\ntarget on {args.backend} (no app error, app write p99 < {limit:g} ms while jobs run): "
          f"{'met' if ok else 'NOT met'}")
    if not args.keep:
        drop_copy(work, args.pg_admin)
    if args.json:
        args.json.write_text(json.dumps({"users": args.users, "backend": args.backend, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                                         "rate": args.rate, "pipeline_s": pipeline_s,
                                         "yield_alone": alone, "yield_with_app": with_app, "pipeline_exit": pipe.returncode,
                                         "idle": idle, "jobs_running": with_jobs,
                                         "slow_by_job": blame,
                                         "jobs": [{k: j.get(k) for k in ("name", "status", "started_at", "finished_at",
                                                                         "error")} for j in jobs]}, indent=1))


if __name__ == "__main__":
    main()
