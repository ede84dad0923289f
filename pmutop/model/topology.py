"""The PMU and CPU topology of a machine, built from the raw text of its sysfs files.

Decisions follow the perf tool (tools/perf/util/pmu.c, pmus.c) so that pmutop and `perf stat`
agree about which PMUs are core PMUs and which CPUs each covers:
- a PMU whose `type` is unreadable is not a PMU;
- a core PMU is named `cpu` or `cpum_cf`, or has a `cpus` file; several core PMUs mean a
  heterogeneous machine, and each CPU's core PMU is its core type;
- a PMU's CPUs come from `cpus`, else `cpumask`; a core PMU with neither covers all online CPUs,
  and an empty file means no CPU;
- `name_<decimal>` and `name_<hex of 3+ digits>` are instances of one PMU (so cpum_cf stays whole).
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.encoding import FormatField, encode_alias, parse_format

PMU_DIR = "sys/bus/event_source/devices"
CPU_DIR = "sys/devices/system/cpu"
_ALIAS_SIDE_FILES = (".unit", ".scale", ".per-pkg", ".snapshot")


class PmuKind(StrEnum):
    CORE = "core"
    UNCORE = "uncore"
    SOFTWARE = "software"
    TRACEPOINT = "tracepoint"
    BREAKPOINT = "breakpoint"
    KPROBE = "kprobe"
    UPROBE = "uprobe"
    OTHER = "other"


_KIND_BY_NAME = {
    "software": PmuKind.SOFTWARE,
    "tracepoint": PmuKind.TRACEPOINT,
    "breakpoint": PmuKind.BREAKPOINT,
    "kprobe": PmuKind.KPROBE,
    "uprobe": PmuKind.UPROBE,
}
_KIND_ORDER = {kind: index for index, kind in enumerate(PmuKind)}
_CORE_BY_NAME = ("cpu", "cpum_cf")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the tree that is not as the ABI says; `path` is relative to the root."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventAlias:
    """An `events/<name>` file: its terms, and the config words they encode to on this PMU."""

    name: str
    terms: str
    unit: str | None = None
    scale: float | None = None
    config: tuple[tuple[str, int], ...] | None = None
    # Why `config` is None: an unknown term, or a term that needs a value from the user.
    encode_error: str | None = None

    def config_words(self) -> dict[str, int] | None:
        return dict(self.config) if self.config is not None else None


@dataclass(frozen=True, slots=True)
class CoreType:
    """A kind of core, named by the core PMU that covers it; rank 0 is the biggest cores."""

    pmu: str
    label: str
    rank: int


@dataclass(frozen=True, slots=True)
class Pmu:
    name: str
    type: int
    kind: PmuKind
    cpus: tuple[int, ...]
    caps: dict[str, str]
    events: dict[str, EventAlias]
    formats: dict[str, FormatField]
    base_name: str
    # Where `cpus` came from: "cpus", "cpumask", or "online" for a core PMU with neither file.
    cpus_source: str

    @property
    def is_core(self) -> bool:
        return self.kind is PmuKind.CORE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": str(self.kind),
            "cpus": list(self.cpus),
            "cpus_source": self.cpus_source,
            "caps": dict(self.caps),
            "events": {
                alias.name: {
                    "terms": alias.terms,
                    "unit": alias.unit,
                    "scale": alias.scale,
                    "config": alias.config_words(),
                }
                for alias in self.events.values()
            },
            "formats": {name: fmt.describe() for name, fmt in self.formats.items()},
            "base_name": self.base_name,
            "is_core": self.is_core,
        }


@dataclass(frozen=True, slots=True)
class Cpu:
    cpu: int
    online: bool
    core_pmu: str | None
    core_type: CoreType | None
    package: int | None
    die: int | None
    cluster: int | None
    core: int | None
    thread_siblings: tuple[int, ...]
    capacity: int | None
    midr: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "online": self.online,
            "core_pmu": self.core_pmu,
            "core_type": self.core_type.label if self.core_type else None,
            "package": self.package,
            "die": self.die,
            "cluster": self.cluster,
            "core": self.core,
            "thread_siblings": list(self.thread_siblings),
            "capacity": self.capacity,
            "midr": self.midr,
        }


@dataclass(frozen=True, slots=True)
class MachineFacts:
    """What the kernel said about itself alongside the tree, where the source has it."""

    kernel: str | None
    hostname: str | None
    perf_event_paranoid: int | None


@dataclass(frozen=True)
class Topology:
    pmus: tuple[Pmu, ...]
    cpus: tuple[Cpu, ...]
    problems: tuple[Problem, ...]
    core_types: tuple[CoreType, ...]
    machine: MachineFacts
    source: str = "/"
    # Lookups by name and number, filled once in __post_init__ (the dataclass is frozen).
    _pmu_by_name: dict[str, Pmu] = field(init=False, repr=False, compare=False)
    _cpu_by_number: dict[int, Cpu] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pmu_by_name", {pmu.name: pmu for pmu in self.pmus})
        object.__setattr__(self, "_cpu_by_number", {cpu.cpu: cpu for cpu in self.cpus})

    @property
    def core_pmus(self) -> tuple[Pmu, ...]:
        """Core PMUs in core-type order, biggest cores first."""
        return tuple(self._pmu_by_name[t.pmu] for t in self.core_types)

    @property
    def is_heterogeneous(self) -> bool:
        return len(self.core_types) > 1

    @property
    def online_cpus(self) -> tuple[int, ...]:
        return tuple(cpu.cpu for cpu in self.cpus if cpu.online)

    def pmu(self, name: str) -> Pmu | None:
        return self._pmu_by_name.get(name)

    def cpu(self, number: int) -> Cpu | None:
        return self._cpu_by_number.get(number)

    def core_type_of(self, cpu: int) -> CoreType | None:
        found = self.cpu(cpu)
        return found.core_type if found else None

    def instance_groups(self) -> dict[str, tuple[str, ...]]:
        """Base name → instance names, for PMUs that come in numbered instances (uncore_imc_0..N)."""
        groups: dict[str, list[str]] = {}
        for pmu in self.pmus:
            if pmu.base_name != pmu.name:
                groups.setdefault(pmu.base_name, []).append(pmu.name)
        return {base: tuple(names) for base, names in sorted(groups.items())}

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": {
                "kernel": self.machine.kernel,
                "hostname": self.machine.hostname,
                "perf_event_paranoid": self.machine.perf_event_paranoid,
            },
            "core_pmus": [pmu.name for pmu in self.core_pmus],
            "heterogeneous": self.is_heterogeneous,
            "pmus": [pmu.to_json() for pmu in self.pmus],
            "instance_groups": {base: list(names) for base, names in self.instance_groups().items()},
            "cpus": [cpu.to_json() for cpu in self.cpus],
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def per_pmu_name(topology: Topology, label: str, pmu: str) -> str:
    """perf's name for an event on one of several core PMUs: `cpu_core/branch-misses/`, `cpu_atom/cycles/u`."""
    found = topology.pmu(pmu)
    if "/" in label or found is None or not found.is_core or not topology.is_heterogeneous:
        return label
    name, _, modifiers = label.partition(":")
    return f"{pmu}/{name}/{modifiers}"


