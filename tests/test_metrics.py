"""The one metric table (pmutop.model.metrics): every figure the model makes is in it, and a name that
is not is loud, never a cell that quietly says n/a."""

import pytest

from pmutop.cli.stat_output import CsvRenderer, TextRenderer
from pmutop.live.topology_loader import load_topology
from pmutop.model.metrics import MetricKey
from pmutop.model.rates import RateModel
from pmutop.model.samples import CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.model.snapshot import Metric, event_metric
from pmutop.tui.live_model import COLUMNS
from pmutop.tui.text import metric_cell
from tests import sysfs_trees

LAYOUTS = (
    GroupLayout("cpu0/core/cpu_core", 0, GroupRole.CORE, "cpu_core", Encoding.EXTENDED,
                ("cycles", "instructions", "ref-cycles")),
    GroupLayout("cpu0/software/software", 0, GroupRole.SOFTWARE, "software", Encoding.PMU_TYPE,
                ("context-switches", "cpu-migrations")),
    GroupLayout("cpu0/msr/msr", 0, GroupRole.MSR, "msr", Encoding.PMU_TYPE, ("tsc", "aperf", "mperf")),
)  # fmt: skip


def tick(index, ns, reads, layouts=None):
    return RawTick(
        index=index,
        monotonic_ns=ns,
        wall_time=0.0,
        reads=reads,
        cpu_times={0: CpuTimes(50 * index, 100 * index)},
        online=frozenset({0}),
        lost={},
        layouts=layouts,
    )


def counted_snapshot(tmp_path):
    """cpu0 of an Alder Lake over one second with every group pmutop opens there read."""
    topology = load_topology(sysfs_trees.build_alder_lake(tmp_path))
    model = RateModel(topology, LAYOUTS)
    model.update(tick(0, 0, {layout.key: GroupRead(0, 0, (0,) * len(layout.members)) for layout in LAYOUTS}, LAYOUTS))
    after = {
        "cpu0/core/cpu_core": GroupRead(10**9, 10**9, (2 * 10**9, 3 * 10**9, 10**9)),
        "cpu0/software/software": GroupRead(10**9, 10**9, (100, 3)),
        "cpu0/msr/msr": GroupRead(10**9, 10**9, (3 * 10**9, 2 * 10**9, 10**9)),
    }
    return model.update(tick(1, 10**9, after))


def test_the_model_makes_every_figure_of_the_table_and_no_other(tmp_path):
    snapshot = counted_snapshot(tmp_path)
    cpu0 = snapshot.cpu(0)
    assert set(cpu0.metrics) == set(MetricKey)
    assert all(cpu0.metric(key).value is not None for key in MetricKey)
    (core,) = (row for row in snapshot.pmus if row.pmu == "cpu_core")
    assert set(core.metrics) <= set(MetricKey)
    # Faces write each figure as its table entry says: decimals for ratios and clocks, whole counts.
    assert MetricKey.IPC.text(cpu0.metric(MetricKey.IPC).value) == "1.50"
    assert MetricKey.CYCLES.text(cpu0.metric(MetricKey.CYCLES).value) == "2,000,000,000"
    assert metric_cell(MetricKey.UTIL_PCT, cpu0.metric(MetricKey.UTIL_PCT)) == ("50.0", "")
    assert metric_cell(MetricKey.INSTRUCTIONS, cpu0.metric(MetricKey.INSTRUCTIONS)) == ("3G", "")


def test_faces_head_their_columns_as_they_always_have(tmp_path):
    """The headings come from the table now; what users read did not change (issue 16, acceptance 3)."""
    assert TextRenderer().header() == (
        "#     time       CPU PMU                       cycles     instructions    IPC    GHz util%     cs/s migr/s"
        " effGHz cover"
    )
    assert [title for _, title, _ in COLUMNS] == [
        "GHz", "IPC", "instr/s", "util%", "cs/s", "migr/s", "cov", "core type", "eff GHz", "cycles", "instr",
    ]  # fmt: skip
    header = CsvRenderer().render(counted_snapshot(tmp_path)).splitlines()[0]
    assert header.startswith(
        "interval,kind,time,scope,cpu,pmu,online,cycles,instructions,ipc,ghz,instructions_per_s,util_pct,"
        "context_switches_per_s,migrations_per_s,tsc_ghz,effective_ghz,coverage,errors,"
    )


def test_a_misspelt_or_plain_string_metric_is_an_error():
    with pytest.raises(AttributeError):
        MetricKey.CYCELS  # noqa: B018
    with pytest.raises(TypeError):
        metric_cell("util_pct", Metric(50.0))
    with pytest.raises(TypeError):
        metric_cell("utl_pct", Metric(None))
    assert metric_cell(event_metric("branch-misses"), Metric(1234.0)) == ("1.23k", "")


def test_a_heading_is_the_label_where_it_fits():
    assert [MetricKey.INSTRUCTIONS.heading(width) for width in (16, 7)] == ["instructions", "instr"]
    assert [MetricKey.EFFECTIVE_GHZ.heading(width) for width in (7, 6)] == ["eff GHz", "effGHz"]
    assert all(len(key.short) <= len(key.label) for key in MetricKey)
