import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from builders import NOW, Platform  # noqa: E402


@pytest.fixture
def platform(tmp_path) -> Platform:
    p = Platform(tmp_path)
    yield p
    p.conn.close()


@pytest.fixture
def now() -> str:
    return NOW
