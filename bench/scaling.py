"""The cost curve: every job at several sizes, each job's growth exponent, and 1,000,000 users projected.

    nice .venv/bin/python bench/scaling.py --users 10000 30000 100000 [300000] --json bench/out/scaling.json

For each size: a demo platform (`jobctl demo`, cached in bench/out/scaling-<N>/), then every job of
`enqueue --all` in dependency order, each as `jobctl run JOB` in a process of its own (so its peak
memory, ru_maxrss from wait4, is the job's alone), wall seconds and CPU seconds per job. Then per job (its own
seconds from the ledger record, CPU seconds of its process including ~1 s of start-up) a least-squares fit of log(seconds) against log(users) gives the exponent b of t ≈ a·n^b (n·log n shows
as b a little above 1 over this range), and the fit projects 1,000,000 users: the sum says whether one
machine of this size runs all jobs in a night (8 h), beside the guide's "Very Large" row (2–6 h per job).
Floors (bench/floors.py) are measured at the start and after each size, so seconds can be read as
ratios to them. CPU seconds less the CLI's start-up (`jobctl --help`, measured per size) are fitted
as well as the job's own wall seconds. On a shared machine wall seconds are pessimistic: CPU seconds are printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from floors import measure, print_floors  # noqa: E402  (bench/floors.py)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
JOBCTL = [sys.executable, "-m", "jobctl.cli"]
NOW = "2026-11-29T03:00:00Z"
NIGHT_S = 8 * 3600
PAIRWISE = {"match-scores", "compatibility"}
#: forks argv[2:], waits, writes "<cpu seconds> <peak RSS KB>" of that child alone to argv[1], exits with its code
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write(f"{ru.ru_utime + ru.ru_stime} {ru.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def job_order() -> list[tuple[str, bool]]:
    """(name, uses_now) of every job of enqueue --all, in dependency order."""
    from jobctl.graph import resolve
    from jobctl.registry import load_catalogue
    return [(s.name, bool(s.uses_now)) for s in resolve(load_catalogue(), all_jobs=True)]


def ledger_seconds(stdout: str) -> float | None:
    """The job's own duration, from the ledger record `run --json` prints (no process start-up)."""
    from datetime import datetime
    try:
        rec = json.loads(stdout[:stdout.rindex("}") + 1])
        a, b = (datetime.fromisoformat(rec[k].replace("Z", "+00:00")) for k in ("started_at", "finished_at"))
        return (b - a).total_seconds()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def run_size(users: int, seed: int, jobs: list[tuple[str, bool]]) -> dict:
    work = OUT / f"scaling-{users}"
    env = dict(os.environ, JOBCTL_DB=str(work / "platform.db"), JOBCTL_LEDGER=str(work / "ledger.db"),
               JOBCTL_MEDIA_ROOT=str(work / "media"), PYTHONPATH=str(ROOT))
    demo_s = None
    if not (work / "READY").exists():
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        t0 = time.perf_counter()
        subprocess.run([*JOBCTL, "demo", "--users", str(users), "--seed", str(seed)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        demo_s = time.perf_counter() - t0
        (work / "READY").write_text("ok\n")
    out = {"users": users, "demo_s": demo_s, "jobs": {}, "startup_cpu_s": startup_cpu_s(work, env)}
    for name, uses_now in jobs:
        t0 = time.perf_counter()
        # through a small launcher that forks the job and reports the job's own ru_maxrss: Linux carries
        # the forking process's peak RSS over exec, so a job started straight from this (bigger)
        # process would report at least this process's size
        cmd = [*JOBCTL, "run", name, *(["-p", f"now={NOW}"] if uses_now else []), "--json"]
        peak_file = work / "peak.txt"
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(peak_file), *cmd], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout_b, stderr_b = proc.communicate()
        status = proc.returncode
        wall = time.perf_counter() - t0
        stdout = stdout_b.decode(errors="replace")
        stderr = stderr_b.decode(errors="replace")
        code = status
        cpu_s, peak_kb = (float(x) for x in peak_file.read_text().split())
        own = ledger_seconds(stdout)
        out["jobs"][name] = {"s": own, "process_s": wall, "cpu_s": cpu_s, "peak_mb": peak_kb / 1024, "exit": code}
        mark = "" if code == 0 else f"  EXIT {code}: {(stderr or stdout).strip().splitlines()[-1:]}"
        print(f"   {users:>8,} {name:<24} {own or float('nan'):8.1f} s job {wall:8.1f} s process "
              f"{cpu_s:8.1f} s cpu {peak_kb / 1024:7.0f} MB{mark}", flush=True)
    out["floors_after"] = measure()
    return out


def startup_cpu_s(work: Path, env: dict) -> float:
    """CPU seconds of starting the CLI and doing nothing (`jobctl --help`), subtracted from each job's CPU
    before fitting, so that small jobs' exponents are not flattened by the interpreter's start-up."""
    best = float("inf")
    for _ in range(3):
        subprocess.run([sys.executable, "-c", LAUNCHER, str(work / "peak.txt"), *JOBCTL, "--help"], env=env,
                       capture_output=True)
        best = min(best, float((work / "peak.txt").read_text().split()[0]))
    return best


def fit(ns: list[int], ts: list[float]) -> tuple[float, float] | None:
    """(a, b) of t = a·n^b by least squares in log-log space; None with fewer than two usable points."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts) if t and t > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    return math.exp(my - b * mx), b


def report(sizes: list[dict], jobs: list[str], target: int = 1_000_000) -> dict:
    ns = [s["users"] for s in sizes]
    # n·log n over this range, as an exponent: what "no faster than n log n" allows (plus noise)
    nlogn_b = fit(ns, [n * math.log(n) for n in ns])[1] if len(ns) > 1 else 1.0
    print(f"\ngrowth t ≈ a·n^b per job (n·log n would be b ≈ {nlogn_b:.2f} over {ns[0]:,}–{ns[-1]:,}); "
          f"projection to {target:,} users from the fit (wall and CPU)")
    head = " ".join(f"{n // 1000:>7}k" for n in ns)
    print(f"   {'job':<24} {head}   {'b wall':>6} {'b cpu':>6} {'1M wall':>9} {'1M cpu':>9} {'peak MB':>8}")
    total_wall = total_cpu = 0.0
    rows = {}
    for name, _ in jobs:
        wall = [s["jobs"].get(name, {}).get("s") for s in sizes]
        cpu = [max(0.01, s["jobs"][name]["cpu_s"] - s["startup_cpu_s"]) if name in s["jobs"] else None
               for s in sizes]
        fw, fc = fit(ns, wall), fit(ns, cpu)
        pw = fw[0] * target ** fw[1] if fw else float("nan")
        pc = fc[0] * target ** fc[1] if fc else float("nan")
        total_wall += pw if fw else 0.0
        total_cpu += pc if fc else 0.0
        peak = max((s["jobs"].get(name, {}).get("peak_mb") or 0) for s in sizes)
        flag = ""
        if fc and name not in PAIRWISE and fc[1] > nlogn_b + 0.15:
            flag = "  > n log n"
        rows[name] = {"wall_exponent": fw and fw[1], "cpu_exponent": fc and fc[1], "projected_wall_s": pw,
                      "projected_cpu_s": pc, "peak_mb": peak}
        cells = " ".join(f"{w:8.1f}" if w is not None else f"{'-':>8}" for w in wall)
        print(f"   {name:<24} {cells}   {fw[1] if fw else float('nan'):6.2f} {fc[1] if fc else float('nan'):6.2f} "
              f"{pw:9.0f} {pc:9.0f} {peak:8.0f}{flag}")
    print(f"   all jobs at {target:,} users, projected: {total_wall / 3600:.1f} h wall, {total_cpu / 3600:.1f} h CPU "
          f"— {'fits' if total_wall <= NIGHT_S else 'does NOT fit'} in an 8 h night on one machine of this size "
          f"({os.cpu_count()} cores); the guide's Very Large row promises 2–6 h per job")
    return {"exponents": rows, "projected_total_wall_s": total_wall, "projected_total_cpu_s": total_cpu,
            "nlogn_exponent": nlogn_b}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", nargs="*", help="only these jobs (default: every job of enqueue --all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    floors = print_floors()
    print(f"scaling: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}, sizes {args.users}", flush=True)
    jobs = job_order()
    if args.jobs:
        jobs = [j for j in jobs if j[0] in args.jobs]
    sizes = []
    for n in sorted(args.users):
        sizes.append(run_size(n, args.seed, jobs))
        f = sizes[-1]["floors_after"]
        print(f"   floors after {n:,}: insert {f['insert_rows_per_s']:,.0f} rows/s · matmul "
              f"{f['matmul_gflops']:.0f} GFLOPS · python {f['python_mloops_per_s']:.1f} M loops/s", flush=True)
        if args.json:
            args.json.write_text(json.dumps({"floors": floors, "sizes": sizes}, indent=1))
    summary = report(sizes, jobs)
    if args.json:
        args.json.write_text(json.dumps({"floors": floors, "sizes": sizes, "summary": summary,
                                         "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}, indent=1))


if __name__ == "__main__":
    main()
