"""compatibility: per-area scores, plain-language details, symmetry and kill safety."""

import json
import math
import random

import pytest

from builders import NOW, run_job
from jobctl.errors import JobFailed
from jobctl.jobs import matching
from jobctl.jobs.matching import explain as explain
from matching_reference import World, random_platform



def r6(x: float) -> float:
    return round(x * 1e6) / 1e6


def run_all(platform, **params):
    run_job(platform, matching.build_user_traits)
    run_job(platform, matching.match_scores)
    return run_job(platform, matching.compatibility, **params)


def reports(platform):
    return {(u, c, a): (s, json.loads(d)) for u, c, a, s, d in
            platform.rows("SELECT user_id, candidate_id, area, score, details FROM compatibility_reports")}


@pytest.fixture
def couple(platform):
    u = platform.user(gender="woman", seeking="man")
    v = platform.user(gender="man", seeking="woman")
    q = {}
    q["v1"] = platform.question("match", 3, area="values", text="Is religion important to you?")
    q["v2"] = platform.question("match", 3, area="values", text="Do you want children?")
    q["l1"] = platform.question("match", 3, area="lifestyle", text="Do you smoke?")
    q["c1"] = platform.question("match", 3, area="communication", text="Texting or calling?")
    q["f1"] = platform.question("match", 3, area="future", text="City or countryside?")
    (v1, o1), (v2, o2), (l1, ol), (c1, oc), (f1, of) = (q[k] for k in ("v1", "v2", "l1", "c1", "f1"))
    # values: u accepts v on v1 (50) not on v2 (10); v accepts u on both (1, 250)
    platform.answer(u, v1, o1[0], accepted=[o1[1]], importance=3)
    platform.answer(u, v2, o2[0], accepted=[o2[0]], importance=2)
    platform.answer(v, v1, o1[1], accepted=[o1[0], o1[1]], importance=1)
    platform.answer(v, v2, o2[1], accepted=None, importance=4)
    # lifestyle: both accept each other
    platform.answer(u, l1, ol[2], accepted=[ol[2]], importance=3)
    platform.answer(v, l1, ol[2], accepted=[], importance=1)
    # communication: only u answered
    platform.answer(u, c1, oc[0], accepted=[oc[0]], importance=3)
    # future: common, but v's importance is 0 (irrelevant): a zero denominator, no row
    platform.answer(u, f1, of[0], accepted=[of[0]], importance=3)
    platform.answer(v, f1, of[0], accepted=[of[0]], importance=0)
    likert = {t: platform.question("likert", trait=t) for t in ("openness", "extraversion", "agreeableness")}
    for t, (qid, opts) in likert.items():
        platform.answer(u, qid, opts[4])                               # 100
    platform.answer(v, likert["openness"][0], likert["openness"][1][3])           # 75
    platform.answer(v, likert["extraversion"][0], likert["extraversion"][1][0])   # 0
    platform.answer(v, likert["agreeableness"][0], likert["agreeableness"][1][4])  # 100
    names = ["hiking", "photography", "chess", "jazz"]
    ids = {n: platform.interest(n) for n in names}
    for n in ("hiking", "photography", "chess"):
        platform.likes_interest(u, ids[n])
    for n in ("hiking", "photography", "jazz"):
        platform.likes_interest(v, ids[n])
    return u, v, q


def test_area_scores_and_rows(platform, couple):
    u, v, q = couple
    run_all(platform)
    rep = reports(platform)
    assert {a for (x, y, a) in rep if (x, y) == (u, v)} == {"values", "lifestyle", "personality", "interests"}
    s_uv, s_vu = 50 / 60, 251 / 251
    assert rep[(u, v, "values")][0] == r6(100.0 * math.sqrt(s_uv * s_vu))
    assert rep[(u, v, "lifestyle")][0] == 100.0
    traits = 1 - math.sqrt((25 ** 2 + 100 ** 2 + 0 ** 2) / 3) / 100
    assert rep[(u, v, "personality")][0] == r6(100 * traits)
    assert rep[(u, v, "interests")][0] == r6(100 * 2 / 4)
    # symmetric: the same scores and details both ways
    assert all(rep[(v, u, a)] == rep[(u, v, a)] for (x, y, a) in rep if (x, y) == (u, v))


