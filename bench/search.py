"""Benchmark of the search group: each job's time, then the latency of 1,000 searches.

    .venv/bin/python bench/search.py --users 10000
    .venv/bin/python bench/search.py --users 100000 [--searches 1000] [--synthetic]

The platform comes from `jobctl.demo.build_demo` (cached under bench/out/ by user count); with
--synthetic (or when the demo builder is not available) a quick synthetic platform with the same
shape is generated instead. Figures: wall time per job, rows/s, peak RSS (ru_maxrss), and the
median / p95 / p99 / max latency (wall clock, and CPU time, which other processes on a busy
machine cannot inflate) of searches drawn from the platform's own names, cities, interests and bio
words (single words, two words, name prefixes, a few bio phrases and hostile strings), per kind.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobctl.jobs.search import query as searching  # noqa: E402
from jobctl.context import make_context  # noqa: E402
from jobctl.db import connect  # noqa: E402
from jobctl.jobs import search  # noqa: E402
from jobctl.schema import create_platform  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
NOW = "2026-11-29T03:00:00Z"
FIRST = ["Anna", "Zoë", "Léa", "Søren", "Łukasz", "José", "Maria", "Chloé", "Björn", "Mehmet", "Aisha", "Jan",
         "Noah", "Emma", "Mia", "Lucas", "Sofia", "Mateo", "Olivia", "Liam", "Yuki", "Priya", "Omar", "Ines",
         "Hugo", "Nora", "Elif", "Kai", "Lena", "Tomás", "Amélie", "Jürgen", "Ana", "Ivan", "Chen", "Fatima"]
LAST = ["Müller", "Smith", "García", "Nowak", "Dubois", "Rossi", "Jensen", "Yılmaz", "Novák", "Silva",
        "Kowalski", "Schmidt", "Martin", "López", "Bernard", "Petrov", "Andersen", "Costa", "Weiß", "Öztürk"]
CITIES = [("Berlin", "DE"), ("München", "DE"), ("Paris", "FR"), ("Lyon", "FR"), ("Kraków", "PL"),
          ("Zürich", "CH"), ("Madrid", "ES"), ("São Paulo", "BR"), ("İstanbul", "TR"), ("København", "DK"),
          ("London", "GB"), ("New York", "US"), ("Toronto", "CA"), ("Wien", "AT"), ("Praha", "CZ")]
INTERESTS = ["hiking", "yoga", "meditation", "board games", "photography", "cooking", "travel", "running",
             "climbing", "jazz", "techno", "reading", "poetry", "painting", "cycling", "surfing", "chess",
             "gardening", "wine", "coffee", "dogs", "cats", "film", "theatre", "dancing", "skiing", "tennis",
             "football", "baking", "languages", "history", "science", "astronomy", "gaming", "anime", "fashion",
             "design", "architecture", "volunteering", "camping", "fishing", "sailing", "kayaking", "swimming",
             "pilates", "crossfit", "vegan food", "street food", "craft beer", "karaoke"]
WORDS = ("love adventure weekend coffee sunsets mountains honest kind curious laughing dogs music books "
         "travelling cooking slow mornings long walks good conversation family friends art museums beach "
         "festival city nature spontaneous loyal creative ambitious calm funny nerdy sporty foodie bakery "
         "sunday brunch road trip concerts vinyl podcasts garden plants ocean").split()


def synthetic_platform(db: Path, users: int, seed: int = 42) -> None:
    """A platform with the demo's shape, fast: users, interests (skewed popularity), bios."""
    rng = random.Random(seed)
    conn = connect(db)
    create_platform(conn)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO interests (id, name) VALUES (?, ?)", list(enumerate(INTERESTS, 1)))
    weights = [1 / (k + 1) ** 0.7 for k in range(len(INTERESTS))]
    rows, likes = [], []
    for uid in range(1, users + 1):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        bio = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
        if rng.random() < 0.03:
            bio += f" mail me at {f.lower()}{uid}@example.com or +49 30 {rng.randint(1000000, 9999999)}"
        vis = rng.choices(["public", "members", "hidden"], [85, 12, 3])[0]
        deleted = "2026-10-01T00:00:00Z" if rng.random() < 0.02 else None
        rows.append((uid, f"{f.lower()}{uid}", f"{f} {l}", f"{f.lower()}.{uid}@mail.example",
                     f"{rng.randint(1950, 2007)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                     rng.choice(["woman", "man", "nonbinary"]), "man,woman", city, country,
                     round(rng.uniform(-60, 60), 5), round(rng.uniform(-120, 120), 5), bio, vis,
                     "2025-01-01T00:00:00Z", NOW, deleted))
        for i in set(rng.choices(range(1, len(INTERESTS) + 1), weights, k=rng.randint(0, 9))):
            likes.append((uid, i))
    conn.executemany("""INSERT INTO users (id, username, display_name, email, birthdate, gender, seeking, city,
                        country, latitude, longitude, bio, visibility, created_at, last_active_at, deleted_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
    conn.executemany("INSERT INTO user_interests (user_id, interest_id) VALUES (?, ?)", likes)
    conn.execute("COMMIT")
    conn.close()


def platform_db(users: int, synthetic: bool) -> tuple[Path, str]:
    OUT.mkdir(exist_ok=True)
    if not synthetic:
        try:
            from jobctl.demo import build_demo
        except ImportError:
            print("jobctl.demo.build_demo not available: using a synthetic platform", file=sys.stderr)
            synthetic = True
    kind = "synthetic" if synthetic else "demo"
    cached = OUT / f"search-{kind}-{users}.db"          # own prefix: other benches share bench/out
    if not cached.exists():
        t = time.perf_counter()
        tmp = OUT / f"search-{kind}-{users}.building.db"
        for extra in ("", "-wal", "-shm"):
            Path(f"{tmp}{extra}").unlink(missing_ok=True)
        if synthetic:
            synthetic_platform(tmp, users)
        else:
            build_demo(tmp, OUT / f"search-media-{users}", users, seed=42)
        c = connect(tmp)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.close()
        tmp.rename(cached)
        print(f"built {kind} platform with {users:,} users in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    work = OUT / f"search-{kind}-{users}.work.db"
    for extra in ("", "-wal", "-shm"):
        Path(f"{work}{extra}").unlink(missing_ok=True)
    shutil.copyfile(cached, work)
    return work, kind


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_jobs(conn) -> dict[str, float]:
    times = {}
    for fn in (search.searchable_user, search.user_interest_sets, search.profile_search_index,
               search.interest_relationships):
        params = {"now": NOW} if fn.spec.uses_now else {}
        params["pause_ms"] = fn.spec.param("pause_ms").default        # as operators run it
        ctx = make_context(conn, fn.spec, params)
        t = time.perf_counter()
        result = fn(ctx)
        dt = time.perf_counter() - t
        times[fn.spec.name] = dt
        n = ctx.done or 0
        print(f"  {fn.spec.name:<24} {dt:8.2f} s  {n / dt if dt else 0:>10,.0f} rows/s  "
              f"peak RSS {peak_mb():7.0f} MB  {result}")
    return times


def queries(conn, n: int, seed: int = 1) -> list[tuple[str, str]]:
    """(kind, text) pairs: what people type into a profile search, drawn from the platform."""
    rng = random.Random(seed)
    names = [r[0] for r in conn.execute("SELECT display_name FROM searchable_users ORDER BY random() LIMIT 2000")]
    cities = [r[0] for r in conn.execute("SELECT DISTINCT city FROM searchable_users WHERE city IS NOT NULL")]
    interests = [r[0] for r in conn.execute("SELECT name FROM interests")]
    bios = [r[0].split() for r in conn.execute("SELECT bio FROM searchable_users ORDER BY random() LIMIT 500")]
    bios = [b for b in bios if len(b) > 2] or [["good", "coffee", "here"]]
    hostile = ['"', "NEAR(", '"*"', "-x", "a AND", "x' OR 1=1 --", "(((", "name:anna", "^", "*"]
    mix = [(.30, "full name", lambda: rng.choice(names)),
           (.15, "first name", lambda: rng.choice(names).split()[0]),
           (.10, "name prefix", lambda: (lambda w: w[:rng.randint(2, max(2, len(w) - 1))])(
               rng.choice(names).split()[0])),
           (.10, "city", lambda: rng.choice(cities)),
           (.10, "interest", lambda: rng.choice(interests)),
           (.09, "bio word", lambda: rng.choice(rng.choice(bios))),
           (.10, "interest + city", lambda: f"{rng.choice(interests)} {rng.choice(cities)}"),
           (.01, "bio phrase", lambda: (lambda b: " ".join(b[(i := rng.randrange(len(b) - 1)):i + 2]))(
               rng.choice(bios))),
           (.05, "hostile", lambda: rng.choice(hostile))]
    weights = [m[0] for m in mix]
    return [(kind, make()) for _w, kind, make in rng.choices(mix, weights, k=n)]


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(conn, qs: list[tuple[str, str]]) -> None:
    for _kind, q in qs[:50]:                                               # warm the page cache
        searching.search_profiles(conn, q)
    wall, cpu, kinds, hits = [], [], {}, 0
    for kind, q in qs:
        t, c = time.perf_counter(), time.process_time()
        rows = searching.search_profiles(conn, q, limit=20)
        w = (time.perf_counter() - t) * 1000
        wall.append(w)
        cpu.append((time.process_time() - c) * 1000)
        kinds.setdefault(kind, []).append(w)
        hits += bool(rows)
    print(f"  {len(qs)} searches (limit 20), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
    print(f"    wall: median {statistics.median(wall):.2f} ms, p95 {_pct(wall, 95):.2f} ms, "
          f"p99 {_pct(wall, 99):.2f} ms, max {max(wall):.2f} ms; {hits} with results")
    print(f"    cpu:  median {statistics.median(cpu):.2f} ms, p95 {_pct(cpu, 95):.2f} ms, "
          f"p99 {_pct(cpu, 99):.2f} ms, max {max(cpu):.2f} ms (time actually spent searching)")
    for kind, ms in kinds.items():
        print(f"    {kind:<16} n={len(ms):<4} median {statistics.median(ms):6.2f} ms  max {max(ms):6.2f} ms")
    worst = sorted(zip(wall, (q for _k, q in qs)), reverse=True)[:5]
    print("    slowest: " + ", ".join(f"{q!r} {m:.1f} ms" for m, q in worst))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--searches", type=int, default=1000)
    ap.add_argument("--synthetic", action="store_true", help="generate a quick synthetic platform")
    args = ap.parse_args()
    db, kind = platform_db(args.users, args.synthetic)
    print(f"search group on a {kind} platform of {args.users:,} users; {os.cpu_count()} cores")
    conn = connect(db)
    t = time.perf_counter()
    times = run_jobs(conn)
    print(f"  total {time.perf_counter() - t:.2f} s; slowest job {max(times, key=times.get)} "
          f"{max(times.values()):.2f} s")
    size = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'profile_search%'").fetchone()[0]
    print(f"  index size {size / 2**20:.1f} MB")
    reader = connect(db, readonly=True)
    latency(reader, queries(reader, args.searches))
    reader.close()
    conn.close()


if __name__ == "__main__":
    main()
