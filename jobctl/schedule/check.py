"""`schedule check`: the crontab against the schedule, and the ledger's cron batches against both."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable

from ..timeutil import now_iso, parse_iso
from .config import Entry, Schedule
from .crontab import Installed

if TYPE_CHECKING:
    from ..ledger import Ledger

FINAL = ("success", "failed", "cancelled")


# -- check --------------------------------------------------------------------------------------------

def compare_installed(schedule: Schedule, installed: list[Installed], commands: dict[str, str]) -> list[dict]:
    """Each entry's crontab state: installed, missing, differs, commented-out, stale or not-enabled."""
    rows = []
    by_name = {}
    for inst in installed:
        by_name.setdefault(inst.name, []).append(inst)
    for e in schedule.entries:
        found = by_name.pop(e.name, [])
        first = found[0] if found else None
        row = {"entry": e.name, "installed_at": first.installed_at if first else None, "problem": False}
        if not e.enabled:
            row.update(state="installed though disabled" if found else "not enabled", problem=bool(found))
        elif not found:
            row.update(state="missing", problem=True)
        elif len(found) > 1:
            row.update(state="installed twice", problem=True)
        elif not first.enabled:
            row.update(state="commented out", problem=True)
        elif first.when != " ".join(e.cron.split()):
            row.update(state=f"differs: runs at {first.when!r}, the schedule says {e.cron!r}", problem=True)
        elif first.command != commands[e.name]:
            row.update(state="differs: another command (paths or groups changed)", problem=True,
                       installed_command=first.command, expected_command=commands[e.name])
        else:
            row.update(state="installed")
        rows.append(row)
    for name, found in by_name.items():
        rows.append({"entry": name, "installed_at": found[0].installed_at, "problem": True,
                     "state": "stale: installed but not in the schedule"})
    return rows


def _batch_matches(request: dict, entry: Entry) -> bool:
    return (set(request.get("groups") or []) == set(entry.groups)
            and set(request.get("jobs") or []) == set(entry.jobs) and not request.get("all"))


def check_runs(schedule: Schedule, ledger: Ledger, *, now: datetime, days: float,
               since: dict[str, datetime | None] | None = None, stalled_after: float = 300) -> dict:
    """Slots of each enabled entry in the last ``days`` matched with cron batches of the ledger.

    A slot is missed when no cron batch for the entry started from one minute before it to
    ``tolerance_minutes`` after it; ``since[name]`` (the install time) hides earlier slots.
    Returns {"entries": [...], "problems": [...], "unscheduled_batches": [...]}."""
    tz = schedule.tzinfo()
    start = now - timedelta(days=days)
    tol = timedelta(minutes=schedule.tolerance_minutes)
    since = since or {}
    batches = [{"id": r[0], "created_at": parse_iso(r[1]), "request": json.loads(r[2] or "{}")}
               for r in ledger.conn.execute(
                   "SELECT id, created_at, request FROM batches WHERE trigger='cron' AND created_at >= ? "
                   "AND created_at <= ? ORDER BY created_at, id",
                   (now_iso(start - timedelta(minutes=1)), now_iso(now)))]
    used: set[int] = set()
    entries, problems, all_slots = [], [], []
    for e in schedule.enabled():
        first = max(start, since.get(e.name) or start)
        slots = e.expr.slots(first, now, tz)
        all_slots += [(s, e.name) for s in slots]
        rows = []
        for slot in slots:
            b = next((b for b in batches if b["id"] not in used and _batch_matches(b["request"], e)
                      and slot - timedelta(minutes=1) <= b["created_at"] <= slot + tol), None)
            if b is None:
                state = "pending" if now < slot + tol else "missed"
                rows.append({"slot": slot, "state": state, "batch_id": None})
                if state == "missed":
                    problems.append({"kind": "missed", "entry": e.name, "slot": slot,
                                     "message": f"{e.name}: no cron run started for the slot {_local(slot, tz)}"})
                continue
            used.add(b["id"])
            row = _batch_row(ledger, b, now, stalled_after)
            row["slot"] = slot
            rows.append(row)
            problems += [dict(p, entry=e.name, slot=slot, message=f"{e.name} at {_local(slot, tz)}: {p['message']}")
                         for p in row.pop("problems")]
        entries.append({"name": e.name, "cron": e.cron, "checked_from": first, "slots": rows})
    # overlaps: a cron batch still running when a later slot (of any entry) came
    all_slots.sort()
    for ent in entries:
        for row in ent["slots"]:
            if not row.get("batch_id"):
                continue
            end = row["finished_at"] or now
            later = [(s, n) for s, n in all_slots if row["started"] < s < end and s != row["slot"]]
            if later:
                s, n = later[0]
                row["overlap"] = True
                problems.append({"kind": "overlap", "entry": ent["name"], "slot": row["slot"],
                                 "batch_id": row["batch_id"],
                                 "message": f"{ent['name']} at {_local(row['slot'], tz)} (batch {row['batch_id']}) "
                                            f"was still running at {_local(s, tz)} when {n} was due"})
    unscheduled = [{"batch_id": b["id"], "created_at": b["created_at"], "request": b["request"]}
                   for b in batches if b["id"] not in used]
    return {"entries": entries, "problems": problems, "unscheduled_batches": unscheduled}


