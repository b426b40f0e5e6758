"""quiz-answer-stats: counts per question, option and bucket, small cells suppressed, full rebuild."""

import sqlite3
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import NOW, Platform, run_job
from jobctl.backend import SQLITE
from jobctl.jobs import quiz
from jobctl.timeutil import age_on

ROWS = ("SELECT question_id, option_id, dimension, bucket, respondents, pct, suppressed "
        "FROM quiz_answer_stats ORDER BY question_id, option_id, dimension, bucket")


def build(p):
    """Seven users around the age-band edges at NOW (2026-11-29); one question answered, one not."""
    q, (o1, o2, o3) = p.question("match", 3, area="values")
    p.question("likert", 5, trait="openness")                        # nobody answered: no rows
    u1 = p.user(gender="woman", birthdate="2002-11-29", country="DE")  # 24 today: 18-24
    u2 = p.user(gender="woman", birthdate="2001-11-29", country="DE")  # 25 today: 25-34
    u3 = p.user(gender="man", birthdate="2001-11-30", country=None)    # 24 until tomorrow: 18-24, unknown
    u4 = p.user(gender="man", birthdate="1961-11-29", country="FR")    # 65 today: 65+
    u5 = p.user(gender="nonbinary", birthdate="2010-01-01", country="DE", visibility="hidden")  # 16: no band
    u6 = p.user(gender="woman", birthdate="1990-01-01", country="DE", deleted_at="2026-06-01T00:00:00Z")
    u7 = p.user(gender="woman", birthdate="1990-05-05", country="")    # 36: 35-44, unknown
    for u, o in ((u1, o1), (u2, o1), (u3, o1), (u4, o2), (u5, o2), (u6, o1), (u7, o3)):
        p.answer(u, q, o)
    return q, (o1, o2, o3)


def expected(q, opts, counts: dict) -> list[tuple]:
    """Rows for per-bucket option counts, unsuppressed (min_cell 1)."""
    out = []
    for (dim, bucket), per_option in counts.items():
        total = sum(per_option)
        for o, n in zip(opts, per_option):
            out.append((q, o, dim, bucket, n, pytest.approx(100 * n / total), 0))
    return sorted(out, key=lambda r: r[:4])


def test_known_answer_every_bucket(platform):
    q, opts = build(platform)
    result = run_job(platform, quiz.quiz_answer_stats, min_cell=1)
    assert platform.rows(ROWS) == expected(q, opts, {
        ("all", "all"): (3, 2, 1),
        ("age_band", "18-24"): (2, 0, 0), ("age_band", "25-34"): (1, 0, 0),
        ("age_band", "35-44"): (0, 0, 1), ("age_band", "65+"): (0, 1, 0),
        ("gender", "woman"): (2, 0, 1), ("gender", "man"): (1, 1, 0), ("gender", "nonbinary"): (0, 1, 0),
        ("country", "DE"): (2, 1, 0), ("country", "FR"): (0, 1, 0), ("country", "unknown"): (1, 0, 1),
    })
    assert result == {"rows": 33, "suppressed": 0, "questions": 1, "min_cell": 1}
    assert platform.rows("SELECT DISTINCT computed_at FROM quiz_answer_stats") == [(NOW,)]


def test_suppression_at_the_threshold_edge(platform):
    q, (o1, o2, o3) = build(platform)
    all_rows = "SELECT option_id, respondents, pct, suppressed FROM quiz_answer_stats " \
               "WHERE dimension = 'all' ORDER BY option_id"
    run_job(platform, quiz.quiz_answer_stats, min_cell=3)      # o1 = 3 respondents: shown; o2 = 2 and o3 = 1: suppressed
    assert platform.rows(all_rows) == [(o1, 3, 50.0, 0), (o2, None, None, 1), (o3, None, None, 1)]
    run_job(platform, quiz.quiz_answer_stats, min_cell=4)      # now 3 is below the threshold too
    assert platform.rows(all_rows) == [(o1, None, None, 1), (o2, None, None, 1), (o3, None, None, 1)]
    # Zero is not a small cell: it is shown as 0 (18-24 has 2 on o1, 0 on o2 and o3).
    assert platform.rows("SELECT option_id, respondents, pct, suppressed FROM quiz_answer_stats "
                         "WHERE bucket = '18-24' ORDER BY option_id") == [
        (o1, None, None, 1), (o2, 0, 0.0, 0), (o3, 0, 0.0, 0)]


def test_default_min_cell_is_five(platform):
    q, (o1, o2, o3) = build(platform)
    for u in range(5):
        platform.answer(platform.user(gender="man", birthdate="1980-01-01"), q, o2)
    result = run_job(platform, quiz.quiz_answer_stats)
    assert platform.rows("SELECT option_id, respondents, suppressed FROM quiz_answer_stats "
                         "WHERE dimension = 'all' ORDER BY option_id") == [(o1, None, 1), (o2, 7, 0), (o3, None, 1)]
    assert result["min_cell"] == 5


