"""The JSON API of WEB.md, over the ASGI app (a socket adds nothing here; test_serve.py uses one)."""

from __future__ import annotations

import os
import subprocess
import sys

from jobctl.actions import JOB_KEYS

CLI_KEYS = {"id", "name", "group", "status", "params", "batch_id", "created_at", "started_at", "finished_at",
            "progress_done", "progress_total", "result", "error"}


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_healthz_needs_no_secret_and_api_needs_the_bearer(web):
    assert web.client.get("/healthz").json() == {"ok": True}
    for path in ("/api/catalogue", "/api/jobs", "/api/jobs/1", "/api/stalled", "/metrics"):
        r = web.client.get(path)
        assert r.status_code == 401 and set(r.json()) == {"error"}, path
        assert web.client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        web.brake.succeeded("testclient")  # the brute-force brake is tested in test_security.py


def test_catalogue_is_jobs_json(web):
    r = web.api("GET", "/api/catalogue")
    assert r.status_code == 200
    rows = r.json()
    assert [j["name"] for j in rows][:3] == ["toy-a", "toy-b", "toy-c"]
    assert {"name", "group", "description", "depends_on", "params"} <= set(rows[0])


def test_run_new_job_queues_one_and_refuses_a_bad_parameter_with_the_cli_message(web):
    r = web.api("POST", "/api/jobs", json={"name": "toy-a", "params": {"n": "4"}})
    assert r.status_code == 201
    job = r.json()
    assert CLI_KEYS <= set(job) and set(job) == set(JOB_KEYS)
    assert job["status"] == "queued" and job["params"]["n"] == 4
    bad = web.api("POST", "/api/jobs", json={"name": "toy-a", "params": {"n": -1}})
    assert bad.status_code == 400
    assert bad.json() == {"error": "toy-a: parameter n must be at least 0, got -1"}
    assert web.api("POST", "/api/jobs", json={"name": "toy-a", "params": {"nope": 1}}).status_code == 400
    assert web.api("POST", "/api/jobs", json={"name": "no-such-job"}).json()["error"].startswith("unknown job")
    assert web.api("POST", "/api/jobs", content=b"not json").status_code == 400
    assert len(web.api("GET", "/api/jobs").json()) == 1  # nothing else was queued


def test_bulk_enqueue_in_run_order_and_unknown_group(web):
    r = web.api("POST", "/api/enqueue", json={"group": "toy"})
    assert r.status_code == 201
    body = r.json()
    assert [j["name"] for j in body["jobs"]] == ["toy-a", "toy-b", "toy-c"]
    assert all(j["batch_id"] == body["batch_id"] for j in body["jobs"])
    r = web.api("POST", "/api/enqueue", json={"jobs": ["toy-y"], "params": {"n": 2}})
    assert [j["name"] for j in r.json()["jobs"]] == ["toy-x", "toy-y"] and r.json()["jobs"][0]["params"]["n"] == 2
    bad = web.api("POST", "/api/enqueue", json={"group": "nope"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("unknown group 'nope'")
    assert web.api("POST", "/api/enqueue", json={}).status_code == 400


def test_history_is_newest_first_and_keyset_paged(web):
    for _ in range(5):
        web.api("POST", "/api/jobs", json={"name": "toy-x", "params": {"label": str(_)}})
    page1 = web.api("GET", "/api/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page1] == [5, 4]
    page2 = web.api("GET", "/api/jobs", params={"limit": 2, "before_id": page1[-1]["id"]}).json()
    assert [j["id"] for j in page2] == [3, 2]
    assert web.api("GET", "/api/jobs", params={"status": "success"}).json() == []
    assert web.api("GET", "/api/jobs", params={"name": "toy-x", "limit": 1}).json()[0]["id"] == 5
    assert web.api("GET", "/api/jobs", params={"status": "bogus"}).status_code == 400
    assert web.api("GET", "/api/jobs", params={"limit": "x"}).status_code == 400


def test_one_job_cancel_and_retry_status_codes(web):
    job = web.api("POST", "/api/jobs", json={"name": "toy-a"}).json()
    one = web.api("GET", f"/api/jobs/{job['id']}").json()
    assert "log" in one and "traceback" in one and one["log"][0]["message"].startswith("queued")
    assert web.api("GET", "/api/jobs/999").status_code == 404
    assert web.api("GET", "/api/jobs/abc").status_code == 404
    assert web.api("POST", f"/api/jobs/{job['id']}/retry").status_code == 409  # queued: not retryable
    r = web.api("POST", f"/api/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert web.api("POST", f"/api/jobs/{job['id']}/cancel").status_code == 409
    assert web.api("POST", "/api/jobs/999/cancel").status_code == 404
    r = web.api("POST", f"/api/jobs/{job['id']}/retry", json={"params": {"n": 1}})
    assert r.status_code == 201 and r.json()["retry_of"] == job["id"] and r.json()["params"]["n"] == 1
    assert web.api("POST", "/api/jobs/999/retry").status_code == 404


def test_stalled_and_cleanup(web):
    job = web.api("POST", "/api/jobs", json={"name": "toy-a"}).json()
    web.ledger().claim(pid=dead_pid())
    st = web.api("GET", "/api/stalled").json()
    assert [j["id"] for j in st] == [job["id"]] and "gone" in st[0]["stalled_reason"]
    done = web.api("POST", "/api/stalled/cleanup").json()
    assert [(j["id"], j["status"]) for j in done] == [(job["id"], "failed")]
    assert web.api("GET", "/api/stalled").json() == []


def test_metrics_in_prometheus_text_format(web):
    from jobctl.runner import Runner
    job = web.api("POST", "/api/jobs", json={"name": "toy-a", "params": {"n": 1}}).json()
    ledger = web.ledger()
    Runner(ledger=ledger, registry=web.registry, db_path=web.platform.path,
           media_root=web.platform.media_root).execute(ledger.claim())
    r = web.api("GET", "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'jobctl_jobs{job="toy-a",status="success"} 1.0' in text
    assert 'jobctl_job_last_success_timestamp_seconds{job="toy-a"}' in text
    assert 'jobctl_job_duration_seconds_count{job="toy-a",status="success"} 1.0' in text
    assert job["id"] == 1


def test_help_does_not_import_the_web_stack():
    code = ("import sys; from typer.main import get_command; import jobctl.cli as c; "
            "cmd = get_command(c.app); assert 'serve' in cmd.commands; "
            "bad = [m for m in ('starlette', 'uvicorn', 'jinja2', 'prometheus_client') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
