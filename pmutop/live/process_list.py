"""The process picker's list on a live machine: /proc sampled on the caller's thread (a worker, never
the UI's), with CPU% since the previous call."""

import pwd
import threading
import time

from pmutop.kernel import procfs
from pmutop.model.processes import ProcessInfo, ProcessSample, cpu_percentages

# The first list needs two samples of /proc for a CPU%: this far apart.
FIRST_SAMPLE_GAP_S = 0.25


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ProcessLister:
    """`list()` is every process with its user, command line and CPU% since the last call; the first
    call samples twice, FIRST_SAMPLE_GAP_S apart. Safe to call from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._before: dict[int, ProcessSample] = {}
        self._when = 0.0
        self._ticks_per_s = procfs.clock_ticks_per_second()

    @staticmethod
    def _sample() -> dict[int, ProcessSample]:
        return {raw[0]: ProcessSample(*raw) for raw in procfs.sample_processes()}

    def list(self) -> list[ProcessInfo]:
        with self._lock:
            if not self._before:
                self._before, self._when = self._sample(), time.monotonic()
                time.sleep(FIRST_SAMPLE_GAP_S)
            before, when = self._before, self._when
            self._before, self._when = self._sample(), time.monotonic()
            after, now = self._before, self._when
        users = {uid: user_name(uid) for uid in {sample.uid for sample in after.values()}}
        return cpu_percentages(before, after.values(), now - when, self._ticks_per_s, users)
