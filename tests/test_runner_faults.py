"""Runner faults the suites missed (issue 13): a wait that never ended, a busy or full ledger that
stopped a worker or failed a healthy job, a failed rebuild that kept its shadow table, platform
errors that did not say which database.

Times are scaled down: the busy timeout is 200 ms, so a lock of 1.5x or 4.5x it stands for the
issue's 15 s and 45 s locks. The full-disk tests mount a small tmpfs and need root (CI runs as root).
"""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import jobctl.db as dbmod
import jobctl.ledger_store as storemod  # where the ledger's writes read RETRY_MAX_S, ADVISORY_TIMEOUT_MS
import jobctl.runner as runnermod
from jobctl.errors import LedgerFault, RunFault
from jobctl.ledger import Ledger
from jobctl.timeutil import parse_iso
from jobctl.runner import Runner, run_until_done, work
from test_ledger_faults import BUSY_MS, LockHolder, to_ms

TESTS = Path(__file__).parent
SHADOW = "toy_big__new"


@pytest.fixture
def toy_registry(toy_registry):
    """The toy catalogue plus the fault tests' own toy jobs (tests/faultjobs.py)."""
    import faultjobs
    return faultjobs.register(toy_registry)


@pytest.fixture
def short_busy(monkeypatch):
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", BUSY_MS)
    monkeypatch.setattr(storemod, "RETRY_MAX_S", 0.1)
    monkeypatch.setattr(storemod, "ADVISORY_TIMEOUT_MS", 50)
    monkeypatch.setattr(runnermod.LedgerReporter, "BACKOFF_S", 0.1)
    monkeypatch.setattr(runnermod, "PROGRESS_EVERY_S", 0)  # a progress write at every batch boundary


def params(reg, name, **kw):
    return reg.get(name).resolve_params({"pause_ms": 0, **kw})


def runner_for(reg, ledger, db, media=None):
    return Runner(ledger=ledger, registry=reg, db_path=Path(db), media_root=Path(media or Path(db).parent),
                  heartbeat_s=0.1)


