"""Start `jobctl serve` as a real process on a free port, for socket and browser tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jobctl_env(extra: dict | None = None, plugins: str = "toyjobs") -> dict:
    """The environment of a jobctl subprocess: the test's toy jobs loaded, no admin token."""
    env = dict(os.environ)
    env.pop("JOBCTL_ADMIN_TOKEN", None)
    env["JOBCTL_PLUGINS"] = plugins
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["JOBCTL_HEARTBEAT_S"] = "0.5"
    env.update(extra or {})
    return env


class Server:
    """``jobctl --db --ledger --media-root serve --port P`` with toy jobs loaded; stderr kept."""

    def __init__(self, db: Path, ledger: Path, media: Path, *, token: str | None, args=(), env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = jobctl_env(env)
        if token:
            e["JOBCTL_ADMIN_TOKEN"] = token
        self.stderr_path = Path(ledger).parent / f"serve-{self.port}.log"
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobctl.cli", "--db", str(db), "--ledger", str(ledger), "--media-root", str(media),
             "serve", "--port", str(self.port), *args], env=e, stdout=subprocess.DEVNULL, stderr=self._err)
        self.token = token or self._printed_token()
        self._wait_up()

    def _printed_token(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"/admin/login\?token=(\S+)", self.stderr())
            if m:
                return m.group(1)
            time.sleep(0.05)
        raise AssertionError("no login URL printed:\n" + self.stderr())

    def _wait_up(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("serve exited:\n" + self.stderr())
            try:
                httpx.get(self.url + "/healthz", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("serve did not come up:\n" + self.stderr())

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def api(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {self.token}"},
                             timeout=10, **kw)

    def stop(self, sig=None) -> int:
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self._err.close()
