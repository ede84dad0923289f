"""The pure model without the kernel: encodings it would open, scaling, coverage, aggregates, tracepoints."""

import errno

import pytest

from pmutop.live.topology_loader import load_topology
from pmutop.model.absence import effective_clock_absent_why
from pmutop.model.failures import OpenContext, Privileges, explain
from pmutop.model.notices import NO_CORE_PMU_WHY, VPMU_FIX
from pmutop.model.plan import core_group_candidates, msr_group, software_group
from pmutop.model.rates import RateModel
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CounterFailure, CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import Metric
from pmutop.model.tasks import ProcessState, RawMigration, TaskCounterRead, TaskModel, TaskTick
from pmutop.model.text import printable
from pmutop.model.tracepoint import parse_format, read_field
from tests import sysfs_trees


def attrs(plan):
    return [(c.name, c.attr.type, hex(c.attr.config)) for c in plan.counters]


# ---------------------------------------------------------------------------- encodings per PMU


def test_alder_lake_tries_extended_then_raw_aliases(tmp_path):
    topology = load_topology(sysfs_trees.build_alder_lake(tmp_path, atom_type=10))
    core, atom = topology.core_pmus
    assert (core.name, atom.name) == ("cpu_core", "cpu_atom")
    extended, raw = core_group_candidates(topology, atom)
    assert extended.encoding is Encoding.EXTENDED
    assert attrs(extended) == [
        ("cycles", 0, hex(0 | 10 << 32)),
        ("instructions", 0, hex(1 | 10 << 32)),
        ("ref-cycles", 0, hex(9 | 10 << 32)),
    ]
    assert raw.encoding is Encoding.RAW_ALIAS
    assert attrs(raw)[:2] == [("cycles", 10, "0x3c"), ("instructions", 10, "0xc0")]
    assert attrs(core_group_candidates(topology, core)[0])[0] == ("cycles", 0, hex(4 << 32))


def test_rk3399_raw_fallback_uses_arm_aliases(tmp_path):
    topology = load_topology(sysfs_trees.build_rk3399(tmp_path, a53_type=7, a72_type=8))
    big, little = topology.core_pmus
    assert (big.name, little.name) == ("armv8_cortex_a72", "armv8_cortex_a53")
    extended, raw = core_group_candidates(topology, little)
    assert attrs(extended)[0] == ("cycles", 0, hex(7 << 32))
    # Arm PMUs have no `cycles` alias: cpu_cycles (0x11) and inst_retired (0x08), on the PMU's own type.
    assert attrs(raw) == [("cycles", 7, "0x11"), ("instructions", 7, "0x8")]


def test_apple_and_single_pmu_machines(tmp_path):
    apple = load_topology(sysfs_trees.build_apple_m2(tmp_path / "m2"))
    assert [p.name for p in apple.core_pmus] == ["apple_avalanche_pmu", "apple_blizzard_pmu"]
    assert attrs(core_group_candidates(apple, apple.pmu("apple_blizzard_pmu"))[1])[0] == ("cycles", 8, "0x2")
    # One core PMU: plain PERF_TYPE_HARDWARE, the kernel routes it.
    zen = load_topology(sysfs_trees.build_amd_zen(tmp_path / "zen"))
    (plain, *_rest) = core_group_candidates(zen, zen.pmu("cpu"))
    assert plain.encoding is Encoding.HARDWARE and attrs(plain)[0] == ("cycles", 0, "0x0")
    # No core PMU at all: still ask the kernel, so the error shown is its own.
    vm = load_topology(sysfs_trees.build_this_vm(tmp_path / "vm"))
    assert [c.encoding for c in core_group_candidates(vm, None)] == [Encoding.HARDWARE]


def test_software_and_msr_groups_never_mix_pmus(tmp_path):
    vm = load_topology(sysfs_trees.build_this_vm(tmp_path))
    assert {c.attr.type for c in software_group().counters} == {1}
    msr = msr_group(vm)
    assert msr is not None and {c.attr.type for c in msr.counters} == {vm.pmu("msr").type}
    assert msr.counters[0].name == "tsc"
    # Apple retry and the unprivileged fallback change flags, never the events.
    plan = software_group().on_cpu(3)
    assert all(c.attr.exclude_guest for c in plan.with_exclude_guest().counters)
    own = plan.for_own_tasks()
    assert all(c.attr.exclude_kernel and c.attr.inherit for c in own.counters) and own.key == "cpu3/software/software"


