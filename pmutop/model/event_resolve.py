"""Parsed `-e` events resolved against a Topology into counters to open, per PMU.

Decisions follow perf (tools/perf/util/parse-events.c, pmus.c):
- a legacy hardware or cache event without a PMU opens on every core PMU (hybrid expansion), with
  the same encoding choice as cycles: PERF_TYPE_HARDWARE/HW_CACHE with the PMU type in config bits
  32-63, else the PMU's own type with its `events/` alias; one core PMU takes the plain legacy type;
- a bare name that is no legacy event is looked up among every PMU's `events/` aliases and opens on
  each PMU that has it;
- `rNNNN` opens on every core PMU with the PMU's own type (RAW's config cannot carry a PMU type);
- `pmu/terms/` packs each term through the PMU's `format/` files; a PMU name also matches its
  numbered instances, and ignores perf's `uncore_` and `cpu_` prefixes;
- members of one `{}` group that land on different PMUs are split per PMU (the kernel rejects
  mixed groups), as perf regroups them.
"""

import difflib
import fnmatch
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from pmutop.model.encoding import CONFIG_WORDS, PMU_TYPE_SHIFT
from pmutop.model.event_syntax import (
    Event,
    EventGroup,
    Modifiers,
    NamedEvent,
    PmuEvent,
    RawEvent,
    Term,
    TracepointEvent,
)
from pmutop.model.perf_abi import EventType, HardwareEvent, SoftwareEvent, config_attr
from pmutop.model.plan import CounterSpec, GroupPlan, alias_config, event_tag
from pmutop.model.samples import Encoding, GroupRole
from pmutop.model.topology import Pmu, PmuKind, Topology, per_pmu_name, pmu_base_name

