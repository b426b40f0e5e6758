"""`why`: every state a job can be in, explained from a prepared ledger."""

import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from jobctl.errors import NotFound
from jobctl.explain import explain
from jobctl.ledger import Ledger


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def build_story(path, now: datetime | None = None) -> dict[str, int]:
    """A ledger in which something of everything happened (relative to ``now``). Returns ids by role.

    cron batch:   toy-a failed → toy-b, toy-c cancelled (upstream toy-a failed)
    manual batch: toy-x running, heartbeat 50 min old (stalled) → toy-y queued, waiting for it
    third batch:  toy-x queued again: held back by the running toy-x
    toy-noop succeeded; toy-bug running with a worker that is gone; toy-a retried and queued (ready)
    """
    now = now or datetime.now(timezone.utc)
    t = now - timedelta(hours=2)
    led = Ledger(path)
    ids = {}
    _, (a, b, c) = led.enqueue([("toy-a", "toy", {"n": 3}, []), ("toy-b", "toy", {"n": 3}, ["toy-a"]),
                                ("toy-c", "toy", {"n": 3}, ["toy-b"])], trigger="cron",
                               request={"jobs": [], "groups": ["toy"], "all": False, "params": {}}, now=t)
    led.claim(only=[a["id"]], now=t)
    led.progress(a["id"], 1, 3, 0, now=t + timedelta(seconds=20))
    led.fail(a["id"], "toy failure in batch 1", "Traceback (most recent call last):\n  ...\n"
                                                "jobctl.errors.JobFailed: toy failure in batch 1",
             now=t + timedelta(seconds=30))
    ids.update(failed=a["id"], cancelled_b=b["id"], cancelled_c=c["id"])
    t = now - timedelta(hours=1)
    _, (x, y) = led.enqueue([("toy-x", "other", {"n": 10}, []), ("toy-y", "other2", {"n": 1}, ["toy-x"])], now=t)
    led.claim(only=[x["id"]], pid=os.getpid(), now=t)
    led.progress(x["id"], 4, 10, 3, now=now - timedelta(minutes=50))
    ids.update(stalled=x["id"], waiting=y["id"])
    _, (x2,) = led.enqueue([("toy-x", "other", {"n": 20}, [])], now=now - timedelta(minutes=40))
    ids["held"] = x2["id"]
    _, (noop,) = led.enqueue([("toy-noop", "noop", {}, [])], now=now - timedelta(minutes=31))
    led.claim(only=[noop["id"]], now=now - timedelta(minutes=31))
    led.finish(noop["id"], {"rows": 7}, now=now - timedelta(minutes=30))
    ids["success"] = noop["id"]
    _, (bug,) = led.enqueue([("toy-bug", "toy2", {}, [])], now=now - timedelta(minutes=5))
    led.claim(only=[bug["id"]], pid=dead_pid(), now=now - timedelta(seconds=30))
    ids["gone"] = bug["id"]
    ids["retry"] = led.retry(a["id"], {"n": 3}, now=now - timedelta(minutes=1))["id"]
    led.close()
    return ids


@pytest.fixture
def story(tmp_path):
    path = tmp_path / "ledger.db"
    ids = build_story(path)
    led = Ledger(path)
    yield led, ids
    led.close()


def why(led, target, **kw):
    return explain(led, str(target), **kw)


def test_waiting_for_a_dependency_names_it_and_its_state(story):
    led, ids = story
    ex = why(led, ids["waiting"])
    assert ex.state == "waiting"
    assert f"waiting for its dependencies: toy-x #{ids['stalled']} (running)" in ex.summary
    assert ex.chain[0]["id"] == ids["stalled"]
    assert "STALLED: no heartbeat for" in ex.details[0] and "4/10" in ex.details[0]


def test_held_back_by_the_running_instance(story):
    led, ids = story
    ex = why(led, "toy-x")  # by name: its newest row, the queued one
    assert ex.state == "held" and ex.job["id"] == ids["held"]
    assert f"held back by the running toy-x #{ids['stalled']}" in ex.summary
    assert f"pid {os.getpid()}" in ex.details[0]
    assert any("stalled" in d and "jobctl stalled --cleanup" in d for d in ex.details)
    assert ex.details[-1] == "it has never succeeded in this ledger"


def test_cancelled_because_upstream_failed_shows_the_chain(story):
    led, ids = story
    ex = why(led, ids["cancelled_c"])
    assert ex.state == "cancelled"
    assert f"cancelled because upstream job toy-a (id {ids['failed']}) failed" in ex.summary
    assert [c["id"] for c in ex.chain] == [ids["failed"]]
    assert ex.details[0] == f"toy-c #{ids['cancelled_c']} ← toy-a #{ids['failed']} (failed)"
    assert "first cause: toy-a" in ex.details[1] and "toy failure in batch 1" in ex.details[1]


def test_stalled_since_when(story):
    led, ids = story
    ex = why(led, ids["stalled"])
    assert ex.state == "stalled" and "is stalled since 20" in ex.summary and "since at" not in ex.summary
    assert "no heartbeat for 30" in ex.summary  # 50 minutes: 3000 s and a little
    assert "(50m0" in ex.summary and "4/10" in ex.details[0]
    gone = why(led, ids["gone"])
    assert gone.state == "stalled" and "is gone" in gone.summary
    # with a generous threshold the old heartbeat alone is no longer a stall
    assert why(led, ids["stalled"], stalled_after=7200).state == "running"


def test_failed_ready_and_retried(story):
    led, ids = story
    ex = why(led, ids["failed"])
    assert ex.state == "failed" and "toy failure in batch 1" in ex.summary
    assert ex.details[0] == "where: jobctl.errors.JobFailed: toy failure in batch 1"
    assert ex.details[1] == f"retried as #{ids['retry']} (queued)"
    ready = why(led, "toy-a")  # the retry is queued, nothing holds it back
    assert ready.state == "ready" and ready.job["id"] == ids["retry"]
    assert "waits for a worker" in ready.summary


def test_success_and_never_run(story):
    led, ids = story
    ex = why(led, "toy-noop")
    assert ex.state == "success" and "succeeded at" in ex.summary and "(30m" in ex.summary
    assert ex.details == ['result: {"rows": 7}']
    never = why(led, "toy-c-never")
    assert never.state == "never-run" and never.job is None
    with pytest.raises(NotFound):
        why(led, 999)


def test_blocked_behind_a_failed_dependency(tmp_path):
    led = Ledger(tmp_path / "l.db")
    _, (a, b) = led.enqueue([("a", "g", {}, []), ("b", "g", {}, ["a"])])
    led.conn.execute("UPDATE jobs SET status='failed', error='gone wrong' WHERE id=?", (a["id"],))  # no cascade
    ex = why(led, b["id"])
    assert ex.state == "blocked" and "will not run" in ex.summary and "gone wrong" in ex.details[0]
    led.close()


def test_to_dict_is_json_ready(story):
    import json
    led, ids = story
    d = why(led, ids["waiting"]).to_dict()
    assert json.loads(json.dumps(d))["job"]["id"] == ids["waiting"]
    assert set(d) == {"target", "state", "summary", "job", "details", "chain"}
