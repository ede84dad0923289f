"""The columnar RateModel gives exactly the figures (values, coverage, extrapolation, failures, notes, key
order, JSON) of the figure-by-figure arithmetic in tests/rates_oracle.py, on random ticks over fixture
topologies: missing and lost reads, reopened and reset counters, multiplexing, odd widths, hotplug."""

import errno
import itertools
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rates_oracle import cpu_metrics, pmu_metrics

from pmutop.live.topology_loader import load_topology
from pmutop.model.rates import RateModel, read_arrays
from pmutop.model.samples import CounterFailure, CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import figure_values
from tests import sysfs_trees

FAILURES = (
    CounterFailure(errno.ENOENT, "ENOENT", "no such event"),
    CounterFailure(errno.ENODEV, "ENODEV", "CPU offline"),
    CounterFailure(errno.EMFILE, "EMFILE", "out of descriptors"),
)
ROLE_MEMBERS = {
    GroupRole.CORE: ("cycles", "instructions", "ref-cycles"),
    GroupRole.SOFTWARE: ("context-switches", "cpu-migrations"),
    GroupRole.MSR: ("tsc", "aperf", "mperf"),
}


@cache
def topology(name: str):
    root = Path(tempfile.mkdtemp(prefix=f"pmutop-{name}-"))
    return load_topology(getattr(sysfs_trees, f"build_{name}")(root))


@st.composite
def layouts_for(draw, topology):
    layouts = []
    for cpu in topology.cpus:
        for role, members in ROLE_MEMBERS.items():
            if not draw(st.booleans()) and role is not GroupRole.CORE:
                continue
            chosen = tuple(draw(st.permutations(members))[: draw(st.integers(0, len(members)))])
            failed = tuple(
                (name, draw(st.sampled_from(FAILURES)))
                for name in members
                if name not in chosen and draw(st.booleans())
            )
            pmu = cpu.core_pmu or "" if role is GroupRole.CORE else role.value
            key = f"cpu{cpu.cpu}/{role.value}/{pmu}"
            layouts.append(
                GroupLayout(key, cpu.cpu, role, pmu, draw(st.sampled_from((None, *Encoding))), chosen, failed)
            )
    return tuple(layouts)


counts = st.integers(0, 2**40)


@st.composite
def read_for(draw, layout, before):
    """A read following `before` (or a first one): mostly counting on, sometimes odd."""
    if not draw(st.integers(0, 9)):
        return None
    width = len(layout.members) if draw(st.integers(0, 9)) else draw(st.integers(0, 4))
    if before is None or draw(st.integers(0, 9)) == 0:
        return GroupRead(draw(counts), draw(counts), tuple(draw(counts) for _ in range(width)), draw(st.integers(0, 2)))
    enabled = before.enabled + draw(st.integers(0, 10**9))
    running = before.running + draw(st.sampled_from((0, enabled - before.enabled, (enabled - before.enabled) // 3)))
    values = tuple(
        value + draw(st.integers(-5, 10**9)) if draw(st.integers(0, 19)) else value for value in before.values
    )
    values = tuple(max(0, value) for value in values)
    return GroupRead(enabled, running, values, before.generation + (not draw(st.integers(0, 19))))


@st.composite
def ticks_for(draw, topology, layouts, count=3):
    cpus = [cpu.cpu for cpu in topology.cpus]
    ticks, reads, times, ns = [], {}, {}, 0
    for index in range(count):
        reads = {
            layout.key: read
            for layout in layouts
            if (read := draw(read_for(layout, reads.get(layout.key)))) is not None
        }
        times = {
            cpu: CpuTimes(busy + draw(st.integers(-1, 120)), total + draw(st.integers(-1, 200)))
            for cpu in cpus
            if draw(st.integers(0, 9))
            for busy, total in [(times[cpu].busy, times[cpu].total) if cpu in times else (0, 0)]
        }
        times = {cpu: CpuTimes(max(0, t.busy), max(0, t.total)) for cpu, t in times.items()}
        ns += draw(st.sampled_from((0, 10**9, 333_333_333, 10**6)))
        lost = {layout.key: draw(st.sampled_from(FAILURES)) for layout in layouts if not draw(st.integers(0, 9))}
        online = frozenset(cpu for cpu in cpus if draw(st.integers(0, 9)))
        ticks.append(RawTick(index, ns, 0.0, reads, times, online, lost, layouts if index == 0 else None))
    return ticks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(("this_vm", "qemu_two_pmu", "alder_lake")), st.data())
def test_bulk_model_equals_figure_by_figure_arithmetic(name, data):
    machine = topology(name)
    layouts = data.draw(layouts_for(machine))
    ticks = data.draw(ticks_for(machine, layouts))
    model = RateModel(machine, layouts)
    # No division by zero, no NaN made from numbers: the model runs without an errstate of its own.
    with np.errstate(all="raise"):
        snapshots = [model.update(tick) for tick in ticks]
    assert snapshots[0] is None
    # The same reads as the sampler hands them over (GroupReads by the layouts' keys, in their own
    # tuple) are taken as they are and give the same figures.
    keys = tuple(layout.key for layout in layouts)
    widest = max((len(layout.members) for layout in layouts), default=1) or 1
    columnar = RateModel(machine, layouts)
    for tick, snapshot in zip(ticks, snapshots, strict=True):
        again = columnar.update(replace(tick, reads=read_arrays(keys, widest, tick.reads)))
        assert (again is None) == (snapshot is None)
        if snapshot is not None and again is not None:
            assert [row.to_json() for row in again.cpus] == [row.to_json() for row in snapshot.cpus]
            assert [row.to_json() for row in again.pmus] == [row.to_json() for row in snapshot.pmus]
    for snapshot in snapshots[1:]:
        # Figures read off a tick's arrays at once are those its rows give one by one, also for rows
        # of plain mappings (a snapshot made some other way).
        for rows in (snapshot.cpus, snapshot.pmus):
            plain = [replace(row, metrics=dict(row.metrics)) for row in rows]
            for name in ("ipc", "ghz", "util_pct", "cycles", "migrations_per_s", "no_such_figure"):
                one_by_one = [row.metric(name).value for row in rows]
                assert figure_values(rows, name) == one_by_one == figure_values(plain, name), name
    for (previous, tick), snapshot in zip(itertools.pairwise(ticks), snapshots[1:], strict=True):
        interval_s = (tick.monotonic_ns - previous.monotonic_ns) / 1e9
        expected = {row.cpu: cpu_metrics(layouts, previous, tick, row.cpu, interval_s) for row in snapshot.cpus}
        for row in snapshot.cpus:
            assert list(row.metrics.items()) == list(expected[row.cpu][0].items()), row.cpu
            assert row.online == (row.cpu in tick.online)
        for pmu_row in snapshot.pmus:
            members = [expected[cpu] for cpu in pmu_row.cpus]
            metrics, share = pmu_metrics(layouts, previous, tick, pmu_row.pmu, members, interval_s)
            assert list(pmu_row.metrics.items()) == list(metrics.items()), pmu_row.pmu
            assert pmu_row.extrapolated_share == share
            assert pmu_row.cpus == tuple(
                cpu.cpu for cpu in machine.cpus if cpu.core_pmu == pmu_row.pmu and cpu.cpu in tick.online
            )
