"""The live table's view model (pmutop.tui.live_model) on its own: rows, order, filter, sort, cells and
the detail prose, from hand-made snapshots over fixture topologies, with no Textual app."""

import subprocess
import sys
from pathlib import Path

import pytest
from sysfs_trees import build_alder_lake

from pmutop.kernel.sysfs import read_sysfs
from pmutop.live.topology_loader import topology_of
from pmutop.model.rates import RateModel
from pmutop.model.residency import ResidencyMethod
from pmutop.model.samples import CounterFailure
from pmutop.model.snapshot import CpuRow, Metric, PmuRow, Snapshot, TaskRow, event_metric
from pmutop.model.topology import Topology
from pmutop.recording.format import read_recording
from pmutop.tui.live_model import (
    COLUMNS,
    LABEL_COLUMN,
    CpuKey,
    LiveModel,
    PmuKey,
    TableColumn,
    cpu_key,
    pmu_key,
)

REPO = Path(__file__).resolve().parent.parent
ALL_CPUS = tuple(range(24))
CORE, ATOM = pmu_key("cpu_core"), pmu_key("cpu_atom")
CORE_PMU_CYCLES = ResidencyMethod.CORE_PMU_CYCLES
ENOENT = CounterFailure(2, "ENOENT", "no hardware cycles counter on this machine")


@pytest.fixture(scope="module")
def alder_lake(tmp_path_factory) -> Topology:
    root = tmp_path_factory.mktemp("adl")
    build_alder_lake(root, offline=(23,))
    return topology_of(read_sysfs(root))


def cpu_row(cpu: int, util: float | None, *, online: bool = True, **metrics: Metric) -> CpuRow:
    figures = {"util_pct": Metric(util, 1.0), "ipc": Metric(1.25, 1.0), **metrics}
    pmu = "cpu_core" if cpu < 16 else "cpu_atom"
    return CpuRow(cpu, pmu, None, online, figures if online else {})


def snapshot(cpus: list[CpuRow], pmus: tuple[PmuRow, ...] = (), tasks: tuple[TaskRow, ...] = ()) -> Snapshot:
    return Snapshot(index=1, time_s=1.0, interval_s=1.0, wall_time=0.0, cpus=tuple(cpus), pmus=pmus, tasks=tasks)


def busy_snapshot() -> Snapshot:
    """util% rising with the CPU number but for cpu5 (no figure) and cpu23 (offline)."""
    rows = [cpu_row(cpu, float(cpu)) for cpu in range(23) if cpu != 5]
    return snapshot([*rows, cpu_row(5, None), cpu_row(23, None, online=False)])


def test_row_keys_are_values_of_their_own_type():
    assert cpu_key(3) is cpu_key(3) and cpu_key(3) == CpuKey(3)
    assert cpu_key(3) != PmuKey("3") and pmu_key("cpu_core") == PmuKey("cpu_core")
    assert (cpu_key(3).name, pmu_key("cpu_atom").name) == ("cpu3", "cpu_atom")
    with pytest.raises(AttributeError):
        cpu_key(3).cpu = 4  # type: ignore[misc]


