"""The live sampler: opens the planned counter groups, and reads a whole tick in one C call.

It owns every perf fd. Each tick it reads all group leaders (one foreign call), polls them for
POLLHUP (one more), reads /proc/stat, and hands the model a RawTick. CPUs that go offline are
detected (their events hang up and their /proc/stat line vanishes), closed, shown as offline,
and reopened when they come back, without disturbing the other CPUs' history. A CPU that went
offline and came back between two ticks is found by its groups: the kernel detached them when the
CPU left (a group read then holds the leader alone, and time_enabled stops), and they are reopened.
"""

import errno
import os
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from pmutop.kernel import perf, procfs
from pmutop.live.kernel_port import LIVE_KERNEL, CounterKernel, CpuTimesSource, GroupReader, Unmappable
from pmutop.model.failures import OpenContext, Privileges, failure, hidden_in_kernel, malformed_read, reopened
from pmutop.model.notices import NO_CORE_PMU, fd_limit, own_tree_only
from pmutop.model.perf_abi import (
    GROUP_READ_FORMAT,
    STOPPED_SLACK_NS,
    EventAttr,
    MalformedRead,
    group_read_words,
    parse_group_read,
)
from pmutop.model.plan import (
    CounterSpec,
    GroupPlan,
    core_group_candidates,
    covering_core_pmus,
    msr_group,
    software_group,
)
from pmutop.model.samples import CounterFailure, CpuTimes, GroupLayout, GroupReads, GroupRole, RawTick
from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.model.event_resolve import EventGroupPlan

DENIED = (errno.EACCES, errno.EPERM)
# Descriptors kept free for pmutop's own files (/proc/stat each tick, imports, output) when the
# limit is tight: a counter is refused with EMFILE before the process itself would be.
FD_RESERVE = 16


def current_privileges() -> Privileges:
    paranoid = procfs.perf_event_paranoid()
    return Privileges(
        is_root=os.geteuid() == 0,
        has_cap_perfmon=procfs.has_capability(procfs.CAP_PERFMON) or procfs.has_capability(procfs.CAP_SYS_ADMIN),
        paranoid=paranoid,
    )


def group_attr(spec: CounterSpec) -> EventAttr:
    """The attr of a group member, read as a whole group in one read (parse_group_read decodes it)."""
    return replace(spec.attr, read_format=GROUP_READ_FORMAT)


@dataclass
class OpenGroup:
    plan: GroupPlan
    fds: list[int]
    hangup_probe: Unmappable | None
    generation: int
    kernel: CounterKernel
    # (time_enabled, kernel.clock_ns() just after the read that gave it), or (0, the clock just after the open).
    looked: tuple[int, int] = (0, 0)

    def close(self) -> int:
        """Close the group's fds; returns how many were closed."""
        if self.hangup_probe is not None:
            self.hangup_probe.close()
        for fd in reversed(self.fds):
            self.kernel.close(fd)
        closed, self.fds = len(self.fds), []
        return closed


@dataclass
class GroupSlot:
    """A wanted group on one CPU: its plan, and either its open fds or why it is not open."""

    plan: GroupPlan
    layout: GroupLayout
    opened: OpenGroup | None = None
    generations: int = 0
    # Set when the CPU went away; cleared on a successful reopen.
    lost: CounterFailure | None = None


@dataclass(frozen=True, slots=True)
class ReadTargets:
    """The groups one GroupReader reads, in its order, and what each one's read is checked against."""

    groups: list[tuple[GroupSlot, OpenGroup]]
    checks: perf.GroupChecks

    @classmethod
    def of(cls, groups: list[tuple[GroupSlot, OpenGroup]], rows: list[int]) -> "ReadTargets":
        openings = [opened for _slot, opened in groups]
        return cls(
            groups,
            perf.GroupChecks.of(
                rows,
                [len(opened.fds) for opened in openings],
                [opened.generation for opened in openings],
                [opened.looked for opened in openings],
            ),
        )

    def keep_looks(self) -> None:
        """Leave each group its last look, for the targets that read it next."""
        looks = zip(self.checks.looked_enabled.tolist(), self.checks.looked_at.tolist(), strict=True)
        for (_slot, opened), look in zip(self.groups, looks, strict=True):
            opened.looked = look


