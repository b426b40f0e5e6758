"""The query side: bm25 ranking, diacritics, prefixes, plain-word safety, interest members."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import CancelAtCheck, run_job
from jobctl.jobs.search import query as searching
from jobctl.errors import DatabaseError, JobCancelled, UsageError
from jobctl.jobs import search
from jobctl.jobs.search import index as idx
from search_support import build_search, filler

HOSTILE = [
    '"', '""', '"anna', 'anna"', "'", "''", "anna'; DROP TABLE users; --", "(", ")", "((anna", "anna)",
    "NEAR(", "NEAR(anna smith", "NEAR(anna smith, 2)", "anna NEAR/3 smith", '"*"', "*", "anna*", "*anna",
    "-x", "-anna", "+anna", "^anna", "anna^", "display_name:anna", "{display_name username}:anna", ":", "::",
    "AND", "OR", "NOT", "anna AND", "OR anna", "NOT anna", "anna NOT smith", "anna OR OR", "AND AND AND",
    "1=1 OR 1=1", "\\", "\\'", "%", "_", "anna%", "a\x00b", "\ud800anna", "😀", "漢字", "       ", "",
    "SELECT * FROM users", "/* comment */ anna", "anna -- comment", "[anna]", "{anna}", "anna;",
    "\"anna\" \"smith\"", "'anna' OR 'x'='x'", "anna\tsmith\nberlin", "rank MATCH 'bm25(1)'", "x" * 5000,
    " ".join(["anna"] * 200), "-- ; ' \" ( ) * : ^ + - { } NEAR AND OR NOT",
]


@pytest.fixture
def people(platform):
    p = platform
    filler(p, 30)
    ids = {
        "robin_name": p.user(display_name="Robin Hood", username="rh1", bio="archery and forests"),
        "robin_user": p.user(display_name="Chris Stone", username="robin_x", bio="climbing"),
        "robin_bio": p.user(display_name="Kim Park", username="kp", bio="I read a book about robin hood and more"),
        "zoe": p.user(display_name="Zoë Müller", username="zm", city="Zürich", bio="painter"),
        "lukasz": p.user(display_name="Łukasz Straße", username="ls", city="Kraków", bio="chess"),
        "anna": p.user(display_name="Anna Smith", username="asmith", city="Berlin", bio="hiking fan"),
        "annabel": p.user(display_name="Annabel Lee", username="alee", city="Paris", bio="poems"),
        "anna_paris": p.user(display_name="Anna Dupont", username="adupont", city="Paris", bio="baking"),
        "hidden": p.user(display_name="Anna Hidden", username="ahidden", visibility="hidden"),
        "deleted": p.user(display_name="Anna Deleted", username="adeleted", deleted_at="2026-01-01T00:00:00Z"),
        "members": p.user(display_name="Members Only Marta", username="marta", visibility="members"),
    }
    hiking, chess = p.interest("hiking"), p.interest("chess")
    p.interest("board games")
    for who in ("anna", "zoe", "members"):
        p.likes_interest(ids[who], hiking)
    p.likes_interest(ids["hidden"], hiking)
    p.likes_interest(ids["lukasz"], chess)
    build_search(p)
    return ids


def ids_of(rows):
    return [r["user_id"] for r in rows]


def test_name_hit_ranks_above_username_above_bio(platform, people):
    rows = searching.search_profiles(platform.conn, "robin")
    assert ids_of(rows) == [people["robin_name"], people["robin_user"], people["robin_bio"]]
    assert all(r["score"] > 0 for r in rows)
    assert rows[0]["score"] > rows[1]["score"] > rows[2]["score"]


def test_result_keys_age_and_city(platform, people):
    (row,) = searching.search_profiles(platform.conn, "Zürich")
    assert row["user_id"] == people["zoe"]
    assert row["display_name"] == "Zoë Müller"
    assert row["age"] == 31 and row["city"] == "Zürich" and row["country"] == "DE"
    assert row["interests"] == ["hiking"]


@pytest.mark.parametrize("text,who", [
    ("zoe", "zoe"), ("ZOË", "zoe"), ("Zoe\u0308", "zoe"), ("ｚｏｅ", "zoe"), ("muller", "zoe"),
    ("MÜLLER", "zoe"), ("zurich", "zoe"), ("lukasz", "lukasz"), ("strasse", "lukasz"), ("krakow", "lukasz"),
])
def test_diacritics_and_case_are_folded(platform, people, text, who):
    assert ids_of(searching.search_profiles(platform.conn, text)) == [people[who]]


def test_prefix_of_a_name_exact_word_first(platform, people):
    assert set(ids_of(searching.search_profiles(platform.conn, "annab"))) == {people["annabel"]}
    rows = searching.search_profiles(platform.conn, "anna")
    got = ids_of(rows)
    assert set(got) == {people["anna"], people["anna_paris"], people["annabel"]}
    assert got[-1] == people["annabel"]          # prefix-only hit below the two exact 'Anna's
    # a prefix only counts for names, not for bios: 'pain' does not find the painter
    assert searching.search_profiles(platform.conn, "pain") == []


def test_all_words_must_match_then_any(platform, people):
    assert ids_of(searching.search_profiles(platform.conn, "anna berlin")) == [people["anna"]]
    assert ids_of(searching.search_profiles(platform.conn, "paris anna"))[0] == people["anna_paris"]
    # no profile has both words: profiles with either, best first
    rows = searching.search_profiles(platform.conn, "chess xylophone")
    assert ids_of(rows) == [people["lukasz"]]


def test_hidden_and_deleted_never_found_members_only_found(platform, people):
    found = set(ids_of(searching.search_profiles(platform.conn, "anna", limit=100)))
    assert people["hidden"] not in found and people["deleted"] not in found
    assert ids_of(searching.search_profiles(platform.conn, "marta")) == [people["members"]]
    assert searching.search_profiles(platform.conn, "hidden") == []


def test_limit(platform, people):
    assert len(searching.search_profiles(platform.conn, "filler", limit=7)) == 7
    assert len(searching.search_profiles(platform.conn, "filler", limit=100)) == 30
    assert searching.search_profiles(platform.conn, "filler", limit=0) == []


def test_ties_are_broken_by_user_id(platform, people):
    rows = searching.search_profiles(platform.conn, "coffee", limit=100)
    assert len(rows) == 30
    assert ids_of(rows) == sorted(ids_of(rows))      # identical bios: identical scores


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_query_strings_return_normally(platform, people, text):
    rows = searching.search_profiles(platform.conn, text, limit=10)
    assert isinstance(rows, list) and len(rows) <= 10
    assert {r["user_id"] for r in rows} <= set(people.values()) | set(range(1, 31))
    assert people["hidden"] not in ids_of(rows) and people["deleted"] not in ids_of(rows)


def test_hostile_list_is_long_enough():
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("text,who", [
    ('"anna smith', "anna"), ("anna NOT smith", "anna"), ("-smith", "anna"), ("NEAR(anna smith)", "anna"),
    ("smith*", "anna"), ("display_name:smith", None), ("anna AND smith", "anna"), ("^smith", "anna"),
])
def test_syntax_is_never_an_operator(platform, people, text, who):
    """NOT/-/NEAR/* would exclude or change Anna Smith if they were operators; they are words."""
    rows = searching.search_profiles(platform.conn, text)
    if who is None:
        assert people["anna"] not in ids_of(rows)   # 'display_name:smith' is one odd word, not a column filter
    else:
        assert ids_of(rows)[0] == people[who]


def test_query_words_quote_everything():
    assert searching.build_queries('NEAR( "x" *') == ['"near" AND "x"', '"near" OR "x"']
    assert searching.build_queries('a"b (c)de') == ['"a""b" AND ("c)de" OR {display_name username} : "c)de"*)',
                                                    '"a""b" OR "c)de"']
    assert searching.build_queries('(c)d') == ['"c)d"']      # a one-letter last run is no prefix
    assert searching.build_queries("anna sm") == ['"anna" AND ("sm" OR {display_name username} : "sm"*)',
                                                  '"anna" OR "sm"']
    assert searching.build_queries("a\x00b") == ['"a" AND "b"', '"a" OR "b"']
    words = searching.query_words('Anna "*" -- NEAR( ^x "coffee, Zoë!')
    assert words == ["anna", "near", "x", "coffee", "zoe"]
    for expr in searching.build_queries('a "b" c:d e"f'):
        # every word is inside a quoted string; only our own AND/OR/*/{} appear outside quotes
        outside = "".join(part for i, part in enumerate(expr.split('"')) if i % 2 == 0)
        assert set(outside) <= set(" ANDOR(){}*:_displaynmeusr")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.sampled_from(list('anNA *"():^-+{}.,;\'\\%_\x00ë\u0308漢') + ["NEAR", "AND", "OR", "NOT"]),
                     max_size=25).map("".join) | st.text(max_size=30))
