"""Every command, sub-command, option and argument of jobctl has help, and `--help` works for each."""

import subprocess
import sys

import typer.main
from typer.testing import CliRunner

from jobctl.cli import app

runner = CliRunner()


def _walk(cmd, path=()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


def test_the_walk_sees_every_command():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"jobs", "run", "enqueue", "status", "history", "show", "why", "schedule check", "inspect user",
            "demo", "search", "stalled", "retry", "cancel", "worker", "graph", "describe"} <= names


def test_every_command_and_parameter_has_help():
    missing = []
    for path, cmd in COMMANDS:
        if not path:
            continue
        if not (cmd.help or "").strip():
            missing.append(" ".join(path))
        for p in cmd.params:
            if p.name == "help" or getattr(p, "hidden", False):
                continue
            if not (getattr(p, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {p.opts[0] if p.opts else p.name}")
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
    assert missing == []


def test_help_says_flags_take_no_value_and_ids_are_ids():
    res = runner.invoke(app, ["show", "--help"], env={"COLUMNS": "120"})
    assert "9223372036854775807" not in res.output and "ID" in res.output
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert "<bool>" not in res.output


def test_python_dash_m_loads_the_cli_once():
    code = ("import runpy, sys; sys.argv = ['jobctl', '--help']\n"
            "try:\n    runpy.run_module('jobctl.cli', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "mods = [m for m in sys.modules if m.startswith('jobctl.cli')]\n"
            "assert '__main__' not in mods\n"
            "import jobctl.cli.core as core\n"
            "assert sys.modules['jobctl.cli'].app is core.app and 'why' in [c.name for c in core.app.registered_commands]\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