def pmu_base_name(name: str) -> str:
    """perf's pmu_name_len_no_suffix: strip `_<decimal>` or `_<hex with more than 2 digits>`."""
    end = len(name)
    has_hex_letters = False
    while end > 0 and name[end - 1] in "0123456789abcdefABCDEF":
        if not name[end - 1].isdigit():
            has_hex_letters = True
        end -= 1
    if 0 < end < len(name) and name[end - 1] == "_" and (not has_hex_letters or len(name) - end > 2):
        return name[: end - 1]
    return name


# Intel hybrid core PMUs have fixed names; Apple's (Asahi) encode the core family in the name.
_INTEL_CORE_LABELS = {"cpu_core": "performance", "cpu_atom": "efficiency", "cpu_lowpower": "low-power efficiency"}
_APPLE_EFFICIENCY = ("icestorm", "blizzard", "sawtooth")
_APPLE_PERFORMANCE = ("firestorm", "avalanche", "everest")
_ARM_PREFIX = re.compile(r"^armv[0-9]+_")


def _core_label(name: str) -> tuple[int, str]:
    """A class rank (lower = bigger cores) and a human label for a core PMU name."""
    if name in _INTEL_CORE_LABELS:
        return list(_INTEL_CORE_LABELS).index(name), _INTEL_CORE_LABELS[name]
    if name.startswith("apple_"):
        if any(family in name for family in _APPLE_PERFORMANCE):
            return 0, "performance"
        if any(family in name for family in _APPLE_EFFICIENCY):
            return 1, "efficiency"
    return 0, _ARM_PREFIX.sub("", name)


class _Builder:
    def __init__(self, files: dict[str, str], errors: dict[str, str]) -> None:
        self.files = files
        self.problems = [Problem(path, reason) for path, reason in sorted(errors.items())]

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def text(self, path: str) -> str | None:
        value = self.files.get(path)
        return value.strip() if value is not None else None

    def integer(self, path: str) -> int | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            return int(value, 0)
        except ValueError:
            self.problem(path, f"not a number: {value[:40]!r}")
            return None

    def cpulist(self, path: str) -> tuple[int, ...] | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            return parse_cpulist(value)
        except ValueError as exc:
            self.problem(path, f"garbage cpulist {value[:40]!r}: {exc}")
            return None

    def listing(self, directory: str) -> list[str]:
        prefix = directory + "/"
        return sorted(
            name[len(prefix) :] for name in self.files if name.startswith(prefix) and "/" not in name[len(prefix) :]
        )


