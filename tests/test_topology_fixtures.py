"""Topology loading against fake sysfs trees of machines this VM is not (see tests/sysfs_trees.py).

Expectations come from the documented ABI and perf's rules (kernel-pmu-facts.md, section 2):
core PMU = named `cpu`/`cpum_cf` or has a `cpus` file; a core PMU with neither `cpus` nor `cpumask`
covers all online CPUs; an empty `cpus` covers none; uncore = has `cpumask`; instance suffix =
`_<decimal>` or `_<hex, more than 2 digits>`. Type numbers are always read back from the tree.
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import pytest

from pmutop.cli.topology_command import render_topology
from pmutop.live.topology_loader import load_topology
from pmutop.model.cpulist import parse_cpulist
from pmutop.model.encoding import FormatField, encode_alias, legacy_hybrid_config, parse_format
from pmutop.model.topology import PmuKind, Topology

sys.path.insert(0, str(Path(__file__).parent))
import sysfs_trees as trees

EVENT_SOURCE = trees.EVENT_SOURCE


# --------------------------------------------------------------------------------------------
# Helpers


def load(builder, tmp_path: Path, **kwargs) -> Topology:
    root = builder(tmp_path, **kwargs)
    return load_topology(root)


def file_type(root: Path, pmu: str) -> int:
    """The PMU type as the tree's own `type` file says."""
    return int((root / EVENT_SOURCE / pmu / "type").read_text())


def config(topo: Topology, pmu: str, alias: str) -> dict[str, int]:
    p = topo.pmu(pmu)
    assert p is not None, pmu
    return encode_alias(p.events[alias].terms, p.formats)


def word(encoded: dict[str, int], name: str = "config") -> int:
    return encoded.get(name, 0)


def core_pmu_names(topo: Topology) -> list[str]:
    return [p.name for p in topo.core_pmus]


def perf_base_name(name: str) -> str:
    """Reference copy of perf's pmu_name_len_no_suffix (tools/perf/util/pmus.c)."""
    end = len(name)
    i = end
    has_hex = False
    while i > 0 and name[i - 1] in string.hexdigits:
        if not name[i - 1].isdigit():
            has_hex = True
        i -= 1
    if 0 < i < end and name[i - 1] == "_" and (not has_hex or end - i > 2):
        return name[: i - 1]
    return name


def problems_ending(topo: Topology, suffix: str) -> list:
    return [p for p in topo.problems if p.path.rstrip("/").endswith(suffix)]


def assert_problem(topo: Topology, *suffixes: str) -> None:
    """Some problem's path (relative to root) ends with one of `suffixes` and has a reason."""
    found = [p for s in suffixes for p in problems_ending(topo, s)]
    assert found, f"no problem ending with {suffixes}; problems: {topo.problems}"
    for p in found:
        assert not Path(p.path).is_absolute(), p.path
        assert p.reason


def assert_rest_loads(topo: Topology) -> None:
    """The sane part of a malformed tree (trees._sane_base) still loads."""
    cpu = topo.pmu("cpu")
    assert cpu is not None and cpu.type == 4 and cpu.is_core
    assert word(config(topo, "cpu", "cpu-cycles")) == 0x3C
    assert topo.pmu("software").type == 1
    assert topo.pmu("tracepoint").type == 2
    assert topo.pmu("breakpoint").type == 5
    assert topo.pmu("msr").events["tsc"].terms == "event=0x00"
    assert [c.cpu for c in topo.cpus] == [0, 1]
    assert all(c.online for c in topo.cpus)


# --------------------------------------------------------------------------------------------
# Every sane layout


@pytest.mark.parametrize("name", sorted(trees.LAYOUT_BUILDERS))
def test_layout_loads_without_problems(name: str, tmp_path: Path) -> None:
    root = trees.LAYOUT_BUILDERS[name](tmp_path)
    topo = load_topology(str(root))  # str roots are accepted too
    assert topo.problems == ()
    on_disk = sorted(p.name for p in (root / EVENT_SOURCE).iterdir())
    assert sorted(p.name for p in topo.pmus) == on_disk
    for pmu in topo.pmus:
        assert pmu.type == file_type(root, pmu.name), pmu.name
        assert pmu.is_core == (pmu.kind == PmuKind.CORE), pmu.name
        for alias_name, alias in pmu.events.items():
            assert not alias_name.endswith((".unit", ".scale", ".per-pkg", ".snapshot")), alias_name
            assert alias.name == alias_name
            on_file = (root / EVENT_SOURCE / pmu.name / "events" / alias_name).read_text().strip()
            assert alias.terms == on_file
        for fname, fmt in pmu.formats.items():
            on_file = (root / EVENT_SOURCE / pmu.name / "format" / fname).read_text()
            assert fmt == parse_format(on_file), (pmu.name, fname)
    cpu_dirs = sorted(int(p.name[3:]) for p in (root / trees.CPU_DIR).glob("cpu[0-9]*"))
    assert [c.cpu for c in topo.cpus] == cpu_dirs
    for c in topo.cpus:
        if c.core_pmu is not None:
            assert c.core_type is not None and c.core_type.pmu == c.core_pmu
            assert c.cpu in topo.pmu(c.core_pmu).cpus or not c.online
    # Ranks are dense, and core_pmus are in rank order.
    ranks = [c.core_type.rank for c in topo.cpus if c.core_type is not None]
    if ranks:
        assert sorted(set(ranks)) == list(range(len(set(ranks))))
    by_pmu = {c.core_type.pmu: c.core_type.rank for c in topo.cpus if c.core_type is not None}
    ordered = [n for n in core_pmu_names(topo) if n in by_pmu]
    assert [by_pmu[n] for n in ordered] == sorted(by_pmu[n] for n in ordered)
    assert topo.is_heterogeneous == (len(topo.core_pmus) > 1)