def _batch_row(ledger: Ledger, batch: dict, now: datetime, stalled_after: float) -> dict:
    jobs = ledger.jobs(batch_id=batch["id"], newest_first=False)
    statuses = [j["status"] for j in jobs]
    if not jobs:  # every job of the request was already queued by an earlier batch and reused
        return {"state": "reused", "batch_id": batch["id"], "started": batch["created_at"],
                "finished_at": batch["created_at"], "jobs": 0, "succeeded": 0, "problems": []}
    problems = []
    for j in jobs:
        err = j.get("error") or ""
        if j["status"] == "failed":
            problems.append({"kind": "failed", "batch_id": batch["id"], "job_id": j["id"],
                             "message": f"job {j['name']} #{j['id']} failed: {_first_line(err)}"})
        elif j["status"] == "cancelled" and "upstream job" not in err:
            problems.append({"kind": "cancelled", "batch_id": batch["id"], "job_id": j["id"],
                             "message": f"job {j['name']} #{j['id']} was cancelled: {_first_line(err)}"})
        elif j["status"] == "running":
            reason = ledger.stall_reason(j, stalled_after, now)
            if reason:
                problems.append({"kind": "stalled", "batch_id": batch["id"], "job_id": j["id"],
                                 "message": f"job {j['name']} #{j['id']} is stalled: {reason}"})
    downstream = sum(1 for j in jobs if j["status"] == "cancelled" and "upstream job" in (j.get("error") or ""))
    if downstream and problems:
        problems[-1]["message"] += f" ({downstream} dependent job(s) cancelled)"
    if any(s in ("queued", "running") for s in statuses):
        state = "stalled" if any(p["kind"] == "stalled" for p in problems) else "running"
    elif "failed" in statuses:
        state = "failed"
    elif "cancelled" in statuses:
        state = "cancelled"
    else:
        state = "success"
    finished = [parse_iso(j["finished_at"]) for j in jobs if j["finished_at"]]
    done = all(s in FINAL for s in statuses)
    return {"state": state, "batch_id": batch["id"], "started": batch["created_at"],
            "finished_at": max(finished) if (done and finished) else (batch["created_at"] if done else None),
            "jobs": len(jobs), "succeeded": statuses.count("success"), "problems": problems}


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 160 else line[:159] + "…"


def _local(dt: datetime, tz) -> str:
    return (dt.astimezone(tz) if tz else dt.astimezone()).strftime("%Y-%m-%d %H:%M %z").rstrip()


def local_time(dt: datetime, schedule: Schedule) -> str:
    """``dt`` as the schedule reads times (its timezone, or this machine's)."""
    return _local(dt, schedule.tzinfo())


def installed_since(installed: Iterable[Installed]) -> dict[str, datetime | None]:
    out = {}
    for inst in installed:
        try:
            out.setdefault(inst.name, parse_iso(inst.installed_at) if inst.installed_at else None)
        except ValueError:
            out.setdefault(inst.name, None)
    return out
