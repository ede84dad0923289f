"""perf's event syntax: the examples in tools/perf/Documentation/perf-list.txt, resolution on fixture
topologies (hybrid expansion, encodings, errors), and properties of the parser."""

import contextlib

import pytest
import sysfs_trees
from hypothesis import given, settings
from hypothesis import strategies as st

from pmutop.live.topology_loader import load_topology
from pmutop.model.event_resolve import EventError, cache_config, resolve_events
from pmutop.model.event_syntax import (
    EventSyntaxError,
    NamedEvent,
    PmuEvent,
    RawEvent,
    Term,
    TracepointEvent,
    parse_event_list,
)
from pmutop.model.samples import Encoding

TRACEPOINTS = {"sched:sched_switch": 317, "sched:sched_wakeup": 318, "irq:irq_handler_entry": 40}


def only(text: str):
    groups = parse_event_list(text)
    assert len(groups) == 1 and len(groups[0].events) == 1
    return groups[0].events[0]


# ------------------------------------------------------------------ perf-list.txt examples
def test_raw_descriptors_from_perf_list():
    assert only("r1a8") == RawEvent(0x1A8, text="r1a8")
    assert only("r20000038f").config == 0x20000038F
    assert only("r076:p").modifiers.precise == 1
    assert only("r0C1:p").config == 0xC1


def test_raw_inside_pmu_syntax():
    assert only("cpu/r1a8/") == PmuEvent("cpu", (Term("r1a8"),), text="cpu/r1a8/")
    assert only("cpu/r0x1a8/").terms == (Term("r0x1a8"),)


def test_arbitrary_pmu_terms_and_quoted_name():
    event = only("cpu/event=0xa8,umask=0x1,name=LSD.UOPS_CYCLES,cmask=0x1/")
    assert event.terms == (Term("event", 0xA8), Term("umask", 1), Term("name", "LSD.UOPS_CYCLES"), Term("cmask", 1))
    quoted = only("cpu/event=0xa8,umask=0x1,cmask=0x1,name='LSD.UOPS_CYCLES:cmask=0x1'/")
    assert quoted.terms[-1] == Term("name", "LSD.UOPS_CYCLES:cmask=0x1")


def test_uncore_and_glob_pmu_names():
    groups = parse_event_list("uncore_imc_0/cas_count_read/,uncore_imc_0/cas_count_write/")
    assert [g.events[0].pmu for g in groups] == ["uncore_imc_0", "uncore_imc_0"]
    assert only("*imc*/cas_count_read/").pmu == "*imc*"
    assert only("power/energy-cores/").terms == (Term("energy-cores"),)


def test_parameterized_event_needs_a_value():
    assert only("hv_gpci/dtbp_ptitc,phys_processor_idx=0x2/").terms[1] == Term("phys_processor_idx", 2)
    with pytest.raises(EventSyntaxError, match="needs a value"):
        parse_event_list("hv_gpci/dtbp_ptitc,phys_processor_idx=?/")


def test_qualifiers_cpu_lists_and_pmu_reference():
    groups = parse_event_list("instructions/cpu=0,cpu=2/,cycles/cpu=1-2/")
    assert groups[0].events[0].terms == (Term("cpu", 0), Term("cpu", 2))
    assert groups[1].events[0].terms == (Term("cpu", "1-2"),)
    assert only("msr/tsc,cpu=cpu_core/").terms == (Term("tsc"), Term("cpu", "cpu_core"))
    assert only("cpu/event=0,umask=0x3,percore=1/").terms[-1] == Term("percore", 1)


def test_groups_and_leader_modifiers():
    (group,) = parse_event_list("{instructions,cycles}")
    assert group.grouped and [e.name for e in group.events] == ["instructions", "cycles"]
    (sampled,) = parse_event_list("{cycles,instructions}:S")
    assert sampled.modifiers.sample_read


def test_modifiers_as_perf_documents_them():
    assert only("cpu-cycles:p").modifiers.precise == 1
    assert only("cycles:ppp").modifiers.precise == 3
    mods = only("cycles:uk").modifiers
    assert (mods.exclude_user, mods.exclude_kernel, mods.exclude_hv) == (False, False, True)
    mods = only("cycles:u").modifiers
    assert (mods.exclude_user, mods.exclude_kernel, mods.exclude_hv) == (False, True, True)
    mods = only("cycles").modifiers
    assert (mods.exclude_user, mods.exclude_kernel, mods.exclude_hv) == (False, False, False)
    assert only("cycles:H").modifiers.exclude_guest
    assert only("cycles:G").modifiers.exclude_host
    # After a PMU event the colon is optional (ibs_op//p).
    assert only("ibs_op//pp").modifiers.precise == 2
    assert only("cpu/cycles/u").modifiers.user


def test_tracepoints_versus_modifiers():
    assert only("sched:sched_switch") == TracepointEvent("sched", "sched_switch", text="sched:sched_switch")
    assert only("sched:sched_switch:k").modifiers.kernel
    assert isinstance(only("cycles:k"), NamedEvent)
    assert only("sched:sched_*").name == "sched_*"


