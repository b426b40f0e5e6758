"""`inspect user ID`: the derived tables of one user, hand-made here, read back without private data."""

import json

import pytest
from typer.testing import CliRunner

from jobctl.cli import app
from jobctl.inspect_user import inspect_user

runner = CliRunner()

DERIVED = """
CREATE TABLE searchable_users (user_id INTEGER PRIMARY KEY, username TEXT, display_name TEXT, age INTEGER,
    gender TEXT, city TEXT, country TEXT, bio TEXT, interests TEXT, traits TEXT, visibility TEXT, updated_at TEXT);
CREATE TABLE user_traits (user_id INTEGER PRIMARY KEY, openness REAL, conscientiousness REAL, extraversion REAL,
    agreeableness REAL, neuroticism REAL, answered_items INTEGER, computed_at TEXT);
CREATE TABLE match_scores (user_id INTEGER, candidate_id INTEGER, score REAL, rank INTEGER, computed_at TEXT,
    PRIMARY KEY (user_id, candidate_id));
CREATE TABLE compatibility_reports (user_id INTEGER, candidate_id INTEGER, area TEXT, score REAL, details TEXT,
    PRIMARY KEY (user_id, candidate_id, area));
CREATE TABLE feed_presort (user_id INTEGER, section TEXT, position INTEGER, item_type TEXT, item_id INTEGER,
    score REAL, generated_at TEXT, PRIMARY KEY (user_id, section, position));
"""
AT = "2026-11-29T03:00:00Z"


@pytest.fixture
def world(platform):
    p = platform
    ada = p.user(display_name="Ada", email="ada.secret@example.com", birthdate="1991-02-03",
                 latitude=48.137154, longitude=11.576124, bio="hiker")
    bo = p.user(display_name="Bo", gender="man", seeking="woman")
    cy = p.user(display_name="Cy", gender="man", seeking="woman", deleted_at="2026-11-01T00:00:00Z")
    long_post = p.post(bo, "Sunrise on the ridge today, mail me at bo.private@example.com for the route and more "
                           "words that go on")
    short_post = p.post(cy, "#boardgames night")
    return p, {"ada": ada, "bo": bo, "cy": cy, "long_post": long_post, "short_post": short_post}


def derive(p, ids):
    p.conn.executescript(DERIVED)
    ada, bo, cy = ids["ada"], ids["bo"], ids["cy"]
    p.insert("searchable_users", user_id=ada, username="user1", display_name="Ada", age=35, gender="woman",
             city="Berlin", country="DE", bio="hiker, write to [redacted]", interests="hiking, photography",
             traits=json.dumps({"openness": 71}), visibility="public", updated_at=AT)
    p.insert("user_traits", user_id=ada, openness=71.0, conscientiousness=50.0, extraversion=None,
             agreeableness=62.5, neuroticism=20.0, answered_items=18, computed_at=AT)
    p.insert("match_scores", user_id=ada, candidate_id=bo, score=81.5, rank=1, computed_at=AT)
    p.insert("match_scores", user_id=ada, candidate_id=cy, score=60.0, rank=2, computed_at=AT)
    for area, score, text in (("interests", 40.0, "You both love hiking and photography"),
                              ("personality", 90.0, "You are both open to new experiences")):
        p.insert("compatibility_reports", user_id=ada, candidate_id=bo, area=area, score=score,
                 details=json.dumps({"explanation": text, "shared_interests": ["hiking"]}))
    for section, pos, kind, item, score in (("matches", 1, "user", bo, 81.5), ("trending", 1, "post", ids["long_post"], 3.2),
                                            ("following", 1, "post", ids["short_post"], None),
                                            ("for_you", 1, "post", 999, 1.0)):
        p.insert("feed_presort", user_id=ada, section=section, position=pos, item_type=kind, item_id=item,
                 score=score, generated_at=AT)


def test_everything_an_operator_checks(world):
    p, ids = world
    derive(p, ids)
    data = inspect_user(p.conn, ids["ada"])
    assert {m["table"] for m in data["missing"]} == {"user_affinities", "interest_members"}
    assert data["user"]["state"] == "active"
    assert data["searchable"]["age"] == 35 and data["searchable"]["interests"] == "hiking, photography"
    assert data["traits"]["openness"] == 71.0 and data["traits"]["extraversion"] is None
    top = data["matches"][0]
    assert (top["rank"], top["candidate_id"], top["display_name"], top["score"]) == (1, ids["bo"], "Bo", 81.5)
    assert [a["area"] for a in top["areas"]] == ["personality", "interests"]  # best first
    assert top["areas"][1]["explanation"] == "You both love hiking and photography"
    assert data["matches"][1]["display_name"] == "Cy (deleted)" and data["matches"][1]["areas"] == []
    assert list(data["feed"]) == ["matches", "following", "trending", "for_you"]
    trending = data["feed"]["trending"][0]["title"]
    assert trending.startswith("Sunrise on the ridge today, mail me at [redacted]") and trending.endswith("— Bo")
    assert len(trending.split(" — ")[0]) <= 60
    assert data["feed"]["following"][0]["title"] == "#boardgames night — Cy"
    assert data["feed"]["matches"][0]["title"] == "Bo"
    assert data["feed"]["for_you"][0]["title"] == "(no such post)"


def test_missing_derived_tables_name_the_job_that_builds_them(world):
    p, ids = world
    data = inspect_user(p.conn, ids["ada"])
    assert {m["table"]: m["job"] for m in data["missing"]} == {
        "searchable_users": "searchable-user", "user_traits": "build-user-traits", "match_scores": "match-scores",
        "compatibility_reports": "compatibility", "feed_presort": "feed-presort", "user_affinities": "affinity",
        "interest_members": "user-interest-sets"}
    assert data["matches"] is None and data["feed"] is None


@pytest.fixture
def cli(world):
    p, ids = world

    def invoke(*args):
        return runner.invoke(app, ["--db", str(p.path), "inspect", "user", *args])
    return invoke


def test_cli_text_and_json_never_show_private_data(world, cli):
    p, ids = world
    derive(p, ids)
    p.conn.execute("ALTER TABLE searchable_users ADD COLUMN email TEXT")  # a buggy job must not leak it either
    p.conn.execute("UPDATE searchable_users SET email='ada.secret@example.com'")
    text = cli(str(ids["ada"]))
    assert text.exit_code == 0, text.output
    out = text.stdout
    for needle in ("Ada", "top 2 matches", "You both love hiking", "feed: trending", "Sunrise on the ridge",
                   "openness 71", "#boardgames night"):
        assert needle in out, needle
    js = cli(str(ids["ada"]), "--json", "--top", "1")
    assert js.exit_code == 0
    data = json.loads(js.stdout)
    assert len(data["matches"]) == 1 and data["user"]["display_name"] == "Ada"
    for blob in (out, js.stdout):
        for secret in ("ada.secret@example.com", "bo.private@example.com", "1991-02-03", "48.137", "11.576"):
            assert secret not in blob, secret
        assert "email" not in blob and "birthdate" not in blob and "latitude" not in blob


def test_cli_missing_tables_and_hidden_user(world, cli):
    p, ids = world
    p.conn.execute("UPDATE users SET visibility='hidden' WHERE id=?", (ids["ada"],))
    res = cli(str(ids["ada"]))
    assert res.exit_code == 0
    assert "match_scores does not exist yet: built by match-scores (matching group)" in res.stdout
    assert "this user is hidden" in res.stdout


def test_unknown_user_is_one_line_exit_2(cli):
    res = cli("4242")
    assert res.exit_code == 2 and res.stderr.strip() == "jobctl: no user with id 4242 in the platform database"
