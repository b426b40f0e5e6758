"""Time ``jobctl demo``: .venv/bin/python bench/demo.py [--users N] [--seed S] [--keep DIR]

Builds a demo platform into a temporary folder (or --keep DIR), then prints the wall time,
the row count of every table and the size of the media root.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobctl.demo import build_demo  # noqa: E402
from floors import print_floors  # noqa: E402  (bench/floors.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--now", default="2026-11-29T03:00:00Z")
    ap.add_argument("--keep", type=Path, help="build into this folder and keep the result")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args()
    print_floors()  # the same run's floors, so figures compare across machines
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(timezone.utc)

    with tempfile.TemporaryDirectory(prefix="jobctl-demo-bench-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        db, media = out / "platform.db", out / "media"
        start = time.perf_counter()

        def progress(message: str) -> None:
            if not args.quiet:
                print(f"  {time.perf_counter() - start:7.1f}s  {message}", file=sys.stderr, flush=True)

        counts = build_demo(db, media, args.users, seed=args.seed, now=now, force=True, progress=progress)
        wall = time.perf_counter() - start
        on_disk = sum(p.stat().st_size for p in media.rglob("*") if p.is_file())
        print(f"jobctl demo --users {args.users:,} --seed {args.seed}: {wall:.1f} s wall")
        for table, count in counts.items():
            if table not in ("media_files", "media_bytes"):
                print(f"  {table:<16} {count:>12,}")
        print(f"  {'media files':<16} {counts['media_files']:>12,}")
        print(f"  {'media bytes':<16} {counts['media_bytes']:>12,}  ({counts['media_bytes'] / 1e6:.1f} MB;"
              f" {on_disk / 1e6:.1f} MB on disk under {media.name}/)")
        print(f"  {'database bytes':<16} {db.stat().st_size:>12,}  ({db.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
