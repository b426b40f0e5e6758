"""searchable-user, profile-search-index and user-interest-sets: known answers and kill-safety."""

from __future__ import annotations

import json

import pytest

from builders import run_job
from jobctl.errors import JobFailed
from jobctl.jobs import search
from search_support import JOBS, build_search, table

PLATFORM_TABLES = ("users", "interests", "user_interests")


def _traits_table(p, rows):
    p.conn.execute("""CREATE TABLE user_traits (user_id INTEGER PRIMARY KEY, openness REAL, conscientiousness REAL,
                      extraversion REAL, agreeableness REAL, neuroticism REAL, answered_items INTEGER,
                      computed_at TEXT)""")
    for r in rows:
        p.insert("user_traits", **r)


def _snapshot(p):
    return {r[0]: r for r in table(p, "searchable_users", "user_id")}


def test_catalogue_entries():
    specs = {fn.spec.name: fn.spec for fn in JOBS}
    assert specs["searchable-user"].depends_on == ("build-user-traits",) and specs["searchable-user"].uses_now
    assert specs["profile-search-index"].depends_on == ("searchable-user",)
    assert specs["user-interest-sets"].depends_on == ()
    assert specs["interest-relationships"].depends_on == ("user-interest-sets",)
    rel = specs["interest-relationships"]
    assert rel.param("min_count").default == 5 and rel.param("per_interest").default == 20
    for s in specs.values():
        assert s.group == "search" and s.summary and s.description and s.when and s.impact
        assert s.param("batch_size") and s.param("pause_ms")


def test_searchable_user_known_answer(platform):
    p = platform
    a = p.user(display_name="Ana", username="ana", birthdate="2000-11-29", gender="woman", city="Porto",
               country="PT", bio="Hi!", visibility="members")
    b = p.user(display_name="Ben", birthdate="2000-11-30", gender="man", city=None, country=None)
    c = p.user(birthdate="1995-06-15")
    p.user(visibility="hidden")
    p.user(deleted_at="2026-01-01T00:00:00Z")
    hiking, games, yoga = p.interest("hiking"), p.interest("board games"), p.interest("yoga")
    for i in (hiking, games, yoga):
        p.likes_interest(a, i)
    p.likes_interest(c, yoga)
    _traits_table(p, [dict(user_id=a, openness=62.5, conscientiousness=12.49, extraversion=None,
                           agreeableness=100.0, neuroticism=0.0, answered_items=20, computed_at="2026-11-28T00:00:00Z"),
                      dict(user_id=b, openness=None, conscientiousness=None, extraversion=None,
                           agreeableness=None, neuroticism=None, answered_items=1, computed_at="2026-11-28T00:00:00Z")])
    result = run_job(p, search.searchable_user)
    assert result == {"users": 3, "removed": 0, "skipped_inactive": 2}
    cols = p.columns("searchable_users")
    assert cols == ["user_id", "username", "display_name", "age", "gender", "city", "country", "bio",
                    "interests", "traits", "visibility", "updated_at"]
    snap = _snapshot(p)
    assert set(snap) == {a, b, c}
    assert snap[a] == (a, "ana", "Ana", 26, "woman", "Porto", "PT", "Hi!", "board games,hiking,yoga",
                       json.dumps({"openness": 63, "conscientiousness": 12, "extraversion": None,
                                   "agreeableness": 100, "neuroticism": 0}), "members", "2026-11-29T03:00:00Z")
    assert snap[b][3] == 25 and snap[b][5] is None and snap[b][8] == "" and snap[b][9] is None
    assert snap[c][3] == 31 and snap[c][8] == "yoga" and snap[c][9] is None


def test_searchable_user_without_traits_table_logs_and_leaves_traits_empty(platform):
    platform.user()
    run_job(platform, search.searchable_user)
    assert platform.rows("SELECT traits FROM searchable_users") == [(None,)]


