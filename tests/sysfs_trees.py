"""Fake sysfs trees for PMU layouts this machine lacks.

Each ``build_<layout>(root)`` writes ``root/sys/...`` the way the kernel lays it out and returns
``root``. Layouts follow the documented ABI (Documentation/ABI/testing/sysfs-bus-event_source-devices*,
sysfs-devices-system-cpu) and the published dumps collected in
/work/shared/reference/kernel-pmu-facts.md (sections 3 and 4, "Sample fixture trees").

Real-sysfs quirks kept on purpose:

* ``sys/bus/event_source/devices/<pmu>`` is a symlink to ``../../../devices/<pmu>``, as on a real box.
* Every file ends with a newline; ``type`` is decimal.
* On x86, cpu0 has no ``online`` file (the boot CPU is not hotpluggable).
* An offline CPU has no ``topology/`` directory and no ``regs/identification/`` (the kernel removes
  both in its CPU-hotplug teardown), but keeps ``cpu_capacity`` and ``online`` (= ``0``).
* Hybrid x86 ``cpu_atom/cpus`` only lists online CPUs (empty when all atoms are offline), while an
  Arm PMU's ``cpus`` is its static ``supported_cpus`` and still lists offline CPUs.

Where a value is not in the fact sheet (dynamic type numbers, capacities, MIDRs of the A510/A710/X2,
Apple event codes) it is a plausible pick and says so in a comment; tests must read it back from the
tree, never assume it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EVENT_SOURCE = Path("sys/bus/event_source/devices")
DEVICES = Path("sys/devices")
CPU_DIR = Path("sys/devices/system/cpu")


# --------------------------------------------------------------------------------------------
# Primitives


def write(path: Path, content: str | bytes, *, newline: bool = True) -> Path:
    """Write a sysfs-style file (creating parents); text gets the kernel's trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        if newline and not content.endswith("\n"):
            content += "\n"
        path.write_text(content)
    return path


