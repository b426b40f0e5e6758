"""match-scores: known answers on hand-built platforms, eligibility, ranking and kill safety."""

import math

import numpy as np
import pytest

from builders import NOW, run_job
from jobctl.errors import JobFailed, ParamError
from jobctl.jobs import matching
from jobctl.jobs.matching import formulas as mm



def r6(x: float) -> float:
    """The job's rounding: half-even to 6 decimals, as rint(x·1e6)/1e6."""
    return round(x * 1e6) / 1e6


def scores(platform, **params):
    run_job(platform, matching.build_user_traits)
    run_job(platform, matching.match_scores, **params)
    return platform.rows("SELECT user_id, candidate_id, score, rank FROM match_scores ORDER BY user_id, rank")


def pair(platform, **kw):
    """A woman and a man seeking each other, same age."""
    a = platform.user(gender="woman", seeking="man", **kw)
    b = platform.user(gender="man", seeking="woman", **kw)
    return a, b


def okcupid_pair(platform):
    """The issue's example: one side satisfied 50/51, the other 10/11, two common questions."""
    u, v = pair(platform)
    (q1, o1), (q2, o2) = platform.question("match", 3, area="values"), platform.question("match", 3, area="lifestyle")
    platform.answer(u, q1, o1[0], accepted=[o1[1]], importance=3)    # 50, satisfied by v
    platform.answer(u, q2, o2[0], accepted=[o2[0]], importance=1)    # 1, not satisfied
    platform.answer(v, q1, o1[1], accepted=[o1[0]], importance=2)    # 10, satisfied by u
    platform.answer(v, q2, o2[1], accepted=[o2[2]], importance=1)    # 1, not satisfied
    return u, v


def test_okcupid_example_94_then_44_percent(platform):
    u, v = okcupid_pair(platform)
    raw = math.sqrt((50 / 51) * (10 / 11))
    assert round(100 * raw) == 94
    assert round(100 * mm.quiz_part(50, 51, 10, 11, 2)[()]) == 44
    rows = scores(platform, w_quiz=1, w_traits=0, w_interests=0)
    expected = r6(100 * (raw - 0.5))
    assert rows == [(u, v, expected, 1), (v, u, expected, 1)]
    assert round(rows[0][2]) == 44


def test_default_blend_of_the_okcupid_pair(platform):
    u, v = okcupid_pair(platform)
    rows = scores(platform)                               # no traits, no interests: only 0.6 · quiz
    assert rows[0][2] == pytest.approx(60 * (math.sqrt((50 / 51) * (10 / 11)) - 0.5), abs=1e-6)


def test_mandatory_and_irrelevant_importance(platform):
    u, v = pair(platform)
    (q1, o1), (q2, o2), (q3, o3) = (platform.question("match", 2, area="values") for _ in range(3))
    # u: irrelevant question v fails, mandatory question v passes, 'a little' question v fails
    platform.answer(u, q1, o1[0], accepted=[o1[0]], importance=0)
    platform.answer(u, q2, o2[0], accepted=[o2[0]], importance=4)
    platform.answer(u, q3, o3[0], accepted=[o3[0]], importance=1)
    # v accepts everything (empty list, NULL list) with various importances
    platform.answer(v, q1, o1[1], accepted=[], importance=4)
    platform.answer(v, q2, o2[0], accepted=None, importance=4)
    platform.answer(v, q3, o3[1], accepted=[o3[0], o3[1]], importance=2)
    s_uv = 250 / 251                                      # irrelevant ignored, mandatory dominates
    s_vu = 1.0
    rows = scores(platform, w_quiz=1, w_traits=0, w_interests=0)
    assert rows[0][2] == r6(100 * (math.sqrt(s_uv * s_vu) - 1 / 3))


def test_quiz_is_zero_without_common_questions_or_weight(platform):
    u, v = pair(platform)
    w, x = pair(platform)
    (q1, o1), (q2, o2) = platform.question("match", 2, area="values"), platform.question("match", 2, area="values")
    platform.answer(u, q1, o1[0], accepted=[o1[0]], importance=3)
    platform.answer(v, q2, o2[0], accepted=[o2[0]], importance=3)     # no common question
    platform.answer(w, q1, o1[0], accepted=[o1[0]], importance=0)     # common, w's weight 0
    platform.answer(x, q1, o1[0], accepted=[o1[0]], importance=4)
    rows = scores(platform, w_quiz=1, w_traits=0, w_interests=0, top_k=5)
    assert {r[2] for r in rows} == {0.0}
    assert len(rows) == 8                                 # every woman with every man, both ways


