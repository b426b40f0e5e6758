"""The jobctl command line: parse, call the library (:mod:`jobctl.actions`), render.

:mod:`.core` holds the app, its global options and the error conversion; each noun has a module
that registers its commands on it when imported here: :mod:`.catalogue` (jobs, describe, graph),
:mod:`.runs` (run, enqueue, worker, cancel, retry, stalled), :mod:`.views` (status, history, show,
why), :mod:`.schedule`, :mod:`.inspection`, :mod:`.platform` (demo, search). Rendering lives in
:mod:`.render` and the live view in :mod:`.live`.
"""

# Importing a command module registers its commands; this order is the order of `jobctl --help`.
from . import catalogue, runs, views  # noqa: F401,I001
from . import schedule, inspection, platform, serve  # noqa: F401,I001
from .core import app, complete_group, complete_job, complete_param, main

__all__ = ["app", "main", "complete_group", "complete_job", "complete_param"]
