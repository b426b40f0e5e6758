"""The engine as operators and cron meet it: real `jobctl` processes, signals, several workers."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def jobctl_env(env, **extra):
    e = dict(os.environ)
    e.update(env.env)
    e["JOBCTL_PLUGINS"] = "toyjobs"
    e["PYTHONPATH"] = os.pathsep.join([str(TESTS), e.get("PYTHONPATH", "")])
    e["JOBCTL_HEARTBEAT_S"] = "0.2"
    e["JOBCTL_BUILTIN_JOBS"] = "0"
    e.update(extra)
    return e


def jobctl(env, *args, timeout=60, **extra):
    return subprocess.run([sys.executable, "-m", "jobctl.cli", *args], env=jobctl_env(env, **extra),
                          capture_output=True, text=True, timeout=timeout)


def spawn(env, *args, **extra):
    return subprocess.Popen([sys.executable, "-m", "jobctl.cli", *args], env=jobctl_env(env, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def job_row(env, job_id):
    return json.loads(jobctl(env, "show", str(job_id), "--json").stdout)


def running_progress(env, job_id, at_least=1):
    def check():
        j = job_row(env, job_id)
        return j["status"] == "running" and (j["progress_done"] or 0) >= at_least
    return check


def test_usage_error_is_one_line_exit_2(env):
    res = jobctl(env, "history", "--limit", "x")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    res = jobctl(env, "frobnicate")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_two_workers_drain_one_queue(env):
    # 8 independent jobs of two names, plus a chain: each must run exactly once, same names never overlap
    for i in range(4):
        assert jobctl(env, "enqueue", "toy-a", "-p", f"label=a{i}", "-p", "n=2", "-p", "sleep_ms=30").returncode == 0
        assert jobctl(env, "enqueue", "toy-x", "-p", f"label=x{i}", "-p", "n=2", "-p", "sleep_ms=30").returncode == 0
    assert jobctl(env, "enqueue", "toy-c", "-p", "n=1").returncode == 0
    workers = [spawn(env, "worker", "--once") for _ in range(2)]
    for w in workers:
        w.wait(timeout=60)
        assert w.returncode == 0, w.stderr.read()
    jobs = json.loads(jobctl(env, "history", "--json", "--limit", "100").stdout)
    assert len(jobs) == 11 and all(j["status"] == "success" for j in jobs)
    for j in jobs:
        log = job_row(env, j["id"])["log"]
        assert sum(e["message"].startswith("started by") for e in log) == 1
    for name in ("toy-a", "toy-x"):
        spans = sorted((j["started_at"], j["finished_at"]) for j in jobs if j["name"] == name)
        for (s1, f1), (s2, f2) in zip(spans, spans[1:]):
            assert f1 <= s2, f"{name} overlapped"


def test_cancel_running_job_stops_at_batch_boundary(env):
    proc = spawn(env, "run", "toy-a", "-p", "n=1000", "-p", "sleep_ms=20")
    wait_for(lambda: json.loads(jobctl(env, "status", "--json").stdout)["active"])
    job_id = json.loads(jobctl(env, "status", "--json").stdout)["active"][0]["id"]
    wait_for(running_progress(env, job_id, 2))
    res = jobctl(env, "cancel", str(job_id))
    assert res.returncode == 0 and "next batch boundary" in res.stdout
    proc.wait(timeout=30)
    assert proc.returncode == 1
    job = job_row(env, job_id)
    assert job["status"] == "cancelled"
    rows = env.toy_rows("toy-a")
    assert rows == list(range(len(rows))) and 0 < len(rows) < 1000  # whole batches, a prefix


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_cancels_at_batch_boundary(env, sig):
    proc = spawn(env, "enqueue", "toy-b", "-p", "n=1000", "-p", "sleep_ms=20", "--wait")
    wait_for(lambda: env.ledger.exists() and json.loads(jobctl(env, "status", "--json").stdout)["active"]
             and any(j["status"] == "running" and j["progress_done"]
                     for j in json.loads(jobctl(env, "status", "--json").stdout)["active"]))
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode == 1
    jobs = json.loads(jobctl(env, "history", "--json").stdout)
    by_name = {j["name"]: j for j in jobs}
    assert by_name["toy-a"]["status"] == "cancelled" and "interrupted" in by_name["toy-a"]["error"]
    assert by_name["toy-b"]["status"] == "cancelled"
    rows = env.toy_rows("toy-a")
    assert rows == list(range(len(rows)))


def test_killed_worker_is_stalled_cleaned_up_and_retried(env):
    assert jobctl(env, "enqueue", "toy-a", "-p", "n=300", "-p", "sleep_ms=20").returncode == 0
    worker = spawn(env, "worker", "--once")
    job_id = 1
    wait_for(running_progress(env, job_id, 3))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    stalled = json.loads(jobctl(env, "stalled", "--json").stdout)
    assert [s["job"]["id"] for s in stalled] == [job_id] and "gone" in stalled[0]["reason"]
    status = jobctl(env, "status")
    assert "stalled" in status.stdout
    res = jobctl(env, "stalled", "--cleanup", "--json")
    assert json.loads(res.stdout)[0]["cleaned_up"] is True
    assert job_row(env, job_id)["status"] == "failed"
    res = jobctl(env, "retry", str(job_id), "-p", "sleep_ms=0", "--wait", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "success"
    assert env.toy_rows("toy-a") == list(range(300))


def test_cron_trigger_is_recorded(env):
    res = jobctl(env, "enqueue", "toy-a", "--wait", JOBCTL_TRIGGER="cron")
    assert res.returncode == 0
    assert json.loads(jobctl(env, "history", "--json").stdout)[0]["trigger"] == "cron"


def test_plain_progress_when_not_a_terminal(env):
    res = jobctl(env, "enqueue", "toy-c", "--wait")
    assert res.returncode == 0
    assert "toy-a: success" in res.stderr and "toy-c: success" in res.stderr


def test_locked_ledger_is_one_clear_line(env):
    import sqlite3
    assert jobctl(env, "enqueue", "toy-a").returncode == 0
    holder = sqlite3.connect(env.ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        res = jobctl(env, "enqueue", "toy-x", JOBCTL_BUSY_TIMEOUT_MS="300")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.returncode == 2 and "locked" in res.stderr and len(res.stderr.strip().splitlines()) == 1