PMU_JSON_KEYS = {"name", "type", "kind", "cpus", "caps", "events", "formats", "base_name", "is_core"}
CPU_JSON_KEYS = {
    "cpu",
    "online",
    "core_pmu",
    "core_type",
    "package",
    "die",
    "cluster",
    "core",
    "thread_siblings",
    "capacity",
    "midr",
}


@pytest.mark.parametrize("name", sorted(trees.LAYOUT_BUILDERS))
def test_layout_json_schema(name: str, tmp_path: Path) -> None:
    """The agreed keys are present (extra keys are allowed) and agree with the objects."""
    topo = load(trees.LAYOUT_BUILDERS[name], tmp_path)
    data = json.loads(json.dumps(topo.to_json()))
    assert {"pmus", "cpus", "problems"} <= set(data)
    assert [p["name"] for p in data["pmus"]] == [p.name for p in topo.pmus]
    for entry, pmu in zip(data["pmus"], topo.pmus, strict=True):
        assert set(entry) >= PMU_JSON_KEYS
        assert entry["type"] == pmu.type
        assert entry["kind"] == str(pmu.kind)
        assert entry["cpus"] == list(pmu.cpus)
        assert entry["base_name"] == pmu.base_name
        assert entry["is_core"] == pmu.is_core
        for ename, ev in entry["events"].items():
            assert {"terms", "unit", "scale"} <= set(ev)
            assert ev["terms"] == pmu.events[ename].terms
        for fname, text in entry["formats"].items():
            assert parse_format(text) == pmu.formats[fname]
    assert [c["cpu"] for c in data["cpus"]] == [c.cpu for c in topo.cpus]
    for entry in data["cpus"]:
        assert set(entry) >= CPU_JSON_KEYS
    assert data["problems"] == []


def test_source_is_kept_out_of_the_json(tmp_path: Path) -> None:
    """Where the tree was read from is on the Topology, not in its JSON, so that a snapshot re-read
    gives the same JSON as the live read it was taken from."""
    root = trees.build_this_vm(tmp_path)
    topology = load_topology(root)
    assert Path(topology.source).resolve() == root.resolve()
    assert "root" not in topology.to_json() and str(root) not in str(topology.to_json())


@pytest.mark.parametrize("name", sorted(trees.LAYOUT_BUILDERS))
def test_instance_grouping_follows_perf_suffix_rule(name: str, tmp_path: Path) -> None:
    topo = load(trees.LAYOUT_BUILDERS[name], tmp_path)
    expected: dict[str, set[str]] = {}
    for pmu in topo.pmus:
        if pmu.name.startswith("armv8_cortex_"):
            continue  # perf's literal rule would split `armv8_cortex_a53` (hex "a53"); not pinned here
        if pmu.is_core:
            # perf's rule would make armv8_pmuv3_0 an instance of armv8_pmuv3; keeping core PMU
            # names whole is also accepted (a core PMU is a core type, not an instance).
            assert pmu.base_name in (pmu.name, perf_base_name(pmu.name)), pmu.name
        else:
            assert pmu.base_name == perf_base_name(pmu.name), pmu.name
        if pmu.base_name != pmu.name:
            expected.setdefault(pmu.base_name, set()).add(pmu.name)
    groups = topo.instance_groups()
    for base, names in expected.items():
        if len(names) > 1:
            assert set(groups[base]) == names, base
    for base, names in groups.items():
        if base.startswith("armv8_cortex"):
            continue
        assert base in expected and set(names) == expected[base], base


# --------------------------------------------------------------------------------------------
# 1. Alder Lake


@pytest.mark.parametrize("atom_type", [8, 10])  # HYB doc: 8; LKML (Jin Yao): 10
def test_alder_lake_types_come_from_files(atom_type: int, tmp_path: Path) -> None:
    root = trees.build_alder_lake(tmp_path, atom_type=atom_type)
    topo = load_topology(root)
    assert topo.pmu("cpu_core").type == file_type(root, "cpu_core") == 4
    assert topo.pmu("cpu_atom").type == file_type(root, "cpu_atom") == atom_type
    atom = topo.pmu("cpu_atom")
    assert legacy_hybrid_config(0, atom.type) == (atom_type << 32)
    assert legacy_hybrid_config(1, topo.pmu("cpu_core").type) == 0x4_0000_0001


