"""Benchmark of the matching group on a demo platform.

    .venv/bin/python bench/matching.py --users 10000
    .venv/bin/python bench/matching.py --users 100000

Builds (once, cached under bench/out/) a demo platform of the given size, then runs
build-user-traits, match-scores and compatibility as the runner would (pause_ms 0) and prints
each job's time, pairs scored per second, peak memory (ru_maxrss), and the floor: the time the
bare matrix products of match-scores take in numpy alone (same tiles and shapes, same run).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = "2026-11-29T03:00:00Z"


def _build(db: Path, media: Path, users: int) -> None:
    from jobctl.demo import build_demo
    build_demo(db, media, users, seed=42, now=datetime(2026, 11, 29, 3, tzinfo=timezone.utc), force=True)


def demo_db(users: int) -> Path:
    out = ROOT / "bench" / "out" / f"demo-{users}"
    db = out / "platform.db"
    if not db.exists():
        out.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        proc = mp.get_context("spawn").Process(target=_build, args=(db, out / "media", users))
        proc.start()
        proc.join()
        if proc.exitcode != 0 or not db.exists():
            raise SystemExit(f"building the demo platform failed (exit {proc.exitcode})")
        print(f"built demo platform of {users} users in {time.perf_counter() - t:.1f}s: {db}")
    return db


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=None, help="block size (default: the job's)")
    ap.add_argument("--max-distance-km", type=float, default=None)
    ap.add_argument("--no-compat", action="store_true", help="skip the compatibility job")
    args = ap.parse_args()

    from jobctl.context import make_context
    from jobctl.db import connect
    from jobctl.jobs import matching
    from jobctl.jobs.matching.engine import TopKEngine, available_cores, matrix_products_floor

    db = demo_db(args.users)
    conn = connect(db)
    print(f"matching benchmark: {args.users} users, {available_cores()} cores, top_k {args.top_k}")

    def run(fn, **params):
        params = {"now": NOW, "pause_ms": 0, **params}
        ctx = make_context(conn, fn.spec, params)
        t = time.perf_counter()
        result = fn(ctx)
        dt = time.perf_counter() - t
        return dt, result, ctx

    dt, res, _ = run(matching.build_user_traits)
    print(f"build-user-traits   {dt:8.2f} s   {res['users']} profiles   peak {peak_mb():.0f} MB")

    extra = {"top_k": args.top_k}
    if args.batch_size:
        extra["batch_size"] = args.batch_size
    if args.max_distance_km is not None:
        extra["max_distance_km"] = args.max_distance_km
    dt, res, ctx = run(matching.match_scores, **extra)
    pairs = res["pairs_scored"]
    logs = "; ".join(m for _, m in ctx.reporter.logs)
    print(f"match-scores        {dt:8.2f} s   {pairs:,} pairs scored ({pairs / dt / 1e6:.1f} M pairs/s overall)   "
          f"{res['rows']:,} rows   peak {peak_mb():.0f} MB")
    print(f"   {logs}")

    # the floor: the same tiles' matrix products, numpy alone
    t = time.perf_counter()
    users, inp = matching.load_engine_input(conn, ctx.now.date(), with_coordinates=args.max_distance_km is not None,
                                            need_traits=True)
    load_s = time.perf_counter() - t
    engine = TopKEngine(inp, weights=(0.6, 0.2, 0.2), top_k=args.top_k, max_distance_km=args.max_distance_km,
                        block_size=ctx.batch_size)
    tiles = engine.tiles()
    floor_seq = matrix_products_floor(engine, tiles)
    floor_par = matrix_products_floor(engine, tiles, workers=engine.workers)
    floor = min(floor_seq, floor_par)
    t = time.perf_counter()
    engine.run(tiles=tiles)
    compute = time.perf_counter() - t
    print(f"   load {load_s:.2f} s; engine compute {compute:.2f} s ({pairs / compute / 1e6:.1f} M pairs/s); "
          f"matrix-product floor {floor:.2f} s (numpy default threads {floor_seq:.2f} s, "
          f"{engine.workers} threads x 1 BLAS thread {floor_par:.2f} s)")
    print(f"   ratio to floor: whole job {dt / floor:.2f}x, scoring phase {compute / floor:.2f}x")

    if not args.no_compat:
        dt, res, _ = run(matching.compatibility)
        print(f"compatibility       {dt:8.2f} s   {res['reports']:,} report rows for {res['matches']:,} matches "
              f"({res['reports'] / dt / 1e3:.0f} k rows/s)   peak {peak_mb():.0f} MB")
    conn.close()


if __name__ == "__main__":
    main()
