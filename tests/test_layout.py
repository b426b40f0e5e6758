"""The package's shape: no module over 500 lines, no import circle anywhere in jobctl/.

Both walk every module under jobctl/ and exclude none.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import jobctl

ROOT = Path(jobctl.__file__).parent
MAX_LINES = 500


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The jobctl modules ``name`` imports (anywhere in it, function-level imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:        # `from pkg import submodule` imports the submodule
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known and m != name}


def import_graph() -> nx.DiGraph:
    mods = modules()
    g = nx.DiGraph()
    for name, path in mods.items():
        g.add_node(name)
        g.add_edges_from((name, dep) for dep in imports(name, path, set(mods)))
    return g


def test_no_module_over_500_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_no_import_circle():
    circles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not circles, f"import circles: {circles}"


def test_the_graph_sees_relative_imports():
    g = import_graph()
    assert g.has_edge("jobctl.jobs.matching", "jobctl.jobs.matching.engine")
    assert g.has_edge("jobctl.jobs.matching.engine", "jobctl.jobs.matching.formulas")
    assert g.has_edge("jobctl.jobs.search.query", "jobctl.jobs.shared")
    assert g.has_edge("jobctl.context", "jobctl.db")