def test_alder_lake_core_pmus_and_cpus(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake, tmp_path)
    assert topo.is_heterogeneous
    assert core_pmu_names(topo) == ["cpu_core", "cpu_atom"]
    assert topo.pmu("cpu_core").cpus == tuple(range(16))
    assert topo.pmu("cpu_atom").cpus == tuple(range(16, 24))
    assert len(topo.cpus) == 24
    for c in topo.cpus:
        assert c.online, c.cpu  # cpu0 has no `online` file: it is online
        if c.cpu < 16:
            assert c.core_pmu == "cpu_core"
            assert (c.core_type.label, c.core_type.rank) == ("performance", 0)
            assert c.thread_siblings == (c.cpu & ~1, c.cpu | 1)
        else:
            assert c.core_pmu == "cpu_atom"
            assert (c.core_type.label, c.core_type.rank) == ("efficiency", 1)
            assert c.thread_siblings == (c.cpu,)
        assert c.package == 0
        assert c.capacity is None and c.midr is None
    assert topo.cpu(0).online
    assert topo.cpu(24) is None


def test_alder_lake_kinds(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake, tmp_path)
    expected = {
        "cpu_core": PmuKind.CORE,
        "cpu_atom": PmuKind.CORE,
        "software": PmuKind.SOFTWARE,
        "tracepoint": PmuKind.TRACEPOINT,
        "breakpoint": PmuKind.BREAKPOINT,
        "kprobe": PmuKind.KPROBE,
        "uprobe": PmuKind.UPROBE,
        "uncore_imc_0": PmuKind.UNCORE,
        "uncore_cbox_7": PmuKind.UNCORE,
        "power": PmuKind.UNCORE,  # has cpumask
        "cstate_pkg": PmuKind.UNCORE,
        "cstate_core": PmuKind.UNCORE,
        "msr": PmuKind.OTHER,  # no cpumask, no cpus
        "intel_pt": PmuKind.OTHER,
    }
    for name, kind in expected.items():
        assert topo.pmu(name).kind == kind, name
    assert topo.pmu("uncore_imc_1").cpus == (0,)
    assert not topo.pmu("power").is_core


def test_alder_lake_aliases_and_formats(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake, tmp_path)
    for pmu in ("cpu_core", "cpu_atom"):
        assert word(config(topo, pmu, "cpu-cycles")) == 0x3C
        assert word(config(topo, pmu, "instructions")) == 0xC0
        assert word(config(topo, pmu, "cache-misses")) == 0x412E
        assert word(config(topo, pmu, "cache-references")) == 0x4F2E
        assert word(config(topo, pmu, "branch-instructions")) == 0xC4
        assert word(config(topo, pmu, "bus-cycles")) == 0x13C
        assert word(config(topo, pmu, "cycles-t")) == 0x1_0000_003C  # in_tx config:32
        assert word(config(topo, pmu, "cycles-edge")) == 0x3C | 1 << 18 | 1 << 23 | 1 << 24
    assert "topdown-retiring" in topo.pmu("cpu_core").events
    assert "topdown-retiring" not in topo.pmu("cpu_atom").events
    assert word(config(topo, "cpu_core", "topdown-retiring")) == 0x8000
    fmts = topo.pmu("cpu_core").formats
    assert fmts["event"] == FormatField(word="config", bits=tuple(range(8)))
    assert fmts["umask"] == FormatField(word="config", bits=tuple(range(8, 16)))
    assert fmts["cmask"] == FormatField(word="config", bits=tuple(range(24, 32)))
    assert fmts["in_tx"] == FormatField(word="config", bits=(32,))
    assert fmts["offcore_rsp"].word == "config1"
    assert topo.pmu("cpu_core").caps["pmu_name"] == "alderlake_hybrid"
    assert topo.pmu("cpu_atom").caps["max_precise"] == "3"


def test_alder_lake_unit_and_scale(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake, tmp_path)
    pkg = topo.pmu("power").events["energy-pkg"]
    assert pkg.terms == "event=0x02"
    assert pkg.unit == "Joules"
    assert pkg.scale == pytest.approx(2.3283064365386962890625e-10, rel=1e-15)
    assert word(encode_alias(pkg.terms, topo.pmu("power").formats)) == 0x02
    reads = topo.pmu("uncore_imc_0").events["data_reads"]
    assert (reads.unit, reads.scale) == ("MiB", 6.103515625e-5)
    cycles = topo.pmu("cpu_core").events["cpu-cycles"]
    assert (cycles.unit, cycles.scale) == (None, None)
    assert "energy-pkg.unit" not in topo.pmu("power").events


def test_alder_lake_instance_groups(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake, tmp_path)
    groups = topo.instance_groups()
    assert set(groups["uncore_imc"]) == {"uncore_imc_0", "uncore_imc_1"}
    assert set(groups["uncore_cbox"]) == {f"uncore_cbox_{i}" for i in range(8)}
    assert topo.pmu("uncore_imc_1").base_name == "uncore_imc"
    for whole in ("cpu_core", "cpu_atom", "cstate_pkg", "cstate_core", "power", "uncore_clock"):
        assert topo.pmu(whole).base_name == whole
        assert whole not in groups
    assert "cpu" not in groups


# --------------------------------------------------------------------------------------------
# 2. Alder Lake with atoms offline


