import pytest

from builders import NOW, Platform


@pytest.fixture
def platform(tmp_path) -> Platform:
    p = Platform(tmp_path)
    yield p
    p.conn.close()


@pytest.fixture
def pg_url():
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards (skips without a server)."""
    from pgserver import scratch_database
    with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def any_platform(request, tmp_path) -> Platform:
    """The same tiny hand-built platform on each backend: for known-answer tests of jobs."""
    marker = request.node.get_closest_marker("sqlite_only")
    if request.param == "postgres" and marker is not None:
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else 'checks SQLite internals'}")
    if request.param == "sqlite":
        p = Platform(tmp_path)
        yield p
        p.conn.close()
        return
    from pgserver import scratch_database
    with scratch_database() as url:
        p = Platform(tmp_path, url=url)
        try:
            yield p
        finally:
            p.conn.close()


@pytest.fixture
def now() -> str:
    return NOW


@pytest.fixture
def toy_registry(monkeypatch):
    """A catalogue of toy jobs only, in place of the real one, for in-process engine tests."""
    import jobctl.registry as registry
    import toyjobs

    reg = toyjobs.register(registry.Registry())
    monkeypatch.setattr(registry, "REGISTRY", reg)
    monkeypatch.setattr(registry, "_loaded", True)
    return reg


class Env:
    """An empty platform + ledger + media root, and the global options that point at them."""

    def __init__(self, tmp_path):
        self.platform = Platform(tmp_path)
        self.db = self.platform.path
        self.ledger = tmp_path / "ledger.db"
        self.media = self.platform.media_root
        self.args = ["--db", str(self.db), "--ledger", str(self.ledger), "--media-root", str(self.media)]
        self.env = {"JOBCTL_DB": str(self.db), "JOBCTL_LEDGER": str(self.ledger),
                    "JOBCTL_MEDIA_ROOT": str(self.media)}

    def toy_rows(self, job: str) -> list[int]:
        return [r[0] for r in self.platform.conn.execute(
            "SELECT i FROM toy_out WHERE job=? ORDER BY i", (job,))]


@pytest.fixture
def env(tmp_path) -> Env:
    e = Env(tmp_path)
    yield e
    e.platform.conn.close()