def test_searchable_user_follows_changes_and_is_idempotent(platform):
    p = platform
    ids = [p.user(bio=f"bio {i}") for i in range(7)]
    run_job(p, search.searchable_user, batch_size=3)
    first = _snapshot(p)
    assert set(first) == set(ids)
    assert run_job(p, search.searchable_user, batch_size=2)["removed"] == 0
    assert _snapshot(p) == first                          # same now, same rows, any batch size
    p.conn.execute("UPDATE users SET visibility='hidden' WHERE id=?", (ids[1],))
    p.conn.execute("UPDATE users SET deleted_at='2026-11-01T00:00:00Z' WHERE id=?", (ids[5],))
    p.conn.execute("DELETE FROM users WHERE id=?", (ids[6],))
    p.conn.execute("UPDATE users SET bio='new' WHERE id=?", (ids[0],))
    new = p.user(id=100, bio="late")
    assert run_job(p, search.searchable_user, batch_size=3) == {"users": 5, "removed": 3, "skipped_inactive": 2}
    snap = _snapshot(p)
    assert set(snap) == {ids[0], ids[2], ids[3], ids[4], new}
    assert snap[ids[0]][7] == "new"


@pytest.mark.sqlite_only("compares sqlite_master")
def test_searchable_user_never_alters_platform_tables(platform):
    before = platform.rows("SELECT name, sql FROM sqlite_master ORDER BY name")
    platform.user()
    build_search(platform)
    run_job(platform, search.interest_relationships)
    after = dict(platform.rows("SELECT name, sql FROM sqlite_master"))
    assert all(after[name] == sql for name, sql in before)
    assert platform.rows("SELECT count(*) FROM users") == [(1,)]


@pytest.mark.sqlite_only("FTS5 configuration")
def test_profile_search_index_content_weights_and_tokenizer(platform):
    p = platform
    u = p.user(display_name="Zoë Łapińska", username="zoe_l", city="Kraków", bio="Café & Straße")
    h = p.interest("board games")
    p.likes_interest(u, h)
    run_job(p, search.searchable_user)
    assert run_job(p, search.profile_search_index) == {"profiles_indexed": 1, "precomputed_searches": 0}
    row = p.rows("SELECT rowid, display_name, username, city, interests, bio FROM profile_search")
    assert row == [(u, "zoe lapinska", "zoe_l", "krakow", "board games", "cafe & strasse")]   # folded
    config = dict(p.rows("SELECT k, v FROM profile_search_config"))
    assert config["rank"] == "bm25(10.0, 8.0, 2.0, 3.0, 1.0)"
    sql = p.rows("SELECT sql FROM sqlite_master WHERE name='profile_search'")[0][0]
    assert "remove_diacritics 2" in sql and "prefix" in sql
    # no shadow left behind, shadow tables follow the rename
    names = {r[0] for r in p.rows("SELECT name FROM sqlite_master")}
    assert not any("__new" in n for n in names)
    assert {"profile_search_data", "profile_search_idx", "profile_search_content"} <= names


def test_profile_search_index_needs_searchable_users(platform):
    with pytest.raises(JobFailed, match="run searchable-user first"):
        run_job(platform, search.profile_search_index)


def test_user_interest_sets_known_answer(platform):
    p = platform
    a, b, c = p.user(), p.user(), p.user()
    hidden, deleted = p.user(visibility="hidden"), p.user(deleted_at="2026-01-01T00:00:00Z")
    hiking, yoga, chess = p.interest("hiking"), p.interest("yoga"), p.interest("chess")
    for u, i in [(a, hiking), (a, yoga), (b, hiking), (c, yoga), (hidden, chess), (deleted, hiking)]:
        p.likes_interest(u, i)
    p.likes_interest(c, 999)                                  # an interest id that does not exist
    assert run_job(p, search.user_interest_sets, batch_size=2) == {
        "memberships": 4, "interests_with_members": 2, "active_users": 3}
    assert table(p, "interest_members", "interest_id, user_id") == [
        (hiking, a), (hiking, b), (yoga, a), (yoga, c)]
    assert table(p, "interest_stats", "interest_id") == [(hiking, "hiking", 2), (yoga, "yoga", 2),
                                                         (chess, "chess", 0)]
    pk = p.primary_key("interest_members")
    assert pk == ["interest_id", "user_id"]


def test_id_ranges_cover_everything():
    assert search.id_ranges([], 3) == [(search._MIN_ID, search._MAX_ID, 0)]
    r = search.id_ranges([2, 5, 7, 9, 11], 2)
    assert r == [(search._MIN_ID, 5, 2), (5, 9, 2), (9, search._MAX_ID, 1)]


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