@dataclass
class Sampler:
    topology: Topology
    cpus: tuple[int, ...] | None = None
    privileges: Privileges = field(default_factory=current_privileges)
    # Core groups count user space only (perf's `:u`), e.g. to see busy vs idle where kernel idle
    # loops count too.
    user_only: bool = False
    # Where the groups count: "cpu" (system-wide per CPU) or "self" (pmutop's own process tree).
    scope: str = "cpu"
    # The user's -e events (pmutop.model.event_resolve), opened beside pmutop's own groups.
    events: "tuple[EventGroupPlan, ...]" = ()
    notices: tuple[str, ...] = ()
    fds_needed: int = 0
    fd_limit: int = 0
    # How many more perf fds may be opened before eating into FD_RESERVE.
    fd_headroom: int = 0
    # Where every perf_event_open, read, poll and /proc/stat read goes; tests pass a scripted kernel.
    kernel: CounterKernel = LIVE_KERNEL
    _slots: list[GroupSlot] = field(default_factory=list)
    # Core PMU → the encoding the kernel accepted, or the errno every encoding got.
    _core_choice: dict[str, GroupPlan | int] = field(default_factory=dict)
    _reader: GroupReader | None = None
    _cpu_times: CpuTimesSource | None = None
    # What the reader reads: the open groups, in its order.
    _targets: ReadTargets | None = None
    # The layouts' keys (a GroupReads row each, in slot order: fixed once open) and the widest layout.
    _keys: tuple[str, ...] = ()
    _key_rows: dict[str, int] = field(default_factory=dict)
    _widest: int = 1
    _lost: dict[str, CounterFailure] = field(default_factory=dict)
    _tick_index: int = 0
    _layouts_changed: bool = True
    # CPU → how often it went offline and came back between two ticks, its groups found detached.
    _unseen_offline: dict[int, int] = field(default_factory=dict)
    # The online CPUs at the last look at every group after which none was left to close or reopen:
    # while no group hangs up or stops and the same CPUs are online, there is nothing to look at.
    _settled_online: frozenset[int] | None = None

    # ----------------------------------------------------------------------------- opening
    def selected_cpus(self) -> list[int]:
        wanted = set(self.cpus) if self.cpus is not None else None
        return [c.cpu for c in self.topology.cpus if wanted is None or c.cpu in wanted]

    def open(self) -> None:
        self.fd_limit, already_open = self.kernel.fd_budget()
        self.fd_headroom = self.fd_limit - already_open - FD_RESERVE
        self._cpu_times = self.kernel.cpu_times()
        online = set(self._cpu_times.read())
        cpus = self.selected_cpus()
        self.scope = self._probe_scope([c for c in cpus if c in online])
        plans = [plan for cpu in cpus for plan in self._plans_for(cpu)]
        # What the whole plan takes, counting what is already open and the reserve, so the figure
        # can be compared with RLIMIT_NOFILE directly.
        self.fds_needed = sum(len(p.counters) for p in plans) + already_open + FD_RESERVE
        for plan in plans:
            slot = GroupSlot(plan, self._pending_layout(plan))
            self._slots.append(slot)
            if plan.cpu in online:
                self._open_slot(slot)
            else:
                slot.lost = self._offline(plan)
        self.notices = self._build_notices()
        self._keys = tuple(slot.layout.key for slot in self._slots)
        self._key_rows = {key: row for row, key in enumerate(self._keys)}
        self._rebuild_reader()

    def _plans_for(self, cpu: int) -> list[GroupPlan]:
        plans = []
        core_pmus = covering_core_pmus(self.topology, cpu)
        if core_pmus:
            plans += [core_group_candidates(self.topology, pmu)[0].on_cpu(cpu) for pmu in core_pmus]
        elif not self.topology.core_pmus:
            plans.append(core_group_candidates(self.topology, None)[0].on_cpu(cpu))
        plans.append(software_group().on_cpu(cpu))
        msr = msr_group(self.topology)
        if msr is not None and self.scope == "cpu":
            plans.append(msr.on_cpu(cpu))
        # After the core groups: an event on a core PMU takes the encoding cycles took there.
        plans += [group.candidates()[0].on_cpu(cpu) for group in self.events if group.cpus is None or cpu in group.cpus]
        return plans

    def _probe_scope(self, online_cpus: list[int]) -> str:
        """CPU-wide counting needs privilege; when refused, count pmutop's own process tree."""
        if not online_cpus:
            return "cpu"
        probe = software_group().counters[0]
        result = self.kernel.open_event(group_attr(probe), -1, online_cpus[0])
        if isinstance(result, perf.OpenFailure):
            return "self" if result.errno in DENIED else "cpu"
        self.kernel.close(result)
        return "cpu"

    def _failure(self, error: int, event: str, pmu: str | None, cpu: int | None) -> CounterFailure:
        context = OpenContext(event=event, pmu=pmu, cpu=cpu, fds_needed=self.fds_needed, fd_limit=self.fd_limit)
        return failure(error, context, self.privileges)

    def _offline(self, plan: GroupPlan) -> CounterFailure:
        events = ", ".join(counter.name for counter in plan.counters)
        return self._failure(errno.ENODEV, events, plan.pmu or None, plan.cpu)

    def _malformed(self, plan: GroupPlan, read: MalformedRead) -> CounterFailure:
        events = ", ".join(counter.name for counter in plan.counters)
        return malformed_read(OpenContext(event=events, pmu=plan.pmu or None, cpu=plan.cpu), read.words, read.claimed)

    def _pending_layout(self, plan: GroupPlan) -> GroupLayout:
        return GroupLayout(
            key=plan.key,
            cpu=plan.cpu,
            role=plan.role,
            pmu=plan.pmu,
            encoding=plan.encoding,
            members=tuple(c.name for c in plan.counters),
            scope=self.scope,
        )

    def _open_slot(self, slot: GroupSlot) -> None:
        plan = slot.plan
        if plan.role is GroupRole.CORE:
            opened = self._open_core(plan)
        elif plan.role is GroupRole.EVENTS:
            opened = self._open_plan(self._event_encoding(plan))
        else:
            opened = self._open_plan(plan)
        if isinstance(opened, tuple):
            group, failures = opened
            slot.generations += 1
            group.generation = slot.generations
            slot.opened, slot.lost = group, None
            slot.plan = group.plan
            layout = GroupLayout(
                key=plan.key,
                cpu=plan.cpu,
                role=plan.role,
                pmu=plan.pmu,
                encoding=group.plan.encoding,
                members=tuple(c.name for c in group.plan.counters),
                failures=failures,
                scope=self.scope,
            )
        else:
            layout = GroupLayout(
                key=plan.key,
                cpu=plan.cpu,
                role=plan.role,
                pmu=plan.pmu,
                encoding=None,
                members=(),
                failures=tuple((c.name, opened) for c in plan.counters),
                scope=self.scope,
            )
            slot.opened = None
        if layout != slot.layout:
            slot.layout = layout
            self._layouts_changed = True

    def _open_core(self, plan: GroupPlan):
        """Try the PMU's encodings in order on this CPU; remember the first the kernel accepts."""
        pmu_name = plan.pmu
        chosen = self._core_choice.get(pmu_name)
        if isinstance(chosen, GroupPlan):
            return self._open_plan(chosen.on_cpu(plan.cpu))
        if isinstance(chosen, int):
            return self._failure(chosen, "cycles", pmu_name or None, plan.cpu)
        pmu = self.topology.pmu(pmu_name) if pmu_name else None
        first_failure = None
        for candidate in core_group_candidates(self.topology, pmu):
            result = self._open_plan(candidate.on_cpu(plan.cpu))
            if isinstance(result, tuple):
                self._core_choice[pmu_name] = candidate
                return result
            first_failure = first_failure or result
        # core_group_candidates always offers at least the legacy hardware group.
        assert first_failure is not None
        # Only an answer that is a property of the PMU is remembered; EMFILE or an offline CPU
        # says nothing about which encoding works.
        if first_failure.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL, *DENIED):
            self._core_choice[pmu_name] = first_failure.errno
        return first_failure

    def _event_encoding(self, plan: GroupPlan) -> GroupPlan:
        """An -e group in the encoding cycles got on its PMU; the first one when cycles got none."""
        group = next(group for group in self.events if group.tag == plan.tag)
        candidates = group.candidates()
        chosen = self._core_choice.get(plan.pmu)
        if isinstance(chosen, GroupPlan):
            for candidate in candidates:
                if candidate.encoding is chosen.encoding:
                    return candidate.on_cpu(plan.cpu)
        return candidates[0].on_cpu(plan.cpu)

    def _open_plan(self, plan: GroupPlan) -> tuple[OpenGroup, tuple[tuple[str, CounterFailure], ...]] | CounterFailure:
        if self.scope == "self" and plan.role is GroupRole.SOFTWARE:
            # Context switches and migrations happen in the kernel: with exclude_kernel they always read 0.
            events = ", ".join(counter.name for counter in plan.counters)
            return hidden_in_kernel(OpenContext(event=events, cpu=plan.cpu), self.privileges)
        if self.scope == "self":
            plan = plan.for_own_tasks()
        elif self.user_only and plan.role is GroupRole.CORE:
            plan = plan.user_only()
        pid = 0 if self.scope == "self" else -1
        if self.fd_headroom < len(plan.counters):
            return self._failure(errno.EMFILE, plan.counters[0].name, plan.pmu or None, plan.cpu)
        leader_spec = plan.counters[0]
        leader = self.kernel.open_event(group_attr(leader_spec), pid, plan.cpu)
        refused = isinstance(leader, perf.OpenFailure) and leader.errno == errno.EOPNOTSUPP
        if refused and not leader_spec.attr.exclude_guest:
            plan = plan.with_exclude_guest()
            leader_spec = plan.counters[0]
            leader = self.kernel.open_event(group_attr(leader_spec), pid, plan.cpu)
        pmu_label = plan.pmu or None
        if isinstance(leader, perf.OpenFailure):
            return self._failure(leader.errno, leader_spec.name, pmu_label, plan.cpu)
        fds = [leader]
        failures = []
        for spec in plan.counters[1:]:
            member = self.kernel.open_event(group_attr(spec), pid, plan.cpu, leader)
            if isinstance(member, perf.OpenFailure):
                cause = self._failure(member.errno, spec.name, pmu_label, plan.cpu)
                if not spec.optional:
                    for fd in reversed(fds):
                        self.kernel.close(fd)
                    return cause
                failures.append((spec.name, cause))
                plan = plan.without(spec.name)
                continue
            fds.append(member)
        self.fd_headroom -= len(fds)
        # A truthful POLLHUP needs a mapped ring (perf_poll reports HUP for ring-less events).
        probe = self.kernel.hangup_probe(leader)
        # After the open: time_enabled then never runs ahead of the clock, so a slow open is no false stop.
        return OpenGroup(plan, fds, probe, 0, self.kernel, (0, self.kernel.clock_ns())), tuple(failures)

    def _build_notices(self) -> tuple[str, ...]:
        notices = []
        if not self.topology.core_pmus:
            notices.append(NO_CORE_PMU)
        if self.scope == "self":
            notices.append(own_tree_only(self.privileges.describe()))
        if any(cause.errno == errno.EMFILE for slot in self._slots for _, cause in slot.layout.failures):
            notices.append(fd_limit(self.fds_needed, self.fd_limit))
        chosen = [
            f"{pmu} via {plan.encoding}"
            for pmu, plan in self._core_choice.items()
            if isinstance(plan, GroupPlan) and pmu
        ]
        if self.user_only:
            notices.append("Cycles and instructions count user space only (--user), as perf's :u.")
        if self.topology.is_heterogeneous and chosen:
            notices.append("Core PMU encodings: " + ", ".join(chosen) + ".")
        return tuple(notices)

    @property
    def layouts(self) -> tuple[GroupLayout, ...]:
        return tuple(slot.layout for slot in self._slots)

    def core_plans(self) -> dict[str, GroupPlan]:
        """Core PMU → the plan (encoding) the kernel accepted; what per-task counters reuse."""
        return {pmu: plan for pmu, plan in self._core_choice.items() if isinstance(plan, GroupPlan) and pmu}

    def _rebuild_reader(self) -> None:
        """After groups opened or closed: what each tick reads, and which groups it reports lost."""
        if self._targets is not None:
            self._targets.keep_looks()
        rows: list[int] = []
        groups: list[tuple[GroupSlot, OpenGroup]] = []
        for row, slot in enumerate(self._slots):
            if slot.opened is not None:
                rows.append(row)
                groups.append((slot, slot.opened))
        self._targets = ReadTargets.of(groups, rows)
        self._lost = {slot.layout.key: slot.lost for slot in self._slots if slot.lost is not None}
        # As wide as the model's arrays: the widest layout, at least one column.
        self._widest = max((len(slot.layout.members) for slot in self._slots), default=1) or 1
        fds = [opened.fds[0] for _slot, opened in groups]
        widest = max((len(opened.fds) for _slot, opened in groups), default=1)
        self._reader = self.kernel.group_reader(fds, group_read_words(widest)) if fds else None

    # ----------------------------------------------------------------------------- reading
    def read_tick(self) -> RawTick:
        """Read every open group once (one C call), then handle CPUs that left or came back."""
        rows = len(self._keys) + 1
        # The tick's reads, filled in place, by row (GroupReads): what is not read stays absent.
        reads = GroupReads(
            self._keys,
            np.zeros(rows, bool),
            np.zeros((rows, 4), np.int64),
            np.zeros((rows, self._widest), np.uint64),
            self._key_rows,
        )
        # Groups whose read this tick could not be decoded, or that were reopened: n/a for this tick
        # only, with the reason.
        unreadable: dict[str, CounterFailure] = {}
        monotonic_ns = time.monotonic_ns()
        hung: list[GroupSlot] = []
        stopped: list[GroupSlot] = []
        if self._reader is not None and self._targets is not None:
            hung, stopped = self._read_groups(self._reader, self._targets, True, reads, unreadable)
        if self._cpu_times is None:
            raise RuntimeError("Sampler.read_tick() before open()")
        times = self._cpu_times.read()
        online = frozenset(times)
        self._handle_hotplug(hung, stopped, online, reads, unreadable)
        layouts = None
        if self._layouts_changed:
            layouts, self._layouts_changed = self.layouts, False
        self._tick_index += 1
        return RawTick(
            index=self._tick_index - 1,
            monotonic_ns=monotonic_ns,
            wall_time=time.time(),
            reads=reads,
            cpu_times={cpu: CpuTimes(busy, total) for cpu, (busy, total) in times.items()},
            online=online,
            lost={**self._lost, **unreadable} if unreadable else self._lost,
            layouts=layouts,
        )

    def _read_groups(
        self,
        reader: GroupReader,
        targets: ReadTargets,
        watch_hangups: bool,
        reads: GroupReads,
        unreadable: dict[str, CounterFailure],
    ) -> tuple[list[GroupSlot], list[GroupSlot]]:
        """Read the targets into `reads` (with `watch_hangups`, first asking the kernel which it hung up);
        returns the groups hung up, and those that stopped.

        The poll, the reads and their decoding into the tick's arrays are one foreign call; only a group
        whose read was not whole is looked at in Python. The reads happen between two readings of the
        kernel's clock: a group's time_enabled has grown by at least the time from the previous read's
        `after` to this read's `before` unless it stopped, however late this thread ran. When its CPU
        goes offline the kernel detaches a group (the leader then reads alone) and stops it; it stays
        so when the CPU comes back. A task's own events stop whenever it sleeps."""
        troubled, verdict = reader.sample(
            targets.checks,
            watch_hangups,
            self.scope == "cpu",
            STOPPED_SLACK_NS,
            reads.present,
            reads.meta,
            reads.counts,
        )
        hung: list[GroupSlot] = []
        stopped: list[GroupSlot] = []
        if not troubled:
            return hung, stopped
        groups = targets.groups
        for index, kind in enumerate(verdict.tolist()):
            slot = groups[index][0]
            if kind == perf.READ_NO_ANSWER:
                reads.present[targets.checks.rows[index]] = False
                hung.append(slot)
            elif kind == perf.READ_MALFORMED:
                status, read = reader.last_read(index)
                problem = parse_group_read(read, 0, status // 8)
                if isinstance(problem, MalformedRead):
                    unreadable[slot.layout.key] = self._malformed(slot.plan, problem)
            elif kind == perf.READ_GONE:
                stopped.append(slot)
        return hung, stopped

    def _handle_hotplug(
        self,
        hung: list[GroupSlot],
        stopped: list[GroupSlot],
        online: frozenset[int],
        reads: GroupReads,
        unreadable: dict[str, CounterFailure],
    ) -> None:
        """Close groups whose CPU left; reopen groups whose CPU is back, and read them at once.

        A group that stopped while its CPU is online saw the CPU leave and come back since the last
        tick: it is closed and reopened now. A reopened group is read in this tick, so the next has a
        delta; this tick's figures of it are n/a, saying it was reopened.
        """
        if not hung and not stopped and online == self._settled_online:
            return
        gone_ids = {id(slot) for slot in (*hung, *stopped)}
        stopped_ids = {id(slot) for slot in stopped}
        unseen_cpus: set[int] = set()
        again: list[tuple[int, GroupSlot]] = []
        changed = False
        for row, slot in enumerate(self._slots):
            cpu = slot.plan.cpu
            if slot.opened is not None and (id(slot) in gone_ids or cpu not in online):
                self.fd_headroom += slot.opened.close()
                slot.opened = None
                reads.present[row] = False
                slot.lost = self._offline(slot.plan)
                changed = True
                if cpu not in online or id(slot) not in stopped_ids:
                    continue
                unseen_cpus.add(cpu)
            if slot.opened is None and slot.lost is not None and cpu in online:
                self._open_slot(slot)
                if slot.opened is not None:
                    again.append((row, slot))
                    changed = True
        for cpu in unseen_cpus:
            self._unseen_offline[cpu] = self._unseen_offline.get(cpu, 0) + 1
        if again:
            self._read_reopened(again, unseen_cpus, reads, unreadable)
        if changed:
            self._rebuild_reader()
        waiting = any(slot.opened is None and slot.lost is not None and slot.plan.cpu in online for slot in self._slots)
        self._settled_online = None if waiting else online

    def _read_reopened(
        self,
        slots: list[tuple[int, GroupSlot]],
        unseen_cpus: set[int],
        reads: GroupReads,
        unreadable: dict[str, CounterFailure],
    ) -> None:
        """The first read of reopened groups (the next tick's baseline), each n/a this tick with why."""
        rows = [row for row, slot in slots if slot.opened is not None]
        groups = [(slot, slot.opened) for _row, slot in slots if slot.opened is not None]
        targets = ReadTargets.of(groups, rows)
        widest = max(len(opened.fds) for _slot, opened in groups)
        reader = self.kernel.group_reader([opened.fds[0] for _slot, opened in groups], group_read_words(widest))
        # A group that fails this first read is found again at the next tick's.
        self._read_groups(reader, targets, False, reads, unreadable)
        targets.keep_looks()
        for slot, _opened in groups:
            events = ", ".join(counter.name for counter in slot.plan.counters)
            context = OpenContext(event=events, pmu=slot.plan.pmu or None, cpu=slot.plan.cpu)
            unreadable.setdefault(slot.layout.key, reopened(context, slot.plan.cpu in unseen_cpus))

    @property
    def reopen_notices(self) -> tuple[str, ...]:
        """Each CPU whose groups were found detached (offline and back between two ticks), with how often."""
        return tuple(
            f"cpu{cpu} went offline and came back between two ticks {times} time{'s' if times > 1 else ''}: "
            f"its counters were found stopped and reopened; each such interval has no figures for cpu{cpu}"
            for cpu, times in sorted(self._unseen_offline.items())
        )

    def close(self) -> None:
        for slot in self._slots:
            if slot.opened is not None:
                slot.opened.close()
                slot.opened = None
        self._reader = None
        self._targets = None
        self._settled_online = None
        if self._cpu_times is not None:
            self._cpu_times.close()
            self._cpu_times = None
