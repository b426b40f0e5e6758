"""`serve`: the admin panel and its JSON API (jobctl/web/), with a worker beside it."""

from __future__ import annotations

from typing import Annotated

import typer

from .core import command, settings_of


@command("serve")
def serve_cmd(ctx: typer.Context,
              host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless "
                                                               "JOBCTL_ADMIN_TOKEN is set).")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8080,
              no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run jobs here; `jobctl worker` "
                                                                          "processes do.")] = False):
    """The admin panel and its JSON API (/admin/jobs, /api/), with a worker beside it."""
    from ..web.server import serve
    settings = settings_of(ctx)
    serve(settings.db, settings.ledger_path, settings.media_root, host=host, port=port, no_worker=no_worker)