def test_rows_grouped_under_their_core_pmu_and_flat(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    assert model.row_order() == [CORE, *map(cpu_key, range(16)), ATOM, *map(cpu_key, range(16, 24))]
    model.grouped = False
    assert model.row_order() == [CORE, ATOM, *map(cpu_key, ALL_CPUS)]


def test_only_the_counted_cpus_have_rows(alder_lake):
    model = LiveModel(alder_lake, (2, 17))
    assert model.row_order() == [CORE, cpu_key(2), ATOM, cpu_key(17)]


def test_filter_by_cpulist_or_name(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    model.filter_text = "16-19"
    assert model.row_order() == [ATOM, *map(cpu_key, range(16, 20))]
    model.filter_text = " CPU_ATOM "
    # cpu23 is offline: sysfs gives it no core PMU.
    assert model.row_order() == [ATOM, *map(cpu_key, range(16, 23))]
    model.filter_text = "cpu1"
    assert model.row_order() == [CORE, cpu_key(1), *map(cpu_key, range(10, 16)), ATOM, *map(cpu_key, range(16, 20))]
    model.filter_text = "nothing\x1b[31m"
    assert model.row_order() == []
    assert model.no_match_notice() == (
        "no CPU or PMU matches 'nothing\\\\x1b[31m': / changes the filter, Esc there clears it"
    )


def test_sort_high_first_rows_without_the_figure_last(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    model.show(busy_snapshot())
    model.grouped = False
    assert model.sort_by("util%") and model.sort_key == "util_pct" and model.sort_arrow == "▼"
    cpus = [key for key in model.row_order() if isinstance(key, CpuKey)]
    assert cpus == [
        *map(cpu_key, [22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 4, 3, 2, 1, 0]),
        cpu_key(5),
        cpu_key(23),
    ]
    model.reverse_sort()
    assert model.sort_arrow == "▲"
    cpus = [key for key in model.row_order() if isinstance(key, CpuKey)]
    assert cpus == [*map(cpu_key, [0, 1, 2, 3, 4, *range(6, 23)]), cpu_key(5), cpu_key(23)]
    assert not model.sort_by("no such column") and model.sort_key == "util_pct"


def test_sort_cycles_through_the_chosen_columns(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    names = [model.sort_name]
    model.reverse_sort()
    for _ in range(len(model.sorts)):
        model.cycle_sort()
        assert not model.sort_reversed, "a new sort starts the default way round"
        names.append(model.sort_name)
    assert names[0] == names[-1] == "CPU"
    assert names[1:4] == ["util%", "IPC", "GHz"]


def test_set_columns_keeps_the_sort_while_its_column_stays(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    model.sort_by("IPC")
    model.reverse_sort()
    without_ghz = tuple(column for column in COLUMNS if column[0] != "ghz")
    assert model.set_columns(without_ghz) and not model.set_columns(without_ghz)
    assert (model.sort_key, model.sort_reversed) == ("ipc", True)
    assert "ghz" not in model.column_keys
    assert model.set_columns(tuple(column for column in without_ghz if column[0] != "ipc"))
    assert (model.sort_key, model.sort_reversed) == (None, False)


def test_cells_formatted_per_metric(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    model.show(
        snapshot(
            [
                cpu_row(0, 12.345, ghz=Metric(2.5, 0.5, extrapolated=True)),
                cpu_row(1, None, ghz=Metric(None, failure=ENOENT)),
                cpu_row(23, None, online=False),
            ]
        )
    )
    cells = dict(zip((LABEL_COLUMN, *model.column_keys), model.row_cells(cpu_key(0)), strict=True))
    assert cells[LABEL_COLUMN] == ("  cpu0", "")
    assert cells["util_pct"] == ("12.3", "")
    assert cells["ghz"] == ("2.50~", "italic"), "extrapolated figures are marked"
    assert cells["ipc"] == ("1.25", "")
    assert cells["instructions"] == ("n/a", "dim"), "not counted is n/a, never 0"
    assert cells["core_type"] == ("performance", "")
    assert model.cell(cpu_key(1), "ghz") == "n/a"
    offline = model.row_cells(cpu_key(23))
    assert offline[0] == ("  cpu23", "dim") and offline[1] == ("offline", "dim")
    assert {text for text, _ in offline[2:]} == {""}
    # Before any snapshot a row has only its core type.
    fresh = LiveModel(alder_lake, ALL_CPUS)
    assert {text for text, _ in fresh.row_cells(cpu_key(17))[1:]} == {"", "efficiency"}
    with pytest.raises(ValueError):
        model.cell(cpu_key(0), "no such column")


def test_pmu_rows_are_bold_but_for_na(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    atom = PmuRow("cpu_atom", 8, "efficiency", None, tuple(range(16, 24)), {"ipc": Metric(0.5, 1.0)})
    model.show(snapshot([], (atom,)))
    cells = dict(zip((LABEL_COLUMN, *model.column_keys), model.row_cells(ATOM), strict=True))
    assert cells[LABEL_COLUMN] == ("Σ cpu_atom", "bold")
    assert cells["ipc"] == ("0.50", "bold")
    assert cells["ghz"] == ("n/a", "dim")
    assert model.row_cells(CORE)[0] == ("Σ cpu_core", "bold")


def test_marks_follow_the_task_and_the_tree(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    task = TaskRow(
        42, "stress", True, 1, 17, "cpu_atom", "efficiency", {}, {}, {}, {}, {}, 0, 0, 0, 0, 0.0, CORE_PMU_CYCLES
    )
    model.show(snapshot([cpu_row(17, 1.0), cpu_row(18, 1.0)], tasks=(task,)))
    assert model.set_highlighted(frozenset({17, 18})) and not model.set_highlighted(frozenset({17, 18}))
    assert model.row_cells(cpu_key(17))[0] == ("▶ cpu17", "bold magenta"), "followed wins over highlighted"
    assert model.row_cells(cpu_key(18))[0] == ("● cpu18", "bold cyan")
    model.show(snapshot([cpu_row(17, 1.0)]))
    assert model.marks.followed == frozenset() and model.marks.highlighted == frozenset({17, 18})


def test_describe_names_each_reason_once(alder_lake):
    model = LiveModel(alder_lake, ALL_CPUS)
    failed = {"ghz": Metric(None, failure=ENOENT), "ipc": Metric(None, failure=ENOENT)}
    model.show(snapshot([cpu_row(3, 5.0, **failed), cpu_row(23, None, online=False)]))
    text = model.describe(cpu_key(3))
    lines = text.plain.split("\n")
    assert lines[0].startswith("cpu3 · cpu_core (performance)")
    assert "GHz, IPC n/a: no hardware cycles counter on this machine" in lines
    assert any(line.startswith("eff GHz n/a: TSC × APERF/MPERF") for line in lines)
    assert model.describe(cpu_key(3)) is text, "built again only when what it says changed"
    assert model.describe(cpu_key(23)).plain.endswith("offline: its counters resume when it comes back online")
    assert model.describe(ATOM).plain.startswith("cpu_atom type 8 · efficiency · CPUs 16-22")
    assert model.describe(None).plain == ""


EVENTS_FIXTURE = REPO / "tests" / "fixtures" / "recordings" / "alder-lake-events.jsonl"


def replayed(path: Path) -> tuple[Topology, Snapshot]:
    """The recording's topology and its last snapshot, as the replay's RateModel makes it."""
    recording = read_recording(path)
    topology = topology_of(recording.header.sysfs)
    model = RateModel(topology, recording.header.layouts, recording.header.notices)
    snapshots = [model.update(tick) for tick in recording.ticks]
    return topology, snapshots[-1]


def test_every_na_cell_has_its_reason_in_the_detail_area():
    """Every row of the hybrid -e recording with every column, its events too: each n/a cell's column is
    named in the selected row's description with a reason, whether a counter failed, the model noted
    why, or the row carries no such figure (an event of another PMU, a software event on a Σ row)."""
    topology, last = replayed(EVENTS_FIXTURE)
    labels = dict.fromkeys(total.label for total in last.events)
    model = LiveModel(topology, tuple(cpu.cpu for cpu in topology.cpus))
    model.set_columns((*COLUMNS, *((event_metric(label), label, 12) for label in labels)))
    model.show(last)
    unexplained, seen = [], 0
    for key in model.row_order():
        described = model.describe(key).plain.split("\n")
        for (column, heading, _), (text, _) in zip(model.columns, model.row_cells(key)[1:], strict=True):
            if text != "n/a":
                continue
            seen += 1
            if not any(line.startswith(heading) or f", {heading}" in line.split(" n/a: ")[0] for line in described):
                unexplained.append((key.name, column))
    assert seen > 24, "the fixture has n/a cells of each kind"
    assert unexplained == []
    cpu0 = model.describe(cpu_key(0)).plain
    assert (
        "cpu_atom/cache-misses/ n/a: cpu_atom/cache-misses/ counts on cpu_atom's CPUs only (16-23), not on cpu0" in cpu0
    )
    core = model.describe(CORE).plain
    assert "cs n/a: cs is an event of the software PMU, not of cpu_core" in core
    assert "none of them cpu_core's" in core
    assert model.cell(CORE, TableColumn.COVERAGE) == "98%", "the table's own columns are never n/a"


def test_the_view_model_runs_without_textual():
    code = "import sys, pmutop.tui.live_model; assert 'textual' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
