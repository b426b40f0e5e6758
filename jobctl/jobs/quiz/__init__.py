"""The quiz group: quiz-answer-stats, how many users chose each answer, by demographic bucket.

``quiz_answer_stats(question_id, option_id, dimension, bucket, respondents, pct, suppressed;
PK(question_id, option_id, dimension, bucket))`` plus ``computed_at``, rebuilt wholesale in a shadow
table and swapped in, so readers see the old statistics or the new ones, never a mix.

Choices the contract leaves open:
- a NULL or empty country is the bucket 'unknown';
- a user younger than 18 at ``now``'s date, or with an unreadable birthdate, is in no age band (but
  still in 'all', 'gender' and 'country');
- an answer whose option does not belong to its question is ignored.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ...backend import dialect
from ...db import transaction
from ...registry import Param, job

TABLE = "quiz_answer_stats"
DIMENSIONS = ("all", "age_band", "gender", "country")
AGE_BANDS = (("18-24", 18, 24), ("25-34", 25, 34), ("35-44", 35, 44),
             ("45-54", 45, 54), ("55-64", 55, 64), ("65+", 65, None))

_DDL = """CREATE TABLE "{name}" (
    question_id INTEGER NOT NULL,
    option_id   INTEGER NOT NULL,
    dimension   TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    respondents INTEGER,
    pct         REAL,
    suppressed  INTEGER NOT NULL DEFAULT 0,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (question_id, option_id, dimension, bucket)
)"""


def age_band(age: int | None) -> str | None:
    """'18-24' … '65+' for a whole-year age; None below 18 or unknown."""
    if age is None:
        return None
    for name, lo, hi in AGE_BANDS:
        if age >= lo and (hi is None or age <= hi):
            return name
    return None


def _band_sql(d, on: str) -> str:
    """SQL (dialect ``d``) for the age band of users.birthdate at date ``on`` ('YYYY-MM-DD'), as
    :func:`age_band`."""
    age = d.age_years("birthdate", on)
    cases = " ".join(f"WHEN {age} >= {lo}" + (f" AND {age} <= {hi}" if hi is not None else "") + f" THEN '{name}'"
                     for name, lo, hi in AGE_BANDS)
    valid = d.valid_date("birthdate")
    return f"CASE WHEN NOT ({valid}) THEN NULL {cases} ELSE NULL END"


def aggregate(cells: Iterable[tuple[int, int, tuple[str | None, ...], int]],
              options: dict[int, list[int]], min_cell: int) -> list[tuple]:
    """The statistics rows from grouped counts.

    ``cells``: (question_id, option_id, buckets, n) where buckets gives the user group's bucket in
    each of DIMENSIONS (None: in no bucket of that dimension) and n its answer count.
    ``options``: each question's option ids. Returns (question_id, option_id, dimension, bucket,
    respondents, pct, suppressed) for every option of a question in every bucket where the question
    has respondents; counts 1 … min_cell − 1 are suppressed (respondents and pct NULL).
    """
    counts: dict[tuple, int] = defaultdict(int)
    totals: dict[tuple, int] = defaultdict(int)
    for q, o, buckets, n in cells:
        if o not in options.get(q, ()):
            continue
        for dim, bucket in zip(DIMENSIONS, buckets):
            if bucket is not None:
                counts[q, o, dim, bucket] += n
                totals[q, dim, bucket] += n
    rows = []
    for (q, dim, bucket), total in sorted(totals.items()):
        for o in options[q]:
            n = counts.get((q, o, dim, bucket), 0)
            if 1 <= n < min_cell:
                rows.append((q, o, dim, bucket, None, None, 1))
            else:
                rows.append((q, o, dim, bucket, n, 100.0 * n / total, 0))
    return rows


@job("quiz-answer-stats", group="quiz",
     writes=["quiz_answer_stats"], rebuilds=True, uses_now=True,
     summary="Aggregates quiz data",
     description="Counts how many users chose each answer of each quiz question, overall and broken "
                 "down by age band, gender and country, with percentages. Groups smaller than min_cell "
                 "people are hidden so that no individual can be singled out.",
     when="After new quiz submissions or when you want updated statistics.",
     impact="Better insights into your user base.",
     params=[Param("min_cell", "int", 5, min=1,
                   help="counts from 1 to min_cell - 1 are suppressed (shown as NULL, suppressed = 1)")],
     batch_size=5000, pause_ms=5)
def quiz_answer_stats(ctx):
    conn = ctx.db
    options: dict[int, list[int]] = defaultdict(list)
    for qid, oid in conn.execute("SELECT question_id, id FROM quiz_options ORDER BY question_id, position, id"):
        options[qid].append(oid)
    rows = aggregate(_grouped_answers(conn, ctx.now.date().isoformat()), options, ctx.params["min_cell"])
    ctx.check_cancel()
    ctx.set_total(len(rows))
    stamp = ctx.now_str
    with ctx.rebuild(TABLE, _DDL) as new:
        for i in range(0, len(rows), ctx.batch_size):
            chunk = rows[i:i + ctx.batch_size]
            new.insert([(*r, stamp) for r in chunk])
            ctx.checkpoint(advance=len(chunk))
    return {"rows": len(rows), "suppressed": sum(r[6] for r in rows),
            "questions": len({r[0] for r in rows}), "min_cell": ctx.params["min_cell"]}


def _grouped_answers(conn, on: str):
    """(question_id, option_id, (all, band, gender, country), n): one GROUP BY over the answers.

    Each non-deleted user is first put, in SQL, in a small 'cell' (band, gender, country) held in a
    temporary table, so the big GROUP BY runs on integers.
    """
    people = (f"SELECT id, COALESCE({_band_sql(dialect(conn), on)}, '') AS band, COALESCE(gender, 'unknown') AS gender, "
              f"COALESCE(NULLIF(TRIM(country), ''), 'unknown') AS country FROM users WHERE deleted_at IS NULL")
    _drop_temp(conn)
    try:
        with transaction(conn, immediate=False):   # the connection's own temp schema: no platform lock
            conn.execute("CREATE TEMP TABLE qas_cells (cell INTEGER PRIMARY KEY, band TEXT, gender TEXT, "
                         "country TEXT, UNIQUE (band, gender, country))")
            conn.execute("CREATE TEMP TABLE qas_people (user_id INTEGER PRIMARY KEY, cell INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO temp.qas_cells (band, gender, country) "
                         f"SELECT DISTINCT band, gender, country FROM ({people}) AS people")
            conn.execute(f"INSERT INTO temp.qas_people SELECT p.id, c.cell FROM ({people}) p "
                         f"JOIN temp.qas_cells c USING (band, gender, country)")
        by_cell = {cell: ("all", band or None, gender, country)
                   for cell, band, gender, country in conn.execute("SELECT * FROM temp.qas_cells")}
        # NOT INDEXED: one sequential scan of the answers; through the question index SQLite would
        # fetch every row by rowid, three times slower.
        grouped = conn.execute(
            "SELECT a.question_id, a.option_id, p.cell, COUNT(*) FROM quiz_answers a NOT INDEXED "
            "JOIN temp.qas_people p ON p.user_id = a.user_id GROUP BY a.question_id, a.option_id, p.cell"
        ).fetchall()
    finally:
        _drop_temp(conn)
    return [(q, o, by_cell[c], n) for q, o, c, n in grouped]


def _drop_temp(conn) -> None:
    conn.execute("DROP TABLE IF EXISTS temp.qas_people")
    conn.execute("DROP TABLE IF EXISTS temp.qas_cells")
