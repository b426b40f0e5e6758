"""Ledger transitions: each one guarded, refused with a named error when it does not apply."""

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from jobctl.errors import LedgerError, NotFound, TransitionRefused
from jobctl.ledger import SCHEMA_VERSION, Ledger


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    yield led
    led.close()


def chain(ledger, params=None):
    p = params or {"n": 1}
    return ledger.enqueue([("a", "g", p, []), ("b", "g", p, ["a"]), ("c", "g", p, ["b"])])


def test_schema_version_and_reopen(tmp_path, ledger):
    assert ledger.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Ledger(tmp_path / "ledger.db").close()  # migrating twice is a no-op


def test_public_names_stay_in_jobctl_ledger():
    """The ledger is split into modules; everything callers import from jobctl.ledger is still there,
    and the write constants it re-exports match the ones the writes read (patch them in jobctl.ledger_store)."""
    import jobctl.ledger as ledger_mod
    import jobctl.ledger_store as store_mod
    for name in ("Ledger", "Status", "FINAL", "ACTIVE", "JOB_COLUMNS", "job_dict", "pid_alive", "MIGRATIONS",
                 "SCHEMA_VERSION", "CLOCK_TOLERANCE_S", "RETRY_MAX_S", "ADVISORY_TIMEOUT_MS"):
        assert hasattr(ledger_mod, name), name
    assert ledger_mod.RETRY_MAX_S == store_mod.RETRY_MAX_S
    assert ledger_mod.ADVISORY_TIMEOUT_MS == store_mod.ADVISORY_TIMEOUT_MS


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "l.db"
    c = sqlite3.connect(path)
    c.execute("PRAGMA user_version = 99")
    c.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_corrupt_ledger_refused(tmp_path):
    path = tmp_path / "l.db"
    path.write_text("not a database at all")
    with pytest.raises(LedgerError, match="not an SQLite"):
        Ledger(path)


def test_claim_follows_dependencies(ledger):
    _, jobs = chain(ledger)
    a, b, c = (j["id"] for j in jobs)
    first = ledger.claim()
    assert first["id"] == a and first["status"] == "running"
    assert ledger.claim() is None  # b waits for a
    ledger.finish(a, {"ok": 1})
    assert ledger.claim()["id"] == b


def test_same_name_never_runs_twice_at_once(ledger):
    ledger.enqueue([("a", "g", {"n": 1}, [])])
    ledger.enqueue([("a", "g", {"n": 2}, [])])
    first = ledger.claim()
    assert ledger.claim() is None
    ledger.finish(first["id"], {})
    assert ledger.claim()["params"] == {"n": 2}


def test_enqueue_reuses_identical_queued_job(ledger):
    _, first = ledger.enqueue([("a", "g", {"n": 1}, [])])
    _, again = ledger.enqueue([("a", "g", {"n": 1}, []), ("b", "g", {}, ["a"])])
    assert again[0]["id"] == first[0]["id"]
    assert [d["id"] for d in ledger.deps(again[1]["id"])] == [first[0]["id"]]
    _, other = ledger.enqueue([("a", "g", {"n": 2}, [])])
    assert other[0]["id"] != first[0]["id"]


def test_guarded_transitions_refuse(ledger):
    _, jobs = chain(ledger)
    a = jobs[0]["id"]
    with pytest.raises(TransitionRefused, match=f"job {a}: cannot finish, its status is queued"):
        ledger.finish(a, {})
    ledger.claim()
    ledger.finish(a, {})
    with pytest.raises(TransitionRefused, match="its status is success"):
        ledger.fail(a, "boom")
    with pytest.raises(TransitionRefused):
        ledger.cancel(a)
    with pytest.raises(TransitionRefused, match="retry"):
        ledger.retry(a, {})
    with pytest.raises(NotFound):
        ledger.get(999)


def test_failure_cancels_downstream_naming_it(ledger):
    _, jobs = chain(ledger)
    a, b, c = (j["id"] for j in jobs)
    ledger.claim()
    cancelled = ledger.fail(a, "boom", "Traceback ...")
    assert sorted(cancelled) == [b, c]
    for jid in (b, c):
        row = ledger.get(jid)
        assert row["status"] == "cancelled" and f"upstream job a (id {a}) failed" in row["error"]


def test_cancel_queued_and_running(ledger):
    _, jobs = chain(ledger)
    a, b, c = (j["id"] for j in jobs)
    assert ledger.cancel(c) == "cancelled"
    ledger.claim()
    assert ledger.cancel(a) == "requested"
    assert ledger.get(a)["status"] == "running" and ledger.get(a)["cancel_requested"]
    assert ledger.progress(a, 1, 2) is True  # the runner learns of it at the batch boundary
    ledger.mark_cancelled(a)
    assert ledger.get(b)["status"] == "cancelled"


def test_stalled_detection_and_cleanup(ledger):
    ledger.enqueue([("a", "g", {}, [])])
    job = ledger.claim()
    t0 = datetime.now(timezone.utc)
    assert ledger.stalled(after=300, now=t0) == []
    later = t0 + timedelta(seconds=301)
    [(stalled, reason)] = ledger.stalled(after=300, now=later)
    assert stalled["id"] == job["id"] and "no heartbeat" in reason
    ledger.cleanup_stalled(after=300, now=later)
    row = ledger.get(job["id"])
    assert row["status"] == "failed" and "stalled" in row["error"]
    retry = ledger.retry(job["id"], {})
    assert retry["attempt"] == 2 and retry["retry_of"] == job["id"] and retry["status"] == "queued"


def test_dead_worker_pid_is_stalled_at_once(ledger):
    ledger.enqueue([("a", "g", {}, [])])
    job = ledger.claim(pid=2 ** 22 + 12345)  # no such process
    [(_, reason)] = ledger.stalled(after=3600)
    assert "is gone" in reason
    assert ledger.cancel(job["id"]) == "cancelled"


def test_retry_carries_the_cursor(ledger):
    ledger.enqueue([("a", "g", {"n": 5}, [])])
    job = ledger.claim()
    ledger.progress(job["id"], 2, 5, cursor=1)
    ledger.fail(job["id"], "boom")
    again = ledger.retry(job["id"], {"n": 5})
    assert again["cursor"] == 1 and again["params"] == {"n": 5}