# ---------------------------------------------------------------------------- rates


LAYOUT = GroupLayout("cpu0/core/cpu", 0, GroupRole.CORE, "cpu", Encoding.HARDWARE, ("cycles", "instructions"))


def one_interval(topology, before: GroupRead, after: GroupRead):
    """cpu0's figures over one interval of LAYOUT's group."""
    model = RateModel(topology, (LAYOUT,))
    model.update(tick(0, 0, {LAYOUT.key: before}, layouts=(LAYOUT,)))
    return model.update(tick(1, 10**9, {LAYOUT.key: after})).cpus[0]


def test_multiplexed_counts_are_scaled_and_marked(tmp_path):
    cpu = one_interval(load_topology(sysfs_trees.build_this_vm(tmp_path)), GroupRead(0, 0, (0, 0)),
                       GroupRead(1000, 250, (1_000, 2_000)))  # fmt: skip
    assert cpu.metric("cycles") == Metric(4_000.0, coverage=0.25, extrapolated=True)
    assert cpu.metric("instructions") == Metric(8_000.0, coverage=0.25, extrapolated=True)
    assert cpu.metric("ipc") == Metric(2.0, coverage=0.25, extrapolated=True)


def test_no_delta_across_a_reopen_or_a_decrease(tmp_path):
    topology = load_topology(sysfs_trees.build_this_vm(tmp_path))
    reopened = one_interval(topology, GroupRead(10, 10, (5, 5), 1), GroupRead(20, 20, (1, 1), 2))
    assert reopened.metric("cycles") == Metric(None) and reopened.metric("ipc") == Metric(None)
    wrapped = one_interval(topology, GroupRead(10, 10, (2**64 - 5, 5)), GroupRead(20, 20, (3, 9)))
    assert wrapped.metric("cycles") == Metric(None)
    not_counted = one_interval(topology, GroupRead(0, 0, (0, 0)), GroupRead(1000, 0, (0, 0)))
    assert not_counted.metric("cycles") == Metric(None, coverage=0.0)
    # A value no kernel gives (past 64 bits) is no read, not a crash.
    impossible = one_interval(topology, GroupRead(0, 0, (0, 0)), GroupRead(10, 10, (2**64, 1)))
    assert impossible.metric("cycles") == Metric(None)


def tick(index, ns, reads, busy=(0, 0), total=(0, 0), layouts=None, lost=None):
    return RawTick(
        index=index,
        monotonic_ns=ns,
        wall_time=0.0,
        reads=reads,
        cpu_times={0: CpuTimes(busy[0], total[0]), 1: CpuTimes(busy[1], total[1])},
        online=frozenset({0, 1}),
        lost=lost or {},
        layouts=layouts,
    )


def test_ghz_ipc_and_aggregates_on_a_two_pmu_machine(tmp_path):
    topology = load_topology(sysfs_trees.build_qemu_two_pmu(tmp_path))
    layouts = tuple(
        GroupLayout(f"cpu{cpu}/core/{pmu}", cpu, GroupRole.CORE, pmu, Encoding.EXTENDED, ("cycles", "instructions"))
        for cpu, pmu in ((0, "armv8_cortex_a53"), (1, "armv8_cortex_a72"))
    )
    model = RateModel(topology, layouts)
    first = {layout.key: GroupRead(0, 0, (0, 0)) for layout in layouts}
    assert model.update(tick(0, 0, first, layouts=layouts)) is None
    second = {
        "cpu0/core/armv8_cortex_a53": GroupRead(10**9, 10**9, (1_000_000_000, 500_000_000)),
        # Multiplexed half the time: counted 1e9 cycles, extrapolated to 2e9.
        "cpu1/core/armv8_cortex_a72": GroupRead(10**9, 5 * 10**8, (1_000_000_000, 2_000_000_000)),
    }
    snapshot = model.update(tick(1, 10**9, second, busy=(100, 50), total=(100, 100)))
    cpu0, cpu1 = snapshot.cpus
    assert cpu0.metric("ghz").value == pytest.approx(1.0) and cpu0.metric("ipc").value == pytest.approx(0.5)
    assert cpu1.metric("cycles").value == pytest.approx(2e9) and cpu1.metric("cycles").extrapolated
    assert cpu1.metric("ghz").value == pytest.approx(4.0)  # 2e9 cycles in 0.5 s busy
    assert cpu1.metric("util_pct").value == pytest.approx(50.0)
    a53, a72 = sorted(snapshot.pmus, key=lambda p: p.pmu)
    assert a53.metric("cycles").value == pytest.approx(1e9) and a53.extrapolated_share == 0
    # Scaled 2e9 cycles + 4e9 instructions, of which 1e9 + 2e9 were counted: half extrapolated.
    assert a72.extrapolated_share == pytest.approx(0.5)
    assert a72.metric("ipc").value == pytest.approx(2.0)