# tools/perf/util/parse-events.c event_symbols_hw: name → PERF_COUNT_HW_* (with perf's synonyms).
HARDWARE_EVENTS = {
    "cpu-cycles": HardwareEvent.CPU_CYCLES,
    "cycles": HardwareEvent.CPU_CYCLES,
    "instructions": HardwareEvent.INSTRUCTIONS,
    "cache-references": HardwareEvent.CACHE_REFERENCES,
    "cache-misses": HardwareEvent.CACHE_MISSES,
    "branch-instructions": HardwareEvent.BRANCH_INSTRUCTIONS,
    "branches": HardwareEvent.BRANCH_INSTRUCTIONS,
    "branch-misses": HardwareEvent.BRANCH_MISSES,
    "bus-cycles": HardwareEvent.BUS_CYCLES,
    "stalled-cycles-frontend": HardwareEvent.STALLED_CYCLES_FRONTEND,
    "idle-cycles-frontend": HardwareEvent.STALLED_CYCLES_FRONTEND,
    "stalled-cycles-backend": HardwareEvent.STALLED_CYCLES_BACKEND,
    "idle-cycles-backend": HardwareEvent.STALLED_CYCLES_BACKEND,
    "ref-cycles": HardwareEvent.REF_CPU_CYCLES,
}
# The sysfs alias spellings of each hardware id, for PMUs that refuse the extended type.
HARDWARE_ALIASES: dict[int, tuple[str, ...]] = {
    HardwareEvent.CPU_CYCLES: ("cpu-cycles", "cycles", "cpu_cycles"),
    HardwareEvent.INSTRUCTIONS: ("instructions", "inst_retired"),
    HardwareEvent.CACHE_REFERENCES: ("cache-references",),
    HardwareEvent.CACHE_MISSES: ("cache-misses",),
    HardwareEvent.BRANCH_INSTRUCTIONS: ("branch-instructions", "branches", "br_retired"),
    HardwareEvent.BRANCH_MISSES: ("branch-misses", "br_mis_pred_retired", "br_mis_pred"),
    HardwareEvent.BUS_CYCLES: ("bus-cycles", "bus_cycles"),
    HardwareEvent.STALLED_CYCLES_FRONTEND: ("stalled-cycles-frontend", "stall_frontend"),
    HardwareEvent.STALLED_CYCLES_BACKEND: ("stalled-cycles-backend", "stall_backend"),
    HardwareEvent.REF_CPU_CYCLES: ("ref-cycles",),
}
# event_symbols_sw: name → PERF_COUNT_SW_*.
SOFTWARE_EVENTS = {
    "cpu-clock": SoftwareEvent.CPU_CLOCK,
    "task-clock": SoftwareEvent.TASK_CLOCK,
    "page-faults": SoftwareEvent.PAGE_FAULTS,
    "faults": SoftwareEvent.PAGE_FAULTS,
    "context-switches": SoftwareEvent.CONTEXT_SWITCHES,
    "cs": SoftwareEvent.CONTEXT_SWITCHES,
    "cpu-migrations": SoftwareEvent.CPU_MIGRATIONS,
    "migrations": SoftwareEvent.CPU_MIGRATIONS,
    "minor-faults": SoftwareEvent.PAGE_FAULTS_MIN,
    "major-faults": SoftwareEvent.PAGE_FAULTS_MAJ,
    "alignment-faults": SoftwareEvent.ALIGNMENT_FAULTS,
    "emulation-faults": SoftwareEvent.EMULATION_FAULTS,
    "dummy": SoftwareEvent.DUMMY,
    "bpf-output": SoftwareEvent.BPF_OUTPUT,
    "cgroup-switches": SoftwareEvent.CGROUP_SWITCHES,
}
# tools/perf/util/evsel.c evsel__hw_cache, evsel__hw_cache_op, evsel__hw_cache_result.
CACHE_TYPES = (
    ("L1-dcache", "l1-d", "l1d", "L1-data"),
    ("L1-icache", "l1-i", "l1i", "L1-instruction"),
    ("LLC", "L2"),
    ("dTLB", "d-tlb", "Data-TLB"),
    ("iTLB", "i-tlb", "Instruction-TLB"),
    ("branch", "branches", "bpu", "btb", "bpc"),
    ("node",),
)
CACHE_OPS = (("load", "loads", "read"), ("store", "stores", "write"), ("prefetch", "prefetches", "speculative-read"))
CACHE_RESULTS = (("refs", "Reference", "ops", "access"), ("misses", "miss"))
# evsel__is_cache_op_valid: which operations each cache has (bit per op: load 1, store 2, prefetch 4).
CACHE_VALID_OPS = (7, 5, 7, 7, 1, 1, 7)
# perf's tool events: read by perf itself, not from a kernel counter.
TOOL_EVENTS = ("duration_time", "user_time", "system_time", "num_cpus", "num_cpus_online")
# Qualifier terms that make sense only when sampling; pmutop counts.
SAMPLING_TERMS = (
    "period",
    "freq",
    "call-graph",
    "stack-size",
    "max-stack",
    "inherit",
    "no-inherit",
    "overwrite",
    "no-overwrite",
    "aux-output",
    "aux-sample-size",
    "branch_type",
    "time",
    "nr",
    "percore",
    "metric-id",
)


class EventError(ValueError):
    """An event that cannot be counted as written; one line, naming the closest known spellings."""


@dataclass(frozen=True, slots=True)
class EventCounter:
    """One event as it opens on one PMU.

    `label` names the figure on every CPU (the user's spelling, so a hybrid `branch-misses` is one
    column); `display` is perf's per-PMU name (`cpu_core/branch-misses/`). `specs` are the encodings
    to try: a legacy hardware event on a heterogeneous machine has two (extended, raw-alias) and takes
    the one cycles took on that PMU; `cpus` is None for "every CPU counted".
    """

    label: str
    display: str
    pmu: str
    specs: tuple[tuple[Encoding, CounterSpec], ...]
    cpus: tuple[int, ...] | None = None

    def spec_for(self, encoding: Encoding | None) -> CounterSpec:
        for candidate, spec in self.specs:
            if candidate is encoding:
                return spec
        return self.specs[0][1]


