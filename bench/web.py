"""The admin panel's speed: page server time over a 100,000-job ledger, and API latency under load.

Part 1 (--jobs N, default 100,000): a ledger filled with N finished jobs (statuses, names, errors,
results and log lines like a real history) and a small demo platform; each page is requested
--repeat times in-process through the ASGI app (Starlette's TestClient: no network, so the time is
the server's own plus a constant client overhead) and p50/p99 are printed. Target: p99 < 50 ms.

Part 2 (--concurrent-users U, 0 to skip): `jobctl serve` on a socket over a U-user demo platform,
`jobctl enqueue --all --wait` running beside it, and 20 client threads hammering the JSON API
(history, one job, status of the batch) until the pipeline ends. p50/p99/max and errors are printed.
Target: p99 < 200 ms, no errors.

    .venv/bin/python bench/web.py                          # part 1 only
    .venv/bin/python bench/web.py --concurrent-users 2000  # and part 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TOKEN = "bench-token"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def fill_ledger(path: Path, n: int) -> None:
    """N finished jobs in batches of 16, with errors, results and three log lines each."""
    from jobctl.ledger import Ledger
    from jobctl.registry import load_catalogue
    groups = {s.name: s.group for s in load_catalogue().all()}
    order = list(groups)  # catalogue order
    led = Ledger(path)
    rng = random.Random(7)
    c = led.conn
    c.execute("BEGIN")
    jobs, events = [], []
    for i in range(1, n + 1):
        name = order[i % len(order)]
        status = rng.choices(["success", "failed", "cancelled"], [90, 7, 3])[0]
        t0 = f"2026-{1 + (i * 11 // n):02d}-{1 + i % 28:02d}T03:{i % 60:02d}:00.000Z"
        t1 = t0.replace(":00.000Z", ":42.000Z")
        err = None if status == "success" else f"{name}: database is locked (attempt {i % 3})"
        jobs.append((i, name, groups[name], json.dumps({"batch_size": 1000, "pause_ms": 5}),
                     '{"batch_size":1000,"pause_ms":5}', 1 + i // 16, i % 16, status, "cron", t0, t0, t1, t1,
                     1000, 1000, json.dumps({"rows": i}) if status == "success" else None, err, err, 1))
        events += [(i, t0, "info", "queued (cron)"), (i, t0, "info", "started by pid 1"), (i, t1, "info", status)]
    c.executemany("INSERT INTO batches (id, created_at, trigger, request) VALUES (?, ?, 'cron', '{}')",
                  [(b, "2026-01-01T03:00:00.000Z") for b in range(1, n // 16 + 2)])
    c.executemany("INSERT INTO jobs (id, name, grp, params, params_key, batch_id, position, status, trigger, created_at, "
                  "started_at, finished_at, heartbeat_at, progress_done, progress_total, result, error, traceback, "
                  "attempt) VALUES (" + ",".join("?" * 19) + ")", jobs)
    c.executemany("INSERT INTO events (job_id, at, level, message) VALUES (?,?,?,?)", events)
    c.execute("COMMIT")
    led.close()


def part1(n: int, repeat: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from jobctl.actions import Settings
    from jobctl.web.site import create_app
    work = OUT / f"web-{n}"
    if not (work / "ledger.db").exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "jobctl.cli", "--db", str(work / "platform.db"), "--media-root",
                        str(work / "media"), "demo", "--users", "100"], check=True, capture_output=True)
        t = time.perf_counter()
        fill_ledger(work / "ledger.db", n)
        print(f"filled a ledger with {n:,} jobs in {time.perf_counter() - t:.1f} s")
    settings = Settings(db=work / "platform.db", ledger_path=work / "ledger.db", media_root=work / "media")
    client = TestClient(create_app(settings, TOKEN), base_url="http://127.0.0.1")
    client.post("/admin/login", data={"token": TOKEN})
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    pages = {
        "panel (/admin/jobs)": ("/admin/jobs", {}),
        "history page 1,000 deep": (f"/admin/jobs?before_id={n - 50_000}", {}),
        "history filtered (failed, one job)": ("/admin/jobs?status=failed&job=trending", {}),
        "history filtered (group)": ("/admin/jobs?group=quiz", {}),
        "job page": (f"/admin/jobs/{n // 2}", {}),
        "live refresh (/admin/live)": ("/admin/live?ids=" + ",".join(str(n - i) for i in range(50)), {}),
        "GET /api/jobs?limit=50": ("/api/jobs?limit=50", bearer),
        "GET /api/jobs before_id deep": (f"/api/jobs?limit=50&before_id={n // 10}", bearer),
        "GET /api/jobs/{id}": (f"/api/jobs/{n // 3}", bearer),
        "GET /metrics": ("/metrics", bearer),
    }
    results = {}
    for label, (path, headers) in pages.items():
        for _ in range(3):
            assert client.get(path, headers=headers).status_code == 200, path
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get(path, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        results[label] = (statistics.median(times), pct(times, 99))
        print(f"{label:40s} p50 {results[label][0]:6.1f} ms   p99 {results[label][1]:6.1f} ms")
    client.close()
    return results


def part2(users: int, clients: int) -> None:
    import httpx
    sys.path.insert(0, str(ROOT / "tests" / "web"))
    from servers import Server, jobctl_env
    work = OUT / f"web-load-{users}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = [sys.executable, "-m", "jobctl.cli", "--db", str(work / "platform.db"), "--ledger", str(work / "ledger.db"),
            "--media-root", str(work / "media")]
    t = time.perf_counter()
    subprocess.run(base + ["demo", "--users", str(users)], check=True, capture_output=True, env=jobctl_env(plugins=""))
    print(f"demo --users {users:,}: {time.perf_counter() - t:.0f} s")
    srv = Server(work / "platform.db", work / "ledger.db", work / "media", token=TOKEN, args=["--no-worker"],
                 env={"JOBCTL_PLUGINS": ""})
    pipeline = subprocess.Popen(base + ["enqueue", "--all", "--wait"], env=jobctl_env(plugins=""),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not srv.api("GET", "/api/jobs?limit=1").json():  # /api/jobs/1 must exist before it is asked for
        time.sleep(0.05)
    lat, errors, stop = [], [], threading.Event()
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
            i = 0
            while not stop.is_set():
                path = ("/api/jobs?limit=50", "/api/jobs/1", "/api/stalled", "/api/catalogue")[(i + k) % 4]
                t = time.perf_counter()
                try:
                    r = c.get(path)
                    ok = r.status_code == 200
                except httpx.HTTPError as exc:
                    ok, r = False, exc
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    if not ok:
                        errors.append(str(r))
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    rc = pipeline.wait()
    stop.set()
    for t in threads:
        t.join()
    srv.stop()
    print(f"{users:,} users: enqueue --all --wait exit {rc} in {time.perf_counter() - t0:.1f} s; {clients} clients made "
          f"{len(lat):,} API requests: p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
          f"max {max(lat):.1f} ms, errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--concurrent-users", type=int, default=0)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--skip-pages", action="store_true", help="only part 2")
    a = ap.parse_args()
    print(f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    if not a.skip_pages:
        part1(a.jobs, a.repeat)
    if a.concurrent_users:
        part2(a.concurrent_users, a.clients)


if __name__ == "__main__":
    main()