def test_failures_and_offline_cpus_are_values(tmp_path):
    topology = load_topology(sysfs_trees.build_this_vm(tmp_path))
    enoent = CounterFailure(errno.ENOENT, "ENOENT", "no hardware PMU")
    enodev = CounterFailure(errno.ENODEV, "ENODEV", "offline")
    core = GroupLayout("cpu0/core/", 0, GroupRole.CORE, "", None, (), (("cycles", enoent), ("instructions", enoent)))
    soft = GroupLayout("cpu1/software/software", 1, GroupRole.SOFTWARE, "software", Encoding.PMU_TYPE,
                       ("context-switches", "cpu-migrations"))  # fmt: skip
    model = RateModel(topology, (core, soft))
    model.update(tick(0, 0, {soft.key: GroupRead(0, 0, (0, 0))}))
    snapshot = model.update(tick(1, 10**9, {}, lost={soft.key: enodev}))
    cpu0, cpu1 = snapshot.cpus
    assert cpu0.metric("cycles").failure is enoent and cpu0.metric("ipc").failure is enoent
    assert cpu1.metric("context_switches_per_s").failure is enodev
    assert cpu1.metric("context_switches_per_s").to_json()["error"] == "ENODEV"


# ---------------------------------------------------------------------------- tasks


def test_task_residency_ipc_and_cross_type_migrations(tmp_path):
    topology = load_topology(sysfs_trees.build_qemu_two_pmu(tmp_path))
    model = TaskModel(topology)
    process = ProcessState(7, "worker", True, ((7, 1),))

    def reads(a53, a72):
        return tuple(
            TaskCounterRead(7, 7, "core", pmu, enabled, running, values)
            for pmu, (enabled, running, values) in (("armv8_cortex_a53", a53), ("armv8_cortex_a72", a72))
        )

    model.update(TaskTick((process,), reads((0, 0, (0, 0)), (0, 0, (0, 0))), (), 0, ResidencyMethod.CORE_PMU_CYCLES), 0)
    migration = RawMigration(5 * 10**8, 7, 7, "worker", 0, 1)
    interval = model.update(
        TaskTick(
            (process,),
            reads((10**9, 2 * 10**8, (100, 50)), (10**9, 8 * 10**8, (400, 800))),
            (migration,),
            0,
            ResidencyMethod.CORE_PMU_CYCLES,
        ),
        0,
    )
    (row,) = interval.rows
    assert row.residency == {"armv8_cortex_a53": pytest.approx(0.2), "armv8_cortex_a72": pytest.approx(0.8)}
    assert row.ipc["armv8_cortex_a53"].value == 0.5 and row.ipc["armv8_cortex_a72"].value == 2.0
    assert row.cpu_now == 1 and row.pmu_now == "armv8_cortex_a72"
    (entry,) = interval.migrations
    assert entry.cross_type and (entry.from_pmu, entry.to_pmu) == ("armv8_cortex_a53", "armv8_cortex_a72")
    assert entry.time_s == 0.5 and row.cross_type_migrations == 1 and interval.lost_migrations == 0

    # Next interval it runs on the A72 only: IPC on the A53 is n/a and says why, never 0 or a bare n/a.
    later = model.update(
        TaskTick(
            (process,),
            reads((2 * 10**9, 2 * 10**8, (100, 50)), (2 * 10**9, 18 * 10**8, (900, 1800))),
            (),
            0,
            ResidencyMethod.CORE_PMU_CYCLES,
        ),
        0,
    )
    (row,) = later.rows
    assert row.ipc["armv8_cortex_a53"] == Metric(None, note="did not run there")
    assert row.ipc["armv8_cortex_a72"].value == 2.0
    assert row.ipc_total["armv8_cortex_a53"].value == 0.5
    assert row.ipc["armv8_cortex_a53"].to_json()["reason"] == "did not run there"


