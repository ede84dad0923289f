"""Waiting on events, never on the clock.

A test waits for the condition it needs (a line printed, a file written, a state shown) and goes on the
moment it holds. HANG_S only turns a hang into a failure: it is no bound the product has to meet, so it
is far above what any loaded machine takes (speed targets live in benchmarks/).
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

HANG_S = 120

T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, pause_s: float = 0.05, hang_s: float = HANG_S) -> T:
    """Call `check` until it returns something truthy, and return that. The pause between tries only
    keeps the waiting from competing for a CPU with what it waits for."""
    deadline = time.monotonic() + hang_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} (a {hang_s} s hang guard, not a speed target)")
        time.sleep(pause_s)


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started: a command pmutop runs holds pmutop's stdout too, so
    the pipe ends only once they are all gone."""
    tree, index = [pid], 0
    while index < len(tree):
        for children in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            with suppress(OSError):  # that thread or process has just ended
                tree += [int(child) for child in children.read_text().split()]
        index += 1
    for member in tree:
        with suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


@contextmanager
def hang_guard(process: subprocess.Popen, hang_s: float = HANG_S) -> Iterator[subprocess.Popen]:
    """Kill `process` and what it started if it still runs `hang_s` after this begins, so that a test
    blocked reading its output sees the end of it and fails instead of hanging."""
    timer = threading.Timer(hang_s, lambda: process.poll() is None and kill_tree(process.pid))
    timer.daemon = True
    timer.start()
    try:
        yield process
    finally:
        timer.cancel()
