"""The blocked top-k engine on synthetic arrays against a brute-force all-pairs top-k.

The cases are chosen where the approximate first stage is weakest: near-identical traits (the
square root amplifies float32 error), partial and missing traits, ties, many blocks per class.
"""

import numpy as np
import pytest

from jobctl.jobs.matching import formulas as mm
from jobctl.jobs.matching.engine import EngineInput, TopKEngine, haversine_km


def synthetic(n, rng, *, n_q=12, n_opt=4, n_int=15, trait_mode="mixed", coords=False):
    gender = rng.integers(0, 2, n)
    seeks = np.where(rng.random(n) < 0.85, 1 << (1 - gender), 0b11)
    age = rng.integers(20, 40, n)
    amin = age - rng.integers(0, 8, n)
    amax = age + rng.integers(0, 8, n)
    wide = rng.random(n) < 0.05
    amin[wide], amax[wide] = 18, 99
    opt = np.where(rng.random((n, n_q)) < 0.7, rng.integers(0, n_opt, (n, n_q)), -1).astype(np.int8)
    acc = rng.integers(1, 1 << n_opt, (n, n_q)).astype(np.int32)
    acc[rng.random((n, n_q)) < 0.1] = (1 << n_opt) - 1
    weight = np.array(mm.IMPORTANCE_WEIGHTS)[rng.integers(0, 5, (n, n_q))]
    weight[opt < 0] = 0
    member = rng.random((n, n_int)) < 0.2
    base = rng.uniform(0, 100, (1, 5))
    if trait_mode == "close":          # everyone within a hair of the same profile
        traits = base + rng.normal(0, 0.05, (n, 5))
    else:
        traits = rng.uniform(0, 100, (n, 5))
        traits[rng.random(n) < 0.3] = base + rng.normal(0, 0.01, (1, 5))
    traits = np.clip(traits, 0, 100)
    traits[rng.random((n, 5)) < 0.1] = np.nan
    traits[rng.random(n) < 0.1] = np.nan
    blocks = np.unique([min(a, b) * n + max(a, b) for a, b in rng.integers(0, n, (n // 10, 2)) if a != b]).astype(np.int64)
    lat = rng.uniform(48, 54, n) if coords else None
    lon = rng.uniform(6, 14, n) if coords else None
    return EngineInput(gender=gender, seeks=seeks, age=age, age_min=amin, age_max=amax, opt=opt, acc=acc,
                       weight=weight, n_options=np.full(n_q, n_opt), member=member, traits=traits,
                       block_codes=blocks, lat=lat, lon=lon)


def brute_force(d, weights, k, max_km=None):
    n = d.n
    u, v = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    u, v = u.ravel(), v.ravel()
    ok = (u != v) & (d.age[v] >= d.age_min[u]) & (d.age[v] <= d.age_max[u]) \
        & (d.age[u] >= d.age_min[v]) & (d.age[u] <= d.age_max[v]) \
        & (((d.seeks[u] >> d.gender[v]) & 1) == 1) & (((d.seeks[v] >> d.gender[u]) & 1) == 1)
    ok &= ~np.isin(np.minimum(u, v) * n + np.maximum(u, v), d.block_codes)
    if max_km is not None:
        r = np.radians
        ok &= haversine_km(r(d.lat[u]), r(d.lon[u]), r(d.lat[v]), r(d.lon[v])) <= max_km
    u, v = u[ok], v[ok]
    sat_uv, w_uv, both = mm.satisfaction(d.opt[u].astype(np.int64), d.acc[u], d.weight[u], d.opt[v].astype(np.int64))
    sat_vu, w_vu, _ = mm.satisfaction(d.opt[v].astype(np.int64), d.acc[v], d.weight[v], d.opt[u].astype(np.int64))
    quiz = mm.quiz_part(np.where(sat_uv, w_uv, 0).sum(1), w_uv.sum(1), np.where(sat_vu, w_vu, 0).sum(1),
                        w_vu.sum(1), both.sum(1))
    traits, _ = mm.traits_part(d.traits[u], d.traits[v])
    inter = (d.member[u] & d.member[v]).sum(1)
    jac = mm.jaccard(inter, d.member[u].sum(1), d.member[v].sum(1))
    key = mm.score_key(mm.blend(quiz, traits, jac, mm.normalise_weights(*weights)), v)
    out = np.full((n, k), -1, dtype=np.int64)
    order = np.lexsort((-key, u))
    u, key = u[order], key[order]
    start = np.searchsorted(u, np.arange(n))
    rank = np.arange(len(u)) - start[u]
    keep = rank < k
    out[u[keep], rank[keep]] = key[keep]
    return out


def engine_top(d, **kw):
    keys = TopKEngine(d, **kw).run()
    return -np.sort(-keys, axis=1)


@pytest.mark.parametrize("seed,trait_mode,weights,k,block", [
    (1, "close", (0.6, 0.2, 0.2), 5, 16),
    (2, "close", (0.0, 1.0, 0.0), 3, 8),
    (3, "mixed", (0.6, 0.2, 0.2), 10, 32),
    (4, "mixed", (1.0, 0.0, 0.0), 1, 7),
    (5, "mixed", (0.1, 0.3, 0.0), 4, 64),
    (6, "close", (2.0, 5.0, 0.01), 6, 16),
])
def test_engine_equals_brute_force(seed, trait_mode, weights, k, block):
    rng = np.random.default_rng(seed)
    d = synthetic(260, rng, trait_mode=trait_mode)
    got = engine_top(d, weights=weights, top_k=k, block_size=block, workers=2)
    assert np.array_equal(got, brute_force(d, weights, k))
    assert (got[:, 0] >= 0).sum() > 100


def test_engine_with_distance_and_one_worker():
    rng = np.random.default_rng(9)
    d = synthetic(220, rng, coords=True)
    got = engine_top(d, weights=(0.6, 0.2, 0.2), top_k=4, block_size=16, workers=1, max_distance_km=250.0)
    assert np.array_equal(got, brute_force(d, (0.6, 0.2, 0.2), 4, max_km=250.0))


def test_engine_skips_ineligible_tiles_and_counts_pairs():
    rng = np.random.default_rng(3)
    d = synthetic(300, rng)
    eng = TopKEngine(d, weights=(0.6, 0.2, 0.2), top_k=5, block_size=16)
    tiles = eng.tiles()
    nb = len(eng.blocks)
    assert 0 < len(tiles) < nb * (nb + 1) // 2
    eng.run(tiles=tiles)
    assert eng.stats.tiles_skipped > 0
    assert 0 < eng.stats.candidates < eng.stats.pairs
