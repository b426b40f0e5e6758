"""Privacy: no e-mail, birthdate or coordinates anywhere in search data; contacts in bios redacted;
hidden and deleted users never found."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import run_job
from jobctl.jobs.search import query as searching
from jobctl.jobs import search
from jobctl.jobs.search.index import text_index
from jobctl.jobs.search.privacy import REDACTED, redact_contacts, scrub_own
from search_support import build_search, filler

PRIVATE_COLUMNS = {"email", "birthdate", "latitude", "longitude"}
DERIVED = ("searchable_users", "profile_search", "interest_members", "interest_stats")


def test_the_issue_example_is_redacted():
    assert redact_contacts("mail me at a.b@example.com or +1 555 123 4567") == \
        f"mail me at {REDACTED} or {REDACTED}"


@pytest.mark.parametrize("bio", [
    "write to anna.k+dating@mail.co.uk!", "ANNA@EXAMPLE.ORG", "anna [at] example [dot] com",
    "anna (at) example.com", "anna at example dot com", "call 555-123-4567", "(030) 1234 5678",
    "+49 30 123456", "0049-30-1234567", "tel:+33612345678", "555.123.4567", "5551234567",
    "+44 (0)7700 900 123", "070-123 45 67", "+33 6 12 34 56 78", "612 34 56 78", "+1-555-123-4567",
])
def test_contacts_are_redacted(bio):
    out = redact_contacts(f"hello {bio} bye")
    assert REDACTED in out and not re.search(r"\d{3}", out) and "@" not in out
    assert out.startswith("hello ") and out.endswith("bye")


@pytest.mark.parametrize("bio", [
    "I am 1.80 m tall", "born in 1990, moved in 2019-2023", "top 10 at 5 pm", "look at this dot",
    "#hiking @ the lake", "Zoë's café, 3 cats", "score 12:45", "v1.2.3",
])
def test_ordinary_text_is_kept(bio):
    assert redact_contacts(bio) == bio


@settings(max_examples=80, deadline=None)
@given(user=st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
       domain=st.from_regex(r"[a-z]{2,10}\.(com|de|org|co\.uk)", fullmatch=True),
       phone=st.from_regex(r"\+?[1-9][0-9]{1,2}[ -][0-9]{3}[ -][0-9]{3}[ -]?[0-9]{2,4}", fullmatch=True),
       before=st.text(alphabet="abc xyz,.!", max_size=15), after=st.text(alphabet="abc xyz,.!", max_size=15))
def test_any_email_or_phone_in_free_text_is_redacted(user, domain, phone, before, after):
    email = f"{user}@{domain}"
    out = redact_contacts(f"{before} {email} {after} {phone} {after}")
    assert email not in out and phone not in out and "@" not in out
    assert sum(ch.isdigit() for ch in out) < 7


def test_own_private_values_scrubbed_in_any_spelling():
    own = dict(email="Zoe.M@Example.com", birthdate="1994-03-07", latitude=47.37689, longitude=8.54169)
    text = ("zoe.m@example.com, born 07.03.1994 (3/7/1994, 1994-03-07), I live at 47.37689, 8.54169 "
            "or 47.377 8.542; 1994 was a good year, 147.376891 is not mine, 12.5 is")
    out = scrub_own(text, **own)
    for leak in ("zoe.m@example.com", "07.03.1994", "3/7/1994", "1994-03-07", "47.37689", "8.54169", "47.377",
                 "8.542"):
        assert leak not in out.lower()
    assert "1994 was a good year" in out and "12.5 is" in out
    assert "1[redacted]1 is not mine" in out        # no substring may equal the stored value


@pytest.fixture
def leaky(platform):
    """Users whose free text tries hard to leak their private data."""
    p = platform
    filler(p, 5)
    u = p.user(display_name="Lea Leak", username="lea", email="lea.private@example.com", birthdate="1993-04-21",
               latitude=48.13743, longitude=11.57549, city="München",
               bio="mail me at a.b@example.com or +1 555 123 4567. Or lea.private@example.com, born "
                   "21.04.1993, find me at 48.13743,11.57549")
    return u


def _all_text(conn, uid: int) -> str:
    rows = conn.execute("SELECT * FROM searchable_users WHERE user_id=?", (uid,)).fetchall()
    key = text_index(conn).key
    rows += conn.execute(f"SELECT * FROM profile_search WHERE {key}=?", (uid,)).fetchall()
    return " ".join(str(v) for r in rows for v in r)


def test_bio_redacted_in_snapshot_and_index(platform, leaky):
    build_search(platform)
    (bio,) = platform.rows("SELECT bio FROM searchable_users WHERE user_id=?", leaky)[0]
    assert bio == (f"mail me at {REDACTED} or {REDACTED}. Or {REDACTED}, born {REDACTED}, find me at "
                   f"{REDACTED},{REDACTED}")
    text = _all_text(platform.conn, leaky)
    for leak in ("a.b@example.com", "555 123 4567", "lea.private", "1993-04-21", "21.04.1993", "48.13743",
                 "11.57549"):
        assert leak not in text
    assert searching.search_profiles(platform.conn, "example") == []
    assert searching.search_profiles(platform.conn, "4567") == []
    assert [r["user_id"] for r in searching.search_profiles(platform.conn, "munchen")] == [leaky]


def test_private_columns_never_in_derived_tables(platform, leaky):
    build_search(platform)
    run_job(platform, search.interest_relationships)
    for t in DERIVED + ("interest_relationships",):
        cols = set(platform.columns(t))
        assert cols and not cols & PRIVATE_COLUMNS


def test_hidden_and_deleted_never_found_and_hiding_takes_effect_next_run(platform):
    p = platform
    filler(p, 10)
    hiking = p.interest("hiking")
    shown = p.user(display_name="Quentin Visible")
    hidden = p.user(display_name="Quentin Hidden", visibility="hidden")
    deleted = p.user(display_name="Quentin Deleted", deleted_at="2026-10-01T00:00:00Z")
    for u in (shown, hidden, deleted):
        p.likes_interest(u, hiking)
    build_search(p)
    assert [r["user_id"] for r in searching.search_profiles(p.conn, "quentin")] == [shown]
    assert [r["user_id"] for r in searching.interest_members(p.conn, "hiking")] == [shown]
    for uid in (hidden, deleted):
        assert p.rows("SELECT count(*) FROM searchable_users WHERE user_id=?", uid) == [(0,)]
        assert p.rows(f"SELECT count(*) FROM profile_search WHERE {p.search_key}=?", uid) == [(0,)]
        assert p.rows("SELECT count(*) FROM interest_members WHERE user_id=?", uid) == [(0,)]

    p.conn.execute("UPDATE users SET visibility='hidden' WHERE id=?", (shown,))
    # the live users row is checked at query time too: gone before any job re-runs
    assert searching.search_profiles(p.conn, "quentin") == []
    assert searching.interest_members(p.conn, "hiking") == []
    build_search(p)
    for t, col in (("searchable_users", "user_id"), ("profile_search", p.search_key), ("interest_members", "user_id")):
        assert p.rows(f"SELECT count(*) FROM {t} WHERE {col}=?", shown) == [(0,)]
    assert p.rows("SELECT member_count FROM interest_stats WHERE interest_id=?", hiking) == [(0,)]

    p.conn.execute("UPDATE users SET visibility='members' WHERE id=?", (shown,))
    build_search(p)
    assert [r["user_id"] for r in searching.search_profiles(p.conn, "quentin")] == [shown]


def _private_spellings(email: str, birthdate: str, lat, lon) -> list[str]:
    out = [email.lower(), birthdate]
    y, m, d = birthdate.split("-")
    out += [f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}"]
    out += [repr(v) for v in (lat, lon) if v is not None]
    return out


def test_demo_platform_leaks_nothing(tmp_path):
    demo = pytest.importorskip("jobctl.demo")
    from jobctl.db import connect
    from jobctl.context import make_context

    db = tmp_path / "demo.db"
    demo.build_demo(db, tmp_path / "media", 200, seed=7)
    conn = connect(db)
    for fn in (search.searchable_user, search.profile_search_index, search.user_interest_sets):
        fn(make_context(conn, fn.spec, {"now": "2026-11-29T03:00:00Z"} if fn.spec.uses_now else {}))
    users = conn.execute("SELECT id, email, birthdate, latitude, longitude, deleted_at, visibility "
                         "FROM users").fetchall()
    assert len(users) == 200
    raw = dict(conn.execute("SELECT id, bio FROM users"))
    assert any(u[1] in raw[u[0]] for u in users), "the demo should have bios quoting their own e-mail"
    active = {u[0] for u in users if u[5] is None and u[6] != "hidden"}
    inactive = {u[0] for u in users} - active
    assert active and inactive, "the demo should have hidden or deleted users"
    assert {r[0] for r in conn.execute("SELECT user_id FROM searchable_users")} == active
    assert {r[0] for r in conn.execute("SELECT rowid FROM profile_search")} == active
    assert not {r[0] for r in conn.execute("SELECT user_id FROM interest_members")} & inactive
    checked = 0
    for uid, email, birthdate, lat, lon, _d, _v in users:
        if uid not in active:
            continue
        text = _all_text(conn, uid).lower()
        for leak in _private_spellings(email, birthdate, lat, lon):
            assert leak.lower() not in text, f"user {uid}: {leak!r} leaked"
        checked += 1
    assert checked == len(active)
    for (bio,) in conn.execute("SELECT bio FROM searchable_users"):
        assert "@" not in bio and not re.search(r"\d[\d\s()./-]{5,}\d", bio), bio
    for uid in sorted(inactive)[:20]:
        name = conn.execute("SELECT display_name FROM users WHERE id=?", (uid,)).fetchone()[0]
        assert uid not in {r["user_id"] for r in searching.search_profiles(conn, name, limit=1000)}
    conn.close()


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