@dataclass(frozen=True, slots=True)
class EventGroupPlan:
    """Counters that open as one kernel group on one PMU (a lone event is a group of one)."""

    tag: str
    pmu: str
    counters: tuple[EventCounter, ...]

    @property
    def cpus(self) -> tuple[int, ...] | None:
        return self.counters[0].cpus

    @property
    def encodings(self) -> tuple[Encoding, ...]:
        seen: list[Encoding] = []
        for counter in self.counters:
            for encoding, _ in counter.specs:
                if encoding not in seen:
                    seen.append(encoding)
        return tuple(seen)

    def candidates(self) -> tuple[GroupPlan, ...]:
        """The group once per encoding its members can take, in the order to try them.

        Every member is optional: one the PMU lacks is n/a on its own, the rest of the group counts.
        """
        return tuple(
            GroupPlan(
                GroupRole.EVENTS,
                self.pmu,
                encoding,
                tuple(replace(counter.spec_for(encoding), optional=True) for counter in self.counters),
                tag=self.tag,
            )
            for encoding in self.encodings
        )


@dataclass(frozen=True, slots=True)
class _Flags:
    exclude_user: bool
    exclude_kernel: bool
    exclude_hv: bool
    exclude_idle: bool
    exclude_guest: bool
    pinned: bool


def _flags(modifiers: Modifiers, text: str) -> _Flags:
    unsupported = [
        (modifiers.precise or modifiers.max_precise, "p/P (precise sampling)"),
        (modifiers.sample_read, "S (leader sampling)"),
        (modifiers.weak, "W (weak group)"),
        (modifiers.exclusive, "e (exclusive)"),
        (modifiers.bpf, "b (BPF counters)"),
        (modifiers.retire_latency, "R (retire latency)"),
        (modifiers.exclude_host, "G (guest only)"),
    ]
    for present, what in unsupported:
        if present:
            raise EventError(
                f"{text}: modifier {what} is not supported by pmutop, which counts; supported: u k h I H D X"
            )
    return _Flags(
        exclude_user=modifiers.exclude_user,
        exclude_kernel=modifiers.exclude_kernel,
        exclude_hv=modifiers.exclude_hv,
        exclude_idle=modifiers.non_idle,
        exclude_guest=modifiers.exclude_guest,
        pinned=modifiers.pinned,
    )


def _spec(label: str, type_: int, words: Mapping[str, int], flags: _Flags) -> CounterSpec:
    # _Flags's fields are named as the attr's, so they are set by name, not copied one by one.
    return CounterSpec(label, config_attr(type_, words)).with_flags(**asdict(flags))


def cache_config(name: str) -> int | None:
    """perf's legacy cache name (`L1-dcache-load-misses`, `LLC-loads`) as a HW_CACHE config, or None."""
    lowered = name.lower()
    for cache_id, spellings in enumerate(CACHE_TYPES):
        for spelling in sorted(spellings, key=len, reverse=True):
            prefix = spelling.lower()
            if lowered != prefix and not lowered.startswith(prefix + "-"):
                continue
            rest = lowered[len(prefix) + 1 :]
            op = result = None
            for part in _cache_parts(rest):
                found_op = _cache_index(CACHE_OPS, part)
                found_result = _cache_index(CACHE_RESULTS, part)
                if found_op is not None and op is None:
                    op = found_op
                elif found_result is not None and result is None:
                    result = found_result
                else:
                    return None
            op = 0 if op is None else op
            result = 0 if result is None else result
            if not CACHE_VALID_OPS[cache_id] >> op & 1:
                return None
            return cache_id | op << 8 | result << 16
    return None


def _cache_parts(rest: str) -> list[str]:
    """Split after the cache name, keeping the hyphenated `speculative-read` whole."""
    parts = rest.split("-") if rest else []
    joined: list[str] = []
    for part in parts:
        if joined and joined[-1] == "speculative":
            joined[-1] += "-" + part
        else:
            joined.append(part)
    return joined


def _cache_index(table: tuple[tuple[str, ...], ...], part: str) -> int | None:
    for index, spellings in enumerate(table):
        if part in (s.lower() for s in spellings):
            return index
    return None


def legacy_names() -> tuple[str, ...]:
    """Every legacy name perf knows, for suggestions (cache names in their documented spelling)."""
    cache = [
        name
        for cache_id, types in enumerate(CACHE_TYPES)
        for op, op_names in enumerate(CACHE_OPS)
        if CACHE_VALID_OPS[cache_id] >> op & 1
        for name in (f"{types[0]}-{op_names[1]}", f"{types[0]}-{op_names[0]}-{CACHE_RESULTS[1][0]}")
    ]
    return (*HARDWARE_EVENTS, *SOFTWARE_EVENTS, *cache)


