"""The CLI's one error path: what a user did wrong is one line on stderr and an exit code, never a traceback.

Exit codes (the README's table): 1 bad input (a file that cannot be read, a process that does not
exist), 2 bad usage (the argparse convention), 70 an internal error (EX_SOFTWARE; the traceback
goes to a crash log file named on stderr), 128+N killed by signal N, and a followed command's own
status when pmutop ran one.
"""

import argparse
import contextlib
import io
import math
import os
import select
import signal
import sys
import tempfile
import termios
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, NoReturn, cast

from pmutop.cli.signals import STOP_SIGNALS

BAD_INPUT = 1
BAD_USAGE = 2
INTERNAL_ERROR = 70

# The same limits for every command that samples (the TUI, stat, record). 10 ms is perf stat -I's floor.
MIN_INTERVAL_MS = 10
MAX_INTERVAL_MS = 3_600_000
MAX_COUNT = 10**9
MAX_DURATION_S = 10**8
MAX_SPEED = 1000

# How long the TUI has to end the normal way after a stop signal before it is ended without its event
# loop (blocked: it could not answer). Quitting takes a fraction of a second even on a loaded machine.
FORCED_EXIT_S = 5.0
RESET_TERMINAL = (
    "\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?2048l\x1b[?1004l\x1b[?7h\x1b[?1049l\x1b[?25h"
)


class UserError(Exception):
    """Something the user can fix; the message is the whole line after `pmutop COMMAND: `."""

    exit_code = BAD_INPUT


