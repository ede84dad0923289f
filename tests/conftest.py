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


needs_root = pytest.mark.skipif(not is_root(), reason="needs root (CI runs as root)")
