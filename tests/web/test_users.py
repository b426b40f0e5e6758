"""The user page: one function with `jobctl inspect user --json`, freshness, privacy, escaping."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import TOKEN
from markupsafe import escape
from servers import jobctl_env


def esc(text) -> str:
    """As the page's templates escape it (Jinja's autoescape)."""
    return str(escape(text))


@pytest.fixture(scope="module")
def demo_paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("userdemo")
    paths = dict(db=d / "platform.db", ledger=d / "ledger.db", media=d / "media")
    base = [sys.executable, "-m", "jobctl.cli", "--db", str(paths["db"]), "--ledger", str(paths["ledger"]),
            "--media-root", str(paths["media"])]
    for args in (["demo", "--users", "80"], ["enqueue", "--all", "--wait"]):
        subprocess.run(base + args, check=True, capture_output=True, env=jobctl_env(plugins=""), timeout=300)
    return paths, base


@pytest.fixture
def site(demo_paths):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from jobctl.actions import Settings
    from jobctl.web.site import create_app
    paths, base = demo_paths
    settings = Settings(db=paths["db"], ledger_path=paths["ledger"], media_root=paths["media"])
    client = TestClient(create_app(settings, TOKEN), base_url="http://127.0.0.1", follow_redirects=False)
    assert client.post("/admin/login", data={"token": TOKEN}).status_code == 303
    yield client, paths, base
    client.close()


def sql(paths, statement, *args):
    import sqlite3
    conn = sqlite3.connect(paths["db"])
    try:
        with conn:
            return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


def an_active_user_with_matches(paths) -> int:
    return sql(paths, "SELECT m.user_id FROM match_scores m JOIN users u ON u.id = m.user_id WHERE u.deleted_at IS NULL "
                      "AND u.visibility != 'hidden' GROUP BY m.user_id HAVING COUNT(*) >= 3 ORDER BY m.user_id LIMIT 1")[0][0]


def test_page_and_cli_json_come_from_one_function_and_agree(site):
    import jobctl.inspect_user
    import jobctl.web.users
    client, paths, base = site
    assert jobctl.web.users.inspect_user is jobctl.inspect_user.inspect_user
    uid = an_active_user_with_matches(paths)
    cli = subprocess.run(base + ["inspect", "user", str(uid), "--json"], capture_output=True, text=True,
                         env=jobctl_env(plugins=""), timeout=60)
    data = json.loads(cli.stdout)
    page = client.get(f"/admin/users/{uid}").text
    assert esc(data["searchable"]["display_name"]) in page
    for m in data["matches"]:
        assert f'<a href="/admin/users/{m["candidate_id"]}">{esc(m["display_name"])}</a>' in page
        assert f'{m["score"]:.1f}' in page
        for a in m["areas"][:4]:
            assert esc(a["explanation"]) in page
    for rows in data["feed"].values():
        for r in rows:
            assert esc(r["title"]) in page
    for f in data["freshness"]:
        assert f"Built by <strong>{f['job']}</strong>" in page
    assert [a["question"] for a in data["stale"]][:2] == ["Matches seem outdated", "Feed not updating"]
    assert all(a["ok"] for a in data["stale"])  # everything just ran


def test_profile_edit_after_searchable_user_is_a_warning_with_the_remedy(site):
    client, paths, _ = site
    uid = an_active_user_with_matches(paths)
    old = sql(paths, "SELECT city FROM users WHERE id=?", uid)[0][0]
    sql(paths, "UPDATE users SET city='Elsewhere' WHERE id=?", uid)
    try:
        page = client.get(f"/admin/users/{uid}").text
        assert "the profile changed after searchable-user built this snapshot (city)" in page
        assert 'aria-label="Remedy: search group"' in page and "Enqueue Jobs" in page
        assert 'name="bulk_group" value="search"' in page and "searchable-user" in page
    finally:
        sql(paths, "UPDATE users SET city=? WHERE id=?", old, uid)


def test_matches_outdated_names_the_job_behind(site, demo_paths):
    client, paths, base = site
    uid = an_active_user_with_matches(paths)
    subprocess.run(base + ["run", "build-user-traits"], check=True, capture_output=True, env=jobctl_env(plugins=""),
                   timeout=120)
    page = client.get(f"/admin/users/{uid}").text
    assert "Matches seem outdated?</strong>" in page and "match-scores" in page
    assert "build-user-traits succeeded after it was built" in page
    assert 'aria-label="Remedy: matching group"' in page
    subprocess.run(base + ["enqueue", "--group", "matching", "--wait"], check=True, capture_output=True,
                   env=jobctl_env(plugins=""), timeout=120)


def test_hidden_and_deleted_users_show_only_that(site):
    client, paths, _ = site
    uid, name = sql(paths, "SELECT id, display_name FROM users WHERE deleted_at IS NULL AND visibility != 'hidden' "
                           "ORDER BY id DESC LIMIT 1")[0]
    sql(paths, "UPDATE users SET visibility='hidden' WHERE id=?", uid)
    try:
        page = client.get(f"/admin/users/{uid}").text
        assert "This user is <strong>hidden</strong>" in page
        assert esc(name) not in page and "Top matches" not in page
        found = client.get("/admin/users", params={"q": name.split()[0]}).text
        assert f'href="/admin/users/{uid}"' not in found
    finally:
        sql(paths, "UPDATE users SET visibility='public' WHERE id=?", uid)
    deleted = sql(paths, "SELECT id FROM users WHERE deleted_at IS NOT NULL LIMIT 1")
    if deleted:
        assert "This user is <strong>deleted</strong>" in client.get(f"/admin/users/{deleted[0][0]}").text
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/users/abc").status_code == 404


def test_blocked_pairs_never_appear_in_each_others_lists(site):
    client, paths, _ = site
    uid = an_active_user_with_matches(paths)
    cand, = sql(paths, "SELECT candidate_id FROM match_scores WHERE user_id=? ORDER BY rank LIMIT 1", uid)[0]
    sql(paths, "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, '2026-11-29T00:00:00Z')", cand, uid)
    try:
        for viewer, other in ((uid, cand), (cand, uid)):
            page = client.get(f"/admin/users/{viewer}").text
            assert f'href="/admin/users/{other}"' not in page
    finally:
        sql(paths, "DELETE FROM blocks WHERE blocker_id=? AND blocked_id=?", cand, uid)


def test_search_finds_by_name_and_html_in_a_bio_is_escaped(site):
    client, paths, _ = site
    uid = an_active_user_with_matches(paths)
    name = sql(paths, "SELECT display_name FROM searchable_users WHERE user_id=?", uid)[0][0]
    found = client.get("/admin/users", params={"q": name}).text
    assert f'href="/admin/users/{uid}"' in found
    evil = '<script>alert(1)</script><b onmouseover="x()">hi</b>'
    old = sql(paths, "SELECT bio FROM searchable_users WHERE user_id=?", uid)[0][0]
    sql(paths, "UPDATE searchable_users SET bio=? WHERE user_id=?", evil, uid)
    try:
        page = client.get(f"/admin/users/{uid}").text
        assert "<script>alert(1)" not in page and "<b onmouseover" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    finally:
        sql(paths, "UPDATE searchable_users SET bio=? WHERE user_id=?", old, uid)
    assert client.get("/admin/users", params={"q": str(uid)}).headers["location"] == f"/admin/users/{uid}"
