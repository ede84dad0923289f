import asyncio
import inspect

import pytest
from tui_support import alder_lake_recording, this_vm_recording


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (Textual's pilot is async) on a fresh event loop, without a plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


@pytest.fixture(scope="session")
def alder_lake(tmp_path_factory):
    return alder_lake_recording(tmp_path_factory.mktemp("alder_lake"))


@pytest.fixture(scope="session")
def this_vm(tmp_path_factory):
    return this_vm_recording(tmp_path_factory.mktemp("this_vm"))
