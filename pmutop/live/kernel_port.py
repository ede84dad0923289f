"""The Sampler's one seam to the kernel: opening, reading and closing counter groups, and /proc/stat.

The Sampler makes every kernel call through a CounterKernel; LIVE_KERNEL (perf_event_open through
the C shim, RLIMIT_NOFILE, /proc/stat) is the default and the only one the product uses. Tests drive
the same Sampler and planner against a scripted kernel that answers from a fixture topology
(tests/scripted_kernel.py), so a recording made there has exactly the groups, keys and notices the
product opens and prints on that machine.
"""

import os
import resource
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from pmutop.kernel import perf, procfs
from pmutop.model.perf_abi import EventAttr


class GroupReader(Protocol):
    """A fixed set of group leaders read in one call per tick, laid out as perf.TickReader.read() says."""

    @property
    def words_per_fd(self) -> int: ...

    def read(self) -> tuple[list[int], list[int]]: ...

    def sample(
        self,
        checks: perf.GroupChecks,
        watch_hangups: bool,
        stop_check: bool,
        slack_ns: int,
        present: np.ndarray,
        meta: np.ndarray,
        counts: np.ndarray,
    ) -> tuple[int, np.ndarray]:
        """perf.TickReader.sample: the hangups (with `watch_hangups`), the reads between two readings of
        clock_ns's clock, decoded into the columns; (groups not whole, a READ_* verdict per group)."""
        ...

    def last_read(self, index: int) -> tuple[int, list[int]]:
        """The status and words of the index-th leader's last read."""
        ...


class Unmappable(Protocol):
    def close(self) -> None: ...


class CpuTimesSource(Protocol):
    """Cumulative (busy, total) USER_HZ ticks per online CPU, as /proc/stat gives them."""

    def read(self) -> dict[int, tuple[int, int]]: ...

    def close(self) -> None: ...


class CounterKernel(Protocol):
    def fd_budget(self) -> tuple[int, int]:
        """(the RLIMIT_NOFILE soft limit, raised to the hard one where allowed; descriptors open now)."""
        ...

    def open_event(self, attr: EventAttr, pid: int, cpu: int, group_fd: int = -1) -> int | perf.OpenFailure: ...

    def close(self, fd: int) -> None: ...

    def hangup_probe(self, leader: int) -> Unmappable | None:
        """What makes POLLHUP truthful for a leader (a mapped ring without data pages); None if refused."""
        ...

    def group_reader(self, leaders: Sequence[int], words_per_fd: int) -> GroupReader: ...

    def cpu_times(self) -> CpuTimesSource: ...

    def clock_ns(self) -> int:
        """The clock a CPU-wide group's time_enabled is compared with to tell that it stopped."""
        ...


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (what perf does); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class LiveKernel:
    """This machine's kernel."""

    def fd_budget(self) -> tuple[int, int]:
        limit = raise_fd_limit()
        return limit, len(os.listdir("/proc/self/fd"))

    def open_event(self, attr: EventAttr, pid: int, cpu: int, group_fd: int = -1) -> int | perf.OpenFailure:
        return perf.open_event(attr, pid, cpu, group_fd)

    def close(self, fd: int) -> None:
        perf.close(fd)

    def hangup_probe(self, leader: int) -> perf.RingBuffer | None:
        probe = perf.RingBuffer.map(leader, 0)
        return probe if isinstance(probe, perf.RingBuffer) else None

    def group_reader(self, leaders: Sequence[int], words_per_fd: int) -> perf.TickReader:
        return perf.TickReader(leaders, words_per_fd)

    def cpu_times(self) -> procfs.CpuTimesReader:
        return procfs.CpuTimesReader()

    def clock_ns(self) -> int:
        return time.monotonic_ns()


LIVE_KERNEL: CounterKernel = LiveKernel()