def test_named_events_keep_hyphens_and_dots():
    assert only("L1-dcache-load-misses") == NamedEvent("L1-dcache-load-misses", text="L1-dcache-load-misses")
    assert only("l1d.replacement").name == "l1d.replacement"
    groups = parse_event_list("branch-misses,cache-misses,page-faults,context-switches")
    assert [g.events[0].name for g in groups] == ["branch-misses", "cache-misses", "page-faults", "context-switches"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "empty event list"),
        ("cycles,", "expected an event name"),
        ("{cycles,instructions", "expected '}'"),
        ("cpu/event=0x3c", "expected '/'"),
        ("cpu/cycles/:z", "unknown modifier 'z'"),
        ("cycles:pppp", "precise level"),
        ("cpu/event=0xzz/", "bad number"),
        ("cpu/name='open/", "unterminated"),
        ("cycles instructions", "unexpected ' '"),
    ],
)
def test_syntax_errors_say_where(text, where):
    with pytest.raises(EventSyntaxError, match=where) as info:
        parse_event_list(text)
    assert "column" in str(info.value)


# ------------------------------------------------------------------ resolution
BUILDERS = {
    "alder_lake": sysfs_trees.build_alder_lake,
    "rk3399": sysfs_trees.build_rk3399,
    "arm_server": sysfs_trees.build_acpi_arm_server,
    "zen": sysfs_trees.build_amd_zen,
    "this_vm": sysfs_trees.build_this_vm,
}


def _topology_fixture(name, builder):
    @pytest.fixture(scope="module", name=name)
    def topology(tmp_path_factory):
        return load_topology(builder(tmp_path_factory.mktemp(name)))

    return topology


# One module-scoped fixture per fixture tree, named after it (`alder_lake`, `rk3399`, ...).
for _name, _builder in BUILDERS.items():
    globals()[_name] = _topology_fixture(_name, _builder)


def resolve(text, topology):
    return resolve_events(parse_event_list(text), topology, TRACEPOINTS)


def counters(text, topology):
    return [counter for plan in resolve(text, topology) for counter in plan.counters]


def test_unqualified_hardware_event_opens_on_every_core_pmu_like_cycles(alder_lake):
    found = counters("branch-misses", alder_lake)
    assert [(c.pmu, c.display, c.label) for c in found] == [
        ("cpu_core", "cpu_core/branch-misses/", "branch-misses"),
        ("cpu_atom", "cpu_atom/branch-misses/", "branch-misses"),
    ]
    for counter in found:
        pmu = alder_lake.pmu(counter.pmu)
        assert counter.cpus == pmu.cpus
        extended = counter.spec_for(Encoding.EXTENDED)
        assert (extended.attr.type, extended.attr.config) == (0, 5 | pmu.type << 32)
        alias = counter.spec_for(Encoding.RAW_ALIAS)
        assert (alias.attr.type, alias.attr.config) == (pmu.type, pmu.events["branch-misses"].config_words()["config"])


def test_arm_big_little_aliases_and_raw(rk3399):
    raw = counters("r08", rk3399)
    assert {(c.pmu, c.spec_for(None).attr.type, c.spec_for(None).attr.config) for c in raw} == {
        (p.name, p.type, 8) for p in rk3399.core_pmus
    }
    (a53,) = counters("armv8_cortex_a53/cpu_cycles/", rk3399)
    pmu = rk3399.pmu("armv8_cortex_a53")
    assert (a53.spec_for(None).attr.type, a53.spec_for(None).attr.config, a53.cpus) == (pmu.type, 0x11, pmu.cpus)
    inst = counters("inst_retired", rk3399)
    assert {c.pmu for c in inst} == {"armv8_cortex_a53", "armv8_cortex_a72"}
    assert {c.label for c in inst} == {"inst_retired"}


def test_acpi_instance_name_matches_without_suffix(arm_server):
    (counter,) = counters("armv8_pmuv3/inst_retired/", arm_server)
    assert counter.pmu == "armv8_pmuv3_0"
    # One core PMU: legacy events use plain PERF_TYPE_HARDWARE, as perf does.
    (cycles,) = counters("cycles", arm_server)
    assert cycles.specs[0][0] is Encoding.HARDWARE and cycles.display == "cycles"


def test_format_packing_split_fields_and_modifiers(zen):
    (counter,) = counters("cpu/event=0x1c2,umask=0x3/u", zen)
    spec = counter.spec_for(None)
    assert spec.attr.config == 0x1000000C2 | 0x3 << 8
    assert spec.attr.exclude_kernel and spec.attr.exclude_hv and not spec.attr.exclude_user


def test_every_config_word_reaches_the_attr(tmp_path):
    # Arm's SPE puts its inverted event filter in config3 (Linux 6.5+): a term there must be opened, not dropped.
    formats = {"ts_enable": "config:0", "min_latency": "config2:0-11", "inv_event_filter": "config3:0-63"}
    sysfs_trees.add_pmu(tmp_path, sysfs_trees.PmuSpec("arm_spe_0", 12, cpumask="0", formats=formats))
    topology = load_topology(sysfs_trees.build_acpi_arm_server(tmp_path))
    (counter,) = counters("arm_spe_0/ts_enable=1,min_latency=0x20,inv_event_filter=0x5/", topology)
    attr = counter.spec_for(None).attr
    assert (attr.type, attr.config, attr.config1, attr.config2, attr.config3) == (12, 1, 0, 0x20, 0x5)


