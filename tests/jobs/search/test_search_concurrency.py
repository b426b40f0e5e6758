"""A search from another process while the index is rebuilt always returns results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from builders import run_job
from jobctl.jobs import search
from search_support import build_search, filler

SEARCHER = r"""
import json, sys, time
from pathlib import Path
from jobctl.db import connect
from jobctl.jobs.search import query as searching

db, stop = sys.argv[1], Path(sys.argv[2])
conn = connect(db, readonly=True)
done = empty = 0
errors = []
words = ["filler", "coffee", "zelda", "lyon", "person1", "fill", "zel"]   # Zelda is indexed last
while not stop.exists():
    for w in words:
        try:
            rows = searching.search_profiles(conn, w, limit=5)
            if not rows:
                empty += 1
        except Exception as exc:
            errors.append(f"{w}: {type(exc).__name__}: {exc}")
        done += 1
    if done == len(words):
        print("ready", flush=True)
print(json.dumps({"searches": done, "empty": empty, "errors": errors[:5]}), flush=True)
"""


def test_search_from_another_process_during_rebuilds(platform, tmp_path):
    p = platform
    filler(p, 299)
    p.user(display_name="Zelda Last", username="zelda")
    build_search(p)
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", SEARCHER, str(p.path), str(stop)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[3])
    try:
        assert proc.stdout.readline().strip() == "ready"
        for i in range(3):
            # rebuild slowly: 15 batches with pauses, the merge steps, the precomputed rankings of
            # the words in 50+ profiles (filler, coffee, lyon...), and the swap
            result = run_job(p, search.profile_search_index, batch_size=20, pause_ms=10, precompute_min=50)
            assert result["profiles_indexed"] == 300 and result["precomputed_searches"] >= 4
            p.conn.execute("UPDATE users SET bio = bio || ' again' WHERE id % 7 = ?", (i,))
            run_job(p, search.searchable_user, batch_size=25, pause_ms=5)
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=30)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == [], err
    assert report["empty"] == 0
    assert report["searches"] >= 50            # it really searched throughout the rebuilds
