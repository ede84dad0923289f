"""Running pmutop on a pseudo-terminal, as a user does: wait for a screen, press keys, collect all output."""

import os
import pty
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from waiting import HANG_S, describe_tree, kill_tree, stack_dumps_env


def run_in_terminal(
    argv: list[str], keys: bytes = b"", ready: bytes = b"Quit", then: Callable[[int], None] | None = None
) -> tuple[int, str]:
    """Start `python argv...` on a new pty; once its output shows `ready`, type `keys` (or call `then`
    with its pid); return its exit code and everything it wrote (escape sequences included) once it has ended.
    A child still running after HANG_S is killed (a hang guard, not a speed target): the read then ends."""
    pid, master = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(sys.executable, [sys.executable, *argv])
    seen = b""
    typed = False
    # Cancelled before the child is reaped, so the pid it kills is never another process's.
    guard = threading.Timer(HANG_S, kill_tree, (pid,))
    guard.daemon = True
    guard.start()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not typed and ready in seen:
                if then is not None:
                    then(pid)
                else:
                    os.write(master, keys)
                typed = True
    finally:
        guard.cancel()
        _, status = os.waitpid(pid, 0)
        os.close(master)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def hang_up_terminal(
    argv: list[str], keys: bytes, ready: bytes = b"Quit", before: Callable[[], object] | None = None
) -> int:
    """Start `python argv...` on a new pty, as the session leader it makes the pty's controlling terminal
    of; once its output shows `ready`, type `keys`, and once it has answered them (more output), close
    the master side (after `before()`, if given), as a terminal emulator or a tmux server does when it
    goes away: the kernel hangs the terminal up. Return the exit code once the process has ended. One
    still running after HANG_S (a hang guard, not a speed target) is killed, and the test fails with
    where each of its threads was (describe_tree)."""
    stacks = Path(tempfile.mkdtemp(prefix="pmutop-stacks-"))
    pid, master = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24", **stack_dumps_env(stacks))
        os.execv(sys.executable, [sys.executable, *argv])
    hung: list[str] = []

    def describe_then_kill() -> None:
        hung.append(describe_tree(pid, stacks))
        kill_tree(pid)

    guard = threading.Timer(HANG_S, describe_then_kill)
    guard.daemon = True
    guard.start()
    try:
        seen, typed_at = b"", None
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: it closed the terminal before it was hung up
                break
            if not chunk:
                break
            seen += chunk
            if typed_at is None and ready in seen:
                os.write(master, keys)
                typed_at = len(seen)
            elif typed_at is not None and len(seen) > typed_at:
                break  # it drew what the keys asked for (or part of it): hang up now, mid-frame or not
        if before is not None:
            before()
        os.close(master)
        _, status = os.waitpid(pid, 0)
    finally:
        guard.cancel()
        shutil.rmtree(stacks, ignore_errors=True)
    if hung:
        raise AssertionError(f"still running {HANG_S} s after its terminal hung up; its threads were:\n{hung[0]}")
    return os.waitstatus_to_exitcode(status)
