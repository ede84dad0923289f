import pytest
from tui_support import alder_lake_recording, this_vm_recording

# `async def` tests (Textual's pilot is async) run under pytest-asyncio (asyncio_mode = "auto" in pyproject.toml).


@pytest.fixture(scope="session")
def alder_lake(tmp_path_factory):
    return alder_lake_recording(tmp_path_factory.mktemp("alder_lake"))


@pytest.fixture(scope="session")
def this_vm(tmp_path_factory):
    return this_vm_recording(tmp_path_factory.mktemp("this_vm"))
