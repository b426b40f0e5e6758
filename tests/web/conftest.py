"""Fixtures for the admin panel: an app over a tiny platform with toy jobs, a logged-in browser
session (TestClient), and helpers that read the CSRF token from a page."""

from __future__ import annotations

import re
import warnings

import pytest

TOKEN = "test-admin-token-0123456789"
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class WebEnv:
    def __init__(self, tmp_path, stalled_after: float = 300):
        import toyjobs
        from builders import Platform
        with warnings.catch_warnings():  # starlette 1.x prefers httpx2; httpx works the same here
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        from jobctl.actions import Settings
        from jobctl.registry import Registry
        from jobctl.web.site import create_app
        from jobctl.web.auth import Brake

        self.platform = Platform(tmp_path)
        self.ledger_path = tmp_path / "ledger.db"
        self.registry = toyjobs.register(Registry())
        self.settings = Settings(db=self.platform.path, ledger_path=self.ledger_path,
                                 media_root=self.platform.media_root, registry=self.registry)
        self.brake = Brake(free=2, base=0.2, cap=1.0)
        self.app = create_app(self.settings, TOKEN, stalled_after=stalled_after, brake=self.brake)
        self.client = TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)
        self.bearer = {"Authorization": f"Bearer {TOKEN}"}

    def ledger(self):
        return self.settings.ledger()

    def login(self):
        r = self.client.post("/admin/login", data={"token": TOKEN})
        assert r.status_code == 303, r.text
        return r

    def csrf(self, path: str = "/admin/jobs") -> str:
        r = self.client.get(path)
        assert r.status_code == 200, r.text
        return CSRF_RE.search(r.text).group(1)

    def api(self, method: str, path: str, **kw):
        return self.client.request(method, path, headers=self.bearer, **kw)

    def close(self):
        self.client.close()
        self.platform.conn.close()


@pytest.fixture
def web(tmp_path):
    e = WebEnv(tmp_path)
    yield e
    e.close()
