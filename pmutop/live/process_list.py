"""The process picker's list on a live machine: /proc read on the sampler thread (never the UI's), a
few hundred processes at a time, with each process's CPU% since the read before.

The sampler thread reads between ticks, so a read holds a tick back for as long as it takes: about
50 µs of CPU a process on the development VM (benchmarks/process_list.py), 0.2 s for 4000 processes.
A read is therefore a sweep of steps of PROCESSES_PER_STEP processes, STEP_GAP_S apart: a tick due
during a sweep waits for one step at most.
"""

import pwd
import time

from pmutop.kernel import procfs
from pmutop.model.processes import ProcessList, ProcessSample, cpu_percentages

# A CPU% needs two sweeps: the second starts this long after the first has ended,
FIRST_SAMPLE_GAP_S = 0.25
# and the next ones this long after the one before ended, while the picker is open.
PROCESS_REFRESH_S = 2.0
# One step of a sweep (about 10 ms of CPU on the development VM), and the pause between two steps.
PROCESSES_PER_STEP = 200
STEP_GAP_S = 0.01


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ProcessLister:
    """`step()` reads the next `per_step` processes of the sweep under way, starting a sweep from /proc's
    listing when none is; at the end of each sweep but the first (a CPU% needs two) it returns the
    list, each process with its CPU% since the sweep before. `next_step_s` says when to step again.
    Used by one thread."""

    def __init__(self, per_step: int = PROCESSES_PER_STEP) -> None:
        self._per_step = per_step
        self._ticks_per_s = procfs.clock_ticks_per_second()
        self.forget()

    def forget(self) -> None:
        """Start again: the next sweep is a first one (a CPU% over a long-closed picker's gap would not
        be what the README promises, the last few seconds)."""
        self._before: dict[int, ProcessSample] | None = None
        self._before_started = 0.0
        self._sweep: dict[int, ProcessSample] = {}
        self._sweep_started = 0.0
        self._to_read: list[int] = []
        self._sweeping = False
        self.next_step_s = 0.0

    def step(self) -> ProcessList | None:
        if not self._sweeping:
            self._sweeping = True
            self._sweep, self._sweep_started = {}, time.monotonic()
            self._to_read = procfs.process_ids()
        for _ in range(min(self._per_step, len(self._to_read))):
            raw = procfs.sample_process(self._to_read.pop())
            if raw is not None:
                self._sweep[raw[0]] = ProcessSample(*raw, time.monotonic())
        if self._to_read:
            self.next_step_s = STEP_GAP_S
            return None
        self._sweeping = False
        before, after = self._before, self._sweep
        window_s = self._sweep_started - self._before_started
        self._before, self._before_started = after, self._sweep_started
        if before is None:
            self.next_step_s = FIRST_SAMPLE_GAP_S
            return None
        self.next_step_s = PROCESS_REFRESH_S
        users = {uid: user_name(uid) for uid in {sample.uid for sample in after.values()}}
        return ProcessList.of(cpu_percentages(before, after.values(), self._ticks_per_s, users), window_s)