def test_traits_and_interests_parts(platform):
    u, v = pair(platform)
    likert = {t: platform.question("likert", trait=t) for t in mm.TRAITS}
    # u: all five traits; v: openness and extraversion only (others unanswered -> NULL)
    for t, (q, opts) in likert.items():
        platform.answer(u, q, opts[4])                     # 100 each
    platform.answer(v, likert["openness"][0], likert["openness"][1][2])          # 50
    platform.answer(v, likert["extraversion"][0], likert["extraversion"][1][0])  # 0
    hiking, chess, jazz = (platform.interest(n) for n in ("hiking", "chess", "jazz"))
    platform.likes_interest(u, hiking)
    platform.likes_interest(u, chess)
    platform.likes_interest(v, hiking)
    platform.likes_interest(v, jazz)
    traits = 1 - math.sqrt((50 ** 2 + 100 ** 2) / 2) / 100
    jac = 1 / 3
    rows = scores(platform, w_quiz=0, w_traits=1, w_interests=3)
    expected = r6(100 * (0.25 * traits + 0.75 * jac))
    assert rows == [(u, v, expected, 1), (v, u, expected, 1)]


def test_eligibility_both_ways(platform):
    me = platform.user(gender="woman", seeking="man,nonbinary", age_min=25, age_max=40, birthdate="1996-01-01")
    ok = platform.user(gender="man", seeking="woman", age_min=20, age_max=35, birthdate="1994-03-03")
    ok_nb = platform.user(gender="nonbinary", seeking="woman,man", birthdate="1990-12-01")
    not_seeking_me = platform.user(gender="man", seeking="man", birthdate="1994-03-03")
    not_my_gender = platform.user(gender="woman", seeking="woman", birthdate="1994-03-03")
    too_old_for_me = platform.user(gender="man", seeking="woman", birthdate="1980-01-01")
    i_am_too_old = platform.user(gender="man", seeking="woman", age_max=29, birthdate="1994-03-03")
    hidden = platform.user(gender="man", seeking="woman", visibility="hidden", birthdate="1994-03-03")
    members = platform.user(gender="man", seeking="woman", visibility="members", birthdate="1994-03-03")
    deleted = platform.user(gender="man", seeking="woman", deleted_at="2026-01-01T00:00:00Z", birthdate="1994-03-03")
    blocked_me = platform.user(gender="man", seeking="woman", birthdate="1994-03-03")
    i_blocked = platform.user(gender="man", seeking="woman", birthdate="1994-03-03")
    platform.block(blocked_me, me)
    platform.block(me, i_blocked)
    rows = scores(platform, top_k=50)
    mine = {c for u, c, _, _ in rows if u == me}
    assert mine == {ok, ok_nb, members}
    assert {u for u, c, *_ in rows if c == me} == mine            # and they have me
    everyone = {u for u, *_ in rows} | {c for _, c, *_ in rows}
    assert not everyone & {hidden, deleted, not_seeking_me, too_old_for_me, i_am_too_old, blocked_me, i_blocked}
    assert not_my_gender not in {c for u, c, *_ in rows if u == me}


def test_age_is_taken_at_nows_date(platform):
    me = platform.user(gender="woman", seeking="man", age_min=30, age_max=30, birthdate="1996-11-29")
    thirty_today = platform.user(gender="man", seeking="woman", age_min=30, age_max=30, birthdate="1996-11-29")
    thirty_tomorrow = platform.user(gender="man", seeking="woman", birthdate="1996-11-30")
    assert {c for u, c, *_ in scores(platform) if u == me} == {thirty_today}
    later = {c for u, c, *_ in scores(platform, now="2026-11-30T00:00:00Z") if u == me}
    assert later == {thirty_today, thirty_tomorrow}                    # turned 30 overnight
def test_distance_limit(platform):
    berlin = platform.user(gender="woman", seeking="man", latitude=52.52, longitude=13.405)
    potsdam = platform.user(gender="man", seeking="woman", latitude=52.39, longitude=13.06)     # ~27 km
    hamburg = platform.user(gender="man", seeking="woman", latitude=53.55, longitude=9.99)      # ~255 km
    nowhere = platform.user(gender="man", seeking="woman", latitude=None, longitude=None)
    assert {c for u, c, *_ in scores(platform) if u == berlin} == {potsdam, hamburg, nowhere}
    assert {c for u, c, *_ in scores(platform, max_distance_km=30) if u == berlin} == {potsdam}
    assert {c for u, c, *_ in scores(platform, max_distance_km=300) if u == berlin} == {potsdam, hamburg}


