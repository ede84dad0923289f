"""Imported at start by every Python a test points PYTHONPATH here for: SIGUSR2 then writes all its
threads' Python stacks to $PMUTOP_TEST_STACKS.PID, which a hang guard reads before it kills a process
that will not end (tests/waiting.py's describe_tree). A C-level handler: it answers even while the
interpreter is blocked holding the GIL."""

import faulthandler
import os
import signal

_prefix = os.environ.get("PMUTOP_TEST_STACKS")
if _prefix:
    _stacks = open(f"{_prefix}.{os.getpid()}", "w")  # noqa: SIM115 kept open: faulthandler writes to its fd
    faulthandler.register(signal.SIGUSR2, file=_stacks, all_threads=True)
