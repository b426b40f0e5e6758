"""The whole site: the panel's pages, the user pages and the JSON API under one Starlette app.

Apart from :mod:`jobctl.web.app` (the guards every route goes through) so that route modules can
import those guards without an import circle.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..actions import Settings
from . import api as api_routes, pages, users
from .app import HERE, Web


def create_app(settings: Settings, token: str, **kw) -> Starlette:
    """The panel and API over ``settings``' ledger, catalogue and platform, guarded by ``token``."""
    web = Web(settings, token, **kw)

    async def not_found(request: Request, exc) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": f"no such endpoint: {request.url.path}"}, status_code=404)
        return web.render("error.html", None, 404, title="Not found", message=f"Nothing at {request.url.path}.",
                          csrf="", path=request.url.path)

    async def method_not_allowed(request: Request, exc) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405)
        return web.render("error.html", None, 405, title="Not allowed", message=f"{request.method} is not allowed here.",
                          csrf="", path=request.url.path)

    routes = pages.routes() + users.routes() + api_routes.routes() + [
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.web = web
    return app

