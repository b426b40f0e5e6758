"""A job added as a plugin (tests/plugins/city_counts.py, loaded through JOBCTL_PLUGINS) joins the
catalogue after the built-in jobs, resolves its dependencies across groups and runs end to end in a
real `jobctl` process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def jobctl(env, *args: str) -> subprocess.CompletedProcess:
    e = {**os.environ, **env.env, "JOBCTL_PLUGINS": "plugins.city_counts",
         "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "jobctl.cli", *args], env=e, capture_output=True, text=True,
                          timeout=120)


def test_a_plugin_job_is_listed_and_runs_with_its_dependencies(env):
    p = env.platform
    for city in ("Berlin", "Berlin", "Lyon", None):
        p.user(city=city)
    p.user(city="Lyon", visibility="hidden")
    listed = jobctl(env, "jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    names = [j["name"] for j in json.loads(listed.stdout)]
    assert names[-1] == "city-counts" and len(names) == 18

    done = jobctl(env, "enqueue", "city-counts", "--wait", "-p", "min_users=1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert p.rows("SELECT city, users FROM city_counts ORDER BY city") == [("Berlin", 2), ("Lyon", 1)]
    ran = [r[0] for r in sqlite3.connect(env.ledger).execute("SELECT name FROM jobs ORDER BY id")]
    assert ran[-1] == "city-counts" and "searchable-user" in ran