class UsageError(UserError):
    exit_code = BAD_USAGE


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (with where to find help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} -h`)")


def interval_ms(text: str) -> int:
    """-I MS: whole milliseconds from MIN_INTERVAL_MS to MAX_INTERVAL_MS."""
    value = _integer(text)
    if not MIN_INTERVAL_MS <= value <= MAX_INTERVAL_MS:
        raise argparse.ArgumentTypeError(f"must be from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS} ms, not {text}")
    return value


def count(text: str) -> int:
    """-n COUNT: at least one interval."""
    value = _integer(text)
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_COUNT}, not {text}")
    return value


def duration_s(text: str) -> float:
    """--duration S: a positive, finite number of seconds."""
    return _positive_number(text, MAX_DURATION_S, " s")


def speed(text: str) -> float:
    """replay --speed X: a positive, finite factor."""
    return _positive_number(text, MAX_SPEED, "")


def _positive_number(text: str, maximum: float, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number, not {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= maximum):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {maximum}{unit}, not {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None


def recording_exit_code(damaged_lines: int) -> int:
    """`replay` and `stat --input` alike: a recording with damaged lines is bad input, even if ticks remain."""
    return BAD_INPUT if damaged_lines else 0


def claim_output(path: str) -> None:
    """Open an output path for writing before any work, so that an unwritable one is said first."""
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


class _CrashLog(io.TextIOBase):
    """A crash log file created on the first write, so that a clean run leaves nothing behind."""

    def __init__(self) -> None:
        super().__init__()
        self.path: str | None = None
        self._file: IO[str] | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._file is None:
            handle, self.path = tempfile.mkstemp(prefix="pmutop-crash-", suffix=".log")
            self._file = os.fdopen(handle, "w")
            self._file.write(f"pmutop {' '.join(sys.argv[1:])}\n\n")
        return self._file.write(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        super().close()  # flushes first
        if self._file is not None:
            self._file.close()


def report_crash(prog: str) -> int:
    """The current exception's traceback into a crash log; one line on stderr naming it."""
    log = _CrashLog()
    traceback.print_exc(file=log)
    log.close()
    kind, value, _ = sys.exc_info()
    name = kind.__name__ if kind else "error"
    print(f"{prog}: internal error ({name}: {str(value)[:120]}); the traceback is in {log.path}", file=sys.stderr)
    return INTERNAL_ERROR


def run_app(app, prog: str, stop: Callable[[], object] | None = None) -> int | None:
    """Run a Textual app; an exit code when it did not end normally, else None.

    INTERNAL_ERROR, after one line naming the crash log, if it died of an exception: Textual restores
    the terminal and then prints the traceback on `error_console`, which points at the log. 128+N if
    signal N (SIGINT, SIGTERM, SIGHUP from outside) ended it: the app quits the normal way, so the
    terminal is restored and a followed command is stopped as on `q`. Should the app not have ended
    FORCED_EXIT_S after the signal (its event loop blocked), pmutop ends all the same: `stop` (the
    feed, which ends a followed command), the terminal's modes put back, and 128+N at once.
    """
    from rich.console import Console

    log = _CrashLog()
    # A text stream in all but typeshed's name (io.TextIOBase is not typing.IO[str]).
    app.error_console = Console(file=cast(IO[str], log), width=120, markup=False, highlight=False, color_system=None)
    stopped_by: list[int] = []

    def quit_app() -> None:
        with contextlib.suppress(RuntimeError):  # not running yet or any more: nothing to quit
            app.call_from_thread(app.exit)

    on_terminal = [fd for fd in (0, 1, 2) if os.isatty(fd)]
    terminal_modes = termios.tcgetattr(0) if 0 in on_terminal else None
    app_ended = threading.Event()

    def end_unless_app_ended(signum: int) -> None:
        if app_ended.wait(FORCED_EXIT_S):
            # The app ended: what is left (the feed stopped, the interpreter joining threads) gets as long
            # again. A thread Textual left blocked on a hung-up terminal would otherwise keep the process
            # from exiting for good (a daemon thread, this one still runs while the exit joins them).
            time.sleep(FORCED_EXIT_S)
            os._exit(128 + signum)
        if stop is not None:
            # In a thread of its own, bounded: a stop blocked on a lock a stuck thread holds must not keep
            # pmutop from ending.
            stopping = threading.Thread(target=_quietly, args=(stop,), name="pmutop-stop", daemon=True)
            stopping.start()
            stopping.join(FORCED_EXIT_S)
        _restore_terminal(terminal_modes)
        os._exit(128 + signum)

    first_stop = threading.Lock()

    def on_stop(signum: int) -> None:
        # From the Python handler or the signal watch, whichever sees the signal first: once.
        if not first_stop.acquire(blocking=False):
            return
        stopped_by.append(signum)
        # From threads: the handler may have interrupted the event loop itself.
        threading.Thread(target=quit_app, name="pmutop-signal", daemon=True).start()
        threading.Thread(target=end_unless_app_ended, args=(signum,), name="pmutop-exit", daemon=True).start()

    previous = {signum: signal.signal(signum, lambda signum, frame: on_stop(signum)) for signum in STOP_SIGNALS}
    signal_watch = _SignalWatch(on_stop)
    hangup_watch = _HangupWatch(on_terminal)
    try:
        app.run()
    finally:
        app_ended.set()
        hangup_watch.close()
        signal_watch.close()
        log.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _leave_a_lost_terminal(on_terminal)
    if log.path is not None:
        print(f"{prog}: internal error in the TUI; the traceback is in {log.path}", file=sys.stderr)
        return INTERNAL_ERROR
    return 128 + stopped_by[0] if stopped_by else None


def _quietly(action: Callable[[], object]) -> None:
    """`action`, whatever it raises: on the way out nothing it cannot do may stop pmutop from ending."""
    with contextlib.suppress(Exception):
        action()


class _SignalWatch:
    """Sees the stop signals in a thread of its own, whatever pmutop's main thread is doing.

    Python runs a signal's handler in the main thread only, between bytecodes, and the kernel gives a
    process's signal to any thread that does not mask it. One taken by another thread while the main
    thread waits on a lock is never handled: so Textual's stock driver, blocked for good on the full queue
    of a writer thread that died on a hung-up terminal, kept pmutop running after SIGHUP. The C-level
    handler writes each signal's number to the wakeup fd, from whichever thread took it; this reads them."""

    def __init__(self, on_stop: Callable[[int], object]) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # the C handler must never block; a full pipe loses only repeats
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, args=(on_stop,), name="pmutop-signals", daemon=True)
        self._thread.start()

    def _watch(self, on_stop: Callable[[int], object]) -> None:
        while numbers := os.read(self._read, 64):  # b"": close() closed the write end
            for signum in numbers:
                if signum in STOP_SIGNALS:
                    on_stop(signum)

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._write)
        self._thread.join()
        os.close(self._read)


class _HangupWatch:
    """Raises SIGHUP in pmutop when its terminal hangs up, so it ends as on any SIGHUP (128+1) whichever
    Textual driver runs and whether or not the kernel sent one: only the session leader gets the
    kernel's SIGHUP, and a process under a shell that ignores it sees only reads that end and writes
    that fail, on which Textual's own driver can block for good.

    A thread polls the terminal's fds for no events at all: poll(2) still reports POLLHUP and POLLERR,
    which a terminal gives once it is hung up, and nothing else wakes it but close()'s pipe."""

    def __init__(self, fds: list[int]) -> None:
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._watch, args=(fds,), name="pmutop-hangup", daemon=True)
        if fds:
            self._thread.start()

    def _watch(self, fds: list[int]) -> None:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, 0)
        poller.register(self._wake[0], select.POLLIN)
        if all(fd != self._wake[0] for fd, _ in poller.poll()):
            os.kill(os.getpid(), signal.SIGHUP)

    def close(self) -> None:
        os.write(self._wake[1], b"\0")
        if self._thread.is_alive():
            self._thread.join()
        for fd in self._wake:
            os.close(fd)


def _leave_a_lost_terminal(fds: list[int]) -> None:
    """Point those of `fds` whose terminal has gone (hung up: it is no terminal any more) at /dev/null:
    the lines pmutop still has to say (a followed command's log, a crash log) have no reader, and a
    write there fails with EIO, which would turn an ended session into a crash with the wrong exit code."""
    lost = [fd for fd in fds if not os.isatty(fd)]
    if not lost:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in lost:
        os.dup2(devnull, fd)
    os.close(devnull)


def _restore_terminal(modes: list | None) -> None:
    """What Textual's driver undoes on the way out, for an app that never got there: the terminal's
    line modes, then the Kitty keyboard protocol, mouse reporting, bracketed paste, in-band resizes and
    focus events off, line wrap, the main screen and the cursor back (on stderr, where Textual draws)."""
    with contextlib.suppress(OSError, termios.error):  # the terminal may be gone
        if modes is not None:
            termios.tcsetattr(0, termios.TCSANOW, modes)
        os.write(2, RESET_TERMINAL.encode())
