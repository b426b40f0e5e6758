"""A plain per-pair reference for the matching group, straight from JOBS.md, for the tests.

It reads the platform tables directly with SQL and loops over every ordered pair in Python —
fine for a few dozen users. Arithmetic is done in the same order as jobctl.jobs.matching.formulas
so that scores agree bit for bit.
"""

from __future__ import annotations

import json
import math

from jobctl.timeutil import age_on, parse_ts

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
AREAS = ("communication", "lifestyle", "values", "intimacy", "future")
WEIGHTS = (0.0, 1.0, 10.0, 50.0, 250.0)
R_KM = 6371.0


def pomp(conn, user_id: int) -> dict:
    """The user's five POMP scores (None when fewer than half of a trait's items answered)."""
    items = conn.execute("SELECT id, trait, reverse_keyed FROM quiz_questions WHERE kind='likert'").fetchall()
    per_trait = {t: [q for q, tr, _ in items if tr == t] for t in TRAITS}
    rev = {q: r for q, _, r in items}
    answers = dict(conn.execute(
        "SELECT a.question_id, o.position FROM quiz_answers a JOIN quiz_options o ON o.id = a.option_id "
        "WHERE a.user_id = ?", (user_id,)).fetchall())
    out = {}
    for t, qs in per_trait.items():
        vals = [(6 - answers[q]) if rev[q] else answers[q] for q in qs if q in answers]
        if not vals or 2 * len(vals) < len(qs):
            out[t] = None
        else:
            out[t] = 100.0 * (sum(vals) / len(vals) - 1.0) / 4.0
    return out


class World:
    """The platform as plain Python dicts."""

    def __init__(self, conn, now: str):
        today = parse_ts(now).date()
        self.users = {}
        for uid, g, seeking, amin, amax, bd, lat, lon in conn.execute(
                "SELECT id, gender, seeking, age_min, age_max, birthdate, latitude, longitude FROM users "
                "WHERE deleted_at IS NULL AND visibility != 'hidden'"):
            self.users[uid] = dict(gender=g.strip(), seeking={s.strip() for s in seeking.split(",") if s.strip()},
                                   amin=amin, amax=amax, age=age_on(bd, today), lat=lat, lon=lon)
        self.questions = {q: (area, text) for q, area, text in conn.execute(
            "SELECT id, area, text FROM quiz_questions WHERE kind='match'")}
        self.options = {o: q for o, q in conn.execute("SELECT id, question_id FROM quiz_options")}
        self.answers = {u: {} for u in self.users}
        for u, q, o, acc, imp in conn.execute(
                "SELECT user_id, question_id, option_id, accepted_option_ids, importance FROM quiz_answers"):
            if u not in self.users or q not in self.questions or self.options.get(o) != q:
                continue
            ids = json.loads(acc) if acc is not None else []
            accepted = None if not ids else {i for i in ids if self.options.get(i) == q}
            self.answers[u][q] = (o, accepted, WEIGHTS[0 if imp is None else min(max(imp, 0), 4)])
        self.interests = {u: set() for u in self.users}
        for u, i in conn.execute("SELECT user_id, interest_id FROM user_interests"):
            if u in self.users:
                self.interests[u].add(i)
        self.traits = {u: None for u in self.users}
        for row in conn.execute(f"SELECT user_id, {', '.join(TRAITS)} FROM user_traits"):
            if row[0] in self.users:
                self.traits[row[0]] = row[1:]
        self.blocks = {frozenset(p) for p in conn.execute("SELECT blocker_id, blocked_id FROM blocks")}

    # -- eligibility ------------------------------------------------------------------------------
    def eligible(self, u: int, v: int, max_distance_km: float | None = None) -> bool:
        a, b = self.users[u], self.users[v]
        if u == v or frozenset((u, v)) in self.blocks:
            return False
        if b["gender"] not in a["seeking"] or a["gender"] not in b["seeking"]:
            return False
        if not (a["amin"] <= b["age"] <= a["amax"] and b["amin"] <= a["age"] <= b["amax"]):
            return False
        if max_distance_km is not None:
            if None in (a["lat"], a["lon"], b["lat"], b["lon"]):
                return False
            if haversine(a["lat"], a["lon"], b["lat"], b["lon"]) > max_distance_km:
                return False
        return True

    # -- the parts ------------------------------------------------------------------------------
    def sums(self, u: int, v: int, area: str | None = None) -> tuple[float, float, int]:
        """(Σ w_u·[v's answer accepted by u], Σ w_u, n) over common match questions (of ``area``)."""
        num = den = 0.0
        n = 0
        for q, (own_u, acc_u, w_u) in sorted(self.answers[u].items()):
            if q not in self.answers[v] or (area is not None and self.questions[q][0] != area):
                continue
            n += 1
            den += w_u
            if acc_u is None or self.answers[v][q][0] in acc_u:
                num += w_u
        return num, den, n

    def quiz(self, u: int, v: int) -> float:
        num_uv, den_uv, n = self.sums(u, v)
        num_vu, den_vu, _ = self.sums(v, u)
        if n == 0 or den_uv == 0 or den_vu == 0:
            return 0.0
        return max(math.sqrt((num_uv / den_uv) * (num_vu / den_vu)) - 1.0 / n, 0.0)

    def trait_part(self, u: int, v: int) -> tuple[float, int]:
        tu, tv = self.traits[u], self.traits[v]
        acc, cnt = 0.0, 0
        for t in range(5):
            if tu is not None and tv is not None and tu[t] is not None and tv[t] is not None:
                d = tu[t] - tv[t]
                acc = acc + d * d
                cnt += 1
        return (1.0 - math.sqrt(acc / cnt) / 100.0, cnt) if cnt else (0.0, 0)

    def jaccard(self, u: int, v: int) -> float:
        a, b = self.interests[u], self.interests[v]
        inter = len(a & b)
        union = len(a) + len(b) - inter
        return inter / union if union else 0.0

    def score(self, u: int, v: int, w=(0.6, 0.2, 0.2)) -> float:
        total = w[0] + w[1] + w[2]
        wq, wt, wi = w[0] / total, w[1] / total, w[2] / total
        raw = 100.0 * (wq * self.quiz(u, v) + wt * self.trait_part(u, v)[0] + wi * self.jaccard(u, v))
        return round(raw * 1e6) / 1e6

    def top(self, top_k: int = 50, w=(0.6, 0.2, 0.2), max_distance_km=None) -> list[tuple[int, int, float, int]]:
        """Expected match_scores rows (user_id, candidate_id, score, rank), sorted by user then rank."""
        rows = []
        for u in sorted(self.users):
            cands = [(-self.score(u, v, w), v) for v in self.users if self.eligible(u, v, max_distance_km)]
            cands.sort()
            for rank, (neg, v) in enumerate(cands[:top_k], 1):
                rows.append((u, v, -neg, rank))
        return rows


