"""The user page (/admin/users/{id}) and the user search: the guide's "verify user profiles, matches,
and feeds look good", with how fresh each part is and the remedy when it is behind.

The data is :func:`jobctl.inspect_user.inspect_user`'s, the same as `jobctl inspect user ID --json`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import JobctlError, NotFound
from ..inspect_user import TRAITS, inspect_user
from ..schema import open_platform
from .app import Web, page

MAX_ID = 2 ** 63 - 1


def user_data(web: Web, user_id: int) -> dict:
    """inspect_user over the panel's platform and ledger (the ledger is optional: a banner if broken)."""
    conn = open_platform(web.settings.db, readonly=True)
    try:
        try:
            ledger = web.ledger()
        except JobctlError:
            ledger = None
        return inspect_user(conn, user_id, ledger=ledger)
    finally:
        conn.close()


@page
def search(request: Request, web: Web) -> Response:
    from ..jobs.search.query import search_profiles
    q = (request.query_params.get("q") or "").strip()
    if q.isdigit() and 0 < int(q) <= MAX_ID:
        return RedirectResponse(f"/admin/users/{int(q)}", status_code=303)
    rows, problems = [], []
    if q:
        try:
            conn = open_platform(web.settings.db, readonly=True)
            try:
                rows = search_profiles(conn, q, 50)
            finally:
                conn.close()
        except JobctlError as exc:
            problems.append(str(exc))
    return web.render("users.html", request, q=q, rows=rows, problems=problems)


@page
def user_page(request: Request, web: Web) -> Response:
    from .pages import preview
    raw = request.path_params["user_id"]
    user_id = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None
    try:
        if user_id is None:
            raise NotFound(f"no user with id {raw} in the platform database")
        data = user_data(web, user_id)
    except NotFound as exc:
        return web.render("error.html", request, 404, title="No such user", message=str(exc))
    except JobctlError as exc:
        return web.render("user.html", request, 200, data=None, problems=[str(exc)], user_id=user_id)
    problems = [] if data["freshness"] is not None else ["Ledger unavailable: freshness cannot be checked."]
    if data["user"]["state"] != "active":
        # Hidden and deleted users: nothing but that fact, even for an operator who knows the id.
        return web.render("user.html", request, data={"user": {"id": user_id, "state": data["user"]["state"]}},
                          private=True, problems=problems, user_id=user_id)
    remedies = {}
    for row in data["freshness"] or []:
        if row["warnings"] and row["group"] not in remedies:
            try:
                remedies[row["group"]] = {"preview": preview(web, groups=[row["group"]]), "error": None,
                                          "mode": "group", "group": row["group"]}
            except JobctlError as exc:
                remedies[row["group"]] = {"preview": None, "error": str(exc), "mode": "group", "group": row["group"]}
    batch = _batch(web, request)
    return web.render("user.html", request, data=data, private=False, problems=problems, user_id=user_id,
                      traits=TRAITS, remedies=remedies, batch=batch,
                      notice=f"Batch {batch['id']} queued." if batch else None)


def _batch(web: Web, request: Request) -> dict | None:
    raw = request.query_params.get("batch") or ""
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        return None
    try:
        jobs = web.ledger().jobs(batch_id=int(raw), newest_first=False)
    except JobctlError:
        return None
    return {"id": int(raw), "jobs": jobs, "active": any(j["status"] in ("queued", "running") for j in jobs)}


def routes() -> list[Route]:
    return [Route("/admin/users", search, methods=["GET"]),
            Route("/admin/users/{user_id}", user_page, methods=["GET"])]
