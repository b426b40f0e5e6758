"""The guide's clicks in real Chromium, on a demo platform, elements found by their accessible names."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
from browser import launch, screenshot
from servers import Server, jobctl_env

TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A 300-user demo platform on which every job ran once, and `jobctl serve` over it."""
    d = tmp_path_factory.mktemp("demo")
    paths = dict(db=d / "platform.db", ledger=d / "ledger.db", media=d / "media")
    base = [sys.executable, "-m", "jobctl.cli", "--db", str(paths["db"]), "--ledger", str(paths["ledger"]),
            "--media-root", str(paths["media"])]
    for args in (["demo", "--users", "300"], ["enqueue", "--all", "--wait"]):
        subprocess.run(base + args, check=True, capture_output=True, env=jobctl_env(plugins=""), timeout=300)
    srv = Server(paths["db"], paths["ledger"], paths["media"], token=TOKEN)
    yield srv, base, d
    srv.stop()


@pytest.fixture(scope="module")
def browser(demo):
    pw, b = launch()
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser, demo):
    srv = demo[0]
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=srv.url)
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    p.goto("/admin/login")
    p.get_by_label("Token").fill(TOKEN)
    p.get_by_role("button", name="Log in").click()
    p.get_by_role("heading", name="Job Manager").wait_for()
    yield p
    ctx.close()


def queued_id(page) -> int:
    return int(re.search(r"Job (\d+) queued", page.get_by_role("status").first.inner_text()).group(1))


def wait_api(srv, job_id, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = srv.api("GET", f"/api/jobs/{job_id}").json()
        if pred(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: {job}")


def test_login_and_the_panel(page, demo, tmp_path):
    from playwright.sync_api import expect
    expect(page.get_by_role("table", name="Job history")).to_contain_text("feed-presort")
    expect(page.get_by_role("button", name="Run New Job")).to_be_visible()
    expect(page.get_by_role("button", name="Bulk Enqueue")).to_be_visible()


def test_run_new_job_progress_reaches_100_and_row_turns_success_without_reload(page, demo, tmp_path):
    from playwright.sync_api import expect
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Run New Job").click()
    page.get_by_label("Job", exact=True).select_option("searchable-user")
    expect(page.locator("#run-explain")).to_contain_text("Updates search-friendly profile snapshots")
    expect(page.get_by_label("pause_ms", exact=True)).to_have_value("5")  # typed fields with their defaults
    page.get_by_label("batch_size", exact=True).fill("30")
    page.get_by_label("pause_ms", exact=True).fill("400")  # slow enough to watch
    page.get_by_role("button", name="Queue Job").click()
    job_id = queued_id(page)
    page.evaluate("window.__sameDocument = true")
    bar = page.get_by_role("progressbar", name=f"job {job_id} progress").first
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]\d?$"), timeout=20_000)  # partway
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "admin-panel.png", tmp_path)
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=20_000)
    row = page.locator(f"#job-{job_id}")
    expect(row.get_by_text("success")).to_be_visible(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_bad_parameter_is_shown_beside_its_field_and_nothing_queued(page, demo):
    from playwright.sync_api import expect
    srv = demo[0]
    before = srv.api("GET", "/api/jobs", params={"limit": 1}).json()[0]["id"]
    page.get_by_role("button", name="Run New Job").click()
    page.get_by_label("Job", exact=True).select_option("trending")
    page.get_by_label("window_hours", exact=True).fill("0")
    page.get_by_role("button", name="Queue Job").click()
    field = page.get_by_label("window_hours", exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="trending: parameter window_hours must be at least 1, got 0")
           ).to_be_visible()
    err_id = field.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{err_id}")).to_have_text("trending: parameter window_hours must be at least 1, got 0")
    assert srv.api("GET", "/api/jobs", params={"limit": 1}).json()[0]["id"] == before


