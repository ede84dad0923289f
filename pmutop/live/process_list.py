"""The process picker's list on a live machine: /proc sampled on the feed's thread (never the UI's),
with CPU% since the sample before."""

import pwd
import time

from pmutop.kernel import procfs
from pmutop.model.processes import ProcessList, ProcessSample, cpu_percentages

# A CPU% needs two samples of /proc: the first list comes this long after the first sample,
FIRST_SAMPLE_GAP_S = 0.25
# and the list is sampled again this often while the picker is open.
PROCESS_REFRESH_S = 2.0


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ProcessLister:
    """`sample()` is every process with its user, command line and CPU% since the sample before, or
    None for the first sample after creation or `forget()` (a CPU% needs two). Used by one thread."""

    def __init__(self) -> None:
        self._before: dict[int, ProcessSample] = {}
        self._when: float | None = None
        self._ticks_per_s = procfs.clock_ticks_per_second()

    def forget(self) -> None:
        """Start again: the next sample is a first one (a CPU% over a long-closed picker's gap would
        not be what the README promises, the last few seconds)."""
        self._before, self._when = {}, None

    def sample(self) -> ProcessList | None:
        after = {raw[0]: ProcessSample(*raw) for raw in procfs.sample_processes()}
        now = time.monotonic()
        before, when = self._before, self._when
        self._before, self._when = after, now
        if when is None:
            return None
        users = {uid: user_name(uid) for uid in {sample.uid for sample in after.values()}}
        return ProcessList.of(cpu_percentages(before, after.values(), now - when, self._ticks_per_s, users), now - when)
