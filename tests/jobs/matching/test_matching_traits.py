"""build-user-traits: POMP Big Five scores, known answers, and kill safety."""

import numpy as np
import pytest

from builders import NOW, run_job
from jobctl.jobs import matching
from jobctl.jobs.matching.formulas import pomp_traits

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def traits_of(platform, uid):
    row = platform.rows(f"SELECT {', '.join(TRAITS)}, answered_items, computed_at FROM user_traits WHERE user_id = ?", uid)
    return row[0] if row else None


def test_pomp_with_reverse_keyed_and_missing_items(platform):
    o = [platform.question("likert", trait="openness", reverse=r) for r in (False, True, False, True)]
    c = [platform.question("likert", trait="conscientiousness") for _ in range(3)]
    e = [platform.question("likert", trait="extraversion") for _ in range(2)]
    u = platform.user()
    # openness: 3 of 4 answered: 5, reverse 2 -> 4, 4  => mean 13/3
    platform.answer(u, o[0][0], o[0][1][4])
    platform.answer(u, o[1][0], o[1][1][1])
    platform.answer(u, o[2][0], o[2][1][3])
    # conscientiousness: 1 of 3 answered (< half) => NULL
    platform.answer(u, c[0][0], c[0][1][0])
    # extraversion: exactly half answered (1 of 2) => kept: position 1 => 0
    platform.answer(u, e[0][0], e[0][1][0])
    run_job(platform, matching.build_user_traits)
    o_, c_, e_, a_, n_, answered, at = traits_of(platform, u)
    assert o_ == pytest.approx(100 * (13 / 3 - 1) / 4)
    assert c_ is None and a_ is None and n_ is None     # too few answers / no items at all
    assert e_ == 0.0
    assert answered == 5 and at == NOW


def test_reverse_keyed_extremes_and_full_profile(platform):
    qs = {t: [platform.question("likert", trait=t, reverse=(i == 1)) for i in range(2)] for t in TRAITS}
    u = platform.user()
    for t, ((q1, o1), (q2, o2)) in qs.items():
        platform.answer(u, q1, o1[4])      # 5
        platform.answer(u, q2, o2[0])      # reverse of 1 -> 5
    run_job(platform, matching.build_user_traits)
    assert traits_of(platform, u)[:6] == (100.0, 100.0, 100.0, 100.0, 100.0, 10)


def test_only_active_users_with_likert_answers_get_rows(platform):
    q, opts = platform.question("likert", trait="openness")
    m, mopts = platform.question("match", 3, area="values")
    active = platform.user()
    hidden = platform.user(visibility="hidden")
    deleted = platform.user(deleted_at="2026-01-01T00:00:00Z")
    match_only = platform.user()
    for uid in (active, hidden, deleted):
        platform.answer(uid, q, opts[2])
    platform.answer(match_only, m, mopts[0], accepted=[mopts[0]], importance=2)
    result = run_job(platform, matching.build_user_traits)
    assert [r[0] for r in platform.rows("SELECT user_id FROM user_traits")] == [active]
    assert traits_of(platform, active)[0] == 50.0
    assert result["users"] == 1


def test_pomp_maths_on_arrays():
    # two users, items: 0,1 openness (1 reversed), 2 neuroticism
    item_trait = np.array([0, 0, 4])
    item_rev = np.array([False, True, False])
    user = np.array([0, 0, 0, 1])
    item = np.array([0, 1, 2, 1])
    pos = np.array([3, 1, 5, 5])
    scores, answered = pomp_traits(user, item, pos, item_trait, item_rev, 2)
    assert scores[0, 0] == pytest.approx(100 * ((3 + 5) / 2 - 1) / 4)
    assert scores[0, 4] == 100.0
    assert scores[1, 0] == 0.0                          # one of two items is half: kept; 6 - 5 = 1
    assert np.isnan(scores[1, 4]) and np.isnan(scores[0, 1])
    assert answered.tolist() == [3, 1]



@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