def test_ranking_with_ties_and_top_k(platform):
    me = platform.user(gender="woman", seeking="man")
    (q, o) = platform.question("match", 2, area="values")
    platform.answer(me, q, o[0], accepted=[o[0]], importance=3)
    men = [platform.user(gender="man", seeking="woman") for _ in range(5)]
    for i, m in enumerate(men):
        # men 0, 2, 4 answer what I accept (score 0.6·(1 − 1/1) = 0 … use interests to separate)
        platform.answer(m, q, o[0] if i % 2 == 0 else o[1], accepted=None, importance=1)
    hike = platform.interest("hiking")
    platform.likes_interest(me, hike)
    for m in men[2:]:
        platform.likes_interest(m, hike)
    rows = scores(platform, top_k=3)
    mine = [(c, s, r) for u, c, s, r in rows if u == me]
    # men 2, 3, 4 share hiking (jaccard 1): tied at 20.0, ordered by id; 0 and 1 tie at 0.0
    assert mine == [(men[2], 20.0, 1), (men[3], 20.0, 2), (men[4], 20.0, 3)]
    full = [(c, s, r) for u, c, s, r in scores(platform, top_k=10) if u == me]
    assert [c for c, _, _ in full] == men[2:] + men[:2]
    assert [r for *_, r in full] == [1, 2, 3, 4, 5]
    # scores are symmetric
    back = {(u, c): s for u, c, s, _ in scores(platform, top_k=10)}
    assert all(back[(m, me)] == back[(me, m)] for m in men)


def test_weights_must_not_all_be_zero(platform):
    spec = matching.match_scores.spec
    params = spec.resolve_params({"w_quiz": 0, "w_traits": 0, "w_interests": 0})
    with pytest.raises(ParamError, match="must be positive"):
        spec.validate(platform.conn, params)


def test_needs_user_traits(platform):
    pair(platform)
    with pytest.raises(JobFailed, match="build-user-traits"):
        run_job(platform, matching.match_scores)
    run_job(platform, matching.match_scores, w_traits=0)          # traits unused: fine without
    assert len(platform.rows("SELECT * FROM match_scores")) == 2


def test_rows_carry_computed_at_and_empty_platform(platform):
    assert scores(platform) == []
    u, v = pair(platform)
    scores(platform)
    assert platform.rows("SELECT DISTINCT computed_at FROM match_scores") == [(NOW,)]


def _crowd(platform, n=24, seed=5):
    import random
    rng = random.Random(seed)
    qs = [platform.question("match", 3, area="values") for _ in range(4)]
    for i in range(n):
        uid = platform.user(gender="woman" if i % 2 else "man", seeking="man" if i % 2 else "woman",
                            birthdate=f"{1990 + i % 5}-05-05")
        for q, opts in qs:
            platform.answer(uid, q, rng.choice(opts), accepted=rng.sample(opts, 2), importance=rng.randint(0, 4))
    return qs


def test_failure_while_writing_leaves_previous_table(platform, monkeypatch):
    _crowd(platform)
    scores(platform, batch_size=4, top_k=3)
    old = platform.rows("SELECT * FROM match_scores ORDER BY user_id, candidate_id")
    calls = {"n": 0}
    real = matching.score_rows

    def failing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*a, **kw)

    monkeypatch.setattr(matching, "score_rows", failing)
    platform.conn.execute("DELETE FROM quiz_answers WHERE user_id % 3 = 0")
    with pytest.raises(RuntimeError):
        run_job(platform, matching.match_scores, batch_size=4, top_k=3)
    assert platform.rows("SELECT * FROM match_scores ORDER BY user_id, candidate_id") == old
    assert not platform.has_table("match_scores__new")  # dropped on failure
    monkeypatch.setattr(matching, "score_rows", real)
    run_job(platform, matching.match_scores, batch_size=4, top_k=3)
    assert platform.rows("SELECT * FROM match_scores ORDER BY user_id, candidate_id") != old


def test_score_key_orders_by_rounded_score_then_candidate():
    keys = mm.score_key(np.array([50.0, 50.00000001, 49.9999996, 70.0]), np.array([7, 3, 5, 9]))
    order = np.argsort(-keys)
    assert order.tolist() == [3, 1, 2, 0]                  # 70; then the three 50.0 by candidate 3, 5, 7
    assert mm.key_candidate(keys).tolist() == [7, 3, 5, 9]
    assert mm.key_score(keys).tolist() == [50.0, 50.0, 50.0, 70.0]


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
