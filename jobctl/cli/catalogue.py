"""The catalogue: `jobs`, `describe`, `graph`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .core import Json, command, complete_group, complete_job, settings_of
from .render import Col, emit_json, emit_table, stdout


@command("jobs")
def jobs_cmd(ctx: typer.Context,
             group: Annotated[Optional[str], typer.Option("--group", "-g", metavar="GROUP", help="Only this group.",
                                                          autocompletion=complete_group)] = None,
             as_json: Json = False):
    """The catalogue: every job with its group, description, dependencies and parameters."""
    reg = settings_of(ctx).catalogue()
    specs = reg.in_group(group) if group else reg.all()
    if as_json:
        emit_json([{"name": s.name, "group": s.group, "description": s.description, "summary": s.summary,
                    "depends_on": list(s.depends_on), "params": [p.to_dict() for p in s.params]} for s in specs])
        return
    cols = [Col("job"), Col("group", drop=3), Col("what it does", shrink=True, min=16, drop=4),
            Col("depends on", shrink=True, min=10, drop=1), Col("parameters", shrink=True, min=10, drop=2)]
    rows = []
    for s in specs:
        own = [p.name for p in s.params if p.name not in ("batch_size", "pause_ms", "now")]
        rows.append([s.name, s.group, s.summary, ", ".join(s.depends_on) or "–", ", ".join(own) or "–"])
    emit_table(cols, rows, title="jobctl catalogue (jobctl describe JOB says more)")


@command("describe")
def describe_cmd(ctx: typer.Context,
                 job: Annotated[str, typer.Argument(metavar="JOB", help="A job name.", autocompletion=complete_job)],
                 as_json: Json = False):
    """One job in plain language: what it does, when to run it, its impact and its parameters."""
    spec = settings_of(ctx).catalogue().get(job)
    if as_json:
        emit_json(spec.to_dict())
        return
    from rich.table import Table
    con = stdout()
    con.print(f"[bold]{spec.name}[/]  ([cyan]{spec.group}[/])  — {spec.summary}\n")
    con.print(f"[bold]What it does:[/] {spec.description}")
    con.print(f"[bold]When to run:[/] {spec.when}")
    con.print(f"[bold]Impact:[/] {spec.impact}")
    con.print(f"[bold]Depends on:[/] {', '.join(spec.depends_on) or 'nothing'}"
              + ("" if spec.bulk else "   [dim](run on its own; never part of a group or --all enqueue)[/]"))
    t = Table(title="parameters")
    for col in ("name", "type", "default", "meaning"):
        t.add_column(col)
    for p in spec.params:
        default = "required" if p.required else ("current time" if p.name == "now" else
                                                 ("unset" if p.default is None else str(p.default)))
        rng = ""
        if p.min is not None or p.max is not None:
            rng = f" [{'' if p.min is None else f'{p.min:g}'}..{'' if p.max is None else f'{p.max:g}'}]"
        t.add_row(p.name, p.type + rng, default, p.help)
    con.print(t)


@command("graph")
def graph_cmd(ctx: typer.Context,
              group: Annotated[Optional[list[str]], typer.Option("--group", "-g", metavar="GROUP", help="Only what this group needs.",
                                                                 autocompletion=complete_group)] = None,
              fmt: Annotated[str, typer.Option("--format", "-f", help="text, dot or mermaid.")] = "text"):
    """The dependency graph, in run order (text), or as Graphviz DOT or Mermaid."""
    from .. import graph as graphmod
    reg = settings_of(ctx).catalogue()
    if fmt not in graphmod.RENDERERS:
        raise UsageError(f"unknown format {fmt!r}: choose text, dot or mermaid")
    graphmod.build(reg)
    specs = graphmod.resolve(reg, groups=group) if group else graphmod.order(reg, [s.name for s in reg.all()])
    typer.echo(graphmod.RENDERERS[fmt](reg, specs))
