import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PMUTOP = [sys.executable, "-m", "pmutop"]


@pytest.fixture(autouse=True, scope="session")
def private_config_home(tmp_path_factory):
    """Every test, and every pmutop it starts, reads and writes its TUI config in a directory of the
    run's own: the TUI saves its choices on quit, and a user's saved sort or theme would otherwise
    change what the snapshot tests draw, and be overwritten by them."""
    saved = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    if saved is None:
        del os.environ["XDG_CONFIG_HOME"]
    else:
        os.environ["XDG_CONFIG_HOME"] = saved


@pytest.fixture
def pmutop_command() -> list[str]:
    """The installed pmutop, run as a child the way a user runs it."""
    return list(PMUTOP)


@pytest.fixture
def two_cpus_online() -> None:
    """Two CPUs online for the test (waited for: another run's hotplug test may have one offline)."""
    from cpus import wait_for_two_online_cpus

    wait_for_two_online_cpus()


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
