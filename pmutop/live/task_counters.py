"""Per-task counters for perf's end-of-run block: opened on the command (or -p's threads) with inherit.

On a command they are opened disabled with enable_on_exec, so they count from the exec of the
command itself, not pmutop's wrapper that waits to start it, exactly as perf stat -- CMD does.
"""

import errno
import os
import resource
import time
from dataclasses import dataclass, field, replace

from pmutop.kernel import perf, procfs
from pmutop.model.event_resolve import EventGroupPlan, resolve_events
from pmutop.model.event_syntax import parse_event_list
from pmutop.model.failures import OpenContext, Privileges, failure
from pmutop.model.perf_abi import COUNTER_READ_FORMAT
from pmutop.model.plan import CounterSpec, GroupPlan
from pmutop.model.samples import CounterFailure
from pmutop.model.task_summary import TaskCounterRead, TaskSummary, summarize
from pmutop.model.topology import Topology

# What perf stat counts for -- CMD without -e.
PERF_TASK_EVENTS = "task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,branches,branch-misses"


@dataclass
class _Counter:
    name: str
    pmu: str
    fds: list[int] = field(default_factory=list)
    failure: CounterFailure | None = None


def task_specs(
    topology: Topology, core_plans: dict[str, GroupPlan], events: tuple[EventGroupPlan, ...]
) -> list[tuple[str, str, CounterSpec]]:
    """(perf name, PMU, spec) to count for a task: the -e events, else perf stat's default set.

    A hardware event takes the encoding cycles got on its core PMU, as the system-wide groups do.
    """
    groups = events or resolve_events(parse_event_list(PERF_TASK_EVENTS), topology)
    result = []
    for group in groups:
        chosen = core_plans.get(group.pmu)
        encoding = chosen.encoding if chosen is not None else None
        result += [(counter.display, group.pmu, counter.spec_for(encoding)) for counter in group.counters]
    return result


@dataclass
class TaskCounters:
    """Counters on a task tree, read once at the end into perf's summary."""

    topology: Topology
    privileges: Privileges
    target: str
    counters: list[_Counter] = field(default_factory=list)
    _started: float = 0.0
    _rusage_before: resource.struct_rusage | None = None
    _cpu_times_before: tuple[int, int] | None = None
    _pids: tuple[int, ...] = ()

    @classmethod
    def open(
        cls,
        topology: Topology,
        privileges: Privileges,
        specs: list[tuple[str, str, CounterSpec]],
        target: str,
        command_pid: int | None = None,
        pids: tuple[int, ...] = (),
    ) -> "TaskCounters":
        """On the held command (enable_on_exec) or on every thread of `pids` (counting at once)."""
        counters = cls(topology, privileges, target, _pids=pids)
        tids = [command_pid] if command_pid is not None else [t for pid in pids for t in procfs.list_threads(pid) or ()]
        for name, pmu, spec in specs:
            counter = _Counter(name, pmu)
            attr = replace(
                spec.attr,
                read_format=COUNTER_READ_FORMAT,
                inherit=True,
                # The command's count from its exec; -p's from started(), where its user and sys
                # baseline is read too: opened counting, a slow open's time would be in one and not the other.
                disabled=True,
                enable_on_exec=command_pid is not None,
            )
            for tid in tids:
                fd = perf.open_event(attr, tid, -1)
                if isinstance(fd, perf.OpenFailure) and not attr.exclude_guest and fd.errno == errno.EOPNOTSUPP:
                    # Apple's PMUs refuse counting in guests; perf retries the same way (:H).
                    fd = perf.open_event(replace(attr, exclude_guest=True), tid, -1)
                if isinstance(fd, perf.OpenFailure):
                    if fd.errno == errno.ESRCH:
                        continue  # a thread that ended between listing and opening
                    context = OpenContext(event=name, pmu=pmu or None)
                    counter.failure = failure(fd.errno, context, privileges)
                    break
                counter.fds.append(fd)
            counters.counters.append(counter)
        return counters

    def started(self) -> None:
        """The task starts (or, for -p, counting starts) now: the elapsed and user/sys baselines."""
        if self._pids:
            for counter in self.counters:
                for fd in counter.fds:
                    try:
                        perf.enable(fd, group=False)
                    except OSError as exc:
                        counter.failure = failure(
                            exc.errno or errno.EIO, OpenContext(event=counter.name), self.privileges
                        )
        self._started = time.monotonic()
        self._rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._cpu_times_before = _process_times(self._pids) if self._pids else None

    def summary(
        self, ended_at: float | None = None, exec_report: tuple[float, float, float] | None = None
    ) -> TaskSummary:
        """`exec_report` is (when the command was exec'd, the wrapper's user and sys seconds by then)."""
        started = exec_report[0] if exec_report is not None else self._started
        elapsed = (ended_at if ended_at is not None else time.monotonic()) - started
        reads = []
        for counter in self.counters:
            if counter.failure is not None or not counter.fds:
                reads.append(TaskCounterRead(counter.name, counter.pmu, failure=counter.failure))
                continue
            value = enabled = running = 0
            cause = None
            for fd in counter.fds:
                result = perf.read_counter(fd)
                if isinstance(result, perf.OpenFailure):
                    cause = failure(result.errno, OpenContext(event=counter.name), self.privileges)
                    break
                value, enabled, running = value + result[0], enabled + result[1], running + result[2]
            if cause is not None:
                reads.append(TaskCounterRead(counter.name, counter.pmu, failure=cause))
            else:
                reads.append(TaskCounterRead(counter.name, counter.pmu, value, enabled, running))
        user_s = sys_s = None
        if self._pids and self._cpu_times_before is not None:
            after = _process_times(self._pids)
            user_s = (after[0] - self._cpu_times_before[0]) / os.sysconf("SC_CLK_TCK")
            sys_s = (after[1] - self._cpu_times_before[1]) / os.sysconf("SC_CLK_TCK")
        elif self._rusage_before is not None:
            now = resource.getrusage(resource.RUSAGE_CHILDREN)
            wrapper_user, wrapper_sys = exec_report[1:] if exec_report is not None else (0.0, 0.0)
            user_s = max(0.0, now.ru_utime - self._rusage_before.ru_utime - wrapper_user)
            sys_s = max(0.0, now.ru_stime - self._rusage_before.ru_stime - wrapper_sys)
        return summarize(self.target, tuple(reads), elapsed, user_s, sys_s)

    def close(self) -> None:
        for counter in self.counters:
            for fd in counter.fds:
                perf.close(fd)
            counter.fds = []


def _process_times(pids: tuple[int, ...]) -> tuple[int, int]:
    user = system = 0
    for pid in pids:
        times = procfs.process_times(pid)
        if times is not None:
            user, system = user + times[0], system + times[1]
    return user, system
