"""The CLI's one error path: what a user did wrong is one line on stderr and an exit code, never a traceback.

Exit codes (the README's table): 1 bad input (a file that cannot be read, a process that does not
exist), 2 bad usage (the argparse convention), 70 an internal error (EX_SOFTWARE; the traceback
goes to a crash log file named on stderr), 128+N killed by signal N, and a followed command's own
status when pmutop ran one.
"""

import argparse
import math
import os
import sys
import tempfile
import traceback
from typing import NoReturn

BAD_INPUT = 1
BAD_USAGE = 2
INTERNAL_ERROR = 70

# The same limits for every command that samples (the TUI, stat, record). 10 ms is perf stat -I's floor.
MIN_INTERVAL_MS = 10
MAX_INTERVAL_MS = 3_600_000
MAX_COUNT = 10**9
MAX_DURATION_S = 10**8
MAX_SPEED = 1000


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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number of seconds, not {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_DURATION_S):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_DURATION_S} s, not {text}")
    return value


def speed(text: str) -> float:
    """replay --speed X: a positive, finite factor."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number, not {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_SPEED}, not {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, not {text!r}") from None


def recording_exit_code(damaged_lines: int) -> int:
    """`replay` and `stat --input` alike: a recording with damaged lines is bad input, even if ticks remain."""
    return BAD_INPUT if damaged_lines else 0


def report_crash(prog: str) -> int:
    """The current exception's traceback into a crash log; one line on stderr naming it."""
    handle, path = tempfile.mkstemp(prefix="pmutop-crash-", suffix=".log")
    with os.fdopen(handle, "w") as log:
        log.write(f"pmutop {' '.join(sys.argv[1:])}\n\n")
        traceback.print_exc(file=log)
    kind, value, _ = sys.exc_info()
    name = kind.__name__ if kind else "error"
    print(f"{prog}: internal error ({name}: {str(value)[:120]}); the traceback is in {path}", file=sys.stderr)
    return INTERNAL_ERROR
