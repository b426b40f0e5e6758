"""The ASGI app: routes, the shared state, and the guards every page and API call goes through."""

from __future__ import annotations

import functools
import json
import threading
import time
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import JobctlError
from ..ledger import Ledger
from ..schema import open_platform
from . import views
from .auth import COOKIE, Brake, Sessions, bearer, same
from ..actions import Settings

HERE = Path(__file__).parent


class Web:
    """What every request needs: where things are, the secret, sessions, templates, ledgers."""

    def __init__(self, settings: Settings, token: str, *, stalled_after: float = 300, brake: Brake | None = None,
                 secure_cookie: bool = False):
        self.settings, self.token, self.stalled_after = settings, token, stalled_after
        self.sessions = Sessions(token)
        self.brake = brake or Brake()
        self.secure_cookie = secure_cookie
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(default=True, default_for_string=True))
        self.templates.globals.update(fmt_duration=views.fmt_duration, percent=views.percent, eta=views.eta,
                                      when=views.when, duration=views.duration, statuses=views.STATUSES,
                                      quote=quote)
        self.templates.globals["summary"] = self.summary
        self._local = threading.local()
        self._platform_checked: tuple[float, str | None] = (0.0, None)

    def summary(self, name: str) -> str:
        """A job's one-line description, shown on hover over its name (as the guide promises)."""
        reg = self.settings.catalogue()
        return f"{name}: {reg.get(name).summary}" if name in reg else name

    def ledger(self) -> Ledger:
        """This thread's ledger connection (opened once; the ledger's own errors propagate)."""
        led = getattr(self._local, "ledger", None)
        if led is None:
            led = Ledger(self.settings.ledger_path)
            self._local.ledger = led
        return led

    def platform_problem(self) -> str | None:
        """Why the platform database cannot be used (checked at most every 5 s), or None."""
        at, problem = self._platform_checked
        if time.monotonic() - at < 5:
            return problem
        try:
            open_platform(self.settings.db, readonly=True).close()
            problem = None
        except JobctlError as exc:
            problem = str(exc)
        self._platform_checked = (time.monotonic(), problem)
        return problem

    def render(self, name: str, request: Request | None = None, status: int = 200, **ctx) -> HTMLResponse:
        if request is not None:
            ctx.setdefault("csrf", request.state.csrf if hasattr(request.state, "csrf") else "")
            ctx.setdefault("path", request.url.path)
        return HTMLResponse(self.templates.get_template(name).render(**ctx), status_code=status)


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "?"


# -- guards ---------------------------------------------------------------------------------------

def page(func=None, *, state_changing: bool = False):
    """A page for a logged-in browser: no session → the login page; a POST without the page's
    CSRF token → 403 and nothing changes. The body runs in a worker thread."""

    def deco(f):
        @functools.wraps(f)
        async def endpoint(request: Request) -> Response:
            web: Web = request.app.state.web
            sid = web.sessions.session_id(request.cookies.get(COOKIE))
            if sid is None:
                if request.method != "GET":
                    return web.render("error.html", request, 403, title="Not logged in",
                                      message="Your session has expired: log in again.")
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/admin/login?next={quote(nxt)}", status_code=303)
            request.state.csrf = web.sessions.csrf(sid)
            form = None
            if state_changing:
                form = await request.form()
                if not web.sessions.csrf_ok(sid, form.get("csrf")):
                    return web.render("error.html", request, 403, title="Refused",
                                      message="This form is missing its CSRF token (or it is stale): reload the "
                                              "page and try again. Nothing was changed.")
            return await run_in_threadpool(f, request, web, form) if state_changing else \
                await run_in_threadpool(f, request, web)

        return endpoint

    return deco(func) if func else deco


def api(f):
    """A JSON API call: ``Authorization: Bearer <token>`` or 401 (a session cookie is ignored).
    The body runs in a worker thread; a JobctlError becomes ``{"error": "<one line>"}``."""

    @functools.wraps(f)
    async def endpoint(request: Request) -> Response:
        web: Web = request.app.state.web
        addr = client_addr(request)
        if not same(bearer(request.headers.get("authorization")), web.token):
            await web.brake.wait(addr)
            web.brake.failed(addr)
            return JSONResponse({"error": "missing or wrong bearer token (Authorization: Bearer <JOBCTL_ADMIN_TOKEN>)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body = None
        if request.method == "POST":
            raw = await request.body()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
            if body is None:
                body = {}
            if not isinstance(body, dict):
                return JSONResponse({"error": "the request body must be a JSON object"}, status_code=400)
        try:
            return await run_in_threadpool(f, request, web, body)
        except JobctlError as exc:
            return JSONResponse({"error": " ".join(str(exc).split())}, status_code=api_status(exc))

    return endpoint


def api_status(exc: JobctlError) -> int:
    from ..errors import DatabaseError, LedgerError, NotFound, TransitionRefused
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, TransitionRefused):
        return 409
    if isinstance(exc, (LedgerError, DatabaseError)):
        return 503
    return 400
