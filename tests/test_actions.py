"""The library the CLI and the web panel share (jobctl.actions), called directly with toy jobs."""

import pytest

from jobctl import actions
from jobctl.errors import NotFound, ParamError, TransitionRefused, UsageError


@pytest.fixture
def settings(env, toy_registry):
    return actions.Settings(db=env.db, ledger_path=env.ledger, media_root=env.media, registry=toy_registry)


def test_parse_kv_refuses_missing_equals():
    assert actions.parse_kv(["a=1", " b =x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParamError):
        actions.parse_kv(["nokey"])
    with pytest.raises(ParamError):
        actions.parse_kv(["=1"])


def test_parse_since():
    assert actions.parse_since(None) is None
    assert actions.parse_since("2026-11-29T03:00:00Z") == "2026-11-29T03:00:00.000Z"
    assert actions.parse_since("7d").endswith("Z")
    with pytest.raises(UsageError):
        actions.parse_since("yesterday")


def test_plan_names_the_job_that_needs_a_dependency(settings):
    rows = actions.plan_batch(settings, ["toy-c"])
    assert [r["name"] for r in rows] == ["toy-a", "toy-b", "toy-c"]
    assert rows[0]["reason"] == "needed by toy-b (group toy)" and rows[0]["needed_by"] == ["toy-b"]
    assert rows[2]["reason"] == "named" and rows[2]["typical_seconds"] is None
    assert actions.plan_batch(settings, groups=["toy"])[0]["reason"] == "group toy"


def test_plan_refuses_a_parameter_no_job_takes(settings):
    with pytest.raises(ParamError, match="no job of this batch takes parameter 'nope'"):
        actions.plan_batch(settings, ["toy-a"], params={"nope": "1"})


def test_enqueue_execute_retry_cancel(settings):
    out = actions.enqueue(settings, ["toy-b"], params={"n": "3"})
    assert [j["name"] for j in out["jobs"]] == ["toy-a", "toy-b"]
    assert all(j["status"] == "queued" and j["params"]["n"] == 3 for j in out["jobs"])
    final = actions.execute(settings, [j["id"] for j in out["jobs"]])
    assert [j["status"] for j in final] == ["success", "success"]
    with pytest.raises(TransitionRefused):
        actions.retry(settings, final[0]["id"])
    queued = actions.queue_run(settings, "toy-a")["jobs"][0]
    assert actions.cancel(settings, queued["id"]) == {"id": queued["id"], "outcome": "cancelled"}
    again = actions.retry(settings, queued["id"], {"n": "2"})
    assert again["retry_of"] == queued["id"] and again["params"]["n"] == 2
    with pytest.raises(NotFound):
        actions.cancel(settings, 999)


def test_run_now_and_stalled(settings):
    job = actions.run_now(settings, "toy-a", {"n": "2"})
    assert job["status"] == "success" and job["warnings"] == []
    assert actions.stalled(settings, after=300) == []
    with pytest.raises(UsageError):
        actions.stalled(settings, after=-1)


def test_run_now_refuses_unknown_parameter(settings):
    with pytest.raises(ParamError):
        actions.run_now(settings, "toy-a", {"nope": "1"})