# ---------------------------------------------------------------------------- tracepoints, text, errno

FORMAT_6_18 = """name: sched_migrate_task
ID: 371
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] comm;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:int prio;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int orig_cpu;\toffset:20;\tsize:4;\tsigned:1;
\tfield:int dest_cpu;\toffset:24;\tsize:4;\tsigned:1;
"""
FORMAT_6_1 = """name: sched_migrate_task
ID: 311
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:int orig_cpu;\toffset:32;\tsize:4;\tsigned:1;
\tfield:int dest_cpu;\toffset:36;\tsize:4;\tsigned:1;
"""


def test_sched_migrate_task_layouts_before_and_after_6_16():
    import struct

    new = parse_format(FORMAT_6_18)
    raw = bytearray(36)
    struct.pack_into("<IiiII", raw, 8, (8 << 16) | 28, 4242, 120, 0, 1)
    raw[28:36] = b"python3\0"
    assert (new.id, read_field(new, bytes(raw), "comm"), read_field(new, bytes(raw), "pid")) == (371, "python3", 4242)
    old = parse_format(FORMAT_6_1)
    raw = bytearray(40)
    raw[8:24] = b"bash".ljust(16, b"\0")
    struct.pack_into("<iiii", raw, 24, 99, 120, 1, 0)
    assert [read_field(old, bytes(raw), f) for f in ("comm", "pid", "orig_cpu", "dest_cpu")] == ["bash", 99, 1, 0]
    with pytest.raises(ValueError):
        parse_format("not a format")


def test_printable_escapes_control_bytes_only():
    assert printable("[bold]x\x1b[31m\x07ok") == "[bold]x\\x1b[31m\\x07ok"
    assert printable("naïve ✓") == "naïve ✓"


def test_explanations_name_the_fix():
    unprivileged = Privileges(is_root=False, has_cap_perfmon=False, paranoid=2)
    denied = explain(errno.EACCES, OpenContext("cycles", "cpu_core", 3), unprivileged)
    assert "perf_event_paranoid is 2" in denied and "CAP_PERFMON" in denied and "cpu3" in denied
    emfile = explain(errno.EMFILE, OpenContext("cycles", None, 0, fds_needed=900, fd_limit=256), unprivileged)
    assert "900" in emfile and "256" in emfile and "ulimit" in emfile
    assert "watchdog" in explain(errno.EBUSY, OpenContext("cycles"), unprivileged)
    assert "offline" in explain(errno.ENODEV, OpenContext("cycles", cpu=1), unprivileged)
    no_pmu = explain(errno.ENOENT, OpenContext("cycles"), unprivileged)
    assert no_pmu == f"cycles: no core PMU (ENOENT): {NO_CORE_PMU_WHY}; fix: {VPMU_FIX}"
    assert "exclude_guest" in explain(errno.EOPNOTSUPP, OpenContext("cycles", "apple_firestorm_pmu"), unprivileged)


def test_eff_ghz_n_a_says_what_this_machine_lacks(tmp_path):
    """A CPU row's eff GHz n/a names what is missing here: the msr PMU itself (Arm), or its aperf and mperf
    (a VM whose hypervisor hides them), not only what the figure is."""
    arm = effective_clock_absent_why(load_topology(sysfs_trees.build_qemu_two_pmu(tmp_path / "arm")))
    assert "no msr PMU" in arm
    full = effective_clock_absent_why(load_topology(sysfs_trees.build_alder_lake(tmp_path / "adl")))
    assert "no aperf" not in full and "no msr PMU" not in full
    vm = effective_clock_absent_why(load_topology(sysfs_trees.build_this_vm(tmp_path / "vm")))
    assert "msr PMU has no aperf or mperf event" in vm