def _legacy(name: str) -> tuple[int, int] | None:
    """(type, config) of a legacy name without a PMU type, or None."""
    if name in HARDWARE_EVENTS:
        return EventType.HARDWARE, HARDWARE_EVENTS[name]
    if name in SOFTWARE_EVENTS:
        return EventType.SOFTWARE, SOFTWARE_EVENTS[name]
    config = cache_config(name)
    if config is not None:
        return EventType.HW_CACHE, config
    return None


class Resolver:
    """Resolves parsed events on one topology; `tracepoints` maps `system:name` to its tracefs id."""

    def __init__(self, topology: Topology, tracepoints: Mapping[str, int] | None = None) -> None:
        self.topology = topology
        self.tracepoints = tracepoints if tracepoints is not None else {}

    # ------------------------------------------------------------------ entry point
    def resolve(self, groups: tuple[EventGroup, ...]) -> tuple[EventGroupPlan, ...]:
        plans: list[EventGroupPlan] = []
        seen: set[tuple[str, str]] = set()
        for index, group in enumerate(groups):
            counters: list[EventCounter] = []
            for event in group.events:
                counters += self.event(replace(event, modifiers=event.modifiers.merged(group.modifiers)))
            for counter in counters:
                if (counter.pmu, counter.label) in seen:
                    raise EventError(f"{counter.label}: given twice; name one with pmu/.../name=.../ to count it twice")
                seen.add((counter.pmu, counter.label))
            if not group.grouped:
                parts = [[counter] for counter in counters]
            else:
                by_pmu: dict[tuple[str, tuple[int, ...] | None], list[EventCounter]] = {}
                for counter in counters:
                    by_pmu.setdefault((counter.pmu, counter.cpus), []).append(counter)
                parts = list(by_pmu.values())
            plans += [
                EventGroupPlan(event_tag(index, number), members[0].pmu, tuple(members))
                for number, members in enumerate(parts)
            ]
        return tuple(plans)

    def event(self, event: Event) -> list[EventCounter]:
        text = event.text or _spell(event)
        flags = _flags(event.modifiers, text)
        if isinstance(event, TracepointEvent):
            return self._tracepoints(event, text, flags)
        if isinstance(event, RawEvent):
            return self._raw(event, text, flags)
        if isinstance(event, PmuEvent):
            return self._pmu_event(event, text, flags)
        return self._named(event, text, flags)

    # ------------------------------------------------------------------ kinds
    def _tracepoints(self, event: TracepointEvent, text: str, flags: _Flags) -> list[EventCounter]:
        pattern = f"{event.system}:{event.name}"
        if any(char in pattern for char in "*?["):
            names = sorted(name for name in self.tracepoints if fnmatch.fnmatchcase(name, pattern))
        else:
            names = [pattern] if pattern in self.tracepoints else []
        if not names:
            close = difflib.get_close_matches(pattern, list(self.tracepoints), n=3, cutoff=0.6)
            if not self.tracepoints:
                raise EventError(f"{text}: no tracepoints readable here (is tracefs mounted and readable?)")
            raise EventError(f"{text}: unknown tracepoint{_did_you_mean(close)}")
        mods = _modifier_suffix(event.modifiers)
        return [
            EventCounter(
                name + mods,
                name + mods,
                "tracepoint",
                (
                    (
                        Encoding.PMU_TYPE,
                        _spec(name + mods, EventType.TRACEPOINT, {"config": self.tracepoints[name]}, flags),
                    ),
                ),
            )
            for name in names
        ]

    def _core_pmus_or_placeholder(self) -> tuple[Pmu | None, ...]:
        return self.topology.core_pmus or (None,)

    def _raw(self, event: RawEvent, text: str, flags: _Flags) -> list[EventCounter]:
        counters = []
        for pmu in self._core_pmus_or_placeholder():
            type_ = pmu.type if pmu else EventType.RAW
            spec = _spec(text, type_, {"config": event.config}, flags)
            counters.append(self._core_counter(text, pmu, ((Encoding.PMU_TYPE, spec),)))
        return counters

    def _core_counter(
        self, label: str, pmu: Pmu | None, specs: tuple[tuple[Encoding, CounterSpec], ...]
    ) -> EventCounter:
        if pmu is None:
            return EventCounter(label, label, "", specs)
        return EventCounter(label, per_pmu_name(self.topology, label, pmu.name), pmu.name, specs, pmu.cpus)

    def _legacy_on_core(self, label: str, type_: int, config: int, flags: _Flags) -> list[EventCounter]:
        """A hardware or cache event on every core PMU, encoded as cycles would be."""
        counters = []
        for pmu in self._core_pmus_or_placeholder():
            specs: tuple[tuple[Encoding, CounterSpec], ...]
            if pmu is None or not self.topology.is_heterogeneous:
                specs = ((Encoding.HARDWARE, _spec(label, type_, {"config": config}, flags)),)
            else:
                extended = config | pmu.type << PMU_TYPE_SHIFT
                specs = ((Encoding.EXTENDED, _spec(label, type_, {"config": extended}, flags)),)
                alias = alias_config(pmu, HARDWARE_ALIASES.get(config, ())) if type_ == EventType.HARDWARE else None
                if alias is not None:
                    specs += ((Encoding.RAW_ALIAS, _spec(label, pmu.type, alias, flags)),)
            counters.append(self._core_counter(label, pmu, specs))
        return counters

    def _named(self, event: NamedEvent, text: str, flags: _Flags) -> list[EventCounter]:
        name = event.name
        label = name + _modifier_suffix(event.modifiers)
        legacy = _legacy(name)
        if legacy is not None:
            type_, config = legacy
            if type_ == EventType.SOFTWARE:
                spec = _spec(label, type_, {"config": config}, flags)
                return [EventCounter(label, label, "software", ((Encoding.PMU_TYPE, spec),))]
            return self._legacy_on_core(label, type_, config, flags)
        if name in TOOL_EVENTS:
            raise EventError(
                f"{text}: a perf tool event, read by perf itself rather than a kernel counter; "
                "`pmutop stat -- CMD` prints elapsed, user and sys times in its summary"
            )
        owners = [pmu for pmu in self.topology.pmus if name in pmu.events]
        # Several core PMUs with disjoint CPUs share one label (one column); anything else is named per PMU.
        per_pmu = len(owners) > 1 and not all(pmu.is_core for pmu in owners)
        counters = []
        for pmu in owners:
            display = f"{pmu.name}/{name}/{_modifier_suffix(event.modifiers)}"
            shown = per_pmu_name(self.topology, label, pmu.name)
            counters.append(self._alias_counter(pmu, name, display if per_pmu else label, shown, (), flags, text))
        if counters:
            return counters
        raise EventError(f"{text}: unknown event{_did_you_mean(self._close_names(name))}")

    def _pmu_event(self, event: PmuEvent, text: str, flags: _Flags) -> list[EventCounter]:
        pmus = self.match_pmus(event.pmu)
        if not pmus:
            legacy_or_alias = _legacy(event.pmu) is not None or any(event.pmu in p.events for p in self.topology.pmus)
            if legacy_or_alias:
                return self._qualified_event(event, text, flags)
            close = difflib.get_close_matches(event.pmu, [p.name for p in self.topology.pmus], n=3, cutoff=0.5)
            if not close:
                # Nothing alike (another machine's PMU): say which PMUs there are, core PMUs first.
                here = ", ".join(p.name for p in self.topology.pmus[:8])
                raise EventError(f"{text}: no PMU or event named {event.pmu!r}; PMUs here: {here}")
            raise EventError(f"{text}: no PMU or event named {event.pmu!r}{_did_you_mean(close)}")
        return [self._pmu_counter(pmu, event, text, flags) for pmu in pmus]

    def _qualified_event(self, event: PmuEvent, text: str, flags: _Flags) -> list[EventCounter]:
        """`instructions/cpu=0,cpu=2/`: an event with qualifier terms only (perf-list EVENT QUALIFIERS)."""
        cpus, name = self._qualifiers(event.terms, text, allowed=())
        counters = self._named(NamedEvent(event.pmu, event.modifiers, text), text, flags)
        restricted = [_restricted(counter, cpus, name) for counter in counters]
        # `instructions/cpu=0/` on a hybrid machine: only the core PMU that covers cpu0 opens it.
        kept = [counter for counter in restricted if counter.cpus != ()]
        if not kept:
            raise EventError(f"{text}: no PMU of {event.pmu!r} covers the CPUs given with cpu=")
        return kept

    def _qualifiers(
        self, terms: tuple[Term, ...], text: str, allowed: tuple[str, ...]
    ) -> tuple[tuple[int, ...] | None, str | None]:
        cpus: list[int] = []
        name = None
        for term in terms:
            if term.name == "cpu":
                cpus += self._cpu_term(term, text)
            elif term.name == "name":
                if not isinstance(term.value, str) or not term.value:
                    raise EventError(f"{text}: name= needs a name")
                name = term.value
            elif term.name not in allowed:
                raise EventError(f"{text}: term {term.name!r} is not a qualifier pmutop knows (cpu=, name=)")
        return (tuple(sorted(set(cpus))) if cpus else None), name

    def _cpu_term(self, term: Term, text: str) -> list[int]:
        value = term.value
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            pmu = self.topology.pmu(value)
            if pmu is not None:
                return list(pmu.cpus)
            first, sep, last = value.partition("-")
            if first.isdigit() and (not sep or last.isdigit()):
                return list(range(int(first), int(last if sep else first) + 1))
        raise EventError(f"{text}: cpu= takes a CPU, a range (1-2) or a PMU name, not {value!r}")

    def _pmu_counter(self, pmu: Pmu, event: PmuEvent, text: str, flags: _Flags) -> EventCounter:
        formats_and_aliases = [t for t in event.terms if t.name not in ("cpu", "name")]
        cpus, name = self._qualifiers(tuple(t for t in event.terms if t.name in ("cpu", "name")), text, allowed=())
        sampling = [t.name for t in formats_and_aliases if t.name in SAMPLING_TERMS]
        if sampling:
            raise EventError(f"{text}: term {sampling[0]!r} is for sampling or aggregation; pmutop counts")
        terms_text = ",".join(t.spell() for t in event.terms)
        label = name or f"{pmu.name}/{terms_text}/" + _modifier_suffix(event.modifiers)
        bare = [t for t in formats_and_aliases if t.value is None]
        # A lone bare term that is a legacy hardware name and no alias of this PMU: `cpu_atom/branch-misses/`.
        if len(formats_and_aliases) == 1 and bare and pmu.is_core and bare[0].name not in pmu.events:
            legacy = _legacy(bare[0].name)
            if legacy is not None and legacy[0] != EventType.SOFTWARE:
                counters = [c for c in self._legacy_on_core(label, legacy[0], legacy[1], flags) if c.pmu == pmu.name]
                return _restricted(replace(counters[0], display=label), cpus, None)
        counter = self._alias_counter(pmu, None, label, label, formats_and_aliases, flags, text)
        return _restricted(counter, cpus, None)

    def _alias_counter(
        self,
        pmu: Pmu,
        alias: str | None,
        label: str,
        display: str,
        terms: list[Term] | tuple[Term, ...],
        flags: _Flags,
        text: str,
    ) -> EventCounter:
        words: dict[str, int] = {}
        if alias is not None:
            words = self._alias_words_or_fail(pmu, alias, text)
        for term in terms:
            self._pack_term(pmu, term, words, text)
        spec = _spec(label, pmu.type, words, flags)
        cpus = pmu.cpus if pmu.kind in (PmuKind.CORE, PmuKind.UNCORE) else None
        return EventCounter(label, display, pmu.name, ((Encoding.PMU_TYPE, spec),), cpus)

    def _alias_words_or_fail(self, pmu: Pmu, alias: str, text: str) -> dict[str, int]:
        found = pmu.events[alias]
        if found.config is None:
            raise EventError(f"{text}: {pmu.name}/{alias}/ cannot be encoded: {found.encode_error}")
        return dict(found.config)

    def _pack_term(self, pmu: Pmu, term: Term, words: dict[str, int], text: str) -> None:
        name, value = term.name, term.value
        raw = _raw_term(name) if value is None else None
        if raw is not None:
            words["config"] = raw
            return
        if value is None and name in pmu.events:
            for word, bits in self._alias_words_or_fail(pmu, name, text).items():
                words[word] = words.get(word, 0) | bits
            return
        if isinstance(value, str):
            raise EventError(f"{text}: term {name}={value} needs a number")
        number = 1 if value is None else value
        if name in CONFIG_WORDS:
            if not 0 <= number < 1 << 64:
                raise EventError(f"{text}: {name}={number:#x} does not fit in 64 bits")
            words[name] = number
            return
        field = pmu.formats.get(name)
        if field is None:
            known = sorted({*pmu.formats, *pmu.events, *CONFIG_WORDS})
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise EventError(f"{text}: {pmu.name} has no term or event {name!r}{_did_you_mean(close)}")
        try:
            packed = field.pack(number)
        except ValueError as exc:
            raise EventError(f"{text}: {name}={number:#x}: {exc} ({field.describe()})") from None
        # A term replaces what an alias set in its bits (`cpu/event=0x3c,umask=0x1/` after an alias).
        mask = field.pack(field.max_value)
        words[field.word] = words.get(field.word, 0) & ~mask | packed

    # ------------------------------------------------------------------ lookups
    def match_pmus(self, name: str) -> list[Pmu]:
        """PMUs a user's PMU name means: exact, its numbered instances, then without uncore_/cpu_, then a glob."""
        exact = self.topology.pmu(name)
        if exact is not None:
            return [exact]
        pmus = self.topology.pmus
        instances = [p for p in pmus if pmu_base_name(p.name) == name]
        if instances:
            return instances
        stripped = [p for p in pmus if _without_prefix(pmu_base_name(p.name)) == name]
        if stripped:
            return stripped
        if any(char in name for char in "*?["):
            return [
                p
                for p in pmus
                if fnmatch.fnmatchcase(p.name, name) or fnmatch.fnmatchcase(_without_prefix(p.name), name)
            ]
        return []

    def _close_names(self, name: str) -> list[str]:
        known = set(legacy_names())
        for pmu in self.topology.pmus:
            known.update(pmu.events)
            known.update(f"{pmu.name}/{alias}/" for alias in pmu.events)
        known.update(self.tracepoints)
        lowered = {k.lower(): k for k in known}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=4, cutoff=0.6)
        return [lowered[c] for c in close]