def test_alder_lake_some_atoms_offline(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake_offline, tmp_path)
    assert topo.pmu("cpu_atom").cpus == (16, 17, 18, 19)
    assert core_pmu_names(topo) == ["cpu_core", "cpu_atom"]
    for n in range(16, 20):
        assert topo.cpu(n).online and topo.cpu(n).core_pmu == "cpu_atom"
    for n in range(20, 24):
        c = topo.cpu(n)
        assert c is not None and not c.online
        # No cpus file lists it (the kernel dropped it from cpu_atom/cpus): no core PMU is known.
        assert c.core_pmu is None and c.core_type is None
        assert c.package is None  # offline CPUs have no topology/ directory
    assert all(topo.cpu(n).core_pmu == "cpu_core" for n in range(16))


def test_alder_lake_all_atoms_offline(tmp_path: Path) -> None:
    topo = load(trees.build_alder_lake_all_atoms_offline, tmp_path)
    atom = topo.pmu("cpu_atom")
    assert atom is not None and atom.is_core and atom.kind == PmuKind.CORE
    assert atom.cpus == ()  # empty `cpus` = no CPU, not "all CPUs"
    assert core_pmu_names(topo) == ["cpu_core", "cpu_atom"]
    assert topo.is_heterogeneous  # perf: more than one core PMU
    assert topo.pmu("cpu_core").cpus == tuple(range(16))
    for c in topo.cpus:
        if c.cpu < 16:
            assert c.online and c.core_pmu == "cpu_core"
        else:
            assert not c.online and c.core_pmu is None
    assert topo.problems == ()


# --------------------------------------------------------------------------------------------
# 3. Arrow Lake H


def test_arrow_lake_h_three_core_types(tmp_path: Path) -> None:
    root = trees.build_arrow_lake_h(tmp_path)
    topo = load_topology(root)
    assert core_pmu_names(topo) == ["cpu_core", "cpu_atom", "cpu_lowpower"]
    assert topo.pmu("cpu_core").type == 4
    for name in ("cpu_atom", "cpu_lowpower"):
        assert topo.pmu(name).type == file_type(root, name)
    expected = {
        range(0, 6): ("cpu_core", "performance", 0),
        range(6, 14): ("cpu_atom", "efficiency", 1),
        range(14, 16): ("cpu_lowpower", "low-power efficiency", 2),
    }
    for cpus, (pmu, label, rank) in expected.items():
        assert topo.pmu(pmu).cpus == tuple(cpus)
        for n in cpus:
            c = topo.cpu(n)
            assert c.core_pmu == pmu
            assert (c.core_type.pmu, c.core_type.label, c.core_type.rank) == (pmu, label, rank)
    assert topo.pmu("cpu_core").formats["umask2"].bits == tuple(range(40, 48))


# --------------------------------------------------------------------------------------------
# 4. RK3399


@pytest.mark.parametrize(("a53", "a72"), [(8, 9), (7, 8)])  # Zyngier's dump; ROC-RK3399-PC
def test_rk3399(a53: int, a72: int, tmp_path: Path) -> None:
    root = trees.build_rk3399(tmp_path, a53_type=a53, a72_type=a72)
    topo = load_topology(root)
    assert topo.pmu("armv8_cortex_a53").type == file_type(root, "armv8_cortex_a53") == a53
    assert topo.pmu("armv8_cortex_a72").type == file_type(root, "armv8_cortex_a72") == a72
    # Bigger capacity first, even though a53 sorts first by name and by type.
    assert core_pmu_names(topo) == ["armv8_cortex_a72", "armv8_cortex_a53"]
    assert topo.is_heterogeneous
    for c in topo.cpus:
        if c.cpu < 4:
            assert c.core_pmu == "armv8_cortex_a53"
            assert (c.core_type.label, c.core_type.rank) == ("cortex_a53", 1)
            assert (c.capacity, c.midr, c.cluster) == (485, "0x00000000410fd034", 0)
        else:
            assert c.core_pmu == "armv8_cortex_a72"
            assert (c.core_type.label, c.core_type.rank) == ("cortex_a72", 0)
            assert (c.capacity, c.midr, c.cluster) == (1024, "0x00000000410fd082", 1)
        assert c.thread_siblings == (c.cpu,)
    assert topo.cpu(0).online  # Arm cpu0 has an online file saying 1


def test_rk3399_events_and_formats(tmp_path: Path) -> None:
    topo = load(trees.build_rk3399, tmp_path)
    for pmu in ("armv8_cortex_a53", "armv8_cortex_a72"):
        p = topo.pmu(pmu)
        assert "cycles" not in p.events  # Arm PMUs have no `cycles` alias
        assert p.events["cpu_cycles"].terms == "event=0x0011"
        assert word(config(topo, pmu, "cpu_cycles")) == 0x11
        assert word(config(topo, pmu, "inst_retired")) == 0x08
        assert p.formats["event"] == FormatField(word="config", bits=tuple(range(16)))
        assert p.formats["long"] == FormatField(word="config1", bits=(0,))
        assert p.formats["threshold"] == FormatField(word="config1", bits=tuple(range(5, 17)))
        enc = encode_alias("event=0x0011,long,threshold=0x5", p.formats)
        assert word(enc) == 0x11
        assert word(enc, "config1") == 1 | 5 << 5
        assert p.kind == PmuKind.CORE
    assert legacy_hybrid_config(0, topo.pmu("armv8_cortex_a53").type) == 8 << 32


