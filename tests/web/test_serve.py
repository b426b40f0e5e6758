"""`jobctl serve` as a real process: the token, the loopback rule, the worker beside it, clean stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from servers import Server, jobctl_env


def wait_for(pred, timeout=15.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def test_refuses_a_public_address_without_the_env_token(env):
    r = subprocess.run([sys.executable, "-m", "jobctl.cli", *env.args, "serve", "--host", "0.0.0.0", "--port", "1"],
                       capture_output=True, text=True, env=jobctl_env(), timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "JOBCTL_ADMIN_TOKEN" in r.stderr and "Traceback" not in r.stderr


def test_generated_token_login_url_worker_and_sigterm_cancels_the_running_job(env):
    srv = Server(env.db, env.ledger, env.media, token=None)
    try:
        assert "/admin/login?token=" in srv.stderr()
        assert httpx_get(srv.url + "/api/jobs").status_code == 401
        quick = srv.api("POST", "/api/jobs", json={"name": "toy-a", "params": {"n": 2}}).json()
        wait_for(lambda: srv.api("GET", f"/api/jobs/{quick['id']}").json()["status"] == "success")
        slow = srv.api("POST", "/api/jobs", json={"name": "toy-x", "params": {"n": 400, "sleep_ms": 50}}).json()
        wait_for(lambda: (srv.api("GET", f"/api/jobs/{slow['id']}").json()["progress_done"] or 0) >= 2)
        t = time.monotonic()
        assert srv.stop(signal.SIGTERM) == 0
        assert time.monotonic() - t < 10
    finally:
        srv.stop()
    from jobctl.ledger import Ledger
    job = Ledger(env.ledger).get(slow["id"])
    assert job["status"] == "cancelled" and "SIGTERM" in job["error"]
    assert 0 < job["progress_done"] < 400


def test_no_worker_leaves_jobs_queued_and_sigint_stops(env):
    srv = Server(env.db, env.ledger, env.media, token="tok-en", args=["--no-worker"])
    try:
        job = srv.api("POST", "/api/jobs", json={"name": "toy-a"}).json()
        time.sleep(1.0)
        assert srv.api("GET", f"/api/jobs/{job['id']}").json()["status"] == "queued"
        assert "token=" not in srv.stderr()  # a token from the environment is never printed
    finally:
        assert srv.stop(signal.SIGINT) == 0


def httpx_get(url):
    import httpx
    return httpx.get(url, timeout=5)
