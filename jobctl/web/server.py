"""`jobctl serve`: the panel and API under uvicorn, with a worker beside them unless ``no_worker``.

SIGINT/SIGTERM stop both: uvicorn stops accepting and finishes its requests; the worker's
running job is cancelled at its next batch boundary (as ``jobctl worker`` does), then we exit.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
import threading
from pathlib import Path

from ..errors import JobctlError, UsageError
from ..ledger import Ledger
from ..runner import Interrupt, Runner, install_signal_handlers, work
from ..actions import Settings

TOKEN_ENV = "JOBCTL_ADMIN_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, environ=os.environ) -> tuple[str, bool]:
    """The admin token and whether it was generated. Refuses a non-loopback host without one."""
    token = environ.get(TOKEN_ENV) or ""
    if token:
        return token, False
    if not is_loopback(host):
        raise UsageError(f"refusing to listen on {host} without {TOKEN_ENV}: set a long random token, "
                         "or listen on 127.0.0.1")
    return secrets.token_urlsafe(24), True


class WorkerThread(threading.Thread):
    """The runner's work loop in a thread of the server process, with its own ledger connection."""

    def __init__(self, settings: Settings, interrupt: Interrupt, poll_s: float = 0.5):
        super().__init__(name="jobctl-worker", daemon=True)
        self.settings, self.interrupt, self.poll_s = settings, interrupt, poll_s
        self.error: str | None = None

    def run(self) -> None:
        try:
            ledger = Ledger(self.settings.ledger_path)
        except JobctlError as exc:
            self.error = str(exc)
            print(f"jobctl: worker not started: {exc}", file=sys.stderr)
            return
        runner = Runner(ledger=ledger, registry=self.settings.catalogue(), db_path=self.settings.db,
                        media_root=self.settings.media_root, interrupt=self.interrupt)
        try:
            work(runner, once=False, poll_s=self.poll_s)
        finally:
            runner.close()
            ledger.close()


def serve(db: Path, ledger: Path, media_root: Path, host: str = "127.0.0.1", port: int = 8080,
          no_worker: bool = False, *, stalled_after: float = 300) -> None:
    """Serve the admin panel until SIGINT/SIGTERM. Raises UsageError for a refused configuration."""
    import uvicorn

    from .site import create_app

    token, generated = resolve_token(host)
    settings = Settings(db=Path(db), ledger_path=Path(ledger), media_root=Path(media_root))
    settings.catalogue()
    app = create_app(settings, token, stalled_after=stalled_after)
    shown = f"[{host}]" if ":" in host else host
    print(f"jobctl serve: http://{shown}:{port}/admin/jobs  (ledger {settings.ledger_path}, platform {settings.db}"
          + (", no worker" if no_worker else ", worker running") + ")", file=sys.stderr)
    if generated:
        print(f"jobctl serve: log in at http://{shown}:{port}/admin/login?token={token}", file=sys.stderr)
    interrupt = Interrupt()
    # Our handlers are in place under uvicorn's: uvicorn restores them after its graceful shutdown and
    # re-raises the signal, which then asks the worker to stop at its next batch boundary.
    restore = install_signal_handlers(interrupt)
    worker = None
    if not no_worker:
        worker = WorkerThread(settings, interrupt)
        worker.start()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3, lifespan="off")
    server = uvicorn.Server(config)
    try:
        try:
            server.run()
        except (OSError, socket.error) as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        if not server.started and not interrupt:
            raise UsageError(f"cannot listen on {host}:{port} (is the port in use?)")
    finally:
        interrupt.reason = interrupt.reason or "interrupted: jobctl serve is stopping"
        if worker is not None:
            worker.join()
        restore()
    print("jobctl serve: stopped", file=sys.stderr)