def test_rk3399_offline_cpu_keeps_its_pmu(tmp_path: Path) -> None:
    topo = load(trees.build_rk3399_offline, tmp_path)
    c5 = topo.cpu(5)
    assert not c5.online
    assert topo.pmu("armv8_cortex_a72").cpus == (4, 5)  # Arm `cpus` = supported_cpus, static
    assert c5.core_pmu == "armv8_cortex_a72"
    assert c5.core_type.label == "cortex_a72" and c5.core_type.rank == 0
    assert c5.capacity == 1024
    assert topo.problems == ()


# --------------------------------------------------------------------------------------------
# 5. Three Arm clusters


def test_three_cluster_arm_ordered_by_capacity(tmp_path: Path) -> None:
    root = trees.build_three_cluster_arm(tmp_path)
    topo = load_topology(root)
    assert core_pmu_names(topo) == ["armv8_cortex_x2", "armv8_cortex_a710", "armv8_cortex_a510"]
    expected = {
        "armv8_cortex_x2": ((7,), "cortex_x2", 0, 1024),
        "armv8_cortex_a710": ((4, 5, 6), "cortex_a710", 1, 750),
        "armv8_cortex_a510": ((0, 1, 2, 3), "cortex_a510", 2, 250),
    }
    for pmu, (cpus, label, rank, capacity) in expected.items():
        assert topo.pmu(pmu).cpus == cpus
        assert topo.pmu(pmu).type == file_type(root, pmu)
        for n in cpus:
            c = topo.cpu(n)
            assert c.core_pmu == pmu
            assert (c.core_type.label, c.core_type.rank, c.capacity) == (label, rank, capacity)


# --------------------------------------------------------------------------------------------
# 6. Apple


def test_apple_m2(tmp_path: Path) -> None:
    root = trees.build_apple_m2(tmp_path)
    topo = load_topology(root)
    assert topo.pmu("apple_blizzard_pmu").type == file_type(root, "apple_blizzard_pmu") == 8
    assert topo.pmu("apple_avalanche_pmu").type == file_type(root, "apple_avalanche_pmu") == 9
    assert topo.pmu("apple_blizzard_pmu").cpus == (0, 1, 2, 3)
    assert topo.pmu("apple_avalanche_pmu").cpus == tuple(range(4, 10))
    assert core_pmu_names(topo) == ["apple_avalanche_pmu", "apple_blizzard_pmu"]
    assert topo.is_heterogeneous
    for c in topo.cpus:
        big = c.cpu >= 4
        assert c.core_pmu == ("apple_avalanche_pmu" if big else "apple_blizzard_pmu")
        assert c.core_type.rank == (0 if big else 1)
    labels = {c.core_type.label for c in topo.cpus}
    assert len(labels) == 2 and all(labels)
    assert word(config(topo, "apple_avalanche_pmu", "cycles")) == 0x02
    assert topo.pmu("apple_avalanche_pmu").base_name == "apple_avalanche_pmu"


def test_apple_m1(tmp_path: Path) -> None:
    topo = load(trees.build_apple_m1, tmp_path)
    assert core_pmu_names(topo) == ["apple_firestorm_pmu", "apple_icestorm_pmu"]
    for c in topo.cpus:
        assert c.core_pmu == ("apple_icestorm_pmu" if c.cpu < 4 else "apple_firestorm_pmu")


# --------------------------------------------------------------------------------------------
# 7. ACPI Arm server


def test_acpi_arm_server(tmp_path: Path) -> None:
    root = trees.build_acpi_arm_server(tmp_path)
    topo = load_topology(root)
    core = topo.pmu("armv8_pmuv3_0")
    assert core.type == file_type(root, "armv8_pmuv3_0") == 8
    assert core.is_core and core.cpus == tuple(range(160))
    # ACPI names are `<base>_<idx>`, one PMU per MIDR; perf's rule strips `_0`, but a core PMU
    # kept whole is accepted too.
    assert core.base_name in ("armv8_pmuv3", "armv8_pmuv3_0")
    assert core_pmu_names(topo) == ["armv8_pmuv3_0"]
    assert not topo.is_heterogeneous
    assert len(topo.cpus) == 160
    assert all(c.core_pmu == "armv8_pmuv3_0" for c in topo.cpus)
    assert {c.package for c in topo.cpus} == {0, 1}
    assert topo.cpu(79).package == 0 and topo.cpu(80).package == 1
    assert topo.cpu(159).midr == "0x00000000413fd0c1"
    for i, cpu in enumerate((0, 80)):
        cmn = topo.pmu(f"arm_cmn_{i}")
        assert cmn.kind == PmuKind.UNCORE and cmn.cpus == (cpu,) and cmn.base_name == "arm_cmn"
    assert set(topo.instance_groups()["arm_cmn"]) == {"arm_cmn_0", "arm_cmn_1"}
    # hex address suffix with more than 2 digits = instance
    assert set(topo.instance_groups()["smmuv3_pmcg"]) == {
        "smmuv3_pmcg_ff88840",
        "smmuv3_pmcg_ff8a840",
        "smmuv3_pmcg_ff8c840",
    }
    # a term literally named `type` (arm-cmn) is a format term like any other
    assert word(config(topo, "arm_cmn_0", "dtc_cycles")) == 0x3
    assert word(config(topo, "arm_cmn_1", "hnf_cache_miss")) == 0x1_0005


