"""-e events through the rate model: per-CPU figures, per core PMU sums, coverage, and n/a on one PMU only."""

import errno
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sysfs_trees

from pmutop.live.topology_loader import load_topology
from pmutop.model.rates import RateModel
from pmutop.model.samples import CounterFailure, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import event_metric

ENOENT = CounterFailure(errno.ENOENT, "ENOENT", "branch-misses on cpu_atom: not supported (ENOENT)")


@pytest.fixture(scope="module")
def alder_lake(tmp_path_factory):
    return load_topology(sysfs_trees.build_alder_lake(tmp_path_factory.mktemp("adl")))


def layouts(topology):
    result = []
    for cpu in topology.online_cpus:
        pmu = topology.cpu(cpu).core_pmu
        key = f"cpu{cpu}/events/{pmu}/e0"
        if pmu == "cpu_core":
            result.append(GroupLayout(key, cpu, GroupRole.EVENTS, pmu, Encoding.EXTENDED, ("branch-misses",)))
        else:
            result.append(GroupLayout(key, cpu, GroupRole.EVENTS, pmu, None, (), failures=(("branch-misses", ENOENT),)))
        result.append(GroupLayout(f"cpu{cpu}/events/software/e1", cpu, GroupRole.EVENTS, "software", None, ("cs",)))
    return tuple(result)


def tick(topology, index, scale):
    reads = {}
    for cpu in topology.online_cpus:
        if topology.cpu(cpu).core_pmu == "cpu_core":
            # Half the time on the counter: the count is scaled up 2x, coverage 50%.
            reads[f"cpu{cpu}/events/cpu_core/e0"] = GroupRead(1000 * scale, 500 * scale, (100 * scale,), 1)
        reads[f"cpu{cpu}/events/software/e1"] = GroupRead(1000 * scale, 1000 * scale, (7 * scale,), 1)
    return RawTick(index, index * 10**9, float(index), reads, {}, frozenset(topology.online_cpus))


def test_events_per_cpu_per_core_pmu_and_in_total(alder_lake):
    model = RateModel(alder_lake, layouts(alder_lake))
    assert model.update(tick(alder_lake, 0, 1)) is None
    snapshot = model.update(tick(alder_lake, 1, 3))
    core_cpus = [c for c in alder_lake.online_cpus if alder_lake.cpu(c).core_pmu == "cpu_core"]
    atom_cpus = [c for c in alder_lake.online_cpus if alder_lake.cpu(c).core_pmu == "cpu_atom"]
    core = snapshot.cpu(core_cpus[0]).metric(event_metric("branch-misses"))
    assert core.value == 400 and core.coverage == 0.5 and core.extrapolated
    atom = snapshot.cpu(atom_cpus[0]).metric(event_metric("branch-misses"))
    assert atom.value is None and atom.failure == ENOENT
    totals = {(t.pmu, t.label): t for t in snapshot.events}
    core_total = totals[("cpu_core", "branch-misses")]
    assert core_total.name == "cpu_core/branch-misses/"
    assert core_total.metric.value == 400 * len(core_cpus) and core_total.metric.coverage == 0.5
    assert (core_total.cpus_counted, core_total.cpus_wanted) == (len(core_cpus), len(core_cpus))
    atom_total = totals[("cpu_atom", "branch-misses")]
    assert atom_total.metric.value is None and atom_total.metric.failure == ENOENT
    assert totals[("software", "cs")].metric.value == 14 * len(alder_lake.online_cpus)
    rows = {row.pmu: row for row in snapshot.pmus}
    assert rows["cpu_core"].metric(event_metric("branch-misses")).value == 400 * len(core_cpus)
    assert rows["cpu_atom"].metric(event_metric("branch-misses")).failure == ENOENT
    assert snapshot.to_json()["events"][0]["event"] == "branch-misses"


def test_offline_cpu_lowers_cpus_counted(alder_lake):
    model = RateModel(alder_lake, layouts(alder_lake))
    first = alder_lake.online_cpus[0]
    model.update(tick(alder_lake, 0, 1))
    later = tick(alder_lake, 1, 2)
    lost = CounterFailure(errno.ENODEV, "ENODEV", "cpu offline")
    key = f"cpu{first}/events/software/e1"
    later = RawTick(
        later.index,
        later.monotonic_ns,
        later.wall_time,
        {k: v for k, v in later.reads.items() if k != key},
        {},
        later.online - {first},
        lost={key: lost},
    )
    snapshot = model.update(later)
    total = next(t for t in snapshot.events if t.label == "cs")
    assert (total.cpus_counted, total.cpus_wanted) == (len(alder_lake.online_cpus) - 1, len(alder_lake.online_cpus))
    assert snapshot.cpu(first).metric(event_metric("cs")).failure == lost


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "recordings" / "alder-lake-events.jsonl"