def _read_formats(builder: _Builder, pmu_rel: str) -> dict[str, FormatField]:
    formats = {}
    for name in builder.listing(f"{pmu_rel}/format"):
        path = f"{pmu_rel}/format/{name}"
        try:
            formats[name] = parse_format(builder.files[path])
        except ValueError as exc:
            builder.problem(path, str(exc))
    return formats


def _read_events(builder: _Builder, pmu_rel: str, formats: dict[str, FormatField]) -> dict[str, EventAlias]:
    names = builder.listing(f"{pmu_rel}/events")
    events = {}
    for name in names:
        if name.endswith(_ALIAS_SIDE_FILES):
            continue
        path = f"{pmu_rel}/events/{name}"
        terms = builder.files[path].strip()
        unit = builder.text(f"{path}.unit")
        scale_text = builder.text(f"{path}.scale")
        scale = None
        if scale_text is not None:
            try:
                scale = float(scale_text)
            except ValueError:
                builder.problem(f"{path}.scale", f"not a number: {scale_text[:40]!r}")
        config, encode_error = None, None
        try:
            config = tuple(sorted(encode_alias(terms, formats).items()))
        except ValueError as exc:
            encode_error = str(exc)
            # `param=?` aliases are legitimate: they wait for a value from the user.
            if "needs a value" not in encode_error:
                builder.problem(path, f"cannot encode {terms[:60]!r}: {encode_error}")
        events[name] = EventAlias(name, terms, unit or None, scale, config, encode_error)
    return events


def _classify(name: str, has_cpus_file: bool, has_cpumask_file: bool) -> PmuKind:
    if name in _KIND_BY_NAME:
        return _KIND_BY_NAME[name]
    if name in _CORE_BY_NAME or has_cpus_file:
        return PmuKind.CORE
    if has_cpumask_file:
        return PmuKind.UNCORE
    return PmuKind.OTHER


def build_topology(
    files: dict[str, str],
    errors: dict[str, str],
    pmu_names: tuple[str, ...],
    cpu_names: tuple[str, ...],
    source: str = "/",
) -> Topology:
    """Interpret raw sysfs text. Never raises for bad input: each defect becomes a Problem."""
    builder = _Builder(files, errors)
    cpus_raw = _read_cpus(builder, cpu_names)
    online = tuple(raw.number for raw in cpus_raw if raw.online)
    known_cpus = {raw.number for raw in cpus_raw}

    pmus: list[Pmu] = []
    # Core PMUs whose CPU list could not be parsed: they cover no CPU and are no core type.
    unparseable: set[str] = set()
    for name in pmu_names:
        rel = f"{PMU_DIR}/{name}"
        pmu_type = builder.integer(f"{rel}/type")
        # attr.type is a u32: anything outside it cannot be opened.
        if pmu_type is not None and not 0 <= pmu_type <= 0xFFFFFFFF:
            builder.problem(f"{rel}/type", f"type {pmu_type} is outside the 32-bit perf type range")
            pmu_type = None
        if pmu_type is None:
            # perf reads `type` first and skips the PMU when it cannot: nothing could open it.
            builder.problem(rel, "skipped: no usable perf type")
            continue
        has_cpus, has_cpumask = f"{rel}/cpus" in files, f"{rel}/cpumask" in files
        kind = _classify(name, has_cpus, has_cpumask)
        cpus_source = "cpus" if has_cpus else "cpumask" if has_cpumask else "none"
        cpus = builder.cpulist(f"{rel}/{cpus_source}") if cpus_source != "none" else None
        if cpus is None:
            cpus = ()
            if kind is PmuKind.CORE and cpus_source == "none":
                cpus, cpus_source = online, "online"
            elif kind is PmuKind.CORE:
                unparseable.add(name)
                builder.problem(f"{rel}/{cpus_source}", "unparseable: this core PMU covers no CPU and is no core type")
        unknown = sorted(set(cpus) - known_cpus) if known_cpus else []
        if unknown:
            builder.problem(
                f"{rel}/{cpus_source}", f"lists CPUs that do not exist here ({format_cpulist(unknown)}); ignored"
            )
            cpus = tuple(c for c in cpus if c in known_cpus)
        formats = _read_formats(builder, rel)
        pmus.append(
            Pmu(
                name=name,
                type=pmu_type,
                kind=kind,
                cpus=cpus,
                caps={n: builder.files[f"{rel}/caps/{n}"].strip() for n in builder.listing(f"{rel}/caps")},
                events=_read_events(builder, rel, formats),
                formats=formats,
                base_name=name if kind is PmuKind.CORE else pmu_base_name(name),
                cpus_source=cpus_source,
            )
        )

    core_types = _rank_core_types([p for p in pmus if p.is_core and p.name not in unparseable], cpus_raw)
    cpu_rows = _assign_core_pmus(builder, cpus_raw, pmus, core_types)
    core_rank = {t.pmu: t.rank for t in core_types}
    pmus.sort(key=lambda p: (core_rank.get(p.name, len(core_rank)), _KIND_ORDER[p.kind], p.base_name, p.type, p.name))
    return Topology(
        pmus=tuple(pmus),
        cpus=cpu_rows,
        problems=tuple(builder.problems),
        core_types=core_types,
        machine=MachineFacts(
            kernel=builder.text("proc/sys/kernel/osrelease"),
            hostname=builder.text("proc/sys/kernel/hostname"),
            perf_event_paranoid=builder.integer("proc/sys/kernel/perf_event_paranoid"),
        ),
        source=source,
    )