# --------------------------------------------------------------------------------------------
# 8. AMD Zen


def test_amd_zen(tmp_path: Path) -> None:
    root = trees.build_amd_zen(tmp_path)
    assert not (root / EVENT_SOURCE / "cpu" / "cpus").exists()
    topo = load_topology(root)
    cpu = topo.pmu("cpu")
    assert cpu.type == file_type(root, "cpu") == 4
    assert cpu.is_core and cpu.kind == PmuKind.CORE
    assert cpu.cpus == tuple(range(32))  # no cpus file: all online CPUs
    assert core_pmu_names(topo) == ["cpu"]
    assert not topo.is_heterogeneous
    assert all(c.core_pmu == "cpu" and c.core_type is not None for c in topo.cpus)
    assert topo.cpu(3).thread_siblings == (3, 19)
    assert cpu.formats["event"] == FormatField(word="config", bits=(*range(8), *range(32, 36)))
    assert word(config(topo, "cpu", "ls_high_event")) == 0x1_0000_00C2
    assert word(config(topo, "cpu", "cache-misses")) == 0x964
    assert word(config(topo, "cpu", "cpu-cycles")) == 0x76
    assert topo.pmu("amd_l3").cpus == (0, 4, 8, 12)
    assert topo.pmu("amd_l3").kind == PmuKind.UNCORE
    assert topo.pmu("amd_df").base_name == "amd_df"  # 2 hex digits: not an instance suffix
    assert set(topo.instance_groups()["amd_umc"]) == {f"amd_umc_{i}" for i in range(4)}
    for other in ("ibs_fetch", "ibs_op", "msr"):
        assert topo.pmu(other).kind == PmuKind.OTHER, other
    assert topo.pmu("ibs_op").caps == {"zen4_ibs_extensions": "1"}
    assert topo.pmu("power").events["energy-pkg"].unit == "Joules"


def test_amd_zen_core_pmu_without_cpus_covers_only_online(tmp_path: Path) -> None:
    topo = load(trees.build_amd_zen, tmp_path, offline=[15, 31])
    assert topo.pmu("cpu").cpus == tuple(n for n in range(32) if n not in (15, 31))
    assert not topo.cpu(31).online and not topo.cpu(15).online
    assert topo.cpu(14).core_pmu == "cpu"


# --------------------------------------------------------------------------------------------
# 9. s390


def test_s390(tmp_path: Path) -> None:
    root = trees.build_s390(tmp_path)
    topo = load_topology(root)
    types = {name: file_type(root, name) for name in ("cpum_sf", "cpum_cf", "cpum_cf_diag", "pai_crypto", "pai_ext")}
    assert types == {"cpum_sf": 4, "cpum_cf": 8, "cpum_cf_diag": 9, "pai_crypto": 10, "pai_ext": 11}
    for name, t in types.items():
        assert topo.pmu(name).type == t
    cf = topo.pmu("cpum_cf")
    assert cf.is_core and cf.kind == PmuKind.CORE  # core by name, no cpus file
    assert cf.cpus == (0, 1, 2, 3)
    assert cf.base_name == "cpum_cf"  # "cf" is only 2 hex digits: not split
    sf = topo.pmu("cpum_sf")
    assert not sf.is_core  # type 4 (RAW) does not make a core PMU; the name does
    assert core_pmu_names(topo) == ["cpum_cf"]
    assert all(c.core_pmu == "cpum_cf" for c in topo.cpus)
    groups = topo.instance_groups()
    assert "cpum" not in groups and "cpum_cf" not in groups
    assert topo.pmu("cpum_cf_diag").base_name == "cpum_cf_diag"
    assert word(config(topo, "cpum_cf", "INSTRUCTIONS")) == 1


# --------------------------------------------------------------------------------------------
# 10. Server with many uncore PMUs


def test_server_many_uncore(tmp_path: Path) -> None:
    topo = load(trees.build_server_many_uncore, tmp_path)
    assert topo.pmu("cpu").cpus == tuple(range(64))
    assert core_pmu_names(topo) == ["cpu"]
    assert topo.cpu(16).package == 1 and topo.cpu(32).package == 0
    assert topo.cpu(5).thread_siblings == (5, 37)
    groups = topo.instance_groups()
    assert set(groups["uncore_cha"]) == {f"uncore_cha_{i}" for i in range(40)}
    assert set(groups["uncore_imc"]) == {f"uncore_imc_{i}" for i in range(12)}
    assert set(groups["uncore_upi"]) == {f"uncore_upi_{i}" for i in range(3)}
    assert set(groups["uncore_iio"]) == {f"uncore_iio_{i}" for i in range(6)}
    assert set(groups["uncore_iio_free_running"]) == {f"uncore_iio_free_running_{i}" for i in range(6)}
    assert "uncore_pcu" not in groups and "uncore_ubox" not in groups
    assert topo.pmu("uncore_cha_39").cpus == (0, 16)
    assert all(topo.pmu(n).kind == PmuKind.UNCORE for names in groups.values() for n in names)
    cas = topo.pmu("uncore_imc_11").events["cas_count_read"]
    assert (cas.unit, cas.scale) == ("MiB", 6.103515625e-5)
    assert word(encode_alias(cas.terms, topo.pmu("uncore_imc_11").formats)) == 0xCF05
    cha_umask = topo.pmu("uncore_cha_0").formats["umask"]
    assert cha_umask.bits == (*range(8, 16), *range(32, 56))