def cpulist(cpus: Iterable[int]) -> str:
    """Format CPU numbers the way the kernel prints a cpulist (``0-3,8,10-11``)."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


@dataclass
class Event:
    """An ``events/<name>`` alias with its optional ``.unit`` / ``.scale`` siblings."""

    terms: str
    unit: str | None = None
    scale: str | None = None


@dataclass
class PmuSpec:
    """One PMU directory. ``type`` may be an int, raw text (for malformed trees) or None (no file)."""

    name: str
    type: int | str | None
    cpus: str | None = None  # core PMUs: `cpus` file
    cpumask: str | None = None  # uncore PMUs: `cpumask` file
    caps: Mapping[str, str] = field(default_factory=dict)
    events: Mapping[str, str | Event] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)


def pmu_dir(root: Path, name: str) -> Path:
    """The real directory of a PMU (what the event_source symlink points at)."""
    return root / DEVICES / name


def add_pmu(root: Path, spec: PmuSpec, *, symlink: bool = True) -> Path:
    """Write one PMU under sys/devices/<name> and link it from sys/bus/event_source/devices."""
    if symlink:
        d = pmu_dir(root, spec.name)
        link = root / EVENT_SOURCE / spec.name
        link.parent.mkdir(parents=True, exist_ok=True)
        d.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(Path("../../../devices") / spec.name)
    else:
        d = root / EVENT_SOURCE / spec.name
        d.mkdir(parents=True, exist_ok=True)
    if spec.type is not None:
        write(d / "type", str(spec.type))
    write(d / "perf_event_mux_interval_ms", "4")
    if spec.cpus is not None:
        write(d / "cpus", spec.cpus)
    if spec.cpumask is not None:
        write(d / "cpumask", spec.cpumask)
    for cap, value in spec.caps.items():
        write(d / "caps" / cap, value)
    for fname, fmt in spec.formats.items():
        write(d / "format" / fname, fmt)
    for ename, ev in spec.events.items():
        ev = ev if isinstance(ev, Event) else Event(ev)
        write(d / "events" / ename, ev.terms)
        if ev.unit is not None:
            write(d / "events" / f"{ename}.unit", ev.unit)
        if ev.scale is not None:
            write(d / "events" / f"{ename}.scale", ev.scale)
    return d


@dataclass
class CpuSpec:
    """One ``cpuN`` directory. ``has_online_file=False``: no ``online`` file (x86 cpu0)."""

    cpu: int
    online: bool = True
    has_online_file: bool = True
    package: int = 0
    die: int = 0
    cluster: int | None = None  # None: x86-style 65535 ("no cluster")
    core: int = 0
    thread_siblings: Sequence[int] = ()
    package_cpus: Sequence[int] = ()
    capacity: int | None = None
    midr: str | None = None
    topology: bool = True  # False: no topology/ dir even if online (malformed / exotic)


def add_cpus(root: Path, cpus: Sequence[CpuSpec], *, possible: Sequence[int] | None = None) -> None:
    """Write sys/devices/system/cpu/{possible,present,online,offline} and every cpuN/ dir."""
    base = root / CPU_DIR
    numbers = [c.cpu for c in cpus]
    write(base / "possible", cpulist(possible if possible is not None else numbers))
    write(base / "present", cpulist(numbers))
    write(base / "online", cpulist(c.cpu for c in cpus if c.online))
    write(base / "offline", cpulist(c.cpu for c in cpus if not c.online))
    write(base / "kernel_max", "8191")
    for c in cpus:
        d = base / f"cpu{c.cpu}"
        d.mkdir(parents=True, exist_ok=True)
        if c.has_online_file:
            write(d / "online", "1" if c.online else "0")
        if c.capacity is not None:
            write(d / "cpu_capacity", str(c.capacity))
        if not c.online or not c.topology:
            continue  # the kernel removes topology/ and regs/ of an offline CPU
        siblings = list(c.thread_siblings) or [c.cpu]
        package_cpus = list(c.package_cpus) or [c.cpu]
        t = d / "topology"
        write(t / "physical_package_id", str(c.package))
        write(t / "die_id", str(c.die))
        write(t / "cluster_id", str(65535 if c.cluster is None else c.cluster))
        write(t / "core_id", str(c.core))
        write(t / "thread_siblings_list", cpulist(siblings))
        write(t / "core_cpus_list", cpulist(siblings))
        write(t / "package_cpus_list", cpulist(package_cpus))
        write(t / "core_siblings_list", cpulist(package_cpus))
        write(t / "die_cpus_list", cpulist(package_cpus))
        if c.midr is not None:
            write(d / "regs" / "identification" / "midr_el1", c.midr)
            write(d / "regs" / "identification" / "revidr_el1", "0x0000000000000000")


def _siblings(n: int, groups: Iterable[Iterable[int]]) -> list[int]:
    for g in groups:
        g = list(g)
        if n in g:
            return g
    return [n]


# --------------------------------------------------------------------------------------------
# Shared PMU specs

SOFTWARE = PmuSpec("software", 1)
TRACEPOINT = PmuSpec("tracepoint", 2)
BREAKPOINT = PmuSpec("breakpoint", 5)


def kprobe(type_: int) -> PmuSpec:
    return PmuSpec("kprobe", type_, formats={"retprobe": "config:0"})


def uprobe(type_: int) -> PmuSpec:
    return PmuSpec("uprobe", type_, formats={"retprobe": "config:0", "ref_ctr_offset": "config:32-63"})


INTEL_CORE_FORMATS = {
    "event": "config:0-7",
    "umask": "config:8-15",
    "edge": "config:18",
    "pc": "config:19",
    "any": "config:21",
    "inv": "config:23",
    "cmask": "config:24-31",
    "in_tx": "config:32",
    "in_tx_cp": "config:33",
    "eq": "config:36",
}

# x86_event_sysfs_show spelling, from intel_perfmon_event_map.
INTEL_CORE_EVENTS: dict[str, str | Event] = {
    "cpu-cycles": "event=0x3c",
    "instructions": "event=0xc0",
    "cache-references": "event=0x2e,umask=0x4f",
    "cache-misses": "event=0x2e,umask=0x41",
    "branch-instructions": "event=0xc4",
    "branch-misses": "event=0xc5",
    "bus-cycles": "event=0x3c,umask=0x01",
    "ref-cycles": "event=0x00,umask=0x03",
    # Synthetic but well-formed: exercises bare terms (edge) and a bit above 31 (in_tx).
    "cycles-t": "event=0x3c,in_tx=1",
    "cycles-edge": "event=0x3c,edge,inv,cmask=0x01",
}

INTEL_TOPDOWN = {
    "slots": "event=0x00,umask=0x4",
    "topdown-retiring": "event=0x00,umask=0x80",
    "topdown-bad-spec": "event=0x00,umask=0x81",
    "topdown-fe-bound": "event=0x00,umask=0x82",
    "topdown-be-bound": "event=0x00,umask=0x83",
    "topdown-heavy-ops": "event=0x00,umask=0x84",
    "topdown-br-mispredict": "event=0x00,umask=0x85",
    "topdown-fetch-lat": "event=0x00,umask=0x86",
    "topdown-mem-bound": "event=0x00,umask=0x87",
}

RAPL_SCALE = "2.3283064365386962890625e-10"


def rapl(type_: int, cpumask: str = "0", *, core: bool = True) -> PmuSpec:
    events: dict[str, str | Event] = {
        "energy-pkg": Event("event=0x02", "Joules", RAPL_SCALE),
        "energy-ram": Event("event=0x03", "Joules", "1.52587890625e-05"),
    }
    if core:
        events["energy-cores"] = Event("event=0x01", "Joules", RAPL_SCALE)
    return PmuSpec("power", type_, cpumask=cpumask, formats={"event": "config:0-7"}, events=events)


def msr(type_: int, *, aperf: bool = True) -> PmuSpec:
    events: dict[str, str | Event] = {"tsc": "event=0x00"}
    if aperf:
        events |= {"aperf": "event=0x01", "mperf": "event=0x02", "pperf": "event=0x03", "smi": "event=0x04"}
    return PmuSpec("msr", type_, formats={"event": "config:0-63"}, events=events)


# --------------------------------------------------------------------------------------------
# 1-2. Intel Alder Lake (hybrid)


def _alder_lake_cpus(offline: Iterable[int] = ()) -> list[CpuSpec]:
    off = set(offline)
    cpus = []
    for n in range(24):
        if n < 16:  # 8 P-cores x 2 threads: SMT siblings are adjacent (0,1), (2,3)...
            core, siblings = (n // 2) * 4, [n & ~1, n | 1]
        else:  # 8 E-cores, 2 modules of 4 sharing an L2 (cluster)
            core, siblings = 32 + (n - 16), [n]
        cpus.append(
            CpuSpec(
                n,
                online=n not in off,
                has_online_file=n != 0,
                package=0,
                core=core,
                cluster=(n // 2) if n < 16 else 8 + (n - 16) // 4,
                thread_siblings=siblings,
                package_cpus=range(24),
            )
        )
    return cpus


def build_alder_lake(
    root: Path, *, atom_type: int = 8, atom_cpus: str | None = None, offline: Iterable[int] = ()
) -> Path:
    """ADL (HYB doc): cpu_core type 4 cpus 0-15, cpu_atom type 8 cpus 16-23, plus the usual x86 PMUs.

    ``atom_type`` lets a test use the LKML dump's value (10); ``atom_cpus`` overrides cpu_atom/cpus.
    """
    offline = set(offline)
    atom_online = [n for n in range(16, 24) if n not in offline]
    core_online = [n for n in range(16) if n not in offline]
    caps = {"pmu_name": "alderlake_hybrid", "max_precise": "3", "branches": "32"}
    add_pmu(
        root,
        PmuSpec(
            "cpu_core",
            4,
            cpus=cpulist(core_online),
            caps=caps,
            events=INTEL_CORE_EVENTS | INTEL_TOPDOWN,
            formats=INTEL_CORE_FORMATS | {"offcore_rsp": "config1:0-63", "ldlat": "config1:0-15"},
        ),
    )
    add_pmu(
        root,
        PmuSpec(
            "cpu_atom",
            atom_type,
            cpus=cpulist(atom_online) if atom_cpus is None else atom_cpus,
            caps=caps,
            events=INTEL_CORE_EVENTS,
            formats=INTEL_CORE_FORMATS | {"offcore_rsp": "config1:0-63", "snoop_rsp": "config1:0-63"},
        ),
    )
    # Dynamic types (plausible, distinct, >= 6); read them back, never assume them.
    for spec in (
        SOFTWARE,
        TRACEPOINT,
        BREAKPOINT,
        kprobe(6),
        uprobe(7),
        PmuSpec(
            "intel_pt",
            9,
            caps={"psb_cyc": "1", "mtc": "1", "topa_multiple_entries": "1"},
            formats={"pt": "config:0", "cyc": "config:1", "tsc": "config:10", "branch": "config:13"},
        ),
        msr(10),
        PmuSpec(
            "cstate_core",
            11,
            cpumask=cpulist([*range(0, 16, 2), *range(16, 24)]),
            formats={"event": "config:0-63"},
            events={"c1-residency": "event=0x00", "c6-residency": "event=0x01", "c7-residency": "event=0x02"},
        ),
        PmuSpec(
            "cstate_pkg",
            12,
            cpumask="0",
            formats={"event": "config:0-63"},
            events={"c2-residency": "event=0x00", "c3-residency": "event=0x01", "c6-residency": "event=0x02"},
        ),
        rapl(14),
    ):
        add_pmu(root, spec)
    for i in range(2):  # client IMC: free-running counters with MiB units
        add_pmu(
            root,
            PmuSpec(
                f"uncore_imc_{i}",
                15 + i,
                cpumask="0",
                formats={"event": "config:0-7", "umask": "config:8-15"},
                events={
                    "data_reads": Event("event=0xff,umask=0x20", "MiB", "6.103515625e-5"),
                    "data_writes": Event("event=0xff,umask=0x30", "MiB", "6.103515625e-5"),
                },
            ),
        )
    for i in range(8):
        add_pmu(
            root,
            PmuSpec(
                f"uncore_cbox_{i}",
                17 + i,
                cpumask="0",
                formats={
                    "event": "config:0-7",
                    "umask": "config:8-15",
                    "edge": "config:18",
                    "inv": "config:23",
                    "cmask": "config:24-28",
                },
            ),
        )
    add_pmu(
        root,
        PmuSpec("uncore_clock", 25, cpumask="0", events={"clockticks": "event=0xff"}, formats={"event": "config:0-7"}),
    )
    add_cpus(root, _alder_lake_cpus(offline))
    return root


def build_alder_lake_offline(root: Path) -> Path:
    """ADL with atom CPUs 20-23 offline: cpu_atom/cpus shrinks to 16-19 (the kernel drops dead CPUs)."""
    return build_alder_lake(root, offline=range(20, 24))


def build_alder_lake_all_atoms_offline(root: Path) -> Path:
    """ADL with every atom CPU offline: cpu_atom/cpus is an empty file, cpu_atom still exists."""
    return build_alder_lake(root, offline=range(16, 24))


# --------------------------------------------------------------------------------------------
# 3. Arrow Lake H: cpu_core + cpu_atom (Skymont) + cpu_lowpower (Crestmont LPE)


def build_arrow_lake_h(root: Path) -> Path:
    """ARL-H (hybrid_tiny): 6 P (0-5, no SMT), 8 E (6-13) on cpu_atom, 2 LP-E (14-15) on cpu_lowpower.

    Type numbers for cpu_atom/cpu_lowpower are plausible dynamic picks; cpu_core is 4 (PERF_TYPE_RAW).
    """
    caps = {"pmu_name": "arrowlake_hybrid"}
    add_pmu(
        root,
        PmuSpec(
            "cpu_core",
            4,
            cpus="0-5",
            caps=caps,
            events=INTEL_CORE_EVENTS | INTEL_TOPDOWN,
            formats=INTEL_CORE_FORMATS | {"umask2": "config:40-47"},
        ),
    )
    # cpu_lowpower registered before cpu_atom on purpose: ordering must come from the core type,
    # not from the type number or the directory order.
    add_pmu(
        root, PmuSpec("cpu_lowpower", 10, cpus="14-15", caps=caps, events=INTEL_CORE_EVENTS, formats=INTEL_CORE_FORMATS)
    )
    add_pmu(root, PmuSpec("cpu_atom", 11, cpus="6-13", caps=caps, events=INTEL_CORE_EVENTS, formats=INTEL_CORE_FORMATS))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7), msr(8), rapl(12)):
        add_pmu(root, spec)
    cpus = [
        CpuSpec(
            n,
            has_online_file=n != 0,
            core=n if n < 6 else 16 + n,
            cluster=n if n < 6 else 6 + (n - 6) // 4,
            package_cpus=range(16),
        )
        for n in range(16)
    ]
    add_cpus(root, cpus)
    return root


# --------------------------------------------------------------------------------------------
# 4-7. Arm


ARMV8_FORMATS = {
    "event": "config:0-15",
    "long": "config1:0",
    "rdpmc": "config1:1",
    "threshold_compare": "config1:2-3",
    "threshold_count": "config1:4",
    "threshold": "config1:5-16",
}

# armv8pmu_events_sysfs_show: "event=0x%04llx"; note: NO `cycles` alias on Arm PMUs.
ARMV8_EVENTS = {
    "sw_incr": "event=0x0000",
    "l1d_cache_refill": "event=0x0003",
    "l1d_cache": "event=0x0004",
    "inst_retired": "event=0x0008",
    "br_mis_pred": "event=0x0010",
    "cpu_cycles": "event=0x0011",
    "br_pred": "event=0x0012",
    "bus_cycles": "event=0x001d",
    "stall_frontend": "event=0x0023",
    "stall_backend": "event=0x0024",
}


def _arm_cluster_cpus(
    clusters: Sequence[tuple[Sequence[int], int | None, str | None]],
    *,
    offline: Iterable[int] = (),
    packages: Mapping[int, int] | None = None,
) -> list[CpuSpec]:
    off = set(offline)
    cpus = []
    for cluster_id, (members, capacity, midr) in enumerate(clusters):
        for n in members:
            cpus.append(
                CpuSpec(
                    n,
                    online=n not in off,
                    package=(packages or {}).get(n, 0),
                    cluster=cluster_id,
                    core=n,
                    thread_siblings=[n],
                    package_cpus=[m for cl in clusters for m in cl[0]],
                    capacity=capacity,
                    midr=midr,
                )
            )
    return cpus


def build_rk3399(root: Path, *, a53_type: int = 8, a72_type: int = 9, offline: Iterable[int] = ()) -> Path:
    """RK3399 (DT): armv8_cortex_a53 type 8 cpus 0-3, armv8_cortex_a72 type 9 cpus 4-5 (capacity 485/1024).

    ROC-RK3399-PC numbers are a53_type=7, a72_type=8. Offline CPUs stay in their PMU's `cpus`.
    """
    add_pmu(root, PmuSpec("armv8_cortex_a53", a53_type, cpus="0-3", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    add_pmu(root, PmuSpec("armv8_cortex_a72", a72_type, cpus="4-5", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7 if 7 not in (a53_type, a72_type) else 10)):
        add_pmu(root, spec)
    add_cpus(
        root,
        _arm_cluster_cpus(
            [((0, 1, 2, 3), 485, "0x00000000410fd034"), ((4, 5), 1024, "0x00000000410fd082")], offline=offline
        ),
    )
    return root


def build_rk3399_offline(root: Path) -> Path:
    """RK3399 with cpu5 (an A72) offline: armv8_cortex_a72/cpus still says 4-5."""
    return build_rk3399(root, offline=[5])


def build_qemu_two_pmu(root: Path, *, a53_type: int = 10, a72_type: int = 11) -> Path:
    """The arm64 QEMU guest with its device tree split in two (../shared/reference/qemu-arm64-pmu.md):
    armv8_cortex_a53 on cpu0 and armv8_cortex_a72 on cpu1 (types 10/11 on 6.12, 8/9 on 6.1)."""
    add_pmu(root, PmuSpec("armv8_cortex_a53", a53_type, cpus="0", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    add_pmu(root, PmuSpec("armv8_cortex_a72", a72_type, cpus="1", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7)):
        add_pmu(root, spec)
    add_cpus(root, _arm_cluster_cpus([((0,), None, "0x00000000411fd070"), ((1,), None, "0x00000000411fd070")]))
    return root


def build_three_cluster_arm(root: Path) -> Path:
    """A510 x4 (0-3) / A710 x3 (4-6) / X2 x1 (7) phone SoC; capacities 250/750/1024.

    Type numbers are deliberately scrambled relative to capacity (a710 8, x2 9, a510 10), and name order
    is the reverse of capacity order, so only cpu_capacity can give X2 > A710 > A510.
    MIDRs: Arm part numbers d46/d47/d48 (plausible, not from a dump).
    """
    add_pmu(root, PmuSpec("armv8_cortex_a710", 8, cpus="4-6", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    add_pmu(root, PmuSpec("armv8_cortex_x2", 9, cpus="7", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    add_pmu(root, PmuSpec("armv8_cortex_a510", 10, cpus="0-3", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7)):
        add_pmu(root, spec)
    add_cpus(
        root,
        _arm_cluster_cpus(
            [
                ((0, 1, 2, 3), 250, "0x00000000410fd461"),
                ((4, 5, 6), 750, "0x00000000410fd471"),
                ((7,), 1024, "0x00000000410fd481"),
            ]
        ),
    )
    return root


# apple_m1_cpu_pmu.c: format event config:0-7; cycles (0x02) and instructions (0x8c) aliases.
APPLE_FORMATS = {"event": "config:0-7"}
APPLE_EVENTS = {"cycles": "event=0x0002", "instructions": "event=0x008c"}


def _build_apple(root: Path, efficiency: tuple[str, tuple[int, ...], int, str], performance: tuple) -> Path:
    """Two Asahi core PMUs (types 8 and 9, plausible): each cluster is (PMU name, CPUs, capacity, MIDR)."""
    for pmu_type, (name, cpus, _, _) in zip((8, 9), (efficiency, performance), strict=True):
        add_pmu(root, PmuSpec(name, pmu_type, cpus=cpulist(cpus), events=APPLE_EVENTS, formats=APPLE_FORMATS))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7)):
        add_pmu(root, spec)
    add_cpus(root, _arm_cluster_cpus([(cpus, capacity, midr) for _, cpus, capacity, midr in (efficiency, performance)]))
    return root


def build_apple_m2(root: Path) -> Path:
    """Apple M2 (Asahi): apple_blizzard_pmu type 8 cpus 0-3, apple_avalanche_pmu type 9 cpus 4-9.

    Capacities are plausible (derived from DT capacity-dmips-mhz x max freq); MIDRs are Apple's 0x61.
    """
    return _build_apple(
        root,
        ("apple_blizzard_pmu", (0, 1, 2, 3), 459, "0x00000000611f0320"),
        ("apple_avalanche_pmu", (4, 5, 6, 7, 8, 9), 1024, "0x00000000611f0330"),
    )


def build_apple_m1(root: Path) -> Path:
    """Apple M1 (Asahi DT): apple_icestorm_pmu cpus 0-3, apple_firestorm_pmu cpus 4-7 (types plausible)."""
    return _build_apple(
        root,
        ("apple_icestorm_pmu", (0, 1, 2, 3), 428, "0x00000000611f0220"),
        ("apple_firestorm_pmu", (4, 5, 6, 7), 1024, "0x00000000611f0230"),
    )


def build_acpi_arm_server(root: Path) -> Path:
    """ACPI Arm server: one PMU per MIDR, `armv8_pmuv3_0` type 8 cpus 0-159; 2 packages of 80 N1 cores.

    Uncore: arm_cmn_0/arm_cmn_1 (one mesh per socket, cpumask = a CPU of that socket) and SMMUv3 PMCGs
    named with a hex address suffix (smmuv3_pmcg_<hex>), which the suffix rule groups.
    """
    add_pmu(root, PmuSpec("armv8_pmuv3_0", 8, cpus="0-159", events=ARMV8_EVENTS, formats=ARMV8_FORMATS))
    cmn_formats = {
        "type": "config:0-15",
        "eventid": "config:16-31",
        "occupid": "config:32-35",
        "bynodeid": "config:47",
        "nodeid": "config:48-63",
        "wp_dev_sel": "config:32-33",
    }
    cmn_events: dict[str, str | Event] = {
        "dtc_cycles": "type=0x03",
        "hnf_cache_miss": "type=0x0005,eventid=0x0001",
        "hnf_slc_sf_cache_access": "type=0x0005,eventid=0x0002",
    }
    for i, cpu in enumerate((0, 80)):
        add_pmu(root, PmuSpec(f"arm_cmn_{i}", 10 + i, cpumask=str(cpu), formats=cmn_formats, events=cmn_events))
    smmu_formats = {
        "event": "config:0-15",
        "filter_stream_id": "config1:0-31",
        "filter_span": "config1:32",
        "filter_enable": "config1:33",
    }
    for i, addr in enumerate(("ff88840", "ff8a840", "ff8c840")):
        add_pmu(
            root,
            PmuSpec(
                f"smmuv3_pmcg_{addr}",
                12 + i,
                cpumask="0",
                formats=smmu_formats,
                events={"cycles": "event=0x00", "transaction": "event=0x01"},
            ),
        )
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7)):
        add_pmu(root, spec)
    cpus = [
        CpuSpec(
            n,
            package=n // 80,
            cluster=n // 2,
            core=n,
            thread_siblings=[n],
            package_cpus=range((n // 80) * 80, (n // 80) * 80 + 80),
            capacity=1024,
            midr="0x00000000413fd0c1",
        )
        for n in range(160)
    ]
    add_cpus(root, cpus)
    return root


# --------------------------------------------------------------------------------------------
# 8. AMD Zen


def build_amd_zen(root: Path, *, offline: Iterable[int] = ()) -> Path:
    """AMD Zen 2, 16 cores / 32 threads: core PMU `cpu` type 4 with NO cpus file (= all online CPUs).

    SMT siblings are n and n+16; 4 cores per CCX, so amd_l3/cpumask is one CPU per CCX: 0,4,8,12.
    """
    off = set(offline)
    amd_core_formats = {
        "event": "config:0-7,32-35",
        "umask": "config:8-15",
        "edge": "config:18",
        "inv": "config:23",
        "cmask": "config:24-31",
    }
    add_pmu(
        root,
        PmuSpec(
            "cpu",
            4,
            caps={"max_precise": "0"},
            formats=amd_core_formats,
            events={
                "cpu-cycles": "event=0x76",
                "instructions": "event=0xc0",
                "cache-references": "event=0x60,umask=0xff",
                "cache-misses": "event=0x64,umask=0x09",
                "branch-instructions": "event=0xc2",
                "branch-misses": "event=0xc3",
                # Synthetic name; the point is an event number above 0xff that needs config:32-35.
                "ls_high_event": "event=0x1c2",
            },
        ),
    )
    add_pmu(
        root,
        PmuSpec(
            "amd_l3",
            10,
            cpumask="0,4,8,12",
            formats={
                "event": "config:0-7",
                "umask": "config:8-15",
                "slicemask": "config:48-51",
                "threadmask": "config:56-63",
            },
        ),
    )
    add_pmu(
        root, PmuSpec("amd_df", 11, cpumask="0", formats={"event": "config:0-7,32-35,59-60", "umask": "config:8-15"})
    )
    for i in range(4):
        add_pmu(
            root,
            PmuSpec(f"amd_umc_{i}", 20 + i, cpumask="0", formats={"event": "config:0-7", "rdwrmask": "config:8-9"}),
        )
    add_pmu(
        root,
        PmuSpec(
            "ibs_fetch",
            12,
            caps={"zen4_ibs_extensions": "1"},
            formats={"rand_en": "config:57", "l3missonly": "config:59"},
        ),
    )
    add_pmu(
        root,
        PmuSpec(
            "ibs_op", 13, caps={"zen4_ibs_extensions": "1"}, formats={"cnt_ctl": "config:19", "l3missonly": "config:16"}
        ),
    )
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7), msr(9), rapl(14, core=False)):
        add_pmu(root, spec)
    cpus = []
    for n in range(32):
        core = n % 16
        cpus.append(
            CpuSpec(
                n,
                online=n not in off,
                has_online_file=n != 0,
                core=core,
                cluster=core // 4,
                thread_siblings=[core, core + 16],
                package_cpus=range(32),
            )
        )
    add_cpus(root, cpus)
    return root


# --------------------------------------------------------------------------------------------
# 9. s390


def build_s390(root: Path) -> Path:
    """s390: cpum_sf 4, cpum_cf 8 (core PMU by name, no cpus file), cpum_cf_diag 9, pai_crypto 10, pai_ext 11."""
    add_pmu(
        root,
        PmuSpec(
            "cpum_sf",
            4,
            formats={"event": "config:0-63"},
            events={"SF_CYCLES_BASIC": "event=0xb0000", "SF_CYCLES_BASIC_DIAG": "event=0xbd000"},
        ),
    )
    add_pmu(
        root,
        PmuSpec(
            "cpum_cf",
            8,
            formats={"event": "config:0-63"},
            events={"CPU_CYCLES": "event=0x0000", "INSTRUCTIONS": "event=0x0001", "L1D_DIR_WRITES": "event=0x0002"},
        ),
    )
    add_pmu(root, PmuSpec("cpum_cf_diag", 9, formats={"event": "config:0-63"}))
    add_pmu(
        root,
        PmuSpec(
            "pai_crypto",
            10,
            formats={"event": "config:0-63"},
            events={"CRYPTO_ALL": "event=0x1000", "KM_DEA": "event=0x1001"},
        ),
    )
    add_pmu(root, PmuSpec("pai_ext", 11, formats={"event": "config:0-63"}, events={"NNPA_ALL": "event=0x1800"}))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7)):
        add_pmu(root, spec)
    add_cpus(root, [CpuSpec(n, core=n, package_cpus=range(4)) for n in range(4)])
    return root


# --------------------------------------------------------------------------------------------
# 10. x86 server with many uncore instances


def build_server_many_uncore(root: Path, cpus: int = 64) -> Path:
    """2-socket x86 server, 64 CPUs (or `cpus`, a multiple of 4), `cpu` type 4 without a cpus file, dozens
    of uncore instances (80 per socket pair, as on Sapphire Rapids).

    CPUs (64): socket 0 cores 0-15 and 32-47 (siblings n, n+32), socket 1 cores 16-31 and 48-63.
    Uncore cpumask = first CPU of each socket (0,16).
    """
    half, quarter = cpus // 2, cpus // 4
    add_pmu(
        root,
        PmuSpec(
            "cpu",
            4,
            caps={"pmu_name": "sapphire_rapids", "max_precise": "3"},
            formats=INTEL_CORE_FORMATS,
            events=INTEL_CORE_EVENTS | INTEL_TOPDOWN,
        ),
    )
    next_type = [20]

    def uncore(
        name: str, formats: Mapping[str, str] | None = None, events: Mapping[str, str | Event] | None = None
    ) -> None:
        add_pmu(
            root,
            PmuSpec(
                name,
                next_type[0],
                cpumask=f"0,{quarter}",
                formats=formats or {"event": "config:0-7", "umask": "config:8-15"},
                events=events or {},
            ),
        )
        next_type[0] += 1

    for i in range(40):
        uncore(f"uncore_cha_{i}", {"event": "config:0-7", "umask": "config:8-15,32-55", "tid_en": "config:16"})
    for i in range(12):
        uncore(
            f"uncore_imc_{i}",
            events={
                "cas_count_read": Event("event=0x05,umask=0xcf", "MiB", "6.103515625e-5"),
                "clockticks": "event=0x01,umask=0x01",
            },
        )
    for i in range(3):
        uncore(f"uncore_upi_{i}")
    for i in range(6):
        uncore(f"uncore_iio_{i}")
        uncore(
            f"uncore_iio_free_running_{i}",
            events={"bw_in_port0": Event("event=0xff,umask=0x20", "MiB", "3.814697265625e-6")},
        )
        uncore(f"uncore_m2pcie_{i}")
    for i in range(4):
        uncore(f"uncore_m2m_{i}")
    uncore("uncore_pcu")
    uncore("uncore_ubox")
    for spec in (
        SOFTWARE,
        TRACEPOINT,
        BREAKPOINT,
        kprobe(6),
        uprobe(7),
        msr(8),
        PmuSpec(
            "cstate_core",
            9,
            cpumask=f"0-{half - 1}",
            formats={"event": "config:0-63"},
            events={"c1-residency": "event=0x00", "c6-residency": "event=0x01"},
        ),
        PmuSpec(
            "cstate_pkg",
            10,
            cpumask=f"0,{quarter}",
            formats={"event": "config:0-63"},
            events={"c2-residency": "event=0x00", "c6-residency": "event=0x02"},
        ),
        rapl(11, cpumask=f"0,{quarter}", core=False),
        PmuSpec("intel_pt", 12, formats={"pt": "config:0", "tsc": "config:10"}),
        PmuSpec("intel_bts", 13),
    ):
        add_pmu(root, spec)
    specs = []
    for n in range(cpus):
        socket = (n % half) // quarter
        first = n % half
        specs.append(
            CpuSpec(
                n,
                has_online_file=n != 0,
                package=socket,
                die=0,
                core=n % quarter,
                thread_siblings=[first, first + half],
                package_cpus=[
                    *range(socket * quarter, (socket + 1) * quarter),
                    *range(half + socket * quarter, half + (socket + 1) * quarter),
                ],
            )
        )
    add_cpus(root, specs)
    return root


def build_server_448(root: Path) -> Path:
    """A 2-socket server with 224 CPUs a socket (112 cores × 2 threads) and 80 uncore instances."""
    return build_server_many_uncore(root, cpus=448)


def build_hybrid_many(root: Path, cpus: int = 224) -> Path:
    """A hybrid-style machine with two core PMUs at server scale: `cpus` CPUs, the first half P-core
    threads (cpu_core, SMT pairs), the second half E-cores (cpu_atom, modules of four), one package."""
    p_threads = cpus // 2
    caps = {"pmu_name": "alderlake_hybrid", "max_precise": "3", "branches": "32"}
    add_pmu(root, PmuSpec("cpu_core", 4, cpus=f"0-{p_threads - 1}", caps=caps, events=INTEL_CORE_EVENTS | INTEL_TOPDOWN,
                          formats=INTEL_CORE_FORMATS))  # fmt: skip
    add_pmu(root, PmuSpec("cpu_atom", 8, cpus=f"{p_threads}-{cpus - 1}", caps=caps, events=INTEL_CORE_EVENTS,
                          formats=INTEL_CORE_FORMATS))  # fmt: skip
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, kprobe(6), uprobe(7), msr(10), rapl(14)):
        add_pmu(root, spec)
    specs = []
    for n in range(cpus):
        if n < p_threads:
            core, siblings, cluster = (n // 2) * 4, [n & ~1, n | 1], n // 2
        else:
            core, siblings, cluster = 2 * p_threads + (n - p_threads), [n], p_threads + (n - p_threads) // 4
        specs.append(CpuSpec(n, has_online_file=n != 0, core=core, cluster=cluster, thread_siblings=siblings,
                             package_cpus=range(cpus)))  # fmt: skip
    add_cpus(root, specs)
    return root


def build_hybrid_224(root: Path) -> Path:
    return build_hybrid_many(root, cpus=224)


def build_suffix_zoo(root: Path) -> Path:
    """Uncore names that probe perf's pmu_name_len_no_suffix: `_<decimal>` or `_<hex, >2 digits>` split.

    Split: foo_0, foo_17, foo_abc (hex, 3 digits), dwc_rootport_1a018. Kept whole: amd_df (2 hex
    digits), bar_ab (2 hex digits), cstate_pkg, baz_xyz (not hex), qux_ (empty suffix).
    """
    names = [
        "foo_0",
        "foo_17",
        "foo_abc",
        "dwc_rootport_1a018",
        "dwc_rootport_2a018",
        "amd_df",
        "bar_ab",
        "cstate_pkg",
        "baz_xyz",
        "qux_",
        "uncore_iio_free_running_0",
        "uncore_iio_0",
    ]
    for i, name in enumerate(names):
        add_pmu(root, PmuSpec(name, 20 + i, cpumask="0", formats={"event": "config:0-7"}))
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT):
        add_pmu(root, spec)
    add_cpus(root, [CpuSpec(0, has_online_file=False), CpuSpec(1, core=1)])
    return root


# --------------------------------------------------------------------------------------------
# 11. This VM


def build_this_vm(root: Path) -> Path:
    """The development VM ([VM] in the fact sheet): no hardware PMU, 2 CPUs, cpu_capacity 1024.

    The real machine's msr/events has only `tsc` (no aperf/mperf: the hypervisor hides them).
    """
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, uprobe(8), msr(9, aperf=False)):
        add_pmu(root, spec)
    add_cpus(
        root,
        [
            CpuSpec(0, has_online_file=False, core=0, capacity=1024, package_cpus=[0, 1]),
            CpuSpec(1, core=1, capacity=1024, package_cpus=[0, 1]),
        ],
    )
    return root


# --------------------------------------------------------------------------------------------
# 12. Malformed trees. Each starts from a small sane base (so "the rest still loads" is checkable).


def _sane_base(root: Path) -> Path:
    """Two-CPU x86 box with a core PMU `cpu` (type 4), software/tracepoint/breakpoint and msr."""
    add_pmu(
        root,
        PmuSpec(
            "cpu", 4, formats=INTEL_CORE_FORMATS, events={"cpu-cycles": "event=0x3c", "instructions": "event=0xc0"}
        ),
    )
    for spec in (SOFTWARE, TRACEPOINT, BREAKPOINT, msr(9, aperf=False)):
        add_pmu(root, spec)
    add_cpus(
        root, [CpuSpec(0, has_online_file=False, core=0, package_cpus=[0, 1]), CpuSpec(1, core=1, package_cpus=[0, 1])]
    )
    return root


def build_missing_type(root: Path) -> Path:
    """PMU `broken` has no `type` file: not a usable PMU (perf skips it); a Problem names it; others load."""
    _sane_base(root)
    add_pmu(root, PmuSpec("broken", None, cpumask="0", formats={"event": "config:0-7"}))
    return root


def build_non_numeric_type(root: Path) -> Path:
    """`badtype/type` holds `abc`: a Problem at badtype/type; the PMU gets no type (or is dropped)."""
    _sane_base(root)
    add_pmu(root, PmuSpec("badtype", "abc", cpumask="0", formats={"event": "config:0-7"}))
    return root


def build_unreadable_type(root: Path) -> Path:
    """`dirtype/type` is a directory (root ignores chmod): reading it fails -> Problem, no exception."""
    _sane_base(root)
    d = add_pmu(root, PmuSpec("dirtype", None, cpumask="0"))
    (d / "type").mkdir()
    return root


GARBAGE_CPULISTS = ("0-", "3-1", "a,b")


def build_garbage_cpulist(root: Path, text: str = "0-", *, on: str = "cpus") -> Path:
    """A core PMU `cpu_bad` whose `cpus` (or an uncore's `cpumask`) is garbage: Problem at that file."""
    _sane_base(root)
    if on == "cpus":
        add_pmu(root, PmuSpec("cpu_bad", 11, cpus=text, formats={"event": "config:0-7"}))
    else:
        add_pmu(root, PmuSpec("uncore_bad", 11, cpumask=text, formats={"event": "config:0-7"}))
    return root


def build_unknown_alias_term(root: Path) -> Path:
    """`cpu/events/bogus-alias` = `event=0x3c,frobnicate=1` names no format term: Problem, other aliases fine."""
    _sane_base(root)
    write(pmu_dir(root, "cpu") / "events" / "bogus-alias", "event=0x3c,frobnicate=1")
    return root


def build_bad_formats(root: Path) -> Path:
    """`cpu/format/wide` = `config:60-70` (past bit 63) and `cpu/format/weird` = `config9:0-3`: a Problem each."""
    _sane_base(root)
    write(pmu_dir(root, "cpu") / "format" / "wide", "config:60-70")
    write(pmu_dir(root, "cpu") / "format" / "weird", "config9:0-3")
    return root


HUGE_SIZE = 5 * 1024 * 1024


def build_huge_file(root: Path) -> Path:
    """`cpu/events/huge` is 5 MB: the capped read yields a Problem, not a 5 MB alias; the rest loads."""
    _sane_base(root)
    write(pmu_dir(root, "cpu") / "events" / "huge", b"event=0x3c," + b"x" * HUGE_SIZE)
    return root


def build_dangling_symlinks(root: Path) -> Path:
    """A dangling `devices/ghost` PMU symlink and a dangling `cpu/events/phantom`: Problems, no crash."""
    _sane_base(root)
    (root / EVENT_SOURCE / "ghost").symlink_to(Path("../../../devices/ghost"))
    os.symlink("/nonexistent/phantom-event", pmu_dir(root, "cpu") / "events" / "phantom")
    return root


def build_empty_core_cpus(root: Path) -> Path:
    """Core PMU `cpu_empty` with an empty `cpus` file: still a core PMU, covering no CPU (not all CPUs)."""
    _sane_base(root)
    add_pmu(root, PmuSpec("cpu_empty", 11, cpus="", formats={"event": "config:0-7"}))
    return root


def build_cpu_without_topology(root: Path) -> Path:
    """cpu1 is online but has no topology/ dir: Cpu(1) loads with package/core/... None."""
    _sane_base(root)
    shutil.rmtree(root / CPU_DIR / "cpu1" / "topology")
    return root


MALFORMED_BUILDERS = (
    build_missing_type,
    build_non_numeric_type,
    build_unreadable_type,
    build_unknown_alias_term,
    build_bad_formats,
    build_huge_file,
    build_dangling_symlinks,
    build_empty_core_cpus,
    build_cpu_without_topology,
)

LAYOUT_BUILDERS = {
    "alder_lake": build_alder_lake,
    "alder_lake_offline": build_alder_lake_offline,
    "alder_lake_all_atoms_offline": build_alder_lake_all_atoms_offline,
    "arrow_lake_h": build_arrow_lake_h,
    "rk3399": build_rk3399,
    "rk3399_offline": build_rk3399_offline,
    "three_cluster_arm": build_three_cluster_arm,
    "apple_m2": build_apple_m2,
    "apple_m1": build_apple_m1,
    "acpi_arm_server": build_acpi_arm_server,
    "amd_zen": build_amd_zen,
    "s390": build_s390,
    "server_many_uncore": build_server_many_uncore,
    "suffix_zoo": build_suffix_zoo,
    "this_vm": build_this_vm,
}
