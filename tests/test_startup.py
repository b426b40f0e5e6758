"""Start-up stays light: the everyday commands never import the heavy libraries the jobs use."""

import json
import subprocess
import sys

HEAVY = ("networkx", "numpy", "sqlite_utils", "scipy", "PIL", "av", "pydantic")

PROBE = """
import json, sys
sys.argv = ["jobctl", *json.loads(sys.argv[1])]
import jobctl.cli
loaded_by_import = sorted(m for m in {heavy} if m in sys.modules)
try:
    jobctl.cli.main()
except SystemExit:
    pass
print(json.dumps([loaded_by_import, sorted(m for m in {heavy} if m in sys.modules)]), file=sys.__stderr__)
"""


def _probe(args, tmp_path):
    code = PROBE.format(heavy=repr(HEAVY))
    res = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    return json.loads(res.stderr.strip().splitlines()[-1])


def test_importing_the_cli_pulls_no_heavy_library(tmp_path):
    by_import, _ = _probe(["--help"], tmp_path)
    assert by_import == []


def test_everyday_commands_stay_light(tmp_path, env):
    from jobctl.ledger import Ledger
    ledger = Ledger(env.ledger)  # created and migrated here, so the commands below need no sqlite-utils
    _, jobs = ledger.enqueue([("toy-a", "toy", {}, [])])
    ledger.close()
    for args in (["--help"], ["status"], ["history"], ["show", str(jobs[0]["id"])], ["why", str(jobs[0]["id"])],
                 ["status", "--json"], ["history", "--json"], ["history", "--job", "toy-a"]):
        _, after = _probe([*env.args, *args], tmp_path)
        assert after == [], (args, after)
