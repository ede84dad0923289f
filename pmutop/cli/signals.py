"""SIGINT and SIGTERM the way perf stat takes them: stop sampling at once, pass the signal on to the
command pmutop started, finish the output (the partial last interval, the summary, a recording's
gzip end), and exit 128+N.

The handler never interrupts a tick: it only records the signal, and breaks the sleep between
ticks when one is under way, so whatever was being read or written completes first.
"""

import contextlib
import signal
import subprocess
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _WakeUp(Exception):
    """Raised by the handler out of the sleep between ticks; never seen outside StopSignals."""


class StopSignals:
    """While active, the first stop signal is kept in `signum` and forwarded to `child`, if running."""

    def __init__(self, child: subprocess.Popen | None = None) -> None:
        self.child = child
        self.signum: int | None = None
        self._sleeping = False
        self._previous: dict[int, Any] = {}  # whatever signal.signal returned: restored as it was

    def __enter__(self) -> "StopSignals":
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it ended a moment ago
                self.child.send_signal(signum)
        if self._sleeping:
            self._sleeping = False
            raise _WakeUp

    def sleep(self, wait, deadline: float) -> str | None:
        """`wait(deadline)` (a session's wait_until), cut short by a stop signal; its reason or ours."""
        self._sleeping = True
        try:
            # Checked after _sleeping is set: a signal from here on breaks the wait itself. Every way out
            # of the try clears _sleeping inside it, so _WakeUp can only be raised where it is caught.
            if self.signum is not None:
                self._sleeping = False
                return self.reason
            ended = wait(deadline)
            self._sleeping = False
            return ended
        except _WakeUp:
            return self.reason
        except BaseException:
            self._sleeping = False
            raise

    @property
    def reason(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}" if self.signum else "interrupted"

    def exit_code(self) -> int | None:
        """128+N after stop signal N, as a shell reports a process that signal ended."""
        return 128 + self.signum if self.signum is not None else None