def test_foreign_option_answers_are_ignored_and_empty_platform_gives_an_empty_table(platform):
    run_job(platform, quiz.quiz_answer_stats)
    assert platform.rows("SELECT COUNT(*) FROM quiz_answer_stats") == [(0,)]
    q1, _ = platform.question("match", 2)
    _, (other,) = platform.question("match", 1)
    platform.answer(platform.user(), q1, other)        # an option of another question
    run_job(platform, quiz.quiz_answer_stats, min_cell=1)
    assert platform.rows("SELECT COUNT(*) FROM quiz_answer_stats") == [(0,)]


def test_aggregate_on_hand_made_cells():
    cells = [(1, 10, ("all", "18-24", "man", "DE"), 4),
             (1, 11, ("all", None, "woman", "DE"), 1),
             (1, 99, ("all", "18-24", "man", "DE"), 7)]      # option 99 is not question 1's: ignored
    rows = quiz.aggregate(cells, {1: [10, 11]}, min_cell=2)
    assert rows == [
        (1, 10, "age_band", "18-24", 4, 100.0, 0), (1, 11, "age_band", "18-24", 0, 0.0, 0),
        (1, 10, "all", "all", 4, 80.0, 0), (1, 11, "all", "all", None, None, 1),
        (1, 10, "country", "DE", 4, 80.0, 0), (1, 11, "country", "DE", None, None, 1),
        (1, 10, "gender", "man", 4, 100.0, 0), (1, 11, "gender", "man", 0, 0.0, 0),
        (1, 10, "gender", "woman", 0, 0.0, 0), (1, 11, "gender", "woman", None, None, 1)]


@settings(max_examples=200, deadline=None)
@given(born=st.dates(date(1900, 1, 1), date(2026, 12, 31)), on=st.dates(date(2000, 1, 1), date(2030, 12, 31)))
def test_sql_age_band_agrees_with_age_on(born, on):
    conn = sqlite3.connect(":memory:")
    got = conn.execute(f"SELECT {quiz._band_sql(SQLITE, on.isoformat())} FROM (SELECT ? AS birthdate)",
                       (born.isoformat(),)).fetchone()[0]
    assert got == quiz.age_band(age_on(born.isoformat(), on))


def test_postgres_age_band_agrees_with_age_on(pg_url):
    """The PostgreSQL spelling of the band, on a date column, at the edges: birthdays, 29 February."""
    from jobctl.backend import postgres
    pairs = [(date(2000, 2, 29), date(2025, 2, 28)), (date(2000, 2, 29), date(2025, 3, 1)),
             (date(2000, 2, 29), date(2024, 2, 29)), (date(2007, 11, 29), date(2025, 11, 28)),
             (date(2007, 11, 29), date(2025, 11, 29)), (date(1990, 12, 31), date(2025, 1, 1)),
             (date(1960, 6, 15), date(2025, 6, 14)), (date(1960, 6, 15), date(2025, 6, 15)),
             (date(2010, 1, 1), date(2026, 1, 1)), (date(1900, 1, 1), date(2030, 12, 31))]
    conn = postgres.connect(pg_url)
    try:
        for born, on in pairs:
            got = conn.execute(f"SELECT {quiz._band_sql(postgres.POSTGRES, on.isoformat())} "
                               f"FROM (SELECT CAST(? AS date) AS birthdate) AS u", (born.isoformat(),)).fetchone()[0]
            assert got == quiz.age_band(age_on(born.isoformat(), on)), (born, on)
    finally:
        conn.close()


GENDERS = ["woman", "man", "nonbinary"]
COUNTRIES = ["DE", "FR", None, ""]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_matches_a_plain_python_oracle(tmp_path_factory, data):
    p = Platform(tmp_path_factory.mktemp("prop"))
    questions = [p.question("match", data.draw(st.integers(1, 3))) for _ in range(2)]
    min_cell = data.draw(st.integers(1, 4))
    people = []
    for _ in range(data.draw(st.integers(0, 12))):
        person = dict(gender=data.draw(st.sampled_from(GENDERS)), country=data.draw(st.sampled_from(COUNTRIES)),
                      birthdate=data.draw(st.dates(date(1940, 1, 1), date(2012, 1, 1))).isoformat(),
                      deleted_at=data.draw(st.sampled_from([None, None, "2026-01-01T00:00:00Z"])))
        uid = p.user(**person)
        for q, opts in questions:
            if data.draw(st.booleans()):
                o = data.draw(st.sampled_from(opts))
                p.answer(uid, q, o)
                people.append((q, o, person))
    run_job(p, quiz.quiz_answer_stats, min_cell=min_cell)
    counts, totals = Counter(), Counter()
    on = date(2026, 11, 29)
    for q, o, person in people:
        if person["deleted_at"]:
            continue
        band = quiz.age_band(age_on(person["birthdate"], on))
        for dim, bucket in (("all", "all"), ("age_band", band), ("gender", person["gender"]),
                            ("country", person["country"] or "unknown")):
            if bucket is not None:
                counts[q, o, dim, bucket] += 1
                totals[q, dim, bucket] += 1
    want = []
    for (q, dim, bucket), total in totals.items():
        for o in dict(questions)[q]:
            n = counts[q, o, dim, bucket]
            want.append((q, o, dim, bucket, None, None, 1) if 0 < n < min_cell
                        else (q, o, dim, bucket, n, pytest.approx(100 * n / total), 0))
    assert p.rows(ROWS) == sorted(want, key=lambda r: r[:4])
    p.conn.close()


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
