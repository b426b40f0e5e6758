"""Test-only fault points for the crash-consistency suite, on top of jobctl.faults.

The engine's points are ``commit`` (in ``ctx.transaction()``, before COMMIT), ``checkpoint``
(``ctx.checkpoint()``) and ``swap`` (in ``jobctl.db.swap_in``, after the renames, before COMMIT).
This module adds two more without touching ``jobctl/``:

- ``drop``: after a swap committed, when the swapped-out ``<table>__old`` is about to be dropped
  (``jobctl.db.drop_table`` called on an existing ``__old`` table); a kill there leaves the new
  table live and ``__old`` behind, for the next run to drop;
- ``unlink``: in media-orphan-cleanup, after a batch's row deletions committed and before each
  deleted row's file is unlinked (``maintenance_orphans._remove_row_file``).

In a ``jobctl`` subprocess it is loaded as a plugin: ``JOBCTL_PLUGINS=crash_hooks`` with
``JOBCTL_CRASH_HOOKS=1`` and this folder on PYTHONPATH; ``JOBCTL_FAULT="drop=1"`` then kills at the
first such drop. In the test process :func:`install` is called with ``monkeypatch.setattr``.
"""

from __future__ import annotations

import os

from jobctl import faults

POINTS = ("commit", "checkpoint", "swap", "drop", "unlink")


def _drop_with_fault(orig):
    def drop_table(conn, name, *args, **kwargs):
        from jobctl.db import table_exists
        if name.endswith("__old") and table_exists(conn, name):
            faults.reach("drop")
        return orig(conn, name, *args, **kwargs)

    drop_table.crash_hooked = True
    return drop_table


def _unlink_with_fault(orig):
    def _remove_row_file(*args, **kwargs):
        faults.reach("unlink")
        return orig(*args, **kwargs)

    _remove_row_file.crash_hooked = True
    return _remove_row_file


def install(setattr=setattr) -> None:
    """Wrap the helpers (idempotent). ``setattr`` may be pytest's ``monkeypatch.setattr``.

    Only ``jobctl.db.drop_table`` is wrapped (``swap_in`` calls it through the module), so the
    ``drop`` point is the drop of a swapped-out table, not a job's own drop of a stale shadow."""
    from jobctl import db
    from jobctl.jobs.maintenance import orphans as maintenance_orphans

    if not getattr(db.drop_table, "crash_hooked", False):
        setattr(db, "drop_table", _drop_with_fault(db.drop_table))
    if not getattr(maintenance_orphans._remove_row_file, "crash_hooked", False):
        setattr(maintenance_orphans, "_remove_row_file", _unlink_with_fault(maintenance_orphans._remove_row_file))


if os.environ.get("JOBCTL_CRASH_HOOKS") == "1":
    install()
