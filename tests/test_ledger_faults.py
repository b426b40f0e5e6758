"""Ledger faults the suites missed (issue 13): batch ownership, retried jobs' dependencies, clocks
that disagree, and transitions through a ledger locked by another connection (BEGIN IMMEDIATE)."""

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import jobctl.db as dbmod
import jobctl.ledger_store as storemod  # where the ledger's writes read RETRY_MAX_S, ADVISORY_TIMEOUT_MS
from jobctl.errors import UpstreamNotDone
from jobctl.ledger import Ledger
from jobctl.timeutil import now_iso, parse_iso

BUSY_MS = 200


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    yield led
    led.close()


@pytest.fixture
def short_busy(monkeypatch):
    """Busy timeout and retry pauses scaled down: a 'long' lock is a second, not a minute."""
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", BUSY_MS)
    monkeypatch.setattr(storemod, "RETRY_MAX_S", 0.1)
    monkeypatch.setattr(storemod, "ADVISORY_TIMEOUT_MS", 50)


def to_ms(at: datetime) -> datetime:
    """``at`` truncated to the millisecond, as the ledger stamps times."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class LockHolder(threading.Thread):
    """Holds the write lock of an SQLite file (BEGIN IMMEDIATE) for ``seconds``, as a backup or an
    `sqlite3` shell would; ``released_at`` is taken just before it lets go."""

    def __init__(self, path, seconds: float):
        super().__init__(daemon=True)
        self.path, self.seconds = path, seconds
        self.locked = threading.Event()
        self.released_at: datetime | None = None

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        self.locked.set()
        time.sleep(self.seconds)
        self.released_at = datetime.now(timezone.utc)
        conn.execute("COMMIT")
        conn.close()

    def hold(self) -> "LockHolder":
        self.start()
        assert self.locked.wait(5)
        return self


def two_batches(ledger):
    """Batch 1 queues a(now=20) → idx; batch 2 queues a(now=30) → idx (reused) → report."""
    b1, (a1, idx) = ledger.enqueue([("a", "g", {"now": "20"}, []), ("idx", "g", {}, ["a"])])
    b2, (a2, idx2, rep) = ledger.enqueue([("a", "g", {"now": "30"}, []), ("idx", "g", {}, ["a"]),
                                          ("report", "g", {}, ["idx"])])
    assert idx2["id"] == idx["id"]  # reused
    return (b1, a1["id"], idx["id"]), (b2, a2["id"], rep["id"])


# -- a wait that always ends -------------------------------------------------------------------------

def test_a_batch_needs_the_other_batchs_upstream_of_a_reused_job(ledger):
    (_, a1, idx), (_, a2, rep) = two_batches(ledger)
    assert set(ledger.needed([a2, idx, rep])) == {a1, a2, idx, rep}
    ledger.claim(only=[a1])
    ledger.finish(a1, {})
    assert set(ledger.needed([a2, idx, rep])) == {a2, idx, rep}  # finished upstream jobs drop out


def test_release_cancels_only_what_no_other_batch_owns_or_needs(ledger):
    (b1, a1, idx), (b2, a2, rep) = two_batches(ledger)
    cancelled = ledger.release([a2, idx, rep], "cancelled: the waiting command was interrupted by SIGTERM")
    assert cancelled == [rep]
    status = {j["id"]: j["status"] for j in ledger.jobs()}
    # idx belongs to batch 1 too; a2 is now an upstream of idx, which batch 1 still waits for
    assert status == {a1: "queued", idx: "queued", a2: "queued", rep: "cancelled"}


def test_migration_records_owners_of_existing_jobs(tmp_path):
    led = Ledger(tmp_path / "l.db")
    (b1, a1, idx), (b2, a2, rep) = two_batches(led)
    led.conn.executescript("DROP TABLE batch_jobs; ALTER TABLE jobs DROP COLUMN warnings; PRAGMA user_version = 1;")
    led.close()
    led = Ledger(tmp_path / "l.db")
    owners = {tuple(r) for r in led.conn.execute("SELECT batch_id, job_id FROM batch_jobs")}
    assert owners == {(b1, a1), (b1, idx), (b2, a2), (b2, idx), (b2, rep)}
    led.close()


# -- retry keeps dependencies ------------------------------------------------------------------------

def fail_upstream(ledger):
    _, (a, b) = ledger.enqueue([("a", "g", {"n": 1}, []), ("b", "g", {"n": 1}, ["a"])])
    ledger.claim()
    assert ledger.fail(a["id"], "boom") == [b["id"]]
    return a["id"], b["id"]


def test_retried_downstream_waits_for_its_upstream_retry(ledger):
    a, b = fail_upstream(ledger)
    a2 = ledger.retry(a, {"n": 1})
    b2 = ledger.retry(b, {"n": 1})
    assert [d["id"] for d in ledger.deps(b2["id"])] == [a2["id"]]
    assert ledger.claim()["id"] == a2["id"]
    assert ledger.claim() is None  # b2 waits: its upstream has not succeeded yet
    ledger.finish(a2["id"], {})
    assert ledger.claim()["id"] == b2["id"]


def test_retry_refused_while_its_upstream_stays_failed(ledger):
    a, b = fail_upstream(ledger)
    with pytest.raises(UpstreamNotDone, match=rf"depends on a \(job {a}\), which failed; retry that first"):
        ledger.retry(b, {"n": 1})
    assert ledger.jobs(status="queued") == []


def test_retry_says_why_it_needs_no_wait(ledger):
    a, b = fail_upstream(ledger)
    a2 = ledger.retry(a, {"n": 1})
    ledger.claim()
    ledger.finish(a2["id"], {})
    b2 = ledger.retry(b, {"n": 1})
    assert ledger.deps(b2["id"]) == []
    assert any(f"upstream a (job {a2['id']}) already succeeded" in e["message"] for e in ledger.events(b2["id"]))


# -- clocks that disagree ----------------------------------------------------------------------------

def running_job(ledger, host="other-host"):
    _, (job,) = ledger.enqueue([("a", "g", {}, [])])
    ledger.claim()
    ledger.conn.execute("UPDATE jobs SET worker_host=?, worker_pid=12345 WHERE id=?", (host, job["id"]))
    return job["id"]


def set_heartbeat(ledger, job_id, delta_s):
    at = now_iso(datetime.now(timezone.utc) + timedelta(seconds=delta_s))
    ledger.conn.execute("UPDATE jobs SET heartbeat_at=? WHERE id=?", (at, job_id))


def test_a_heartbeat_an_hour_ahead_is_suspect(ledger):
    job_id = running_job(ledger)
    set_heartbeat(ledger, job_id, 3600)
    (job, reason), = ledger.stalled(after=0)
    assert job["id"] == job_id and reason.startswith("suspect: heartbeat 3") and "in the future" in reason
    assert ledger.cancel(job_id) == "cancelled"  # no process will act on a request: at once
    assert ledger.get(job_id)["status"] == "cancelled"


def test_a_heartbeat_slightly_ahead_is_fresh(ledger, monkeypatch):
    monkeypatch.setattr(Ledger, "clock_tolerance_s", 60)
    job_id = running_job(ledger)
    set_heartbeat(ledger, job_id, 30)
    assert ledger.stalled(after=0) == []
    set_heartbeat(ledger, job_id, 90)
    assert ledger.stalled(after=0)[0][1].startswith("suspect")


def test_another_hosts_heartbeat_gets_the_clock_tolerance(ledger, monkeypatch):
    monkeypatch.setattr(Ledger, "clock_tolerance_s", 60)
    job_id = running_job(ledger)
    set_heartbeat(ledger, job_id, -30)
    assert ledger.stalled(after=0) == []  # 30 s behind may be its clock
    set_heartbeat(ledger, job_id, -90)
    assert "no heartbeat for 90 s" in ledger.stalled(after=0)[0][1]


# -- transitions through a locked ledger ---------------------------------------------------------------

@pytest.mark.parametrize("factor", [1.5, 4.5])
def test_transitions_wait_out_a_lock(tmp_path, short_busy, factor):
    led = Ledger(tmp_path / "ledger.db")
    _, (a,) = led.enqueue([("a", "g", {}, [])])
    holder = LockHolder(led.path, factor * BUSY_MS / 1000).hold()
    job = led.claim()  # an idle worker's claim keeps trying
    assert job["id"] == a["id"]
    holder.join()
    assert parse_iso(job["started_at"]) >= to_ms(holder.released_at)

    holder = LockHolder(led.path, factor * BUSY_MS / 1000).hold()
    assert led.progress(a["id"], 1, 2, cursor=1) is False  # advisory: skipped, not raised
    led.finish(a["id"], {"ok": 1})
    holder.join()
    done = led.get(a["id"])
    assert done["status"] == "success"
    assert parse_iso(done["finished_at"]) >= to_ms(holder.released_at)  # stamped when it committed
    led.close()


def test_a_claim_gives_up_when_asked(tmp_path, short_busy):
    led = Ledger(tmp_path / "ledger.db")
    led.enqueue([("a", "g", {}, [])])
    holder = LockHolder(led.path, 1.0).hold()
    asked = time.monotonic() + 0.3
    assert led.claim(stop=lambda: time.monotonic() > asked) is None
    assert time.monotonic() < asked + 0.6
    holder.join()
    led.close()
