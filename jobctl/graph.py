"""The dependency DAG of the catalogue (networkx): resolve, closure, order, render.

It knows the graph and nothing else: no ledger, no database.
"""

from __future__ import annotations

from typing import Iterable

import networkx as nx

from .errors import CatalogueError, UsageError
from .registry import JobSpec, Registry


def build(registry: Registry) -> nx.DiGraph:
    """Edges dependency → dependent. Raises CatalogueError naming the cycle, if any."""
    g = nx.DiGraph()
    for position, spec in enumerate(registry.all()):
        g.add_node(spec.name, group=spec.group, order=position)
    for spec in registry.all():
        for dep in spec.depends_on:
            if dep not in g:
                raise CatalogueError(f"job {spec.name!r} depends on unknown job {dep!r}")
            g.add_edge(dep, spec.name)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return g
    path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
    raise CatalogueError(f"the job graph has a cycle: {path}")


def resolve(registry: Registry, jobs: Iterable[str] = (), groups: Iterable[str] = (),
            all_jobs: bool = False) -> list[JobSpec]:
    """The named jobs, the bulk jobs of the named groups (or of all groups), and everything they
    depend on across groups, in lexicographic topological order keyed by catalogue order."""
    g = build(registry)
    wanted: set[str] = set()
    for name in jobs:
        wanted.add(registry.get(name).name)
    for group in groups:
        wanted.update(s.name for s in registry.in_group(group) if s.bulk)
    if all_jobs:
        wanted.update(s.name for s in registry.all() if s.bulk)
    if not wanted:
        raise UsageError("nothing to enqueue: name jobs, --group G or --all")
    closure = set(wanted)
    for name in wanted:
        closure |= nx.ancestors(g, name)
    return order(registry, closure, g)


def order(registry: Registry, names: Iterable[str], g: nx.DiGraph | None = None) -> list[JobSpec]:
    g = g if g is not None else build(registry)
    sub = g.subgraph(set(names))
    ordered = nx.lexicographical_topological_sort(sub, key=lambda n: g.nodes[n]["order"])
    return [registry.get(n) for n in ordered]


def render_text(registry: Registry, specs: list[JobSpec]) -> str:
    """One line per job in run order: 'name (group) ← dep, dep'."""
    names = {s.name for s in specs}
    lines = []
    for s in specs:
        deps = [d for d in s.depends_on if d in names]
        lines.append(f"{s.name} ({s.group})" + (f" ← {', '.join(deps)}" if deps else ""))
    return "\n".join(lines)


def render_dot(registry: Registry, specs: list[JobSpec]) -> str:
    names = {s.name for s in specs}
    out = ["digraph jobctl {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for group in registry.groups():
        members = [s for s in specs if s.group == group]
        if not members:
            continue
        out.append(f'  subgraph "cluster_{group}" {{')
        out.append(f'    label="{group}";')
        out.extend(f'    "{s.name}";' for s in members)
        out.append("  }")
    for s in specs:
        out.extend(f'  "{d}" -> "{s.name}";' for d in s.depends_on if d in names)
    out.append("}")
    return "\n".join(out)


def render_mermaid(registry: Registry, specs: list[JobSpec]) -> str:
    names = {s.name for s in specs}
    ident = {s.name: s.name.replace("-", "_") for s in specs}
    out = ["flowchart LR"]
    for group in registry.groups():
        members = [s for s in specs if s.group == group]
        if not members:
            continue
        out.append(f"  subgraph {group}")
        out.extend(f'    {ident[s.name]}["{s.name}"]' for s in members)
        out.append("  end")
    for s in specs:
        out.extend(f"  {ident[d]} --> {ident[s.name]}" for d in s.depends_on if d in names)
    return "\n".join(out)


RENDERERS = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid}
