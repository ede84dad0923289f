"""The live pane: one row per CPU, grouped under its core PMU with an aggregate row per PMU.

Rows are rebuilt only when their order changes (sort by a changing metric, filter, grouping);
otherwise each tick updates only the rows whose text changed, so the cursor and scroll position
survive and a tick costs little even with hundreds of CPUs. Each row is one DataTable cell holding
the whole line, laid out here in fixed-width columns: DataTable renders every cell of every visible
row again after any update, through Rich, and one cell per row instead of twelve makes that the
cheapest part of a tick rather than the dearest.
"""

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.snapshot import NOT_COUNTED, CpuRow, Metric, PmuRow, Snapshot
from pmutop.model.topology import Topology
from pmutop.tui.inbox import cpu_row_key, pmu_row_key
from pmutop.tui.text import coverage_cell, literal, metric_cell

# (column key, heading, width); metric columns are keyed by the snapshot's metric names.
COLUMNS = (
    ("ghz", "GHz", 5),
    ("ipc", "IPC", 5),
    ("instructions_per_s", "instr/s", 7),
    ("util_pct", "util%", 5),
    ("context_switches_per_s", "cs/s", 6),
    ("migrations_per_s", "migr/s", 6),
    ("coverage", "cov", 4),
    ("core_type", "core type", 12),
    ("effective_ghz", "eff GHz", 7),
    ("cycles", "cycles", 7),
    ("instructions", "instr", 7),
)
METRIC_COLUMNS = tuple(key for key, _, _ in COLUMNS if key not in ("coverage", "core_type"))
LABEL_COLUMN = "label"
ROW_COLUMN = "row"
# Spaces between columns, as DataTable's cell padding would give.
GAP = 2
# Sort modes cycled by `s`: (name shown, metric or None for CPU number). Metrics sort high first.
SORTS = (
    ("CPU", None),
    ("util%", "util_pct"),
    ("IPC", "ipc"),
    ("GHz", "ghz"),
    ("instr/s", "instructions_per_s"),
    ("cs/s", "context_switches_per_s"),
)

Cell = tuple[str, str]
BLANK: Cell = ("", "")
CORE_TYPE_INDEX = [key for key, _, _ in COLUMNS].index("core_type")


def placeholder_cells(core_type: Cell, first: Cell = BLANK) -> tuple[Cell, ...]:
    """Cells of a row with no figures (before the first snapshot, or offline): only the core type."""
    cells = [BLANK] * len(COLUMNS)
    cells[0] = first
    cells[CORE_TYPE_INDEX] = core_type
    return tuple(cells)


@dataclass(frozen=True, slots=True)
class RowMarks:
    """Why a row's label stands out: the followed task is there, or its PMU is selected in the tree."""

    followed: frozenset[int] = frozenset()
    highlighted: frozenset[int] = frozenset()


def matches_filter(text: str, cpu: int, pmu: str | None, core_type: str | None) -> bool:
    """`/` filter: a cpulist ("0-3,8") selects CPUs by number, anything else matches names."""
    query = text.strip()
    if not query:
        return True
    try:
        return cpu in parse_cpulist(query)
    except ValueError:
        pass
    needle = query.lower()
    haystack = (f"cpu{cpu}", pmu or "", core_type or "")
    return any(needle in item.lower() for item in haystack)


