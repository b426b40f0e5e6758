"""match-scores' vectorised engine against a plain per-pair reference on random small platforms."""

import random
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import NOW, Platform, run_job
from jobctl.jobs import matching
from matching_reference import World, random_platform


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), n_users=st.integers(2, 36), top_k=st.sampled_from([1, 2, 3, 7, 50]),
       batch_size=st.sampled_from([2, 3, 5, 512]),
       weights=st.sampled_from([(0.6, 0.2, 0.2), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.0, 2.0), (3, 1, 0.001)]),
       distance=st.sampled_from([None, None, 60.0]))
def test_engine_matches_per_pair_reference(seed, n_users, top_k, batch_size, weights, distance):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        p = Platform(tmp)
        try:
            random_platform(p, rng, n_users, n_questions=rng.randint(0, 6), n_interests=rng.randint(0, 6),
                            ages=(20, 20 + rng.randint(0, 15)))
            run_job(p, matching.build_user_traits)
            params = dict(top_k=top_k, batch_size=batch_size, w_quiz=weights[0], w_traits=weights[1],
                          w_interests=weights[2])
            if distance is not None:
                params["max_distance_km"] = distance
            run_job(p, matching.match_scores, **params)
            got = p.rows("SELECT user_id, candidate_id, score, rank FROM match_scores ORDER BY user_id, rank")
            expected = World(p.conn, NOW).top(top_k, weights, max_distance_km=distance)
            assert got == expected
        finally:
            p.conn.close()


def test_a_larger_platform_against_the_reference(tmp_path):
    """One bigger case with several blocks per class, so thresholds warm up across tiles."""
    p = Platform(tmp_path)
    rng = random.Random(7)
    random_platform(p, rng, 140, n_questions=8, n_interests=8, ages=(20, 26), block_rate=0.01)
    run_job(p, matching.build_user_traits)
    run_job(p, matching.match_scores, top_k=4, batch_size=8)
    got = p.rows("SELECT user_id, candidate_id, score, rank FROM match_scores ORDER BY user_id, rank")
    expected = World(p.conn, NOW).top(4)
    assert len(got) > 200
    assert got == expected
    p.conn.close()
