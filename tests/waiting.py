"""Waiting on events, never on the clock.

A test waits for the condition it needs (a line printed, a file written, a state shown) and goes on the
moment it holds. HANG_S only turns a hang into a failure: it is no bound the product has to meet, so it
is far above what any loaded machine takes (speed targets live in benchmarks/).
"""

import os
import shutil
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


def process_tree(pid: int) -> list[int]:
    """`pid` and every process it started, parents first."""
    tree, index = [pid], 0
    while index < len(tree):
        for children in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            with suppress(OSError):  # that thread or process has just ended
                tree += [int(child) for child in children.read_text().split()]
        index += 1
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started: a command pmutop runs holds pmutop's stdout too, so
    the pipe ends only once they are all gone."""
    for member in process_tree(pid):
        with suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def stack_dumps_env(directory: Path) -> dict[str, str]:
    """Environment for a Python process whose stacks describe_tree can read: SIGUSR2 makes it write them
    into `directory` (tests/stacks/sitecustomize.py)."""
    here = str(Path(__file__).parent / "stacks")
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{here}:{path}" if path else here, "PMUTOP_TEST_STACKS": str(directory / "stacks")}


def describe_tree(pid: int, stacks: Path | None = None) -> str:
    """Where each thread of `pid` and of what it started is, for a test to say why a process did not end:
    each thread's state and kernel stack, the C stacks (gdb, when installed) and, for processes started
    with stack_dumps_env(stacks), the Python stacks of all threads."""
    lines, dumps = [], []
    for member in process_tree(pid):
        with suppress(OSError):
            command = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            lines.append(f"== process {member}: {command}")
            if stacks is not None and (stacks / f"stacks.{member}").exists():
                os.kill(member, signal.SIGUSR2)
                dumps.append(stacks / f"stacks.{member}")
            for task in sorted(Path(f"/proc/{member}/task").iterdir(), key=lambda path: int(path.name)):
                with suppress(OSError):
                    fields = (line.split(":\t", 1) for line in (task / "status").read_text().splitlines())
                    status = dict(field for field in fields if len(field) == 2)
                    syscall = (task / "syscall").read_text().split()[:2]
                    lines.append(
                        f"-- thread {task.name} {status.get('Name', '?')} {status.get('State', '?')} "
                        f"wchan={(task / 'wchan').read_text()} syscall={syscall}"
                    )
                    lines.append((task / "stack").read_text().rstrip())
        if shutil.which("gdb"):
            with suppress(subprocess.SubprocessError, OSError):
                command = ["gdb", "-p", str(member), "-batch", "-nx", "-ex", "thread apply all bt 30"]
                lines.append(subprocess.run(command, capture_output=True, text=True, timeout=60).stdout[-20000:])
    # faulthandler writes from the signal handler, at once; the guard is gone, so give it a bound of its own.
    with suppress(AssertionError):
        wait_until(lambda: all(map(_written, dumps)), "the Python stacks", hang_s=10)
    for dump in dumps:
        with suppress(OSError):  # the test ended meanwhile and took its directory away
            lines.append(f"== Python stacks, process {dump.suffix[1:]}:\n{dump.read_text()}")
    return "\n".join(lines)


def _written(dump: Path) -> bool:
    try:
        return dump.stat().st_size > 0
    except OSError:
        return True  # gone (the test ended meanwhile): nothing to wait for


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