def test_fixture_recording_is_what_its_script_makes(tmp_path):
    sys.path.insert(0, str(FIXTURE.parent))
    try:
        import make_alder_lake_events
    finally:
        sys.path.remove(str(FIXTURE.parent))
    assert make_alder_lake_events.build(tmp_path / "again.jsonl").read_bytes() == FIXTURE.read_bytes()


def test_hybrid_recording_shows_each_event_per_core_pmu(pmutop_command):
    result = subprocess.run(
        [*pmutop_command, "stat", "--input", str(FIXTURE), "--json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    totals = {total["name"]: total for total in summary["events"]}
    assert set(totals) == {"cpu_core/branch-misses/", "cpu_atom/branch-misses/", "cpu_atom/cache-misses/", "cs"}
    assert (totals["cpu_core/branch-misses/"]["cpus_wanted"], totals["cpu_atom/cache-misses/"]["cpus_wanted"]) == (
        16,
        8,
    )
    assert totals["cpu_core/branch-misses/"]["coverage"] == 0.75 and totals["cpu_core/branch-misses/"]["extrapolated"]
    assert totals["cs"]["cpus_wanted"] == 24 and "extrapolated" not in totals["cs"]
    pmus = {row["pmu"]: row for row in summary["pmus"]}
    assert "event:cache-misses" not in pmus["cpu_core"]["metrics"]
    assert (
        pmus["cpu_atom"]["metrics"]["event:cpu_atom/cache-misses/"]["value"]
        == totals["cpu_atom/cache-misses/"]["value"]
    )
    text = subprocess.run(
        [*pmutop_command, "stat", "--input", str(FIXTURE), "--per-pmu"], capture_output=True, text=True, timeout=60
    ).stdout
    assert max(len(line) for line in text.splitlines()) <= 120
    assert re.search(r"^\s+3\.000\s+all\s+[\d,]+~\s+cpu_atom/branch-misses/\s+75%\s+8/8$", text, re.M)


@pytest.mark.parametrize("mode", [(), ("-A",), ("--per-pmu",), ("--per-core",), ("--per-socket",)])
@pytest.mark.parametrize("fixture", ["alder-lake-events.jsonl", "arm64-two-pmu.jsonl"])
def test_every_na_in_stat_text_has_a_numbered_note(pmutop_command, mode, fixture):
    """No bare n/a in any layout of the text output: a figure a row does not carry (eff GHz on a core
    PMU's row), a failed counter and one that did not count all print n/a[N] with note N."""
    path = FIXTURE.parent / fixture
    result = subprocess.run(
        [*pmutop_command, "stat", "--input", str(path), *mode], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert not [line for line in rows if re.search(r"n/a(?!\[\d+\])", line)]
    referenced = {int(n) for line in rows for n in re.findall(r"n/a\[(\d+)\]", line)}
    noted = {int(n) for n in re.findall(r"^# \[(\d+)\] ", result.stdout, re.M)}
    assert referenced <= noted
    if fixture.startswith("alder") and "--per-pmu" in mode:
        assert "# [1] TSC × APERF/MPERF, per CPU only" in result.stdout


def test_events_come_in_the_order_given_not_the_order_of_their_groups(pmutop_command):
    # The fixture's -e list is `branch-misses,cpu_atom/cache-misses/,cs`: on the first (cpu_core) CPUs
    # the groups are branch-misses and cs, cache-misses only opens on the cpu_atom CPUs after them.
    # perf prints -e order, an event on several core PMUs once per PMU, adjacent.
    given = ["cpu_core/branch-misses/", "cpu_atom/branch-misses/", "cpu_atom/cache-misses/", "cs"]

    def stat(*flags):
        result = subprocess.run(
            [*pmutop_command, "stat", "--input", str(FIXTURE), "-n", "1", *flags],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    text = [line.split()[3] for line in stat() if re.match(r" +1\.000 +all +\S+~?  \S", line)]
    assert text == given
    json_names = [total["name"] for total in json.loads(stat("--json")[0])["events"]]
    assert json_names == given
    perf_csv = [line.split(";")[3] for line in stat("-x", ";") if line.startswith("1.000")]
    assert perf_csv == given
    # Per CPU (-A, -x -A and the CSV's columns): the labels in -e order on a CPU of each core PMU.
    per_cpu = [line.split()[3] for line in stat("-A") if re.match(r" +1\.000 +CPU16 ", line)]
    assert per_cpu == ["branch-misses", "cpu_atom/cache-misses/", "cs"]
    perf_csv_cpu = [line.split(";")[4] for line in stat("-x", ";", "-A") if line.startswith("1.000000000;CPU0;")]
    assert perf_csv_cpu == ["branch-misses", "cs"]
    header = stat("--csv")[0].split(",")
    assert [name for name in header if name.startswith("event:")] == [
        "event:branch-misses",
        "event:cpu_atom/cache-misses/",
        "event:cs",
    ]
