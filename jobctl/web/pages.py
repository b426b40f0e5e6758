"""The pages for people: the panel (/admin/jobs), one job, the catalogue, the schedule, login."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import JobctlError, NotFound, ParamError, TransitionRefused
from .. import actions
from . import views
from .app import Web, client_addr, page
from .auth import COOKIE, SESSION_TTL_S, same

MAX_ID = 2 ** 63 - 1


def _int(text: str | None) -> int | None:
    try:
        v = int(text) if text not in (None, "") else None
    except ValueError:
        return None
    return v if v is None or 0 < v <= MAX_ID else None


# -- login ------------------------------------------------------------------------------------------

async def login_form(request: Request) -> Response:
    web: Web = request.app.state.web
    nxt = _safe_next(request.query_params.get("next"))
    if "token" in request.query_params:
        return await _login(request, web, request.query_params.get("token"), nxt)
    return web.render("login.html", None, 200, next=nxt, error=None, csrf="", path="/admin/login")


async def login_post(request: Request) -> Response:
    web: Web = request.app.state.web
    form = await request.form()
    return await _login(request, web, form.get("token"), _safe_next(form.get("next")))


async def _login(request: Request, web: Web, token: str | None, nxt: str) -> Response:
    addr = client_addr(request)
    await web.brake.wait(addr)  # every attempt from an address that has been guessing waits
    if not same(token, web.token):
        web.brake.failed(addr)
        return web.render("login.html", None, 401, next=nxt, error="That token is not right.", csrf="",
                          path="/admin/login")
    web.brake.succeeded(addr)
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(COOKIE, web.sessions.new(), max_age=SESSION_TTL_S, httponly=True, samesite="strict",
                    secure=web.secure_cookie, path="/")
    return resp


def _safe_next(nxt: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect after login."""
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/admin/jobs"
    return nxt


