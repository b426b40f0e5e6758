"""The recommended schedule as crontab entries, and the check that notices a silent cron.

Each enabled entry of the schedule (:mod:`.config`) becomes one crontab line (:mod:`.crontab`) that
runs ``jobctl enqueue --group … --wait`` with absolute paths and ``JOBCTL_TRIGGER=cron``, appends to
a log file and ends with the marker comment ``# jobctl:<name> installed <time>``. :mod:`.check`
compares the crontab with the schedule and the ledger's cron batches with both.
"""

from .check import check_runs, compare_installed, installed_since, local_time
from .config import CronExpr, Entry, Schedule, ScheduleError, check_names, load_schedule, schedule_path
from .crontab import (CATALOGUE_ENV, LINE_RE, MARK, Change, CrontabFile, Installed, Paths, UserCrontab,
                      cron_to_shell, crontab_store, entry_command, jobctl_executable, merge, parse_installed,
                      remove_all, render_line)

__all__ = ["CATALOGUE_ENV", "LINE_RE", "MARK", "Change", "CronExpr", "CrontabFile", "Entry", "Installed", "Paths",
           "Schedule", "ScheduleError", "UserCrontab", "check_names", "check_runs", "compare_installed",
           "cron_to_shell", "crontab_store", "entry_command", "installed_since", "jobctl_executable",
           "load_schedule", "local_time", "merge", "parse_installed", "remove_all", "render_line", "schedule_path"]