def _without_prefix(name: str) -> str:
    for prefix in ("uncore_", "cpu_"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _raw_term(name: str) -> int | None:
    """`r1a8` / `r0x1a8` as a PMU term: the whole config."""
    if len(name) < 2 or name[0] != "r":
        return None
    digits = name[3:] if name.startswith("r0x") else name[1:]
    try:
        return int(digits, 16) if digits else None
    except ValueError:
        return None


def _restricted(counter: EventCounter, cpus: tuple[int, ...] | None, name: str | None) -> EventCounter:
    if name is not None:
        counter = replace(
            counter, label=name, display=name, specs=tuple((e, replace(s, name=name)) for e, s in counter.specs)
        )
    if cpus is None:
        return counter
    allowed = cpus if counter.cpus is None else tuple(c for c in cpus if c in counter.cpus)
    return replace(counter, cpus=allowed)


def _modifier_suffix(modifiers: Modifiers) -> str:
    return f":{modifiers.text}" if modifiers.text else ""


def _did_you_mean(close: list[str]) -> str:
    return f"; did you mean {', '.join(close)}?" if close else "; `pmutop topology` lists each PMU's events"


def _spell(event: Event) -> str:
    if isinstance(event, TracepointEvent):
        return f"{event.system}:{event.name}"
    if isinstance(event, RawEvent):
        return f"r{event.config:x}"
    if isinstance(event, PmuEvent):
        return f"{event.pmu}/{','.join(t.spell() for t in event.terms)}/"
    return event.name


def resolve_events(
    groups: tuple[EventGroup, ...], topology: Topology, tracepoints: Mapping[str, int] | None = None
) -> tuple[EventGroupPlan, ...]:
    """Counters to open for a parsed `-e` list; EventError for anything that cannot be counted as written."""
    return Resolver(topology, tracepoints).resolve(groups)