@page(state_changing=True)
def logout(request: Request, web: Web, form) -> Response:
    resp = RedirectResponse("/admin/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# -- the panel ----------------------------------------------------------------------------------------

def _filters(request: Request) -> dict:
    q = request.query_params
    status = q.get("status") or None
    return {"status": status if status in views.STATUSES else None, "job": q.get("job") or None,
            "group": q.get("group") or None, "before_id": _int(q.get("before_id"))}


def panel_context(request: Request, web: Web, *, run: dict | None = None, bulk: dict | None = None) -> dict:
    """Everything /admin/jobs shows; each part that cannot be read becomes a banner, never a 500."""
    ctx: dict = {"problems": [], "active": [], "stalled": [], "history": [], "next_before": None,
                 "filters": _filters(request), "notice": _notice(request)}
    reg = web.settings.catalogue()
    ctx["specs"] = reg.all()
    ctx["groups"] = reg.groups()
    problem = web.platform_problem()
    if problem:
        ctx["problems"].append(f"Platform database: {problem}")
    ledger = None
    try:
        ledger = web.ledger()
        ctx["active"] = views.active(ledger)
        ctx["stalled"] = ledger.stalled(web.stalled_after)
        f = ctx["filters"]
        rows = views.history(ledger, status=f["status"], name=f["job"], group=f["group"], before_id=f["before_id"],
                             limit=views.PAGE + 1)
        ctx["history"] = rows[:views.PAGE]
        ctx["next_before"] = rows[views.PAGE - 1]["id"] if len(rows) > views.PAGE else None
    except JobctlError as exc:
        ctx["problems"].append(f"Ledger: {exc}")
    ctx["run"] = run or run_form(web, request.query_params.get("run"),
                                 {k[2:]: v for k, v in request.query_params.items() if k.startswith("p.")})
    ctx["bulk"] = bulk or bulk_form(web, ledger, request.query_params.get("mode"), request.query_params.get("bulk_group"))
    return ctx


def _notice(request: Request) -> str | None:
    q = request.query_params
    if _int(q.get("queued")):
        return f"Job {q['queued']} queued."
    if _int(q.get("batch")):
        return f"Batch {q['batch']} queued: {_int(q.get('n')) or 0} job(s), in run order."
    if q.get("cleaned") is not None and q["cleaned"].isdigit():
        return f"{q['cleaned']} stalled job(s) marked failed; retry them from their pages."
    return None


def run_form(web: Web, name: str | None, values: dict, errors: dict | None = None, error: str | None = None,
             open_: bool = False) -> dict:
    """The Run New Job form for job ``name`` (default: the first job): its fields, values and errors."""
    reg = web.settings.catalogue()
    spec = reg.get(name) if name and name in reg else reg.all()[0]
    fields = []
    for p in spec.params:
        default = "" if p.default is None else (str(p.default).lower() if p.type == "bool" else str(p.default))
        fields.append({"name": p.name, "type": p.type, "help": p.help, "required": p.required,
                       "value": values.get(p.name, default), "default": default,
                       "placeholder": "current time" if p.name == "now" else ("required" if p.required else "unset"),
                       "min": p.min, "max": p.max, "error": (errors or {}).get(p.name)})
    return {"spec": spec, "fields": fields, "error": error, "open": open_ or bool(errors or error or name)}


def bulk_form(web: Web, ledger, mode: str | None, group: str | None, error: str | None = None) -> dict:
    """The Bulk Enqueue form, with the preview of what would be queued once a group (or all) is chosen."""
    out = {"mode": mode if mode in ("group", "all") else "group", "group": group, "error": error, "preview": None,
           "open": bool(mode or error)}
    if mode == "all" or (mode == "group" and group):
        try:
            out["preview"] = preview(web, groups=[group] if mode == "group" else [], all_jobs=mode == "all")
        except JobctlError as exc:
            out["error"] = str(exc)
    return out


def preview(web: Web, **batch) -> list[dict]:
    """actions.plan_batch's rows, with the catalogue's summary and each job's dependencies in the batch."""
    rows = actions.plan_batch(web.settings, **batch)
    reg = web.settings.catalogue()
    names = {r["name"] for r in rows}
    for r in rows:
        spec = reg.get(r["name"])
        r.update(summary=spec.summary, cross_group=r["reason"].startswith("needed"),
                 depends_on=[d for d in spec.depends_on if d in names])
    return rows


@page
def panel(request: Request, web: Web) -> Response:
    return web.render("panel.html", request, **panel_context(request, web))


@page(state_changing=True)
def run_job(request: Request, web: Web, form) -> Response:
    """Run New Job: every field checked as the CLI checks `-p`; a bad one is shown beside itself."""
    reg = web.settings.catalogue()
    name = form.get("job") or ""
    if name not in reg:
        try:
            reg.get(name)
        except JobctlError as exc:
            return _panel_again(request, web, run=run_form(web, None, {}, error=str(exc), open_=True))
    spec = reg.get(name)
    values = {p.name: (form.get(f"p.{p.name}") or "").strip() for p in spec.params}
    given = {k: v for k, v in values.items() if v != ""}
    errors = {}
    for p in spec.params:
        try:
            p.parse(given.get(p.name, p.default), spec.name)
        except ParamError as exc:
            errors[p.name] = str(exc)
    if not errors:
        try:
            job = actions.queue_run(web.settings, spec.name, given)["jobs"][0]
            return RedirectResponse(f"/admin/jobs?queued={job['id']}#active", status_code=303)
        except ParamError as exc:
            field = next((p.name for p in spec.params if f"parameter {p.name} " in f"{exc} "), None)
            if field:
                errors[field] = str(exc)
            else:
                return _panel_again(request, web, run=run_form(web, name, values, error=str(exc)))
        except JobctlError as exc:
            return _panel_again(request, web, run=run_form(web, name, values, error=str(exc)))
    return _panel_again(request, web, run=run_form(web, name, values, errors=errors))


@page(state_changing=True)
def bulk_enqueue(request: Request, web: Web, form) -> Response:
    mode, group = form.get("mode") or "group", form.get("bulk_group") or None
    try:
        done = actions.enqueue(web.settings, groups=[group] if group and mode != "all" else [],
                               all_jobs=mode == "all")
        batch_id, jobs = done["batch_id"], done["jobs"]
    except JobctlError as exc:
        ledger = None
        try:
            ledger = web.ledger()
        except JobctlError:
            pass
        return _panel_again(request, web, bulk=bulk_form(web, ledger, mode, group, error=str(exc)))
    back = form.get("next")
    if back and re.fullmatch(r"/admin/users/\d{1,19}", back):  # a remedy pressed on a user page
        return RedirectResponse(f"{back}?batch={batch_id}", status_code=303)
    return RedirectResponse(f"/admin/jobs?batch={batch_id}&n={len(jobs)}#active", status_code=303)


def _panel_again(request: Request, web: Web, **parts) -> Response:
    return web.render("panel.html", request, 400, **panel_context(request, web, **parts))


@page(state_changing=True)
def cleanup_stalled(request: Request, web: Web, form) -> Response:
    try:
        done = actions.stalled(web.settings, after=web.stalled_after, cleanup=True)
    except JobctlError as exc:
        return web.render("error.html", request, 503, title="Ledger unavailable", message=str(exc))
    return RedirectResponse(f"/admin/jobs?cleaned={len(done)}", status_code=303)


# -- live updates ---------------------------------------------------------------------------------------

@page
def live(request: Request, web: Web) -> Response:
    """What the panel's script refreshes every second: active jobs, the stalled banner, history rows."""
    tpl = web.templates.get_template("_macros.html").module
    try:
        ledger = web.ledger()
        ids = [i for i in (_int(x) for x in request.query_params.get("ids", "").split(",")[:200]) if i]
        rows = {str(j["id"]): str(tpl.history_row(j)) for j in ledger.jobs(ids=ids)} if ids else {}
        return JSONResponse({"active": str(tpl.active_table(views.active(ledger))),
                             "stalled": str(tpl.stalled_banner(ledger.stalled(web.stalled_after), request.state.csrf)),
                             "rows": rows, "problem": None})
    except JobctlError as exc:
        return JSONResponse({"problem": str(exc)})


@page
def run_fields(request: Request, web: Web) -> Response:
    tpl = web.templates.get_template("_macros.html").module
    return HTMLResponse(str(tpl.run_fields(run_form(web, request.query_params.get("job"), {}))))


@page
def plan_fragment(request: Request, web: Web) -> Response:
    tpl = web.templates.get_template("_macros.html").module
    ledger = None
    try:
        ledger = web.ledger()
    except JobctlError:
        pass
    q = request.query_params
    return HTMLResponse(str(tpl.plan_preview(bulk_form(web, ledger, q.get("mode"), q.get("bulk_group")))))


# -- one job ----------------------------------------------------------------------------------------------

@page
def job_page(request: Request, web: Web) -> Response:
    return _job_page(request, web)


def _job_page(request: Request, web: Web, error: str | None = None, status: int = 200) -> Response:
    job_id = _int(request.path_params["job_id"])
    try:
        ledger = web.ledger()
        if job_id is None:
            raise NotFound(f"no job with id {request.path_params['job_id']} in the ledger")
        job = views.detailed_job(ledger, ledger.get(job_id))
    except NotFound as exc:
        return web.render("error.html", request, 404, title="No such job", message=str(exc))
    except JobctlError as exc:
        return web.render("error.html", request, 503, title="Ledger unavailable", message=str(exc))
    if job["status"] == "running":
        job["stalled"] = ledger.stall_reason(ledger.get(job_id), web.stalled_after)
    # The ledger logs "retried as job N" on the old job: read that, not an unindexed retry_of scan.
    retries = [int(m.group(1)) for e in job["log"] for m in [re.match(r"retried as job (\d+)$", e["message"])] if m]
    rerun = "/admin/jobs?" + urlencode({"run": job["name"], **{f"p.{k}": "" if v is None else
                                        (str(v).lower() if isinstance(v, bool) else str(v))
                                        for k, v in job["params"].items()}}) + "#run"
    ctx = dict(job=job, error=error, retries=retries, rerun=rerun, notice=_job_notice(request),
               result_json=json.dumps(job["result"], indent=2) if job["result"] is not None else None,
               spec=web.settings.catalogue().get(job["name"]) if job["name"] in web.settings.catalogue() else None)
    if request.query_params.get("fragment"):
        return HTMLResponse(str(web.templates.get_template("_macros.html").module.job_detail(job, request.state.csrf)))
    return web.render("job.html", request, status, **ctx)


def _job_notice(request: Request) -> str | None:
    return {"requested": "Cancel requested: the job stops at its next batch boundary.",
            "cancelled": "Job cancelled.", }.get(request.query_params.get("did", ""))


@page(state_changing=True)
def cancel(request: Request, web: Web, form) -> Response:
    job_id = _int(request.path_params["job_id"])
    try:
        if job_id is None:
            raise NotFound(f"no job with id {request.path_params['job_id']} in the ledger")
        what = actions.cancel(web.settings, job_id, after=web.stalled_after)["outcome"]
    except NotFound as exc:
        return web.render("error.html", request, 404, title="No such job", message=str(exc))
    except JobctlError as exc:
        return _job_page(request, web, error=str(exc), status=409 if isinstance(exc, TransitionRefused) else 503)
    return RedirectResponse(f"/admin/jobs/{job_id}?did={what}", status_code=303)


@page(state_changing=True)
def retry(request: Request, web: Web, form) -> Response:
    job_id = _int(request.path_params["job_id"])
    try:
        if job_id is None:
            raise NotFound(f"no job with id {request.path_params['job_id']} in the ledger")
        job = actions.retry(web.settings, job_id)
    except NotFound as exc:
        return web.render("error.html", request, 404, title="No such job", message=str(exc))
    except JobctlError as exc:
        return _job_page(request, web, error=str(exc), status=409 if isinstance(exc, TransitionRefused) else 400)
    return RedirectResponse(f"/admin/jobs/{job['id']}", status_code=303)


# -- catalogue and schedule -------------------------------------------------------------------------------

@page
def catalogue(request: Request, web: Web) -> Response:
    reg = web.settings.catalogue()
    last, problems = {}, []
    try:
        last = views.last_success(web.ledger())
    except JobctlError as exc:
        problems.append(f"Ledger: {exc}")
    return web.render("catalogue.html", request, specs=reg.all(), graph=views.graph_layout(reg), last=last,
                      problems=problems)


@page
def schedule(request: Request, web: Web) -> Response:
    from datetime import datetime, timezone
    from .. import schedule as sched
    problems, report, entries, crontab = [], None, [], []
    try:
        s = sched.load_schedule()
        entries = s.entries
        # As `jobctl schedule check` does: the crontab first, then only installed entries since their install.
        store = sched.crontab_store(None)
        installed = sched.parse_installed(store.read())
        paths = sched.Paths.from_settings(web.settings, s)
        crontab = sched.compare_installed(s, installed, {e.name: sched.entry_command(e, paths) for e in s.entries})
        present = {r["entry"] for r in crontab if not r["state"].startswith(("missing", "not enabled", "stale"))}
        checked = sched.Schedule(entries=[e for e in s.entries if e.name in present], source=s.source,
                                 timezone=s.timezone, tolerance_minutes=s.tolerance_minutes)
        report = sched.check_runs(checked, web.ledger(), now=datetime.now(timezone.utc), days=7,
                                  since=sched.installed_since(installed), stalled_after=web.stalled_after)
        report["problems"] = [{"message": f"{r['entry']}: {r['state']}"} for r in crontab if r["problem"]] + \
            report["problems"]
        report.update(source=s.source, crontab=store.label)
    except JobctlError as exc:
        problems.append(str(exc))
    return web.render("schedule.html", request, entries=entries, report=report, problems=problems, crontab=crontab)


async def root(request: Request) -> Response:
    return RedirectResponse("/admin/jobs", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/", root),
        Route("/admin", root),
        Route("/admin/login", login_form, methods=["GET"]),
        Route("/admin/login", login_post, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin/jobs", panel, methods=["GET"]),
        Route("/admin/jobs/run", run_job, methods=["POST"]),
        Route("/admin/enqueue", bulk_enqueue, methods=["POST"]),
        Route("/admin/stalled/cleanup", cleanup_stalled, methods=["POST"]),
        Route("/admin/live", live, methods=["GET"]),
        Route("/admin/fragments/run-fields", run_fields, methods=["GET"]),
        Route("/admin/fragments/plan", plan_fragment, methods=["GET"]),
        Route("/admin/jobs/{job_id}", job_page, methods=["GET"]),
        Route("/admin/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/admin/jobs/{job_id}/retry", retry, methods=["POST"]),
        Route("/admin/catalogue", catalogue, methods=["GET"]),
        Route("/admin/schedule", schedule, methods=["GET"]),
    ]

