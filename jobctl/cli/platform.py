"""The platform itself: `demo` builds one, `search` queries its profile index."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .core import Json, command, settings_of
from .render import Col, emit_json, emit_table, stderr, stdout


@command("demo")
def demo_cmd(ctx: typer.Context,
             users: Annotated[int, typer.Option("--users", min=1, help="How many users to create.")] = 1000,
             seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same platform.")] = 42,
             now: Annotated[Optional[str], typer.Option("--now", help="The platform's present (ISO-8601); default now.")] = None,
             force: Annotated[bool, typer.Option("--force", help="Replace an existing platform database.")] = False):
    """Create (or with --force refill) a realistic synthetic platform: database and media files."""
    from ..demo import build_demo
    from ..timeutil import parse_ts
    settings = settings_of(ctx)
    at = None
    if now:
        try:
            at = parse_ts(now)
        except ValueError:
            raise UsageError(f"--now expects an ISO-8601 time, got {now!r}") from None
    err = stderr()
    counts = build_demo(settings.db, settings.media_root, users, seed=seed, now=at, force=force,
                        progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    from rich.table import Table
    t = Table(title=f"demo platform: {settings.db} (media in {settings.media_root})")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    stdout().print(t)
    stderr().print("next: jobctl enqueue --all --wait")


@command("search")
def search_cmd(ctx: typer.Context,
               text: Annotated[Optional[str], typer.Argument(metavar="TEXT", help="Plain words to look for.", show_default=False)] = None,
               limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many results.")] = 20,
               interest: Annotated[Optional[str], typer.Option("--interest", metavar="NAME", help="List the members of this interest.")] = None,
               as_json: Json = False):
    """Search the profile index (plain words, bm25 order), or list who likes an interest."""
    from ..jobs.search.query import interest_members, search_profiles
    settings = settings_of(ctx)
    if not text and not interest:
        raise UsageError("give TEXT to search for, or --interest NAME")
    conn = settings.platform(readonly=True)
    try:
        rows = interest_members(conn, interest, limit) if interest else search_profiles(conn, text, limit)
    finally:
        conn.close()
    if as_json:
        emit_json([{k: r.get(k) for k in ("user_id", "display_name", "age", "city", "score")} for r in rows])
        return
    if not rows:
        stdout().print("no matches")
        return
    cols = [Col("user", justify="right"), Col("name", shrink=True, min=10), Col("age", justify="right", drop=2),
            Col("city", shrink=True, min=8, drop=3), Col("score", justify="right", drop=1)]
    emit_table(cols, [[str(r["user_id"]), r["display_name"], str(r.get("age") or ""), r.get("city") or "",
                       "" if r.get("score") is None else f"{r['score']:.3g}"] for r in rows],
               title=f"people who like {interest}" if interest else f"search: {text}")