def test_any_text_returns_normally(platform, people, text):
    rows = searching.search_profiles(platform.conn, text, limit=5)
    assert len(rows) <= 5
    assert people["hidden"] not in ids_of(rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_no_index_yet_is_a_clear_database_error(platform):
    platform.user(display_name="Anna")
    with pytest.raises(DatabaseError, match="no search index yet"):
        searching.search_profiles(platform.conn, "anna")
    run_job(platform, search.searchable_user)
    with pytest.raises(DatabaseError, match="profile-search-index"):
        searching.search_profiles(platform.conn, "anna")
    with pytest.raises(DatabaseError, match="user-interest-sets"):
        searching.interest_members(platform.conn, "hiking")
    assert DatabaseError.exit_code == 2


def test_interest_members(platform, people):
    rows = searching.interest_members(platform.conn, "Hiking")
    # hidden member left out; by display name
    assert ids_of(rows) == [people["anna"], people["members"], people["zoe"]]
    assert [r["display_name"] for r in rows] == ["Anna Smith", "Members Only Marta", "Zoë Müller"]
    assert rows[0]["score"] is None and rows[0]["age"] == 31 and rows[0]["interests"] == ["hiking"]
    assert ids_of(searching.interest_members(platform.conn, "  board   GAMES ")) == []
    assert len(searching.interest_members(platform.conn, "hiking", limit=2)) == 2


def test_unknown_interest_suggests(platform, people):
    with pytest.raises(UsageError, match=r"unknown interest 'hikking'; did you mean 'hiking'"):
        searching.interest_members(platform.conn, "hikking")
    with pytest.raises(UsageError, match=r"unknown interest 'zzz'$"):
        searching.interest_members(platform.conn, "zzz")


@pytest.fixture
def coffee(platform):
    """40 profiles mentioning coffee with varied weight (name, interests, bio, bio length)."""
    p = platform
    filler(p, 5)
    drink = p.interest("coffee")
    ids = []
    for i in range(40):
        kw = {"display_name": f"Coffee Fan{i}"} if i % 9 == 0 else {"display_name": f"Person {i}"}
        uid = p.user(bio=("coffee " * (1 + i % 3)) + "and words " * (i % 5), **kw)
        if i % 4 == 0:
            p.likes_interest(uid, drink)
        ids.append(uid)
    return ids


def _live(conn, text, limit):
    expr = searching.build_queries(text)[0]
    return searching._ranked(conn, idx.text_index(conn), expr, limit)


@pytest.mark.sqlite_only("FTS5 precomputed rankings")
def test_precomputed_ranking_equals_live_ranking(platform, coffee, monkeypatch):
    run_job(platform, search.searchable_user)
    result = run_job(platform, search.profile_search_index, precompute_min=30)
    assert result["precomputed_searches"] >= 1                  # 'coffee' (45 profiles incl. fillers)
    expr = searching.build_queries("coffee")[0]
    stored = platform.rows("SELECT pos, user_id, matches FROM profile_search_top WHERE expr=? ORDER BY pos", expr)
    assert [r[0] for r in stored] == list(range(1, 46)) and stored[0][2] == 45
    expected = {k: _live(platform.conn, "coffee", k) for k in (1, 7, 45, 100)}
    assert [r["user_id"] for r in expected[7]][:1] == [coffee[0]]   # the name hit leads
    # the precomputed list is what is read: live ranking is not even possible any more
    monkeypatch.setattr(searching, "_ranked", lambda *a: pytest.fail("ranked live"))
    for k, rows in expected.items():
        assert searching.search_profiles(platform.conn, "COFFEE", limit=k) == rows


@pytest.mark.sqlite_only("FTS5 precomputed rankings")
def test_precomputed_ranking_respects_hiding_and_falls_back_when_short(platform, coffee, monkeypatch):
    run_job(platform, search.searchable_user)
    monkeypatch.setattr(search.idx, "TOP_KEEP", 6)               # keep only 6 per word
    run_job(platform, search.profile_search_index, precompute_min=30)
    expr = searching.build_queries("coffee")[0]
    top6 = [r[0] for r in platform.rows("SELECT user_id FROM profile_search_top WHERE expr=? ORDER BY pos", expr)]
    assert len(top6) == 6
    platform.conn.execute(f"UPDATE users SET visibility='hidden' WHERE id IN ({top6[0]}, {top6[3]})")
    got = searching.search_profiles(platform.conn, "coffee", limit=4)        # served from the 6 kept
    assert [r["user_id"] for r in got] == [top6[1], top6[2], top6[4], top6[5]]
    assert got == _live(platform.conn, "coffee", 4)
    # 5 visible wanted but only 4 left among the kept 6: the live index answers
    assert searching.search_profiles(platform.conn, "coffee", limit=5) == _live(platform.conn, "coffee", 5)
    assert len(searching.search_profiles(platform.conn, "coffee", limit=100)) == 43


@pytest.mark.sqlite_only("FTS5 precomputed rankings")
def test_precomputed_rankings_swap_with_the_index(platform, coffee):
    run_job(platform, search.searchable_user)
    run_job(platform, search.profile_search_index, precompute_min=30)
    before = platform.rows("SELECT * FROM profile_search_top ORDER BY expr, pos")
    platform.conn.execute("UPDATE users SET bio = 'tea' WHERE id = ?", (coffee[1],))
    counter = CancelAtCheck(10 ** 6)                                 # a clean build counts the boundaries
    run_job(platform, search.profile_search_index, reporter=counter, precompute_min=30)
    run_job(platform, search.searchable_user)
    with pytest.raises(JobCancelled):                           # kill at the last one, just before the swap
        run_job(platform, search.profile_search_index, reporter=CancelAtCheck(counter.calls), precompute_min=30)
    assert platform.rows("SELECT * FROM profile_search_top ORDER BY expr, pos") == before
    assert not platform.rows("SELECT name FROM sqlite_master WHERE name LIKE 'profile_search%__new'")  # dropped
    assert coffee[1] in [r["user_id"] for r in searching.search_profiles(platform.conn, "coffee", limit=100)]
    run_job(platform, search.profile_search_index, precompute_min=30)
    after = platform.rows("SELECT user_id FROM profile_search_top WHERE expr=?", searching.build_queries("coffee")[0])
    assert len(after) == 44 and (coffee[1],) not in after


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
