"""The panel's guards: the token, the session cookie, CSRF, escaping, brute force, bad input."""

from __future__ import annotations

import time

from conftest import TOKEN


def test_login_form_token_and_cookie_flags(web):
    r = web.client.get("/admin/jobs")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next=")
    page = web.client.get("/admin/login").text
    assert '<label for="token">Token</label>' in page
    assert web.client.post("/admin/login", data={"token": "wrong"}).status_code == 401
    r = web.login()
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert web.client.get("/admin/jobs").status_code == 200


def test_login_by_url_and_no_open_redirect(web):
    r = web.client.get("/admin/login", params={"token": TOKEN, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/jobs"
    assert web.client.get("/admin/jobs").status_code == 200


def test_token_compared_in_constant_time(web, monkeypatch):
    import jobctl.web.auth as auth
    seen = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    web.client.post("/admin/login", data={"token": "guess"})
    web.client.get("/api/jobs", headers={"Authorization": "Bearer guess2"})
    assert (b"guess", TOKEN.encode()) in seen and (b"guess2", TOKEN.encode()) in seen


def test_a_cookie_alone_never_drives_the_api(web):
    web.login()
    assert web.client.get("/api/jobs").status_code == 401
    r = web.client.post("/api/jobs", json={"name": "toy-a"})
    assert r.status_code == 401
    assert web.api("GET", "/api/jobs").json() == []


def test_state_changing_forms_need_the_csrf_token(web):
    web.login()
    csrf = web.csrf()
    for path, data in (("/admin/jobs/run", {"job": "toy-a"}), ("/admin/enqueue", {"mode": "group", "bulk_group": "toy"}),
                       ("/admin/stalled/cleanup", {}), ("/admin/jobs/1/cancel", {}), ("/admin/logout", {})):
        assert web.client.post(path, data=data).status_code == 403, path
        assert web.client.post(path, data={**data, "csrf": "0" * 64}).status_code == 403, path
    assert web.api("GET", "/api/jobs").json() == []  # nothing changed
    r = web.client.post("/admin/jobs/run", data={"job": "toy-a", "p.n": "2", "csrf": csrf})
    assert r.status_code == 303 and "queued=1" in r.headers["location"]
    assert web.api("GET", "/api/jobs/1").json()["params"]["n"] == 2
    assert 'title="toy-a: A toy job">toy-a</a>' in web.client.get("/admin/jobs").text  # description on hover
    # a form posted without a session at all (another site's page) is refused too
    web.client.cookies.clear()
    assert web.client.post("/admin/jobs/1/cancel", data={"csrf": csrf}).status_code == 403
    assert web.api("GET", "/api/jobs/1").json()["status"] == "queued"


def test_bad_parameter_shown_beside_its_field_and_nothing_queued(web):
    web.login()
    csrf = web.csrf()
    r = web.client.post("/admin/jobs/run", data={"job": "toy-a", "p.n": "-3", "p.sleep_ms": "abc", "csrf": csrf})
    assert r.status_code == 400
    page = r.text
    assert '<p id="err-n" class="field-error" role="alert">toy-a: parameter n must be at least 0, got -3</p>' in page
    assert "toy-a: parameter sleep_ms expects an integer, got &#39;abc&#39;" in page
    assert 'id="p-n" name="p.n" type="text" value="-3"' in page  # what was typed stays
    assert web.api("GET", "/api/jobs").json() == []


def test_everything_a_job_recorded_is_escaped(web):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    web.login()
    csrf = web.csrf()
    web.client.post("/admin/jobs/run", data={"job": "toy-a", "p.label": evil, "csrf": csrf})
    ledger = web.ledger()
    job = ledger.claim()
    ledger.log(job["id"], "info", evil)
    ledger.fail(job["id"], evil, tb=evil)
    for path in ("/admin/jobs", f"/admin/jobs/{job['id']}"):
        page = web.client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page, path


def test_brute_force_login_is_slowed(web):
    times = []
    for _ in range(5):
        t = time.monotonic()
        assert web.client.post("/admin/login", data={"token": "nope"}).status_code == 401
        times.append(time.monotonic() - t)
    assert times[0] < 0.15 and times[1] < 0.15  # two free tries
    assert times[2] >= 0.2 and times[3] >= 0.4 and times[4] >= 0.8  # then doubling (capped at 1 s here)
    t = time.monotonic()
    web.login()  # even the right token waits while the address is being slowed
    assert time.monotonic() - t >= 0.8
    t = time.monotonic()
    web.client.post("/admin/login", data={"token": "nope"})
    assert time.monotonic() - t < 0.15  # a success cleared the count


def test_unknown_ids_are_404_pages(web):
    web.login()
    for path in ("/admin/jobs/999", "/admin/jobs/abc", "/admin/jobs/99999999999999999999999", "/admin/nothing"):
        r = web.client.get(path)
        assert r.status_code == 404 and "<html" in r.text and "Traceback" not in r.text, path
    csrf = web.csrf()
    assert web.client.post("/admin/jobs/999/cancel", data={"csrf": csrf}).status_code == 404
    assert web.client.post("/admin/jobs/999/retry", data={"csrf": csrf}).status_code == 404


def test_missing_platform_or_ledger_is_a_banner_not_a_500(web, tmp_path):
    web.login()
    web.settings.db = tmp_path / "gone.db"
    web.app.state.web._platform_checked = (0.0, None)
    r = web.client.get("/admin/jobs")
    assert r.status_code == 200 and "platform database not found" in r.text and 'class="banner error"' in r.text
    csrf = web.csrf()
    r = web.client.post("/admin/jobs/run", data={"job": "toy-a", "csrf": csrf})
    assert r.status_code == 400 and "platform database not found" in r.text
    web.settings.ledger_path = tmp_path / "no" / "such" / "ledger.db"
    web.app.state.web._local.__dict__.clear()
    r = web.client.get("/admin/jobs")
    assert r.status_code == 200 and "ledger folder does not exist" in r.text
    assert web.client.get("/admin/jobs/1").status_code == 503
    assert web.api("GET", "/api/jobs").status_code == 503
