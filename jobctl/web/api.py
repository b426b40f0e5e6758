"""The JSON API of WEB.md: bearer token only, job objects as the CLI's ``--json`` prints them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import NotFound, ParamError, UsageError
from .. import actions
from . import views
from .app import Web, api

MAX_ID = 2 ** 63 - 1


def _id(request: Request) -> int:
    raw = request.path_params["job_id"]
    try:
        v = int(raw)
    except ValueError:
        v = 0
    if not 0 < v <= MAX_ID:
        raise NotFound(f"no job with id {raw} in the ledger")
    return v


def _params(body: dict) -> dict:
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ParamError('"params" must be an object of parameter names to values')
    return params


@api
def catalogue(request: Request, web: Web, body) -> Response:
    return JSONResponse([{"name": s.name, "group": s.group, "description": s.description, "summary": s.summary,
                          "depends_on": list(s.depends_on), "params": [p.to_dict() for p in s.params]}
                         for s in web.settings.catalogue().all()])


@api
def jobs(request: Request, web: Web, body) -> Response:
    q = request.query_params
    status = q.get("status") or None
    if status is not None and status not in views.STATUSES:
        raise UsageError(f"unknown status {status!r}: choose queued, running, success, failed or cancelled")
    limit, before = _int_arg(q.get("limit"), "limit", 50), _int_arg(q.get("before_id"), "before_id", None)
    if limit > 1000:
        raise UsageError("limit must be at most 1000")
    name = q.get("name") or None
    if name is not None:
        web.settings.catalogue().get(name)
    group = q.get("group") or None
    rows = views.history(web.ledger(), status=status, name=name, group=group, before_id=before, limit=limit)
    return JSONResponse([views.public_job(j) for j in rows])


def _int_arg(text: str | None, what: str, default):
    if text in (None, ""):
        return default
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{what} expects a positive integer, got {text!r}") from None
    if not 0 < v <= MAX_ID:
        raise UsageError(f"{what} expects a positive integer, got {text!r}")
    return v


@api
def job(request: Request, web: Web, body) -> Response:
    ledger = web.ledger()
    return JSONResponse(views.detailed_job(ledger, ledger.get(_id(request))))


@api
def run_new_job(request: Request, web: Web, body: dict) -> Response:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError('give "name": the job to queue')
    queued = actions.queue_run(web.settings, name, _params(body))["jobs"][0]
    return JSONResponse(queued, status_code=201)


@api
def bulk_enqueue(request: Request, web: Web, body: dict) -> Response:
    groups = [body["group"]] if isinstance(body.get("group"), str) else (body.get("groups") or [])
    names = body.get("jobs") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or \
            not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise UsageError('"jobs" must be a list of job names and "group" a group name')
    done = actions.enqueue(web.settings, jobs=names, groups=groups, all_jobs=body.get("all") is True,
                           params=_params(body))
    return JSONResponse(done, status_code=201)


@api
def cancel(request: Request, web: Web, body) -> Response:
    job_id = _id(request)
    actions.cancel(web.settings, job_id, after=web.stalled_after)
    return JSONResponse(views.public_job(web.ledger().get(job_id)))


@api
def retry(request: Request, web: Web, body: dict) -> Response:
    return JSONResponse(actions.retry(web.settings, _id(request), _params(body)), status_code=201)


@api
def stalled(request: Request, web: Web, body) -> Response:
    return JSONResponse([dict(views.public_job(j), stalled_reason=r)
                         for j, r in web.ledger().stalled(web.stalled_after)])


@api
def stalled_cleanup(request: Request, web: Web, body) -> Response:
    done = actions.stalled(web.settings, after=web.stalled_after, cleanup=True)
    ledger = web.ledger()
    return JSONResponse([dict(views.public_job(ledger.get(r["job"]["id"])), stalled_reason=r["reason"]) for r in done])


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


@api
def metrics(request: Request, web: Web, body) -> Response:
    from .metrics import render
    text, content_type = render(web.ledger())
    return Response(text, media_type=content_type)


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/catalogue", catalogue, methods=["GET"]),
        Route("/api/jobs", jobs, methods=["GET"]),
        Route("/api/jobs", run_new_job, methods=["POST"]),
        Route("/api/jobs/{job_id}", job, methods=["GET"]),
        Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job_id}/retry", retry, methods=["POST"]),
        Route("/api/enqueue", bulk_enqueue, methods=["POST"]),
        Route("/api/stalled", stalled, methods=["GET"]),
        Route("/api/stalled/cleanup", stalled_cleanup, methods=["POST"]),
    ]
