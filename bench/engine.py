"""Jobs per second through the ledger, with Huey's SqliteHuey measured beside it in the same run.

jobctl: enqueue N no-op jobs (one batch each, as `jobctl enqueue` does), then claim, run and
record each one in-process (Runner.execute: claim transaction, start, result, finish, events).
Huey: enqueue N no-op tasks into SqliteHuey, then dequeue and execute each in-process (what one
consumer worker does), results stored.

    .venv/bin/python bench/engine.py [--jobs 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jobctl.db import connect  # noqa: E402
from jobctl.ledger import Ledger  # noqa: E402
from jobctl.registry import Registry  # noqa: E402
from jobctl.runner import Runner  # noqa: E402
from jobctl.schema import create_platform  # noqa: E402
from floors import print_floors  # noqa: E402  (bench/floors.py)


def bench_jobctl(n: int, tmp: Path) -> dict:
    import toyjobs
    reg = toyjobs.register(Registry())
    db = tmp / "platform.db"
    conn = connect(db)
    create_platform(conn)
    conn.close()
    ledger = Ledger(tmp / "ledger.db")
    runner = Runner(ledger=ledger, registry=reg, db_path=db, media_root=tmp)
    t0 = time.perf_counter()
    for i in range(n):
        ledger.enqueue([("toy-noop", "noop", {"batch_size": 1000, "pause_ms": 0, "i": i}, [])])
    t1 = time.perf_counter()
    done = 0
    while True:
        job = ledger.claim()
        if job is None:
            break
        runner.execute(job)
        done += 1
    t2 = time.perf_counter()
    runner.close()
    ok = ledger.conn.execute("SELECT count(*) FROM jobs WHERE status='success'").fetchone()[0]
    ledger.close()
    assert done == n and ok == n, (done, ok)
    return {"enqueue_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0}


def bench_huey(n: int, tmp: Path) -> dict:
    from huey import SqliteHuey
    huey = SqliteHuey(filename=str(tmp / "huey.db"))

    @huey.task()
    def noop(i):
        return None

    t0 = time.perf_counter()
    for i in range(n):
        noop(i)
    t1 = time.perf_counter()
    done = 0
    while True:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        done += 1
    t2 = time.perf_counter()
    assert done == n, done
    return {"enqueue_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2000)
    args = ap.parse_args()
    print_floors()  # the same run's floors, so figures compare across machines
    n = args.jobs
    print(f"engine benchmark: {n} no-op jobs, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as d:
        j = bench_jobctl(n, Path(d))
    with tempfile.TemporaryDirectory() as d:
        h = bench_huey(n, Path(d))
    print(f"{'':12}{'enqueue/s':>12}{'run/s':>12}{'end-to-end jobs/s':>20}")
    for name, r in (("jobctl", j), ("SqliteHuey", h)):
        print(f"{name:12}{n / r['enqueue_s']:>12,.0f}{n / r['run_s']:>12,.0f}{n / r['total_s']:>20,.0f}")
    print(f"jobctl / huey end-to-end: {h['total_s'] / j['total_s']:.2f}x")


if __name__ == "__main__":
    main()
