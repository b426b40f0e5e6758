"""The full pipeline: `jobctl demo --users N`, then `jobctl enqueue --all --wait`, timed per job.

Prints each job's time (from the ledger), the total, the peak memory of the enqueue process, and the
user guide's table of typical durations beside it.

    .venv/bin/python bench/pipeline.py --users 1000 10000 100000
    .venv/bin/python bench/pipeline.py --backend postgres --users 100000   # PostgreSQL at --pg-admin
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from floors import print_floors  # noqa: E402  (bench/floors.py)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
JOBCTL = [sys.executable, "-m", "jobctl.cli"]

GUIDE = [(1_000, "1-5 min"), (10_000, "5-30 min"), (100_000, "30 min - 2 h"), (float("inf"), "2-6 h")]


def guide_for(n: int) -> str:
    if n < 1_000:
        return GUIDE[0][1]
    for limit, text in GUIDE[1:]:
        if n <= limit:
            return text
    return GUIDE[-1][1]


def iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def platform_target(backend: str, users: int, work: Path, admin: str) -> str:
    """The --db of the run: a fresh SQLite file, or a fresh PostgreSQL database on ``admin``'s server."""
    if backend == "sqlite":
        return str(work / "platform.db")
    import psycopg
    name = f"jobctl_bench_{users}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name


def run(users: int, seed: int, keep: bool, backend: str = "sqlite", admin: str = "") -> dict:
    work = OUT / f"pipeline-{backend}-{users}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = dict(os.environ, JOBCTL_DB=platform_target(backend, users, work, admin), JOBCTL_LEDGER=str(work / "ledger.db"),
               JOBCTL_MEDIA_ROOT=str(work / "media"))
    t0 = time.perf_counter()
    subprocess.run([*JOBCTL, "demo", "--users", str(users), "--seed", str(seed)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_demo = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t1 = time.perf_counter()
    proc = subprocess.run([*JOBCTL, "enqueue", "--all", "--wait", "--json"], env=env, capture_output=True, text=True)
    total = time.perf_counter() - t1
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        raise SystemExit(f"enqueue failed: {proc.stderr[-2000:]}")
    jobs = json.loads(proc.stdout)["jobs"]
    rows = []
    for j in jobs:
        secs = (iso(j["finished_at"]) - iso(j["started_at"])).total_seconds() if j["started_at"] and j["finished_at"] else None
        rows.append((j["name"], j["status"], secs))
    if not keep:
        shutil.rmtree(work / "media", ignore_errors=True)
    return {"users": users, "demo_s": t_demo, "total_s": total, "peak_mb": max(peak_kb, before) / 1024,
            "jobs": rows, "ok": proc.returncode == 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="keep the media root afterwards")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="a database on the server to create the benchmark's database from")
    args = ap.parse_args()
    print_floors()  # the same run's floors, so figures compare across machines
    print(f"full pipeline on {args.backend}: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    for n in args.users:
        r = run(n, args.seed, args.keep, args.backend, args.pg_admin)
        print(f"\n== {n:,} users: demo {r['demo_s']:.1f} s; enqueue --all --wait {r['total_s']:.1f} s "
              f"({r['total_s'] / 60:.1f} min; the guide expects {guide_for(n)} per job); "
              f"peak memory {r['peak_mb']:,.0f} MB; {'all succeeded' if r['ok'] else 'NOT ALL SUCCEEDED'}")
        for name, status, secs in r["jobs"]:
            print(f"   {name:24} {status:10} {'' if secs is None else f'{secs:8.1f} s'}")


if __name__ == "__main__":
    main()
