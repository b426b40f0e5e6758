"""Do jobs slow the app down? The app's latency with and without `jobctl enqueue --all --wait` running.

A demo platform of --users users (built once into bench/out/traffic-demo-<users>-s<seed>/, every job
already run once so the app has feeds, matches and a search index to read, as on a platform that ran
its jobs last night) is copied to bench/out/traffic-run-<users>-<pid>/ (removed afterwards unless
--keep). Run one at a time: two runs share the machine's 2 cores and disturb each other. Then:

- phase 2, jobs running: `jobctl enqueue --all --wait -p now=... -p full=true` runs in a subprocess
  (full=true: content-features and media-metadata-batch redo every row, the heaviest nightly run)
  while a second process plays the app;
- phase 1, no jobs: the same app process runs again for the same duration (capped by --max-baseline-s).

The app process, paced at --rate operations per second (half writes, half reads), does what a
dating app does, on one long-lived connection with a 5 s busy timeout, each write its own short
BEGIN IMMEDIATE transaction:

- writes: like a post (+ the post's like_count), publish a post (+ the author's post_count),
  follow someone (+ both users' counters);
- reads: a user's presorted feed (feed_presort), their top matches (match_scores), and a profile
  search (jobctl.jobs.search.query.search_profiles, FTS5 MATCH + bm25) for a common word.

It prints p50, p99 and max latency of writes and reads per phase, error counts ('database is locked'
separately), the pipeline's total time and each job's status. Target: no app error, app write p99
under 100 ms while jobs run.

    .venv/bin/python bench/app_traffic.py --users 10000
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

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
JOBCTL = [sys.executable, "-m", "jobctl.cli"]
NOW = "2026-11-29T03:00:00Z"
SLOW_MS = 50.0                       # app operations this slow are listed with the job running then


# -- the app ---------------------------------------------------------------------------------------

def app_loop(db: str, out: str, duration: float, stop_file: str, rate: float, seed: int, sync: str) -> None:
    """Play the app until ``duration`` seconds passed or ``stop_file`` exists; write latencies to ``out``."""
    from jobctl.jobs.search.query import search_profiles

    rng = random.Random(seed)
    conn = sqlite3.connect(db, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute(f"PRAGMA synchronous = {sync}")
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
            if conn.execute("INSERT OR IGNORE INTO post_likes (user_id, post_id, created_at) VALUES (?, ?, ?)",
                            (u, p, stamp)).rowcount:
                conn.execute("UPDATE posts SET like_count = like_count + 1 WHERE id = ?", (p,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise

    def post():
        u = rng.choice(users)
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute("INSERT INTO posts (author_id, body, created_at) VALUES (?, ?, ?)",
                               (u, f"Out with friends tonight #{rng.choice(words).lower()} {rng.random():.6f}", stamp))
            conn.execute("UPDATE users SET post_count = post_count + 1 WHERE id = ?", (u,))
            conn.execute("COMMIT")
            posts.append(cur.lastrowid)
        except BaseException:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            raise

    def follow():
        a, b = rng.choice(users), rng.choice(users)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if a != b and conn.execute("INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) "
                                       "VALUES (?, ?, ?)", (a, b, stamp)).rowcount:
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


def spawn_app(db: Path, out: Path, duration: float, stop: Path, args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--app", str(db), str(out), str(duration), str(stop),
                             str(args.rate), str(args.seed), args.synchronous])


# -- the platform -------------------------------------------------------------------------------------

def jobctl_env(folder: Path) -> dict:
    return dict(os.environ, JOBCTL_DB=str(folder / "platform.db"), JOBCTL_LEDGER=str(folder / "ledger.db"),
                JOBCTL_MEDIA_ROOT=str(folder / "media"), PYTHONPATH=str(ROOT))


def prepared_platform(users: int, seed: int) -> Path:
    """bench/out/traffic-demo-<users>-s<seed>/: a demo platform on which every job ran once."""
    folder = OUT / f"traffic-demo-{users}-s{seed}"
    done = folder / "READY"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
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
    conn = sqlite3.connect(folder / "platform.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    (folder / "ledger.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{folder / 'ledger.db'}{suffix}").unlink(missing_ok=True)
    done.write_text("ok\n")
    return folder


def fresh_copy(src: Path, users: int) -> Path:
    work = OUT / f"traffic-run-{users}-{os.getpid()}"     # per run: two runs at once must not share it
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy2(src / "platform.db", work / "platform.db")
    shutil.copytree(src / "media", work / "media", copy_function=shutil.copy2)
    return work


# -- report ----------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def summarise(label: str, res: dict) -> dict:
    locked = sum(n for k, n in res["errors"].items() if "locked" in k or "busy" in k)
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
    print(f"  errors: {row['errors']} (database is locked: {row['locked']})")
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
                    help="the app connection's PRAGMA synchronous")
    ap.add_argument("--max-baseline-s", type=float, default=900.0, help="cap of the no-jobs phase's duration")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the run's copy of the platform afterwards")
    args = ap.parse_args()

    print(f"app traffic vs jobs: {args.users:,} users, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"app at {args.rate:g} ops/s", flush=True)
    src = prepared_platform(args.users, args.seed)
    work = fresh_copy(src, args.users)
    db = work / "platform.db"

    # phase 2: jobs running
    stop, out2 = work / "stop", work / "app-jobs.json"
    app = spawn_app(db, out2, 10 ** 9, stop, args)
    time.sleep(2.0)                   # the app is up and has loaded its id lists
    t0 = time.perf_counter()
    pipe = subprocess.run([*JOBCTL, "enqueue", "--all", "--wait", "--json", "-p", f"now={NOW}", "-p", "full=true"],
                          env=jobctl_env(work), capture_output=True, text=True)
    pipeline_s = time.perf_counter() - t0
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
    blame = attribute(with_jobs["slow"], jobs)
    if blame:
        print(f"\napp operations over {SLOW_MS:g} ms while jobs ran, by the job running then:")
        for name, ops in sorted(blame.items(), key=lambda kv: -max(ms for _, ms in kv[1])):
            worst = max(ops, key=lambda o: o[1])
            failed = [o for o in ops if "FAILED" in o[0]]
            print(f"  {name:<24} {len(ops):>4} ops, worst {worst[1]:8.1f} ms ({worst[0]})"
                  + (f"; {len(failed)} failed: {failed[0][0]}" if failed else ""))
    ok = with_jobs["errors"] == 0 and idle["errors"] == 0 and with_jobs["write"]["p99"] < 100
    print(f"\ntarget (no app error, app write p99 < 100 ms while jobs run): {'met' if ok else 'NOT met'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"users": args.users, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                                         "rate": args.rate, "pipeline_s": pipeline_s, "pipeline_exit": pipe.returncode,
                                         "idle": idle, "jobs_running": with_jobs,
                                         "slow_by_job": blame,
                                         "jobs": [{k: j.get(k) for k in ("name", "status", "started_at", "finished_at",
                                                                         "error")} for j in jobs]}, indent=1))


if __name__ == "__main__":
    main()