def in_thread(fn, timeout: float = 30):
    """Run ``fn`` in a daemon thread; its result, or a failure when it has not ended in ``timeout`` s."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"still running after {timeout} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def wait_until(predicate, timeout: float = 10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def job_row(path, job_id):
    led = Ledger(path)
    try:
        return led.get(job_id)
    finally:
        led.close()


# -- 1. a wait that always ends ------------------------------------------------------------------------

def jobctl(env, *args, timeout=30, **extra):
    e = dict(os.environ, **env.env, JOBCTL_PLUGINS="toyjobs,faultjobs", JOBCTL_HEARTBEAT_S="0.2", JOBCTL_BUILTIN_JOBS="0",
             PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **extra)
    return subprocess.run([sys.executable, "-m", "jobctl.cli", *args], env=e, capture_output=True, text=True,
                          timeout=timeout)


def test_two_batches_sharing_a_reused_job_both_end(env):
    """The issue's recipe: the second batch reuses the first batch's queued toy-index, whose upstream
    (toy-stamp with the first `now`) only the first batch queued. The wait runs it too and ends."""
    assert jobctl(env, "enqueue", "--group", "pair", "-p", "now=2026-11-20T00:00:00Z").returncode == 0
    res = jobctl(env, "enqueue", "--group", "pair", "-p", "now=2026-11-30T00:00:00Z", "--wait", "--json")
    assert res.returncode == 0, res.stderr
    led = Ledger(env.ledger)
    jobs = {(j["name"], j["params"].get("now")): j for j in led.jobs()}
    assert {j["status"] for j in jobs.values()} == {"success"} and len(jobs) == 3
    index = jobs[("toy-index", None)]
    for stamp in ("2026-11-20T00:00:00Z", "2026-11-30T00:00:00Z"):  # after both of its upstream jobs
        assert jobs[("toy-stamp", stamp)]["finished_at"] <= index["started_at"]
    led.close()


def test_sigterm_to_a_waiter_spares_jobs_another_batch_owns(env, toy_registry):
    led = Ledger(env.ledger)
    s = params(toy_registry, "toy-stamp", now="2026-11-20T00:00:00Z")
    _, (s1, idx) = led.enqueue([("toy-stamp", "pair", s, []), ("toy-index", "pair", params(toy_registry, "toy-index"),
                                                                  ["toy-stamp"])])
    s2p = params(toy_registry, "toy-stamp", now="2026-11-30T00:00:00Z")
    _, batch2 = led.enqueue([("toy-stamp", "pair", s2p, []), ("toy-index", "pair", params(toy_registry, "toy-index"),
                                                                ["toy-stamp"])])
    runner = runner_for(toy_registry, led, env.db)
    runner.interrupt.reason = "interrupted by SIGTERM"
    final = in_thread(lambda: run_until_done(runner, [j["id"] for j in batch2], poll_s=0.01))
    runner.close()
    assert {j["id"]: j["status"] for j in final} == {batch2[0]["id"]: "queued", idx["id"]: "queued"}
    assert led.get(s1["id"])["status"] == "queued"  # batch 1 still owns toy-index and needs both stamps


def test_sigterm_mid_job_gives_a_shared_job_back_to_the_queue(env, toy_registry):
    """The waiter of batch 2 is running batch 1's toy-stamp (its reused toy-index needs it) when a
    SIGTERM comes: the job is requeued with its cursor, not cancelled, and nothing downstream moves."""
    led = Ledger(env.ledger)
    s1p = params(toy_registry, "toy-stamp", now="2026-11-20T00:00:00Z", n=40, sleep_ms=20)
    _, (s1, idx) = led.enqueue([("toy-stamp", "pair", s1p, []),
                                ("toy-index", "pair", params(toy_registry, "toy-index"), ["toy-stamp"])])
    s2p = params(toy_registry, "toy-stamp", now="2026-11-30T00:00:00Z")
    _, batch2 = led.enqueue([("toy-stamp", "pair", s2p, []),
                             ("toy-index", "pair", params(toy_registry, "toy-index"), ["toy-stamp"])])
    runner = runner_for(toy_registry, led, env.db)

    def signal_mid_job():
        wait_until(lambda: job_row(env.ledger, s1["id"])["progress_done"] >= 2)
        runner.interrupt.reason = "interrupted by SIGTERM"

    threading.Thread(target=signal_mid_job, daemon=True).start()
    in_thread(lambda: run_until_done(runner, [j["id"] for j in batch2], poll_s=0.01))
    runner.close()
    back = led.get(s1["id"])
    assert back["status"] == "queued" and back["started_at"] is None and back["worker_pid"] is None
    assert back["cursor"] is not None and back["progress_done"] >= 2  # a retry resumes where it stopped
    assert "given back to the queue" in led.events(s1["id"])[-1]["message"]
    assert {led.get(i)["status"] for i in (idx["id"], batch2[0]["id"])} == {"queued"}


def test_a_waiter_says_what_it_waits_for(env, toy_registry):
    led = Ledger(env.ledger)
    p = params(toy_registry, "toy-a", n=1)
    _, (first,) = led.enqueue([("toy-a", "toy", p, [])])
    led.claim(pid=1)  # another process runs it (pid 1 is alive: not stalled)
    _, (second,) = led.enqueue([("toy-a", "toy", p, [])])
    said = []
    runner = runner_for(toy_registry, led, env.db)

    def release_when_told():
        wait_until(lambda: said)
        other = Ledger(env.ledger)
        other.finish(first["id"], {})
        other.close()

    threading.Thread(target=release_when_told, daemon=True).start()
    final = in_thread(lambda: run_until_done(runner, [second["id"]], poll_s=0.01, on_wait=said.append))
    runner.close()
    assert final[0]["status"] == "success"
    assert said[0].startswith(f"waiting for job {first['id']} toy-a (batch {first['batch_id']}), running in pid 1")


# -- 2, 3. a busy or full ledger ------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [1.5, 4.5])
def test_an_idle_worker_keeps_waiting_through_a_ledger_lock(env, toy_registry, short_busy, factor):
    led = Ledger(env.ledger)
    runner = runner_for(toy_registry, led, env.db)
    worker = threading.Thread(target=lambda: out.append(_work(runner)), daemon=True)
    out: list = []
    worker.start()
    time.sleep(0.1)
    LockHolder(env.ledger, factor * BUSY_MS / 1000).hold().join()
    assert worker.is_alive(), f"the worker stopped: {out}"
    other = Ledger(env.ledger)
    _, (job,) = other.enqueue([("toy-a", "toy", params(toy_registry, "toy-a", n=1), [])])
    wait_until(lambda: other.get(job["id"])["status"] == "success")
    runner.interrupt.reason = "test over"
    worker.join(5)
    assert out == [1]
    other.close()
    runner.close()


def _work(runner):
    try:
        return work(runner, once=False, poll_s=0.02)
    except Exception as exc:  # noqa: BLE001 - the test shows it
        return exc


@pytest.mark.parametrize("factor", [1.5, 4.5])
def test_a_job_rides_out_a_ledger_lock(env, toy_registry, short_busy, factor):
    """The lock comes mid-job: progress writes are skipped, the finish waits; the job succeeds and
    its finished_at is when the finish committed, after the lock."""
    led = Ledger(env.ledger)
    _, (job,) = led.enqueue([("toy-a", "toy", params(toy_registry, "toy-a", n=8, sleep_ms=50), [])])
    holder = LockHolder(env.ledger, factor * BUSY_MS / 1000)

    def lock_mid_job():
        wait_until(lambda: job_row(env.ledger, job["id"])["progress_done"] >= 1)
        holder.hold()

    threading.Thread(target=lock_mid_job, daemon=True).start()
    runner = runner_for(toy_registry, led, env.db)
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    holder.join()
    assert final["status"] == "success" and final["error"] is None, final["error"]
    assert parse_iso(final["finished_at"]) >= to_ms(holder.released_at)
    assert env.toy_rows("toy-a") == list(range(8))


@pytest.fixture
def tmpfs(tmp_path):
    """A 3 MB tmpfs mounted for the test (root only), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the suite as root)")
    folder = tmp_path / "small-disk"
    folder.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` to the last block; returns the filler file."""
    path = folder / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return path


def test_a_job_rides_out_a_full_ledger_disk(env, toy_registry, short_busy, tmpfs):
    ledger_path = tmpfs / "ledger.db"
    led = Ledger(ledger_path)
    _, (job,) = led.enqueue([("toy-a", "toy", params(toy_registry, "toy-a", n=8, sleep_ms=50), [])])
    freed = {}

    def fill_mid_job_then_free():
        wait_until(lambda: job_row(ledger_path, job["id"])["progress_done"] >= 1)
        filler = fill(tmpfs)
        time.sleep(1.0)  # longer than the job's remaining work: the finish meets a full disk
        freed["at"] = time.time()
        filler.unlink()

    threading.Thread(target=fill_mid_job_then_free, daemon=True).start()
    runner = runner_for(toy_registry, led, env.db)
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    assert final["status"] == "success" and final["error"] is None, final["error"]
    assert round(parse_iso(final["finished_at"]).timestamp() * 1000) >= int(freed["at"] * 1000)  # ms stamps
    assert env.toy_rows("toy-a") == list(range(8))
    led.close()


# -- 4. failures clean up and say which database ------------------------------------------------------------

def shadow_exists(db) -> bool:
    conn = sqlite3.connect(db)
    try:
        return dbmod.table_exists(conn, SHADOW)
    finally:
        conn.close()


def test_a_rebuild_that_fills_the_platform_disk_drops_its_shadow(toy_registry, tmp_path, tmpfs):
    from builders import Platform
    platform = Platform(tmpfs)
    platform.conn.close()
    led = Ledger(tmp_path / "ledger.db")
    _, (job,) = led.enqueue([("toy-shadow", "shadow", params(toy_registry, "toy-shadow", n=200, kb=64), [])])
    runner = runner_for(toy_registry, led, platform.path)
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    assert final["status"] == "failed"
    assert final["error"].startswith(f"platform database {platform.path} cannot grow: its disk is full")
    assert "free space on that disk" in final["error"]
    assert not shadow_exists(platform.path)
    assert any(f"dropped the half-built shadow table(s) {SHADOW}" in e["message"] for e in led.events(job["id"]))
    led.close()


def test_a_failed_rebuild_drops_its_shadow(env, toy_registry):
    led = Ledger(env.ledger)
    _, (job,) = led.enqueue([("toy-shadow", "shadow", params(toy_registry, "toy-shadow", n=5, kb=1, fail_at=2), [])])
    runner = runner_for(toy_registry, led, env.db)
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    assert final["status"] == "failed" and final["error"] == "toy failure in batch 2"
    assert not shadow_exists(env.db)
    assert final["progress_done"] == 2 and final["cursor"] is None


def test_a_cancelled_rebuild_drops_its_shadow(env, toy_registry):
    led = Ledger(env.ledger)
    _, (job,) = led.enqueue([("toy-shadow", "shadow", params(toy_registry, "toy-shadow", n=40, kb=1, sleep_ms=25),
                              [])])

    def cancel_mid_job():
        wait_until(lambda: job_row(env.ledger, job["id"])["progress_done"] >= 2)
        other = Ledger(env.ledger)
        assert other.cancel(job["id"]) == "requested"
        other.close()

    threading.Thread(target=cancel_mid_job, daemon=True).start()
    runner = runner_for(toy_registry, led, env.db)
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    assert final["status"] == "cancelled"
    assert not shadow_exists(env.db)


def test_a_locked_platform_says_which_database_and_what_to_do(env, toy_registry, short_busy):
    led = Ledger(env.ledger)
    _, (job,) = led.enqueue([("toy-a", "toy", params(toy_registry, "toy-a", n=2), [])])
    runner = runner_for(toy_registry, led, env.db)
    runner.platform()  # opened before the app's writer takes the lock
    holder = LockHolder(env.db, 1.0).hold()
    final = in_thread(lambda: run_until_done(runner, [job["id"]], poll_s=0.01))[0]
    runner.close()
    holder.join()
    assert final["status"] == "failed"
    assert final["error"].startswith(f"platform database {env.db} is locked by another process (database is locked")
    assert "wait for the lock holder" in final["error"]


def test_a_ledger_fault_during_a_run_exits_1_naming_the_ledger(env, toy_registry, monkeypatch):
    from jobctl.cli import app

    def broken(self, job_id, result, now=None):
        raise LedgerFault("ledger", self.path, "is corrupt (database disk image is malformed)",
                          "restore it from a backup", transient=False)

    monkeypatch.setattr(Ledger, "finish", broken)
    res = CliRunner().invoke(app, [*env.args, "enqueue", "toy-a", "--wait"])
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert lines[-1] == f"jobctl: ledger {env.ledger} is corrupt (database disk image is malformed); restore it from a backup"
    led = Ledger(env.ledger)
    led.enqueue([("toy-x", "other", params(toy_registry, "toy-x", n=1), [])])
    with pytest.raises(RunFault, match="is corrupt"):  # the worker ends: the job shows a dead worker
        work(runner_for(toy_registry, led, env.db), once=True)
