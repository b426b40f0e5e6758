"""`inspect user`: derived data as an operator checks it after a run."""

from __future__ import annotations

import functools
from typing import Annotated

import typer

from .core import Json, UserId, app, command, settings_of
from .render import emit_json, escape, stdout

inspect_app = typer.Typer(no_args_is_help=True, help="Look at derived data as an operator checks it after a run.")
app.add_typer(inspect_app, name="inspect", help="Look at derived data as an operator checks it after a run.")


@command(target=inspect_app, name="user")
def inspect_user_cmd(ctx: typer.Context,
                     user_id: UserId,
                     top: Annotated[int, typer.Option("--top", min=1, max=1000, help="How many matches.")] = 10,
                     items: Annotated[int, typer.Option("--items", min=1, max=1000,
                                                        help="Items per feed section.")] = 10,
                     as_json: Json = False):
    """One user's searchable snapshot, traits, top matches with their explanations and presorted feed
    sections (never e-mail, birthdate or location)."""
    from ..inspect_user import inspect_user
    from ..schema import open_platform
    settings = settings_of(ctx)
    conn = open_platform(settings.db, readonly=True)
    ledger = settings.ledger() if settings.ledger_path.exists() else None  # freshness needs the ledger's runs
    try:
        data = inspect_user(conn, user_id, top=top, items=items, ledger=ledger)
    finally:
        conn.close()
        if ledger is not None:
            ledger.close()
    if as_json:
        emit_json(data)
        return
    _print_user(data)


def _print_user(data: dict) -> None:
    from rich.table import Table
    con = stdout()
    p = functools.partial(con.print, highlight=False)
    u = data["user"]
    p(f"[bold]user {u['id']}[/] {escape(u['display_name'])} (@{escape(u['username'])}) — {u['state']}, "
      f"{escape(u['gender'])} seeking {escape(u['seeking'])} aged {u['age_min']}–{u['age_max']}, "
      f"{escape(u['city'] or '?')} {escape(u['country'] or '')}; last active {u['last_active_at'] or '–'}")
    for note in data["notes"]:
        p(f"[yellow]note:[/] {escape(note)}")
    for m in data["missing"]:
        p(f"[yellow]{m['table']} does not exist yet:[/] built by {m['job']} ({m['group']} group)")
    s = data["searchable"]
    if s is not None:
        p("[bold]searchable snapshot[/] " + escape(", ".join(f"{k}={v}" for k, v in s.items()
                                                         if k not in ("user_id", "bio", "traits"))))
        if s.get("bio"):
            p(f"  bio: {escape(s['bio'])}")
    t = data["traits"]
    if t is not None:
        from ..inspect_user import TRAITS
        p("[bold]traits[/] " + ", ".join(f"{k} {'–' if t.get(k) is None else f'{t[k]:.0f}'}" for k in TRAITS)
          + f" ({t.get('answered_items')} items, computed {t.get('computed_at')})")
    elif "user_traits" not in {m["table"] for m in data["missing"]}:
        p("[bold]traits[/] none (no personality answers)")
    if data["matches"] is not None:
        table = Table(title=f"top {len(data['matches'])} matches")
        for col in ("rank", "candidate", "score", "why"):
            table.add_column(col, no_wrap=col != "why")
        for m in data["matches"]:
            why = "\n".join(f"{a['area']} {a['score']:.0f}: {a['explanation']}" for a in m["areas"][:4])
            table.add_row(str(m["rank"]), escape(f"{m['display_name']} #{m['candidate_id']}"), f"{m['score']:.1f}",
                          escape(why or "–"))
        p(table if data["matches"] else "[bold]matches[/] none")
    if data["feed"] is not None:
        if not data["feed"]:
            p("[bold]feed[/] no presorted items")
        for section, rows in data["feed"].items():
            table = Table(title=f"feed: {section}")
            for col in ("#", "item", "title", "score"):
                table.add_column(col, no_wrap=col != "title")
            for r in rows:
                table.add_row(str(r["position"]), f"{r['item_type']} {r['item_id']}", escape(r["title"]),
                              "–" if r["score"] is None else f"{r['score']:.2f}")
            p(table)
