"""The process picker's list: who each process is and how busy, from two samples of /proc.

Pure: the kernel side (pmutop.kernel.procfs.sample_process) reads the samples; this turns two of
them into CPU% the way top and htop do (user+system ticks over the time between the samples).
"""

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process as /proc showed it at one moment."""

    pid: int
    comm: str
    # The command line, arguments joined by spaces; empty for a kernel thread (and a zombie).
    command: str
    uid: int
    # utime + stime, in clock ticks (USER_HZ).
    cpu_ticks: int
    kernel_thread: bool
    # When it was read (monotonic seconds): a list of thousands is read over several moments.
    taken_s: float


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A row of the picker. `cpu_pct` is None when there is no earlier sample (or in a replay)."""

    pid: int
    comm: str
    command: str
    user: str
    cpu_pct: float | None
    kernel_thread: bool = False

    @property
    def shown_command(self) -> str:
        """The command line with its program's directory left out (`python3 train.py`, not
        `/opt/venv/bin/python3 train.py`: an 80-column picker has room for about 45 characters, and the
        arguments are what tell three pythons apart); for a kernel thread its name in brackets, as ps
        and htop show it. The filter still matches the whole command line."""
        if not self.command:
            return f"[{self.comm}]"
        program, space, arguments = self.command.partition(" ")
        return program.rsplit("/", 1)[-1] + space + arguments

    def matches(self, query: str) -> bool:
        """Type-to-filter: the query's words each in the pid, user, name or command line."""
        haystack = f"{self.pid} {self.user} {self.comm} {self.command}".lower()
        return all(word in haystack for word in query.lower().split())


def cpu_percentages(
    before: Mapping[int, ProcessSample],
    after: Iterable[ProcessSample],
    ticks_per_s: int,
    users: Mapping[int, str],
) -> list[ProcessInfo]:
    """The processes of `after`, each with its CPU% since its sample in `before` (100% = one CPU's
    worth), over the time between its own two samples."""
    rows = []
    for sample in after:
        earlier = before.get(sample.pid)
        cpu = None
        elapsed_s = sample.taken_s - earlier.taken_s if earlier is not None else 0.0
        if earlier is not None and elapsed_s > 0 and sample.cpu_ticks >= earlier.cpu_ticks:
            cpu = (sample.cpu_ticks - earlier.cpu_ticks) / ticks_per_s / elapsed_s * 100
        user = users.get(sample.uid, str(sample.uid))
        rows.append(ProcessInfo(sample.pid, sample.comm, sample.command, user, cpu, sample.kernel_thread))
    return rows


class ProcessSort(enum.Enum):
    """A column the picker sorts by; the value is its heading."""

    CPU = "CPU%"
    PID = "PID"
    USER = "USER"
    COMMAND = "COMMAND"


# Each sort's key, in its natural order: CPU% high first (htop's default), the others low first, A to Z.
_SORT_KEYS: dict[ProcessSort, Callable[[ProcessInfo], tuple[object, ...]]] = {
    ProcessSort.CPU: lambda p: (-(p.cpu_pct or 0.0), p.pid),
    ProcessSort.PID: lambda p: (p.pid,),
    ProcessSort.USER: lambda p: (p.user, p.pid),
    ProcessSort.COMMAND: lambda p: (p.shown_command.lower(), p.pid),
}


def sorted_processes(processes: Iterable[ProcessInfo], by: ProcessSort, reverse: bool = False) -> list[ProcessInfo]:
    """`processes` in `by`'s natural order, or the other way round; by CPU%, those without a figure
    stay last either way (an unknown is neither busy nor idle)."""
    key = _SORT_KEYS[by]
    if by is not ProcessSort.CPU:
        return sorted(processes, key=key, reverse=reverse)
    rows = list(processes)
    measured = sorted((p for p in rows if p.cpu_pct is not None), key=key, reverse=reverse)
    return measured + sorted((p for p in rows if p.cpu_pct is None), key=lambda p: p.pid)


def busiest_first(processes: Iterable[ProcessInfo]) -> list[ProcessInfo]:
    """htop's default order: CPU% high first; those without a figure last; then by pid."""
    return sorted_processes(processes, ProcessSort.CPU)


@dataclass(frozen=True, slots=True)
class ProcessList:
    """The picker's list as of one moment, made by the feed's thread and handed to the UI as it is.

    Live, it is every process on the machine, any of which can be followed; from a recording, only the
    processes it followed (no user, command line or CPU%): choosing one narrows the task pane to it.
    """

    # Busiest first (busiest_first).
    processes: tuple[ProcessInfo, ...]
    # What each CPU% is measured over (None: no CPU%, as in a replay).
    cpu_window_s: float | None
    recorded: bool = False

    @classmethod
    def of(cls, processes: Iterable[ProcessInfo], cpu_window_s: float | None, recorded: bool = False) -> "ProcessList":
        return cls(tuple(busiest_first(processes)), cpu_window_s, recorded)