def haversine(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2) - math.radians(lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R_KM * math.asin(math.sqrt(min(h, 1.0)))


def random_platform(p, rng, n_users: int, n_questions: int = 6, n_interests: int = 6, likert_per_trait: int = 2,
                    ages=(20, 40), answer_rate: float = 0.7, block_rate: float = 0.03):
    """Fill the builder ``p`` with a random small platform (``rng``: random.Random)."""
    genders = ["woman", "man", "nonbinary"]
    likert = []
    for t in TRAITS:
        for _ in range(likert_per_trait):
            likert.append((t, p.question("likert", 5, trait=t, reverse=rng.random() < 0.5)))
    match = [p.question("match", rng.choice([2, 3, 4]), area=rng.choice(AREAS + ("other",)), text=f"Question {i}?")
             for i in range(n_questions)]
    interests = [p.interest(f"interest {i}") for i in range(n_interests)]
    users = []
    for _ in range(n_users):
        g = rng.choice(genders)
        seeking = ",".join(sorted(rng.sample(genders, rng.choice([1, 1, 2, 3]))))
        age = rng.randint(*ages)
        lo = rng.randint(ages[0] - 2, age + 1)
        uid = p.user(gender=g, seeking=seeking, birthdate=f"{2026 - age}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                     age_min=lo, age_max=lo + rng.randint(0, 25),
                     visibility=rng.choice(["public"] * 8 + ["members", "hidden"]),
                     deleted_at=None if rng.random() < 0.93 else "2026-01-01T00:00:00Z",
                     latitude=rng.uniform(50, 53), longitude=rng.uniform(5, 10))
        users.append(uid)
        for _t, (qid, opts) in likert:
            if rng.random() < answer_rate:
                p.answer(uid, qid, rng.choice(opts))
        for qid, opts in match:
            if rng.random() < answer_rate:
                r = rng.random()
                acc = None if r < 0.1 else ([] if r < 0.15 else rng.sample(opts, rng.randint(1, len(opts))))
                p.answer(uid, qid, rng.choice(opts), accepted=acc,
                         importance=None if rng.random() < 0.05 else rng.randint(0, 4))
        for i in interests:
            if rng.random() < 0.35:
                p.likes_interest(uid, i)
    for u in users:
        for v in users:
            if u != v and rng.random() < block_rate:
                p.block(u, v)
    return users
