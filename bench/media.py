"""Benchmark: media-metadata-batch throughput (media files per second) on a demo platform.

    .venv/bin/python bench/media.py --users 10000
    .venv/bin/python bench/media.py --users 100000

The demo platform (``jobctl.demo.build_demo``) is built once per user count and seed and cached
under ``bench/out/``; each run works on a copy of its database (the media root is only read),
so the cached platform stays as built. ``--synthetic`` skips the demo and builds a quick stand-in:
about 1.2 media rows per user, hard links into a pool of real files of every kind (photos with
EXIF rotation, PNGs, animated GIFs, H.264 MP4s, WAVs and a few damaged files).

Prints the platform's media mix, the batch's wall time, files per second, the per-kind cost of
one probe, and the peak memory (ru_maxrss) of this process.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import time
import wave
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobctl.context import make_context  # noqa: E402
from jobctl.db import connect  # noqa: E402
from jobctl.jobs import media  # noqa: E402
from jobctl.jobs.media.probing import probe  # noqa: E402
from jobctl.timeutil import parse_ts  # noqa: E402

OUT = ROOT / "bench" / "out"
NOW = "2026-11-29T03:00:00Z"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true", help="skip the demo builder, use a quick stand-in")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached platform")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    kind = "synthetic" if args.synthetic else "demo"
    db, media_root = OUT / f"{kind}-{args.users}-s{args.seed}.db", OUT / f"{kind}-{args.users}-s{args.seed}-media"
    t0 = time.perf_counter()
    if args.rebuild or not db.exists():
        for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(media_root, ignore_errors=True)
        if args.synthetic:
            build_synthetic(db, media_root, args.users, args.seed)
        else:
            from jobctl.demo import build_demo
            build_demo(db, media_root, args.users, seed=args.seed, now=parse_ts(NOW), force=True)
        print(f"built {kind} platform for {args.users} users in {time.perf_counter() - t0:.1f}s")
    work = OUT / f"media-work-{kind}-{args.users}.db"
    checkpoint_copy(db, work)

    conn = connect(work)
    mix = Counter(k for (k,) in conn.execute("SELECT kind FROM media"))
    print(f"platform: {args.users} users, {sum(mix.values())} media rows {dict(mix)}; cores: {os.cpu_count()}")

    per_kind = probe_costs(conn, media_root)
    for k, (n, secs) in sorted(per_kind.items()):
        print(f"  probe {k:5s}: {secs / n * 1000:7.2f} ms CPU per file over {n} files")

    ctx = make_context(conn, media.media_metadata_batch.spec,
                       {"now": NOW, "full": True, "batch_size": args.batch_size}, media_root=media_root)
    t, cpu = time.perf_counter(), cpu_seconds()
    result = media.media_metadata_batch(ctx)
    secs, cpu = time.perf_counter() - t, cpu_seconds() - cpu
    n = result["processed"] + result["skipped"]
    print(f"media-metadata-batch full=true: {n} files in {secs:.2f}s wall = {n / secs:,.0f} files/s; "
          f"{cpu:.2f}s CPU = {n / cpu:,.0f} files per CPU-second "
          f"(ok {result['ok']}, failed {result['failed']}, skipped {result['skipped']}; "
          f"batch_size {args.batch_size}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    t = time.perf_counter()
    again = media.media_metadata_batch(make_context(conn, media.media_metadata_batch.spec,
                                                    {"now": NOW}, media_root=media_root))
    print(f"media-metadata-batch incremental re-run: {again['processed']} files in {time.perf_counter() - t:.2f}s")
    print(f"peak memory (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    conn.close()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def checkpoint_copy(src: Path, dst: Path) -> None:
    """A private copy of the cached platform (its WAL folded in first)."""
    c = connect(src)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    for stale in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(src, dst)


def probe_costs(conn, media_root: Path, per_kind: int = 200) -> dict[str, tuple[int, float]]:
    root = os.path.realpath(media_root)
    out = {}
    for kind in ("image", "video", "audio"):
        rows = conn.execute("SELECT path FROM media WHERE kind = ? ORDER BY id LIMIT ?", (kind, per_kind)).fetchall()
        if not rows:
            continue
        t = cpu_seconds()
        for (path,) in rows:
            try:
                probe(root, path, kind)
            except Exception:
                pass
        out[kind] = (len(rows), cpu_seconds() - t)
    return out


# -- a quick stand-in platform ---------------------------------------------------------------------

def build_synthetic(db: Path, media_root: Path, users: int, seed: int) -> None:
    import numpy as np
    from PIL import ExifTags, Image

    from jobctl.schema import create_platform

    rng = np.random.default_rng(seed)
    pool_dir = media_root / "_pool"
    pool_dir.mkdir(parents=True)
    pool: list[tuple[str, str]] = []  # (file name in the pool, kind)

    def add(name: str, kind: str, data: bytes) -> None:
        (pool_dir / name).write_bytes(data)
        pool.append((name, kind))

    for i in range(40):  # photos 480..1280 px, a third rotated by EXIF
        w, h = int(rng.integers(480, 1281)), int(rng.integers(480, 1281))
        arr = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(arr).resize((w, h), Image.BILINEAR)
        exif = Image.Exif()
        if i % 3 == 0:
            exif[ExifTags.Base.Orientation] = 6
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85, exif=exif)
        add(f"photo{i}.jpg", "image", buf.getvalue())
    for i in range(6):
        buf = io.BytesIO()
        Image.fromarray((rng.random((60, 80, 3)) * 255).astype(np.uint8)).resize((640, 480)).save(buf, "PNG")
        add(f"shot{i}.png", "image", buf.getvalue())
    for i in range(3):
        frames = [Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).resize((320, 240))
                  for _ in range(12)]
        buf = io.BytesIO()
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
        add(f"anim{i}.gif", "image", buf.getvalue())
    for i in range(4):
        add(f"clip{i}.mp4", "video", mp4_bytes(rng, seconds=2 + i))
    for i in range(3):
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
            w.writeframes((rng.random(22050 * (3 + i)) * 2000).astype(np.int16).tobytes())
        add(f"voice{i}.wav", "audio", buf.getvalue())
    good_jpeg = (pool_dir / "photo1.jpg").read_bytes()
    add("cut.jpg", "image", good_jpeg[: len(good_jpeg) // 2])
    add("fake.mp4", "video", b"not a video\n" * 10)
    add("empty.jpg", "image", b"")

    weights = np.array([30 if k == "image" else 6 if k == "video" else 4 for _, k in pool], float)
    weights[-3:] = 0.5  # a few damaged files
    n = int(users * 1.2)
    picks = rng.choice(len(pool), size=n, p=weights / weights.sum())
    conn = connect(db)
    create_platform(conn)
    rows = []
    for i, pick in enumerate(picks, start=1):
        name, kind = pool[pick]
        rel = f"u{i % 997}/{i}{Path(name).suffix}"
        dst = media_root / rel
        dst.parent.mkdir(exist_ok=True)
        os.link(pool_dir / name, dst)
        rows.append((i, 1 + i % users, rel, kind, "2026-01-01T00:00:00Z"))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO media (id, owner_id, path, kind, created_at) VALUES (?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    conn.close()


def mp4_bytes(rng, seconds: int) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    out = av.open(buf, "w", format="mp4")
    s = out.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
    a = out.add_stream("aac", rate=44100)
    for i in range(25 * seconds):
        frame = av.VideoFrame.from_ndarray((rng.random((360, 640, 3)) * 40 + i).astype(np.uint8), format="rgb24")
        for p in s.encode(frame):
            out.mux(p)
    samples = np.zeros((1, 1024), np.float32)
    for i in range(44100 * seconds // 1024):
        af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        af.sample_rate, af.pts = 44100, i * 1024
        for p in a.encode(af):
            out.mux(p)
    for st in (s, a):
        for p in st.encode():
            out.mux(p)
    out.close()
    return buf.getvalue()


if __name__ == "__main__":
    main()
