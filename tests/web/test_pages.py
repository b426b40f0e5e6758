"""The catalogue and schedule pages render from the same library the commands use."""

from __future__ import annotations


def test_catalogue_page_draws_the_graph(web):
    web.login()
    page = web.client.get("/admin/catalogue").text
    assert '<svg role="img" aria-label="Job dependency graph"' in page
    assert page.count('class="edge"') == sum(len(s.depends_on) for s in web.registry.all())
    assert "toy-c" in page and 'href="/admin/jobs?run=toy-c#run"' in page


def test_schedule_page_gives_the_check_verdict(web, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBCTL_SCHEDULE", str(tmp_path / "sched.toml"))
    (tmp_path / "sched.toml").write_text('[[entry]]\nname = "nightly"\ncron = "0 3 * * *"\ngroups = ["toy"]\n')
    monkeypatch.setenv("PATH", str(tmp_path))  # no crontab binary: the page says so instead of failing
    web.login()
    r = web.client.get("/admin/schedule")
    assert r.status_code == 200
    assert "nightly" in r.text and "0 3 * * *" in r.text


def test_run_again_with_these_parameters_prefills_the_form(web):
    web.login()
    job = web.api("POST", "/api/jobs", json={"name": "toy-b", "params": {"n": 7, "label": "x&y"}}).json()
    page = web.client.get(f"/admin/jobs/{job['id']}").text
    assert "Run again with these parameters" in page
    rerun = next(part for part in page.split('"') if part.startswith("/admin/jobs?run=toy-b"))
    form = web.client.get(rerun.replace("&amp;", "&")).text
    assert 'id="p-n" name="p.n" type="text" value="7"' in form and 'value="x&amp;y"' in form
