import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PMUTOP = [sys.executable, "-m", "pmutop"]


@pytest.fixture
def pmutop_command() -> list[str]:
    """The installed pmutop, run as a child the way a user runs it."""
    return list(PMUTOP)


def is_root() -> bool:
    return os.geteuid() == 0


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.needs_root` tests skip, saying why, when the suite is not run as root."""
    if is_root():
        return
    skip = pytest.mark.skip(reason="needs root (CI runs as root)")
    for item in items:
        if "needs_root" in item.keywords:
            item.add_marker(skip)