def test_group_modifiers_reach_members_and_groups_split_per_pmu(alder_lake):
    plans = resolve("{cycles,instructions}:k", alder_lake)
    assert [(p.pmu, [c.label for c in p.counters]) for p in plans] == [
        ("cpu_core", ["cycles:k", "instructions:k"]),
        ("cpu_atom", ["cycles:k", "instructions:k"]),
    ]
    assert all(c.spec_for(None).attr.exclude_user for p in plans for c in p.counters)


def test_software_events_tracepoints_and_cache_events(this_vm):
    (cs,) = counters("cs", this_vm)
    assert (cs.pmu, cs.spec_for(None).attr.type, cs.spec_for(None).attr.config) == ("software", 1, 3)
    (switch,) = counters("sched:sched_switch", this_vm)
    assert (switch.spec_for(None).attr.type, switch.spec_for(None).attr.config) == (2, 317)
    assert [c.label for c in counters("sched:sched_*", this_vm)] == ["sched:sched_switch", "sched:sched_wakeup"]
    assert cache_config("L1-dcache-load-misses") == 0 | 0 << 8 | 1 << 16
    assert cache_config("LLC-stores") == 2 | 1 << 8
    assert cache_config("dTLB-prefetch-misses") == 3 | 2 << 8 | 1 << 16
    assert cache_config("iTLB-stores") is None  # perf: the iTLB has no write operation


def test_no_core_pmu_still_asks_the_kernel(this_vm):
    (counter,) = counters("branch-misses", this_vm)
    assert counter.pmu == "" and counter.spec_for(None).attr.type == 0


def test_qualifier_cpu_keeps_only_the_covering_core_pmu(alder_lake):
    (counter,) = counters("instructions/cpu=0/", alder_lake)
    assert counter.pmu == "cpu_core" and counter.cpus == (0,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brnch-misses", "did you mean branch-misses"),
        ("L1-dcach-loads", "did you mean L1-dcache-loads"),
        ("sched:sched_swich", "did you mean sched:sched_switch"),
        ("cpu_core/evnt=0x3c/", "did you mean event"),
        ("cpu_cor/event=0x3c/", "did you mean cpu_core"),
        ("cpu_core/event=0x1ff/", "does not fit"),
        ("cycles:p", "not supported by pmutop"),
        ("duration_time", "tool event"),
        ("cpu_core/event=0x3c,period=1000/", "sampling"),
        ("cycles,cycles", "given twice"),
    ],
)
def test_errors_name_the_closest_spellings(alder_lake, text, message):
    with pytest.raises(EventError, match=message):
        resolve(text, alder_lake)


def test_another_machines_pmu_is_answered_with_the_pmus_here(arm_server):
    with pytest.raises(EventError, match=r"no PMU or event named 'cpu_core'; PMUs here: armv8_pmuv3_0, "):
        resolve("cpu_core/event=0x3c/", arm_server)


def test_alias_missing_on_one_pmu_is_an_error_there_only(rk3399):
    with pytest.raises(EventError, match="armv8_cortex_a53 has no term or event"):
        resolve("armv8_cortex_a53/no_such_alias/", rk3399)


# ------------------------------------------------------------------ properties
_names = st.sampled_from(["cycles", "instructions", "branch-misses", "L1-dcache-loads", "cs", "r1a8", "msr/tsc/"])
_mods = st.sampled_from(["", ":u", ":k", ":uk", ":H", ":D"])
_simple = st.builds(lambda n, m: n + m, _names, _mods)
_item = st.one_of(_simple, st.lists(_simple, min_size=1, max_size=3).map(lambda xs: "{" + ",".join(xs) + "}"))


@given(st.lists(_item, min_size=1, max_size=5))
@settings(max_examples=200, deadline=None)
def test_any_list_of_valid_events_parses_to_one_group_per_item(items):
    assert len(parse_event_list(",".join(items))) == len(items)


@given(st.text(max_size=80))
@settings(max_examples=500, deadline=None)
def test_parser_never_fails_other_than_with_a_syntax_error(text):
    try:
        parse_event_list(text)
    except EventSyntaxError as exc:
        assert 0 <= exc.position <= max(len(text), 4096)


@given(st.text(alphabet="abcdefrxuk0123456789/,{}:=-_.'", max_size=40))
@settings(max_examples=500, deadline=None)
def test_resolution_fails_only_with_event_errors(text):
    with contextlib.suppress(EventSyntaxError, EventError):
        resolve_events(parse_event_list(text), _ADL, TRACEPOINTS)


def _adl():
    import tempfile
    from pathlib import Path

    return load_topology(sysfs_trees.build_alder_lake(Path(tempfile.mkdtemp(prefix="pmutop-adl-"))))


_ADL = _adl()