def test_suffix_zoo(tmp_path: Path) -> None:
    topo = load(trees.build_suffix_zoo, tmp_path)
    expected_base = {
        "foo_0": "foo",
        "foo_17": "foo",
        "foo_abc": "foo",
        "dwc_rootport_1a018": "dwc_rootport",
        "dwc_rootport_2a018": "dwc_rootport",
        "amd_df": "amd_df",
        "bar_ab": "bar_ab",
        "cstate_pkg": "cstate_pkg",
        "baz_xyz": "baz_xyz",
        "qux_": "qux_",
        "uncore_iio_free_running_0": "uncore_iio_free_running",
        "uncore_iio_0": "uncore_iio",
    }
    for name, base in expected_base.items():
        assert perf_base_name(name) == base, name  # the reference agrees with the table
        assert topo.pmu(name).base_name == base, name
    groups = topo.instance_groups()
    assert set(groups["foo"]) == {"foo_0", "foo_17", "foo_abc"}
    assert set(groups["dwc_rootport"]) == {"dwc_rootport_1a018", "dwc_rootport_2a018"}
    for whole in ("amd_df", "bar_ab", "cstate_pkg", "baz_xyz", "qux_", "bar", "amd", "baz"):
        assert whole not in groups


# --------------------------------------------------------------------------------------------
# 11. This VM


def test_this_vm(tmp_path: Path) -> None:
    root = trees.build_this_vm(tmp_path)
    topo = load_topology(root)
    kinds = {p.name: p.kind for p in topo.pmus}
    assert kinds == {
        "software": PmuKind.SOFTWARE,
        "tracepoint": PmuKind.TRACEPOINT,
        "breakpoint": PmuKind.BREAKPOINT,
        "uprobe": PmuKind.UPROBE,
        "msr": PmuKind.OTHER,
    }
    assert {p.name: p.type for p in topo.pmus} == {
        "software": 1,
        "tracepoint": 2,
        "breakpoint": 5,
        "uprobe": 8,
        "msr": 9,
    }
    assert topo.core_pmus == ()
    assert not topo.is_heterogeneous
    assert [(c.cpu, c.online, c.core_pmu, c.core_type) for c in topo.cpus] == [
        (0, True, None, None),
        (1, True, None, None),
    ]
    up = topo.pmu("uprobe")
    assert up.formats["retprobe"] == FormatField(word="config", bits=(0,))
    assert up.formats["ref_ctr_offset"] == FormatField(word="config", bits=tuple(range(32, 64)))
    assert word(encode_alias("retprobe", up.formats)) == 1
    assert word(config(topo, "msr", "tsc")) == 0
    assert topo.pmu("msr").formats["event"].bits == tuple(range(64))
    assert topo.cpu(0).capacity == 1024


@pytest.mark.skipif(not Path("/sys/bus/event_source/devices").is_dir(), reason="no sysfs here")
def test_real_machine_loads() -> None:
    """Whatever this machine is, loading `/` never raises and types match the files."""
    topo = load_topology("/")
    real = Path("/sys/bus/event_source/devices")
    for pmu in topo.pmus:
        type_file = real / pmu.name / "type"
        if type_file.is_file():
            assert pmu.type == int(type_file.read_text()), pmu.name
    assert {c.cpu for c in topo.cpus if c.online} == set(
        parse_cpulist(Path("/sys/devices/system/cpu/online").read_text())
    )


# --------------------------------------------------------------------------------------------
# 12. Malformed trees


def test_missing_type(tmp_path: Path) -> None:
    topo = load(trees.build_missing_type, tmp_path)
    assert_problem(topo, "/broken", "/broken/type")
    broken = topo.pmu("broken")
    assert broken is None or broken.type is None
    assert_rest_loads(topo)


def test_non_numeric_type(tmp_path: Path) -> None:
    topo = load(trees.build_non_numeric_type, tmp_path)
    assert_problem(topo, "/badtype/type")
    bad = topo.pmu("badtype")
    assert bad is None or bad.type is None
    assert_rest_loads(topo)


def test_unreadable_type(tmp_path: Path) -> None:
    topo = load(trees.build_unreadable_type, tmp_path)
    assert_problem(topo, "/dirtype/type")
    bad = topo.pmu("dirtype")
    assert bad is None or bad.type is None
    assert_rest_loads(topo)