def test_details_explain_with_the_evidence(platform, couple):
    u, v, q = couple
    run_all(platform)
    rep = reports(platform)
    values = rep[(u, v, "values")][1]
    assert values["both_accept"] == [q["v1"][0]] and values["common"] == 2
    assert values["explanation"] == ("You accept each other's answers on 1 of the 2 values questions you both "
                                     "answered, like “Is religion important to you?”.")
    life = rep[(u, v, "lifestyle")][1]
    assert life["both_accept"] == [q["l1"][0]]
    assert "“Do you smoke?”" in life["explanation"]
    pers = rep[(u, v, "personality")][1]
    assert pers["closest_traits"] == ["agreeableness", "openness", "extraversion"]
    assert rep[(u, v, "personality")][0] < 50
    assert pers["explanation"] == ("Your personalities are quite different; you are closest in "
                                   "agreeableness and openness.")
    inter = rep[(u, v, "interests")][1]
    assert sorted(inter["shared_interests"]) == ["hiking", "photography"]
    assert inter["explanation"] in ("You both love hiking and photography.", "You both love photography and hiking.")


def test_explanation_sentences():
    assert explain.interests([]) == '{"explanation":"You don\'t share any interests yet.","shared_interests":[]}'
    many = json.loads(explain.interests(["a", "b", "c", "d", "e"]))
    assert many["explanation"] == "You both love a, b and 3 more interests."
    assert json.loads(explain.quiz_area("future", 3, [], None))["explanation"] == (
        "You don't accept each other's answers on any of the 3 future questions you both answered.")
    one = json.loads(explain.quiz_area("intimacy", 1, [7], 'Say "hi"?'))
    assert one["explanation"] == ("You accept each other's answer to the one intimacy question you both answered, "
                                  'like “Say "hi"?”.')
    assert one["both_accept"] == [7] and one["common"] == 1
    assert json.loads(explain.personality(90, ["openness"], 1))["explanation"] == (
        "Your personalities are very similar, especially in openness.")


def test_only_rows_of_match_scores_and_hidden_pairs_skipped(platform, couple):
    u, v, _ = couple
    w = platform.user(gender="man", seeking="woman")
    run_all(platform)
    pairs = {(a, b) for a, b, _ in reports(platform)}
    assert pairs == set(platform.rows("SELECT user_id, candidate_id FROM match_scores"))
    assert (u, w) in pairs
    # a block after match-scores ran: compatibility leaves the pair out
    platform.block(w, u)
    result = run_job(platform, matching.compatibility)
    assert {(a, b) for a, b, _ in reports(platform)} == {(u, v), (v, u)}
    assert result["matches_skipped"] == 2


def test_needs_match_scores(platform):
    with pytest.raises(JobFailed, match="match-scores"):
        run_job(platform, matching.compatibility)


def test_no_personality_row_without_traits(platform, couple):
    u, v, _ = couple
    platform.conn.execute("DELETE FROM quiz_answers WHERE user_id = ? AND question_id IN "
                          "(SELECT id FROM quiz_questions WHERE kind = 'likert')", (v,))
    run_all(platform)
    areas = {a for (x, y, a) in reports(platform) if (x, y) == (u, v)}
    assert "personality" not in areas and "interests" in areas


def test_area_scores_match_the_reference_on_a_random_platform(platform):
    random_platform(platform, random.Random(3), 40, n_questions=10, n_interests=6, ages=(20, 25))
    run_all(platform)
    world = World(platform.conn, NOW)
    rep = reports(platform)
    assert len(rep) > 50
    for (u, v, area), (score, details) in rep.items():
        if area == "interests":
            assert score == r6(100 * world.jaccard(u, v))
        elif area == "personality":
            part, shared = world.trait_part(u, v)
            assert shared > 0 and score == r6(100 * part)
            assert len(details["closest_traits"]) == shared
        else:
            nu, du, n = world.sums(u, v, area)
            nv, dv, _ = world.sums(v, u, area)
            assert n > 0 and du > 0 and dv > 0
            assert score == r6(100.0 * math.sqrt((nu / du) * (nv / dv)))
            assert details["common"] == n
    # every area with evidence has its row
    for u, v in platform.rows("SELECT user_id, candidate_id FROM match_scores"):
        for area in ("communication", "lifestyle", "values", "intimacy", "future"):
            _, du, n = world.sums(u, v, area)
            _, dv, _ = world.sums(v, u, area)
            assert ((u, v, area) in rep) == (n > 0 and du > 0 and dv > 0)



@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