def test_bulk_enqueue_feed_previews_run_order_then_enqueues(page, demo, tmp_path):
    from playwright.sync_api import expect
    page.get_by_role("button", name="Bulk Enqueue").click()
    page.get_by_label("Enqueue Job Group").check()
    page.get_by_label("Group", exact=True).select_option("feed")
    table = page.get_by_role("table", name="Jobs that will run")
    expect(table).to_be_visible()
    names = [c.strip() for c in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert names == ["build-user-traits", "match-scores", "content-features", "trending", "affinity", "feed-presort"]
    expect(table.get_by_text("needed by").first).to_be_visible()  # cross-group dependencies are marked
    screenshot(page, "bulk-enqueue-preview.png", tmp_path)
    page.get_by_role("button", name="Enqueue Jobs").click()
    expect(page.get_by_role("status")).to_contain_text("6 job(s)")


def test_cancel_a_running_job_then_retry(page, demo, tmp_path):
    from playwright.sync_api import expect
    srv = demo[0]
    job = srv.api("POST", "/api/jobs", json={"name": "toy-x", "params": {"n": 600, "sleep_ms": 50}}).json()
    wait_api(srv, job["id"], lambda j: j["status"] == "running" and (j["progress_done"] or 0) > 0, timeout=60)
    page.goto(f"/admin/jobs/{job['id']}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name=re.compile(rf"Job {job['id']} .*cancelled"))).to_be_visible(timeout=15_000)
    done = srv.api("GET", f"/api/jobs/{job['id']}").json()
    assert done["status"] == "cancelled" and 0 < done["progress_done"] < 600
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("link", name=f"job {job['id']}", exact=True)).to_be_visible()
    new_id = int(re.search(r"/admin/jobs/(\d+)", page.url).group(1))
    assert srv.api("GET", f"/api/jobs/{new_id}").json()["retry_of"] == job["id"]
    srv.api("POST", f"/api/jobs/{new_id}/cancel")
    wait_api(srv, new_id, lambda j: j["status"] == "cancelled")


def test_job_page_screenshot(page, demo, tmp_path):
    from playwright.sync_api import expect
    srv = demo[0]
    scores = srv.api("GET", "/api/jobs", params={"name": "match-scores", "status": "success"}).json()[-1]
    page.goto(f"/admin/jobs/{scores['id']}")
    expect(page.get_by_role("heading", name=re.compile("match-scores"))).to_be_visible()
    expect(page.get_by_role("link", name="Run again with these parameters")).to_be_visible()
    screenshot(page, "job-page.png", tmp_path, full_page=True)


def test_stalled_banner_when_a_worker_is_killed_and_gone_after_cleanup(page, demo):
    from playwright.sync_api import expect
    srv, base, _ = demo
    # The server's own worker is kept busy with a long job, so the job below is run by `jobctl run`.
    blocker = srv.api("POST", "/api/jobs", json={"name": "toy-x", "params": {"n": 2000, "sleep_ms": 50}}).json()
    wait_api(srv, blocker["id"], lambda j: j["status"] == "running", timeout=60)
    proc = subprocess.Popen(base + ["run", "toy-a", "-p", "n=2000", "-p", "sleep_ms=50"], env=jobctl_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        victim = None
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            rows = srv.api("GET", "/api/jobs", params={"name": "toy-a", "status": "running"}).json()
            victim = rows[0] if rows else None
            time.sleep(0.1)
        assert victim and victim["worker_pid"] == proc.pid
        page.goto("/admin/jobs")
        banner = page.get_by_role("alert", name="Stalled Jobs")
        expect(banner).to_have_count(0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        expect(banner).to_be_visible(timeout=10_000)  # without a reload
        expect(banner).to_contain_text(f"job {victim['id']} toy-a")
        page.get_by_role("button", name="Cleanup Stalled Jobs").click()
        expect(page.get_by_role("status")).to_contain_text("1 stalled job(s) marked failed")
        expect(banner).to_have_count(0)
        assert srv.api("GET", f"/api/jobs/{victim['id']}").json()["status"] == "failed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.api("POST", f"/api/jobs/{blocker['id']}/cancel")
        wait_api(srv, blocker["id"], lambda j: j["status"] == "cancelled")


def test_user_page_search_freshness_warning_and_remedy(page, demo, tmp_path):
    """The checklist's step 6 and a stale profile, by clicking (issue 19)."""
    import sqlite3

    from playwright.sync_api import expect
    srv, _, d = demo
    conn = sqlite3.connect(d / "platform.db")
    uid, name = conn.execute(
        "SELECT s.user_id, s.display_name FROM searchable_users s JOIN match_scores m ON m.user_id = s.user_id "
        "GROUP BY s.user_id HAVING COUNT(*) >= 5 ORDER BY s.user_id LIMIT 1").fetchone()
    page.get_by_role("searchbox", name="Find a user").fill(name)
    page.keyboard.press("Enter")
    page.get_by_role("table", name="Search results").get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", name=re.compile(re.escape(name)))).to_be_visible()
    expect(page.get_by_role("table", name="Top matches")).to_be_visible()
    expect(page.get_by_role("heading", name="Feed")).to_be_visible()
    expect(page.get_by_text("Built by match-scores")).to_be_visible()
    expect(page.get_by_role("listitem", name="Matches seem outdated")).to_contain_text(re.compile(r"(No|Yes) — "))
    screenshot(page, "user-page.png", tmp_path)
    with conn:
        conn.execute("UPDATE users SET city='Somewhere New' WHERE id=?", (uid,))
    conn.close()
    page.reload()
    warning = page.get_by_role("alert").filter(has_text="the profile changed after searchable-user built this snapshot")
    expect(warning).to_be_visible()
    remedy = page.get_by_role("region", name="Remedy: search group")
    expect(remedy.get_by_role("table", name="Jobs that will run")).to_contain_text("searchable-user")
    remedy.get_by_role("button", name="Enqueue Jobs").click()
    expect(page.get_by_role("region", name=re.compile(r"Batch \d+"))).to_contain_text("done", timeout=30_000)
    expect(warning).to_have_count(0)
    expect(page.get_by_text("Somewhere New")).to_be_visible()