@pytest.mark.parametrize("text", trees.GARBAGE_CPULISTS)
def test_garbage_cpulist_parse_raises(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpulist(text)


@pytest.mark.parametrize("on", ["cpus", "cpumask"])
@pytest.mark.parametrize("text", trees.GARBAGE_CPULISTS)
def test_garbage_cpulist_in_tree(text: str, on: str, tmp_path: Path) -> None:
    topo = load(trees.build_garbage_cpulist, tmp_path, text=text, on=on)
    target = "cpu_bad/cpus" if on == "cpus" else "uncore_bad/cpumask"
    assert_problem(topo, "/" + target)
    assert_rest_loads(topo)
    # The garbage PMU, if kept, claims no CPU rather than some half-parsed set.
    bad = topo.pmu(target.split("/")[0])
    if bad is not None:
        assert bad.cpus == ()
    assert all(c.core_pmu == "cpu" for c in topo.cpus)
    # It never makes the machine look heterogeneous: one core type, the sane one.
    assert core_pmu_names(topo) == ["cpu"] and not topo.is_heterogeneous


def test_unknown_alias_term(tmp_path: Path) -> None:
    topo = load(trees.build_unknown_alias_term, tmp_path)
    assert_problem(topo, "/cpu/events/bogus-alias")
    cpu = topo.pmu("cpu")
    if "bogus-alias" in cpu.events:
        with pytest.raises(ValueError):
            encode_alias(cpu.events["bogus-alias"].terms, cpu.formats)
    assert word(config(topo, "cpu", "instructions")) == 0xC0
    assert_rest_loads(topo)


def test_bad_format_text_raises() -> None:
    with pytest.raises(ValueError):
        parse_format("config:60-70")
    with pytest.raises(ValueError):
        parse_format("config9:0-3")
    assert parse_format("config1:1,6-10,44\n") == FormatField(word="config1", bits=(1, 6, 7, 8, 9, 10, 44))


def test_bad_formats(tmp_path: Path) -> None:
    topo = load(trees.build_bad_formats, tmp_path)
    assert_problem(topo, "/cpu/format/wide")
    assert_problem(topo, "/cpu/format/weird")
    fmts = topo.pmu("cpu").formats
    assert "wide" not in fmts and "weird" not in fmts
    assert fmts["event"].bits == tuple(range(8))
    assert_rest_loads(topo)


def test_huge_file(tmp_path: Path) -> None:
    topo = load(trees.build_huge_file, tmp_path)
    assert_problem(topo, "/cpu/events/huge")
    huge = topo.pmu("cpu").events.get("huge")
    assert huge is None or len(huge.terms) < 1 << 20
    assert len(json.dumps(topo.to_json())) < 1 << 20
    assert_rest_loads(topo)


def test_dangling_symlinks(tmp_path: Path) -> None:
    topo = load(trees.build_dangling_symlinks, tmp_path)
    assert_problem(topo, "/ghost", "/ghost/type")
    assert topo.pmu("ghost") is None or topo.pmu("ghost").type is None
    assert_problem(topo, "/cpu/events/phantom")
    assert "phantom" not in topo.pmu("cpu").events
    assert_rest_loads(topo)


def test_empty_core_cpus(tmp_path: Path) -> None:
    topo = load(trees.build_empty_core_cpus, tmp_path)
    empty = topo.pmu("cpu_empty")
    assert empty.is_core and empty.kind == PmuKind.CORE
    assert empty.cpus == ()  # an empty cpus file is no CPU, not all CPUs
    assert set(core_pmu_names(topo)) == {"cpu", "cpu_empty"}
    assert all(c.core_pmu == "cpu" for c in topo.cpus)
    assert not [p for p in topo.problems if "cpu_empty" in p.path]
    assert_rest_loads(topo)


def test_cpu_without_topology(tmp_path: Path) -> None:
    topo = load(trees.build_cpu_without_topology, tmp_path)
    c1 = topo.cpu(1)
    assert c1 is not None and c1.online
    assert (c1.package, c1.die, c1.cluster, c1.core) == (None, None, None, None)
    assert c1.core_pmu == "cpu"
    assert topo.cpu(0).package == 0
    assert_rest_loads(topo)


@pytest.mark.parametrize(("size", "kept"), [(4096, True), (4097, False)])
def test_an_attribute_is_read_up_to_one_page(tmp_path: Path, size: int, kept: bool) -> None:
    root = trees.build_this_vm(tmp_path)
    trees.write(trees.pmu_dir(root, "software") / "events" / "padded", b"event=0x1" + b" " * (size - 9), newline=False)
    topo = load_topology(root)
    assert ("padded" in topo.pmu("software").events) is kept
    capped = [p for p in topo.problems if p.path.endswith("software/events/padded") and "larger than" in p.reason]
    assert bool(capped) is not kept


def test_topology_text_counts_in_words_and_types_as_ranges(tmp_path: Path) -> None:
    """`pmutop topology`'s text: "1 event", not "1 events"; a server's uncore instances' consecutive
    dynamic types as ranges, not a list of 40 numbers (newcomer trial on the 448-CPU tree)."""
    root = trees.build_server_448(tmp_path / "server")
    trees.add_pmu(root, trees.PmuSpec("one_event", 99, events={"only": "event=0x1"}))
    text = render_topology(load_topology(root))
    assert "1 event" in text and "1 events" not in text
    types = [line.rsplit("types ", 1)[1] for line in text.splitlines() if " instances, types " in line]
    assert types and all(part.count("-") <= 1 for listed in types for part in listed.split(","))
    assert any("-" in listed for listed in types)