@dataclass(frozen=True, slots=True)
class _RawCpu:
    number: int
    online: bool
    rel: str
    capacity: int | None


def _read_cpus(builder: _Builder, cpu_names: tuple[str, ...]) -> list[_RawCpu]:
    """Every possible CPU, with its online state and capacity."""
    online_list = builder.cpulist(f"{CPU_DIR}/online")
    possible = builder.cpulist(f"{CPU_DIR}/possible") or ()
    numbers = sorted({int(name[3:]) for name in cpu_names} | set(possible))
    result = []
    for number in numbers:
        rel = f"{CPU_DIR}/cpu{number}"
        flag = builder.text(f"{rel}/online")
        if flag in ("0", "1"):
            is_online = flag == "1"
        else:
            if flag is not None:
                builder.problem(f"{rel}/online", f"expected 0 or 1, got {flag[:20]!r}")
            # cpu0 on x86 has no `online` file (it cannot be unplugged): trust the global list,
            # and without one, a CPU directory that exists.
            is_online = number in online_list if online_list is not None else f"cpu{number}" in cpu_names
        result.append(_RawCpu(number, is_online, rel, builder.integer(f"{rel}/cpu_capacity")))
    return result


def _rank_core_types(core_pmus: list[Pmu], cpus_raw: list[_RawCpu]) -> tuple[CoreType, ...]:
    capacity = {raw.number: raw.capacity for raw in cpus_raw}

    def sort_key(pmu: Pmu) -> tuple[int, int, str]:
        class_rank, _ = _core_label(pmu.name)
        biggest = max((capacity.get(c) or 0 for c in pmu.cpus), default=0)
        return class_rank, -biggest, pmu.name

    ordered = sorted(core_pmus, key=sort_key)
    return tuple(CoreType(pmu=p.name, label=_core_label(p.name)[1], rank=i) for i, p in enumerate(ordered))


def _assign_core_pmus(
    builder: _Builder,
    cpus_raw: list[_RawCpu],
    pmus: list[Pmu],
    core_types: tuple[CoreType, ...],
) -> tuple[Cpu, ...]:
    by_name = {p.name: p for p in pmus}
    owner: dict[int, CoreType] = {}
    for ranked in core_types:
        for cpu in by_name[ranked.pmu].cpus:
            if cpu in owner:
                builder.problem(
                    f"{PMU_DIR}/{ranked.pmu}/cpus",
                    f"cpu{cpu} is also covered by {owner[cpu].pmu}; kept {owner[cpu].pmu}",
                )
                continue
            owner[cpu] = ranked
    # A lone core PMU without a CPU list (x86 `cpu`, s390 `cpum_cf`) owns every CPU, offline too.
    lone = core_types[0] if len(core_types) == 1 and by_name[core_types[0].pmu].cpus_source == "online" else None
    cpus = []
    for raw in cpus_raw:
        rel = raw.rel
        core_type: CoreType | None = owner.get(raw.number, lone)
        cpus.append(
            Cpu(
                cpu=raw.number,
                online=raw.online,
                core_pmu=core_type.pmu if core_type else None,
                core_type=core_type,
                package=builder.integer(f"{rel}/topology/physical_package_id"),
                die=builder.integer(f"{rel}/topology/die_id"),
                cluster=builder.integer(f"{rel}/topology/cluster_id"),
                core=builder.integer(f"{rel}/topology/core_id"),
                thread_siblings=builder.cpulist(f"{rel}/topology/thread_siblings_list") or (),
                capacity=raw.capacity,
                midr=builder.text(f"{rel}/regs/identification/midr_el1"),
            )
        )
    return tuple(cpus)