class LiveTable(DataTable):
    """The CPU table; the app calls `show` with each snapshot and setters for view options."""

    def __init__(self, topology: Topology, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.topology = topology
        self.snapshot: Snapshot | None = None
        self.sort_index = 0
        self.grouped = True
        self.filter_text = ""
        self.marks = RowMarks()
        self._order: list[str] = []
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._label_width = max(
            [len(f"cpu{cpu.cpu}") + 2 for cpu in topology.cpus] + [len(p.name) + 2 for p in topology.core_pmus] + [6]
        )

    def on_mount(self) -> None:
        heading = Text("CPU".ljust(self._label_width))
        for _, title, width in COLUMNS:
            heading.append(" " * GAP + title.rjust(width))
        self.add_column(heading, key=ROW_COLUMN, width=heading.cell_len)
        self.refresh_rows()

    @property
    def sort_name(self) -> str:
        return SORTS[self.sort_index][0]

    @property
    def selected_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.refresh_rows()

    def set_grouped(self, grouped: bool) -> None:
        self.grouped = grouped
        self.refresh_rows()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refresh_rows()

    def set_marks(self, marks: RowMarks) -> None:
        if marks != self.marks:
            self.marks = marks
            self.refresh_rows()

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.refresh_rows()

    # -- rows ------------------------------------------------------------------------------

    def _cpu_rows(self) -> dict[int, CpuRow | None]:
        by_number: dict[int, CpuRow | None] = {cpu.cpu: None for cpu in self.topology.cpus}
        if self.snapshot is not None:
            for row in self.snapshot.cpus:
                by_number[row.cpu] = row
        return by_number

    def _pmu_rows(self) -> dict[str, PmuRow | None]:
        by_name: dict[str, PmuRow | None] = {pmu.name: None for pmu in self.topology.core_pmus}
        if self.snapshot is not None:
            for row in self.snapshot.pmus:
                by_name[row.pmu] = row
        return by_name

    def _sorted_cpus(self, cpus: list[int], rows: dict[int, CpuRow | None]) -> list[int]:
        metric = SORTS[self.sort_index][1]
        if metric is None:
            return sorted(cpus)

        def key(cpu: int) -> tuple[bool, float, int]:
            row = rows[cpu]
            value = row.metric(metric).value if row is not None else None
            return (value is None, -(value or 0.0), cpu)

        return sorted(cpus, key=key)

    def _visible_cpus(self) -> list[int]:
        return [
            cpu.cpu
            for cpu in self.topology.cpus
            if matches_filter(self.filter_text, cpu.cpu, cpu.core_pmu, cpu.core_type.label if cpu.core_type else None)
        ]

    def row_order(self) -> list[str]:
        rows = self._cpu_rows()
        visible = self._visible_cpus()
        order: list[str] = []
        owned: set[int] = set()
        core_pmus = [(t, self.topology.pmu(t.pmu)) for t in self.topology.core_types]
        for core_type, pmu in core_pmus:
            members = [cpu for cpu in visible if self.topology.cpu(cpu).core_pmu == core_type.pmu]
            owned.update(members)
            if members or (pmu and matches_filter(self.filter_text, -1, pmu.name, core_type.label)):
                order.append(pmu_row_key(core_type.pmu))
            if self.grouped:
                order.extend(cpu_row_key(cpu) for cpu in self._sorted_cpus(members, rows))
        rest = [cpu for cpu in visible if cpu not in owned] if self.grouped else visible
        order.extend(cpu_row_key(cpu) for cpu in self._sorted_cpus(rest, rows))
        return order

    def refresh_rows(self) -> None:
        if not self.columns:
            return
        order = self.row_order()
        cpu_rows, pmu_rows = self._cpu_rows(), self._pmu_rows()
        cells = {key: self._row_cells(key, cpu_rows, pmu_rows) for key in order}
        if order != self._order:
            self._rebuild(order, cells)
            return
        for key in order:
            if cells[key] != self._cells.get(key):
                self.update_cell(key, ROW_COLUMN, self._row_text(cells[key]))
                self._cells[key] = cells[key]

    def _rebuild(self, order: list[str], cells: dict[str, tuple[Cell, ...]]) -> None:
        selected = self.selected_key
        scroll_y = self.scroll_y
        self.clear()
        for key in order:
            self.add_row(self._row_text(cells[key]), key=key)
        self._order = order
        self._cells = cells
        if selected in order:
            self.move_cursor(row=order.index(selected), animate=False, scroll=False)
        self.call_after_refresh(self.scroll_to, y=scroll_y, animate=False)

    def _row_text(self, cells: tuple[Cell, ...]) -> Text:
        (label, label_style), *rest = cells
        text = Text(no_wrap=True)
        text.append_text(literal(label[: self._label_width].ljust(self._label_width), label_style))
        for (column, _, width), (value, style) in zip(COLUMNS, rest, strict=True):
            text.append(" " * GAP)
            if column == "core_type":
                text.append_text(literal(value[:width].ljust(width), style))
            else:
                text.append(value.rjust(width), style=style)
        return text

    def cell(self, key: str, column: str) -> str:
        """The text shown in one column of a row (LABEL_COLUMN or a COLUMNS key)."""
        keys = (LABEL_COLUMN, *(name for name, _, _ in COLUMNS))
        return self._cells[key][keys.index(column)][0]

    def _row_cells(
        self, key: str, cpu_rows: dict[int, CpuRow | None], pmu_rows: dict[str, PmuRow | None]
    ) -> tuple[Cell, ...]:
        kind, _, name = key.partition(":")
        if kind == "pmu":
            return self._pmu_cells(name, pmu_rows.get(name))
        return self._cpu_cells(int(name), cpu_rows.get(int(name)))

    def _pmu_cells(self, name: str, row: PmuRow | None) -> tuple[Cell, ...]:
        core_type = next((t.label for t in self.topology.core_types if t.pmu == name), "")
        label: Cell = (f"Σ {name}", "bold")
        if row is None:
            return (label, *placeholder_cells((core_type, "bold")))
        return (label, *self._metric_cells(row.metric, row.metric("cycles"), core_type, bold=True))

    def _cpu_cells(self, cpu: int, row: CpuRow | None) -> tuple[Cell, ...]:
        topo_cpu = self.topology.cpu(cpu)
        core_type = topo_cpu.core_type.label if topo_cpu and topo_cpu.core_type else ""
        online = row.online if row is not None else bool(topo_cpu and topo_cpu.online)
        marker, style = "  ", ""
        if cpu in self.marks.followed:
            marker, style = "▶ ", "bold magenta"
        elif cpu in self.marks.highlighted:
            marker, style = "● ", "bold cyan"
        if not online:
            style = style or "dim"
        label: Cell = (f"{marker}cpu{cpu}", style)
        if not online:
            return (label, *placeholder_cells((core_type, "dim"), first=("offline", "dim")))
        if row is None:
            return (label, *placeholder_cells((core_type, "")))
        coverage_source = row.metric("cycles") if "cycles" in row.metrics else NOT_COUNTED
        return (label, *self._metric_cells(row.metric, coverage_source, core_type, bold=False))

    @staticmethod
    def _metric_cells(lookup, coverage_source: Metric, core_type: str, *, bold: bool) -> tuple[Cell, ...]:
        result = []
        for key, _, _ in COLUMNS:
            if key == "coverage":
                cell = coverage_cell(coverage_source)
            elif key == "core_type":
                cell = (core_type, "")
            else:
                cell = metric_cell(key, lookup(key))
            if bold and cell[1] != "dim":
                cell = (cell[0], f"bold {cell[1]}".strip())
            result.append(cell)
        return tuple(result)

    # -- the selected row, described -------------------------------------------------------

    def describe(self, key: str | None) -> Text:
        """The selected row in words: what it is, and why any cell says n/a."""
        if key is None:
            return Text("")
        kind, _, name = key.partition(":")
        if kind == "pmu":
            return self._describe_pmu(name)
        return self._describe_cpu(int(name))

    def _describe_pmu(self, name: str) -> Text:
        pmu = self.topology.pmu(name)
        core_type = next((t.label for t in self.topology.core_types if t.pmu == name), "")
        text = Text()
        text.append_text(literal(name, "bold"))
        if pmu is not None:
            text.append(f" type {pmu.type} · {core_type} · CPUs {format_cpulist(pmu.cpus) or 'none'}")
        row = self._pmu_rows().get(name)
        if row is not None:
            if row.encoding:
                text.append(f" · encoding {row.encoding}")
            cycles = row.metric("cycles")
            if cycles.coverage is not None:
                text.append(f" · coverage {cycles.coverage * 100:.0f}%")
            if row.extrapolated_share > 0:
                text.append(
                    f" · {row.extrapolated_share * 100:.1f}% of cycles+instructions extrapolated (multiplexed)",
                    style="yellow",
                )
            _append_reasons(text, row.metrics)
        return text

    def _describe_cpu(self, cpu: int) -> Text:
        topo_cpu = self.topology.cpu(cpu)
        text = Text(f"cpu{cpu}", style="bold")
        if topo_cpu is not None:
            if topo_cpu.core_pmu:
                text.append(" · ")
                text.append_text(literal(topo_cpu.core_pmu))
                text.append(f" ({topo_cpu.core_type.label})" if topo_cpu.core_type else "")
            else:
                text.append(" · no core PMU")
            ids = (("pkg", topo_cpu.package), ("core", topo_cpu.core))
            place = [f"{label} {value}" for label, value in ids if value is not None]
            if topo_cpu.thread_siblings:
                place.append(f"siblings {format_cpulist(topo_cpu.thread_siblings)}")
            if place:
                text.append(" · " + " ".join(place))
        row = self._cpu_rows().get(cpu)
        online = row.online if row is not None else bool(topo_cpu and topo_cpu.online)
        if not online:
            text.append(" · offline: its counters resume when it comes back online", style="yellow")
            return text
        if row is not None:
            _append_reasons(text, row.metrics)
        return text


def _append_reasons(text: Text, metrics) -> None:
    """One line per distinct reason, naming the columns it blanks."""
    by_reason: dict[str, list[str]] = {}
    for key, heading, _ in COLUMNS:
        metric = metrics.get(key)
        if metric is not None and metric.value is None and metric.failure is not None:
            by_reason.setdefault(metric.failure.explanation, []).append(heading)
    for reason, headings in by_reason.items():
        text.append("\n")
        text.append(", ".join(headings) + " n/a: ", style="bold")
        text.append_text(literal(reason))
