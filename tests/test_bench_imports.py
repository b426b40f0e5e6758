"""The bench scripts are not run by the suite, but what they import from jobctl must exist: a
refactor that renames a module or a name breaks them silently otherwise (bench/web.py once kept
importing a registry constant that had gone)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def jobctl_imports(path: Path) -> list[tuple[str, str | None]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "jobctl":
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "jobctl"]
    return out


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_what_a_bench_script_imports_from_jobctl_exists(script):
    for module, name in jobctl_imports(script):
        mod = importlib.import_module(module)
        if name is not None and not hasattr(mod, name):
            importlib.import_module(f"{module}.{name}")  # `from package import submodule`


def test_the_check_sees_a_missing_name(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("from jobctl.registry import NO_SUCH_NAME\n")
    with pytest.raises(ImportError):
        test_what_a_bench_script_imports_from_jobctl_exists(fake)
