"""The job catalogue: every job declared once, as data that `jobs`, `describe`, `graph`,
`inspect user` and the tests read.

A job module declares its jobs with :func:`job`::

    @job("trending", group="feed", depends_on=["content-features"], uses_now=True,
         writes=["trending_posts"], rebuilds=True,
         summary="Identifies popular content", description="...", when="...", impact="...",
         params=[Param("window_hours", "int", 72, min=1, help="...")])
    def trending(ctx): ...

The decorator returns the function unchanged, so tests call it directly. The registry refuses
a duplicate name and (when the catalogue is loaded) an unknown dependency, naming both jobs.

Order is declaration order: the built-in groups in the order :data:`jobctl.jobs.GROUPS` lists
their packages (which :func:`load_catalogue` imports, then the modules named in
``$JOBCTL_PLUGINS``), other groups after them in the order their first job is registered, and
each group's jobs in the order they are declared.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import CatalogueError, ParamError, UnknownJob
from .timeutil import fmt_ts, parse_ts

PARAM_TYPES = ("int", "float", "bool", "str", "timestamp")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


@dataclass(frozen=True)
class Param:
    """A typed job parameter. ``default=None`` with ``required=False`` means 'not set'."""

    name: str
    type: str
    default: Any = None
    help: str = ""
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise CatalogueError(f"parameter {self.name}: unknown type {self.type!r}")

    def parse(self, raw: Any, job: str) -> Any:
        """Convert ``raw`` (a CLI string or a JSON value) to this type and check its range."""
        where = f"{job}: parameter {self.name}"
        if raw is None:
            if self.required:
                raise ParamError(f"{where} is required")
            return None
        try:
            value = self._convert(raw)
        except (TypeError, ValueError):
            raise ParamError(f"{where} expects {self._type_word()}, got {raw!r}") from None
        if self.min is not None and value < self.min:
            raise ParamError(f"{where} must be at least {self.min:g}, got {raw}")
        if self.max is not None and value > self.max:
            raise ParamError(f"{where} must be at most {self.max:g}, got {raw}")
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"{where} must be one of {', '.join(map(str, self.choices))}, got {raw!r}")
        return value

    def _convert(self, raw: Any) -> Any:
        t = self.type
        if t == "bool":
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError(raw)
        if t == "int":
            if isinstance(raw, bool):
                raise ValueError(raw)
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            v = int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
            if not -2 ** 63 <= v < 2 ** 63:  # beyond what SQLite stores
                raise ValueError(raw)
            return v
        if t == "float":
            if isinstance(raw, bool):
                raise ValueError(raw)
            v = float(raw)
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return v
        if t == "timestamp":
            dt = parse_ts(str(raw))
            if not 1970 <= dt.year <= 2200:
                raise ValueError(raw)
            return fmt_ts(dt)
        s = str(raw)
        return s

    def _type_word(self) -> str:
        return {"int": "an integer", "float": "a number", "bool": "true or false",
                "str": "text", "timestamp": "an ISO-8601 time between 1970 and 2200, such as 2026-11-29T03:00:00Z"}[self.type]

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "default": self.default,
                "required": self.required, "help": self.help, "min": self.min, "max": self.max}


def common_params(batch_size: int, pause_ms: int, uses_now: bool) -> list[Param]:
    out = [
        Param("batch_size", "int", batch_size, min=1, max=10_000_000, help="rows (or users) per batch; one short transaction each"),
        Param("pause_ms", "int", pause_ms, min=0, max=600_000, help="pause between batches, in milliseconds, so the platform's own writes flow"),
    ]
    if uses_now:
        out.append(Param("now", "timestamp", None,
                         help="the moment the job computes for (ISO-8601 UTC); default: the current time"))
    return out


@dataclass
class JobSpec:
    name: str
    group: str
    summary: str
    description: str
    when: str
    impact: str
    func: Callable
    depends_on: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    uses_now: bool = False
    bulk: bool = True          # part of group and --all enqueues
    resumable: bool = False    # honours ctx.cursor on retry
    validate: Callable | None = None  # validate(conn, params): raise ParamError before queueing
    uses_media: bool = False   # reads or deletes files under the media root
    writes: tuple[str, ...] = ()  # the tables it writes (derived or platform)
    rebuilds: bool = False     # replaces all of ``writes`` wholesale, together (ctx.rebuild)
    order: int = 0             # registration sequence (catalogue order: Registry.all)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def resolve_params(self, given: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
        """Defaults merged with ``given`` (strings or JSON values), each parsed and range-checked."""
        names = {p.name for p in self.params}
        unknown = sorted(set(given) - names)
        if unknown and strict:
            raise ParamError(f"{self.name}: unknown parameter {unknown[0]} "
                             f"(it takes {', '.join(sorted(names))})")
        out = {}
        for p in self.params:
            out[p.name] = p.parse(given[p.name], self.name) if p.name in given else p.parse(p.default, self.name)
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "summary": self.summary,
                "description": self.description, "when": self.when, "impact": self.impact,
                "depends_on": list(self.depends_on), "bulk": self.bulk,
                "params": [p.to_dict() for p in self.params]}


class Registry:
    """Name → JobSpec, iterated in declaration order."""

    def __init__(self):
        self._jobs: dict[str, JobSpec] = {}
        self._seq = 0

    def add(self, spec: JobSpec) -> None:
        if spec.name in self._jobs:
            other = self._jobs[spec.name]
            raise CatalogueError(f"job {spec.name!r} is declared twice "
                                 f"({other.func.__module__}.{other.func.__name__} and "
                                 f"{spec.func.__module__}.{spec.func.__name__})")
        self._seq += 1
        spec.order = self._seq
        self._jobs[spec.name] = spec

    def check(self) -> None:
        for spec in self._jobs.values():
            for dep in spec.depends_on:
                if dep not in self._jobs:
                    raise CatalogueError(f"job {spec.name!r} depends on {dep!r}, which is not in the catalogue")

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(f"unknown job {name!r}{_suggest(name, self._jobs)} "
                             f"(see `jobctl jobs`)") from None

    def __contains__(self, name: str) -> bool:
        return name in self._jobs

    def all(self) -> list[JobSpec]:
        """Every job: built-in groups in :data:`jobctl.jobs.GROUPS` order, then other groups in the
        order their first job was registered; within a group, in declaration order. (Not plain
        registration order: importing one group's package early, as a test may, changes nothing.)"""
        from .jobs import GROUPS
        first: dict[str, int] = {}
        for spec in sorted(self._jobs.values(), key=lambda s: s.order):
            first.setdefault(spec.group, spec.order)
        rank = {g: (0, GROUPS.index(g)) if g in GROUPS else (1, o) for g, o in first.items()}
        return sorted(self._jobs.values(), key=lambda s: (rank[s.group], s.order))

    def groups(self) -> list[str]:
        return list(dict.fromkeys(s.group for s in self.all()))

    def writers(self, table: str) -> list[JobSpec]:
        """The jobs that write ``table``, in catalogue order."""
        return [s for s in self.all() if table in s.writes]

    def tables(self) -> list[str]:
        """Every table some job writes, in catalogue order of its first writer."""
        return list(dict.fromkeys(t for s in self.all() for t in s.writes))

    def in_group(self, group: str) -> list[JobSpec]:
        if group not in self.groups():
            raise UnknownJob(f"unknown group {group!r}{_suggest(group, self.groups())} "
                             f"(groups: {', '.join(self.groups())})")
        return [s for s in self.all() if s.group == group]


def _suggest(name: str, known: Iterable[str]) -> str:
    import difflib
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


REGISTRY = Registry()
_loaded = False


def job(name: str, *, group: str, summary: str, description: str, when: str, impact: str,
        depends_on: Iterable[str] = (), params: Iterable[Param] = (), uses_now: bool = False,
        bulk: bool = True, resumable: bool = False, batch_size: int = 1000, pause_ms: int = 5,
        validate: Callable | None = None, uses_media: bool = False, writes: Iterable[str] = (),
        rebuilds: bool = False, registry: Registry | None = None) -> Callable:
    """Declare and register a job; returns the function unchanged."""

    def deco(func: Callable) -> Callable:
        own = list(params)
        clash = {p.name for p in own} & {"batch_size", "pause_ms", "now"}
        if clash:
            raise CatalogueError(f"job {name!r} redeclares common parameter {sorted(clash)[0]!r}")
        spec = JobSpec(name=name, group=group, summary=summary, description=description,
                       when=when, impact=impact, func=func, depends_on=tuple(depends_on),
                       params=tuple(own + common_params(batch_size, pause_ms, uses_now)),
                       uses_now=uses_now, bulk=bulk, resumable=resumable, validate=validate,
                       uses_media=uses_media, writes=tuple(writes), rebuilds=rebuilds)
        (registry or REGISTRY).add(spec)
        func.spec = spec
        return func

    return deco


def load_catalogue() -> Registry:
    """Import the built-in job modules (and any in $JOBCTL_PLUGINS) once; check dependencies.

    JOBCTL_BUILTIN_JOBS=0 leaves the built-in jobs out (to try plugin jobs in isolation)."""
    global _loaded
    if not _loaded:
        _loaded = True
        from .jobs import GROUPS
        builtin = os.environ.get("JOBCTL_BUILTIN_JOBS", "1") not in ("0", "false", "no")
        for group in GROUPS if builtin else []:
            importlib.import_module(f"jobctl.jobs.{group}")
        for mod in filter(None, (m.strip() for m in os.environ.get("JOBCTL_PLUGINS", "").split(","))):
            importlib.import_module(mod)
        REGISTRY.check()
    return REGISTRY


def params_key(params: dict) -> str:
    """Canonical JSON of a parameter set (for reuse of an identical queued job)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
