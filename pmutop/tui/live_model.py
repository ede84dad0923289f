"""What the live table shows, without Textual: its rows in order, their cells, the sort, the filter,
the layout of a row in columns, and the selected row described in words.

`LiveModel` holds the view's state (the snapshot, the chosen columns, sort, grouping, filter and row
marks) and answers from it; `pmutop.tui.live_pane.LiveTable` is the widget that draws it (its line
cache, cursor and scrolling). Rows are named by `RowKey`s: a CPU by number, a core PMU's Σ row by name.
Textual stays out of this module (an import-linter contract in pyproject.toml says so), so its tests
run without an app.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from rich.text import Text

from pmutop.model.absence import why_not_available
from pmutop.model.coverage import row_coverage
from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import (
    EVENT_METRIC_PREFIX,
    NOT_COUNTED,
    CpuRow,
    EventKey,
    Metric,
    PmuRow,
    Snapshot,
    event_label,
)
from pmutop.model.text import printable
from pmutop.model.topology import Topology
from pmutop.tui.text import coverage_cell, literal, metric_cell


class TableColumn(StrEnum):
    """The table's columns that are not figures: the row label, the coverage the row's cells had
    (pmutop.model.coverage) and the CPU's core type. Their values are what the config file spells."""

    LABEL = "label"
    COVERAGE = "coverage"
    CORE_TYPE = "core_type"


# What a column is keyed by: a figure of the metric table, a -e event's metric, or one of the table's own.
ColumnKey = MetricKey | EventKey | TableColumn
# (column key, heading, width).
Column = tuple[ColumnKey, str, int]


def metric_column(key: MetricKey, width: int) -> Column:
    return (key, key.heading(width), width)


# Metric columns are keyed by their MetricKey, headed by its label.
COLUMNS = (
    metric_column(MetricKey.GHZ, 5),
    metric_column(MetricKey.IPC, 5),
    metric_column(MetricKey.INSTRUCTIONS_PER_S, 7),
    metric_column(MetricKey.UTIL_PCT, 5),
    metric_column(MetricKey.CONTEXT_SWITCHES_PER_S, 6),
    metric_column(MetricKey.MIGRATIONS_PER_S, 6),
    (TableColumn.COVERAGE, "cov", 4),
    (TableColumn.CORE_TYPE, "core type", 12),
    metric_column(MetricKey.EFFECTIVE_GHZ, 7),
    metric_column(MetricKey.CYCLES, 7),
    metric_column(MetricKey.INSTRUCTIONS, 7),
)
LABEL_COLUMN = TableColumn.LABEL
# Spaces between columns, and on each side of a row.
GAP = 2
PAD = 1
# When the pane is narrower than every column, columns leave in this order (the first first), until
# the rest fit: raw counts, then what the detail line or the Σ rows also say, then the rates. The CPU
# label and util% always stay. (The README's "Layout by width" lists the same order.)
DROP_ORDER: tuple[ColumnKey, ...] = (
    MetricKey.INSTRUCTIONS,
    MetricKey.CYCLES,
    MetricKey.EFFECTIVE_GHZ,
    MetricKey.CONTEXT_SWITCHES_PER_S,
    MetricKey.MIGRATIONS_PER_S,
    TableColumn.CORE_TYPE,
    MetricKey.INSTRUCTIONS_PER_S,
    MetricKey.GHZ,
    TableColumn.COVERAGE,
    MetricKey.IPC,
)
# Sort modes cycled by `s`: (name shown, column key or None for CPU number). Figures sort high first
# and CPU numbers low first; `r` reverses either.
SORT_ORDER: tuple[ColumnKey, ...] = (
    MetricKey.UTIL_PCT,
    MetricKey.IPC,
    MetricKey.GHZ,
    MetricKey.INSTRUCTIONS_PER_S,
    MetricKey.CONTEXT_SWITCHES_PER_S,
    MetricKey.MIGRATIONS_PER_S,
    TableColumn.COVERAGE,
    MetricKey.EFFECTIVE_GHZ,
    MetricKey.CYCLES,
    MetricKey.INSTRUCTIONS,
)
TITLES = {key: title for key, title, _ in COLUMNS}

Cell = tuple[str, str]
Sort = tuple[str, ColumnKey | None]
BLANK: Cell = ("", "")
ASCENDING, DESCENDING = "▲", "▼"


# -- row keys ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuKey:
    """The row of one CPU, by number."""

    cpu: int

    @property
    def name(self) -> str:
        return f"cpu{self.cpu}"


@dataclass(frozen=True, slots=True)
class PmuKey:
    """The Σ row of one core PMU, by name."""

    pmu: str

    @property
    def name(self) -> str:
        return self.pmu


RowKey = CpuKey | PmuKey


# One key object per CPU and PMU: rows are compared and looked up by key every tick, and the same object
# compares equal by identity, without a call. (Bounded by the CPUs and PMUs of the machines shown.)
@cache
def cpu_key(cpu: int) -> CpuKey:
    return CpuKey(cpu)


@cache
def pmu_key(pmu: str) -> PmuKey:
    return PmuKey(pmu)


# -- pure helpers -----------------------------------------------------------------------------


def sorts_for(columns: tuple[Column, ...]) -> tuple[Sort, ...]:
    """The sort modes over the chosen columns: CPU number, those of SORT_ORDER that are chosen, then
    each chosen -e event."""
    keys = {key for key, _, _ in columns}
    events = tuple((title, key) for key, title, _ in columns if key.startswith(EVENT_METRIC_PREFIX))
    return (("CPU", None), *((TITLES[key], key) for key in SORT_ORDER if key in keys), *events)


SORTS = sorts_for(COLUMNS)


def placeholder_cells(core_type: Cell, first: Cell = BLANK, columns: tuple[Column, ...] = COLUMNS) -> tuple[Cell, ...]:
    """Cells of a row with no figures (before the first snapshot, or offline): only the core type."""
    cells = [core_type if key is TableColumn.CORE_TYPE else BLANK for key, _, _ in columns]
    if cells:
        cells[0] = first
    return tuple(cells)


@dataclass(frozen=True, slots=True)
class RowMarks:
    """Why a row's label stands out: the followed task is there, or its PMU is selected in the tree."""

    followed: frozenset[int] = frozenset()
    highlighted: frozenset[int] = frozenset()


def followed_cpus(snapshot: Snapshot | None) -> frozenset[int]:
    """The CPUs the followed tasks are running on now."""
    if snapshot is None:
        return frozenset()
    return frozenset(t.cpu_now for t in snapshot.tasks if t.alive and t.cpu_now is not None)


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


def sort_value(row: CpuRow, column: ColumnKey) -> float | None:
    """What a row is sorted by in a column: its figure, or for cov the coverage the cell shows."""
    return row_coverage(row.metric) if column is TableColumn.COVERAGE else row.metrics.get(column, NOT_COUNTED).value


# -- a row laid out in columns ----------------------------------------------------------------


def fit_columns(
    columns: tuple[Column, ...], width: int, label_width: int, keep: ColumnKey | None = None
) -> tuple[int, ...]:
    """The indices into `columns` (the chosen ones) of those a row `width` cells wide has room for:
    the -e event columns leave first (the last named first), then pmutop's in DROP_ORDER, but for
    `keep` (the sorted column stays in sight); when even the last ones do not fit, the table scrolls
    sideways."""
    index_of = {key: index for index, (key, _, _) in enumerate(columns)}
    shown = set(index_of.values())
    events = [key for key, _, _ in reversed(columns) if key.startswith(EVENT_METRIC_PREFIX)]

    def row_width() -> int:
        return 2 * PAD + label_width + sum(GAP + columns[index][2] for index in shown)

    for key in (*events, *DROP_ORDER):
        if row_width() <= width:
            break
        if key != keep and key in index_of:
            shown.discard(index_of[key])
    return tuple(sorted(shown))


def fit_text(value: str, width: int) -> str:
    """A name (from sysfs) in `width` cells, control bytes escaped, ended with an ellipsis when cut."""
    value = printable(value)
    return value.ljust(width) if len(value) <= width else value[: width - 1] + "…"


def line_pieces(
    cells: tuple[Cell, ...], label_width: int, columns: tuple[Column, ...], shown: tuple[int, ...]
) -> list[Cell]:
    """A row (its cells: the label's, then one per chosen column) as (text, style) pieces in the shown
    columns (indices into `columns`), padding included. The label and the core type come from sysfs and
    are shown with control bytes escaped (as `literal` does); the rest are numbers."""
    (label, label_style), *rest = cells
    pieces: list[Cell] = [(" " * PAD, ""), (fit_text(label, label_width), label_style)]
    for index in shown:
        column, _, width = columns[index]
        value, style = rest[index]
        pieces.append((" " * GAP, ""))
        pieces.append((fit_text(value, width) if column is TableColumn.CORE_TYPE else value.rjust(width), style))
    pieces.append((" " * PAD, ""))
    return pieces


def heading_pieces(
    label_width: int, columns: tuple[Column, ...], shown: tuple[int, ...], sort_key: ColumnKey | None, arrow: str
) -> list[Cell]:
    """The heading line; the sorted column's title carries the arrow (in the gap before a figure's)."""
    label = "CPU" + (arrow if sort_key is None else "")
    pieces: list[Cell] = [(" " * PAD, ""), (label.ljust(label_width), "")]
    for index in shown:
        key, title, width = columns[index]
        if key is TableColumn.CORE_TYPE:
            pieces.append((" " * GAP + title.ljust(width), ""))
        else:
            pieces.append(((arrow + title if key == sort_key else title).rjust(GAP + width), ""))
    pieces.append((" " * PAD, ""))
    return pieces


# -- the view model ---------------------------------------------------------------------------


class LiveModel:
    """The live table's rows and cells for the newest snapshot and the view options; the widget sets the
    options and asks for the rows in order and the cells of those on screen."""

    def __init__(self, topology: Topology, cpus: tuple[int, ...]) -> None:
        self.topology = topology
        # The CPUs the feed counts: the others get no row (`-C`).
        self.counted_cpus = frozenset(cpus)
        self.snapshot: Snapshot | None = None
        self.sort_index = 0
        self.sort_reversed = False
        self.grouped = True
        self.filter_text = ""
        self.marks = RowMarks()
        # The chosen columns, in order (the column chooser changes them; pmutop.tui.columns), and the sorts
        # over them.
        self.columns: tuple[Column, ...] = COLUMNS
        self.sorts = SORTS
        self.label_width = max(
            [len(f"cpu{cpu.cpu}") + 2 for cpu in topology.cpus] + [len(p.name) + 2 for p in topology.core_pmus] + [6]
        )
        self._core_pmu_of = {cpu.cpu: cpu.core_pmu for cpu in topology.cpus}
        # The snapshot _rows was worked out for; a fresh object so that the first call works them out.
        self._rows_of: Snapshot | object | None = object()
        self._rows: tuple[dict[int, CpuRow | None], dict[str, PmuRow | None]] = ({}, {})
        # The last description: what it was built from, and its text.
        self._described: tuple[tuple, Text] | None = None

    # -- options ---------------------------------------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        """The newest snapshot; the followed tasks' CPUs are marked from it."""
        self.snapshot = snapshot
        self.marks = RowMarks(followed_cpus(snapshot), self.marks.highlighted)

    def set_highlighted(self, cpus: frozenset[int]) -> bool:
        """Mark these CPUs (those of the PMU selected in the tree); whether that changed the marks."""
        if cpus == self.marks.highlighted:
            return False
        self.marks = RowMarks(self.marks.followed, cpus)
        return True

    def set_columns(self, columns: tuple[Column, ...]) -> bool:
        """Show these columns from now on (the sort stays if its column is still chosen, else it is by
        CPU); whether they differ from those shown."""
        if columns == self.columns:
            return False
        sort_key = self.sort_key
        self.columns = columns
        self.sorts = sorts_for(columns)
        keys = [key for _, key in self.sorts]
        if sort_key in keys:
            self.sort_index = keys.index(sort_key)
        else:
            self.sort_index, self.sort_reversed = 0, False
        return True

    def cycle_sort(self) -> None:
        """The next column to sort by, high first (CPU number: low first)."""
        self.sort_index = (self.sort_index + 1) % len(self.sorts)
        self.sort_reversed = False

    def reverse_sort(self) -> None:
        self.sort_reversed = not self.sort_reversed

    def sort_by(self, name: str) -> bool:
        """Sort by the mode named `name` (a heading, or "CPU"), if there is one; whether there was."""
        names = [sort_name for sort_name, _ in self.sorts]
        if name not in names:
            return False
        self.sort_index = names.index(name)
        return True

    @property
    def sort_name(self) -> str:
        return self.sorts[self.sort_index][0]

    @property
    def sort_key(self) -> ColumnKey | None:
        """The key of the column sorted by; None for CPU number."""
        return self.sorts[self.sort_index][1]

    @property
    def sort_arrow(self) -> str:
        """▼ for high first, ▲ for low first: CPU numbers go up by default, figures down."""
        ascending = (self.sort_key is None) != self.sort_reversed
        return ASCENDING if ascending else DESCENDING

    @property
    def column_keys(self) -> tuple[ColumnKey, ...]:
        return tuple(key for key, _, _ in self.columns)

    # -- rows ------------------------------------------------------------------------------

    def _rows_now(self) -> tuple[dict[int, CpuRow | None], dict[str, PmuRow | None]]:
        """The snapshot's CPU rows by number and PMU rows by name (None: not in it), once per snapshot."""
        if self._rows_of is not self.snapshot:
            self._rows_of = self.snapshot
            by_number: dict[int, CpuRow | None] = {cpu.cpu: None for cpu in self.topology.cpus}
            by_name: dict[str, PmuRow | None] = {pmu.name: None for pmu in self.topology.core_pmus}
            if self.snapshot is not None:
                by_number.update((row.cpu, row) for row in self.snapshot.cpus)
                by_name.update((row.pmu, row) for row in self.snapshot.pmus)
            self._rows = (by_number, by_name)
        return self._rows

    def _sorted_cpus(self, cpus: list[int], rows: dict[int, CpuRow | None]) -> list[int]:
        column = self.sort_key
        if column is None:
            return sorted(cpus, reverse=self.sort_reversed)
        # High first (low first reversed); CPUs without the figure go last either way, by number.
        sign = 1.0 if self.sort_reversed else -1.0

        def key(cpu: int) -> tuple[bool, float, int]:
            row = rows[cpu]
            value = sort_value(row, column) if row is not None and row.online else None
            return (value is None, sign * (value or 0.0), cpu)

        return sorted(cpus, key=key)

    def _visible_cpus(self) -> list[int]:
        return [
            cpu.cpu
            for cpu in self.topology.cpus
            if cpu.cpu in self.counted_cpus
            and matches_filter(self.filter_text, cpu.cpu, cpu.core_pmu, cpu.core_type.label if cpu.core_type else None)
        ]

    def groups(self) -> list[tuple[str | None, list[int]]]:
        """The CPUs shown (counted, and through the filter), by core PMU in core-type order, each in the
        topology's order: (PMU name, its CPUs), then (None, those of no core PMU) if any. A core PMU is there
        when some of its CPUs are, or (with none) when the filter names it. The table and the heat map both
        show these."""
        visible = self._visible_cpus()
        groups: list[tuple[str | None, list[int]]] = []
        owned: set[int] = set()
        core_pmu_of = self._core_pmu_of
        for core_type in self.topology.core_types:
            pmu = self.topology.pmu(core_type.pmu)
            members = [cpu for cpu in visible if core_pmu_of[cpu] == core_type.pmu]
            owned.update(members)
            if members or (pmu and matches_filter(self.filter_text, -1, pmu.name, core_type.label)):
                groups.append((core_type.pmu, members))
        rest = [cpu for cpu in visible if cpu not in owned]
        if rest:
            groups.append((None, rest))
        return groups

    def row_order(self) -> list[RowKey]:
        """The rows shown, top to bottom: each core PMU's Σ row and (grouped) its CPUs under it, then the
        CPUs of no core PMU (ungrouped: all the CPUs, after the Σ rows)."""
        rows = self._rows_now()[0]
        order: list[RowKey] = []
        ungrouped: list[int] = []
        for pmu, members in self.groups():
            if pmu is not None:
                order.append(pmu_key(pmu))
            if self.grouped and pmu is not None:
                order.extend(cpu_key(cpu) for cpu in self._sorted_cpus(members, rows))
            else:
                ungrouped.extend(members)
        order.extend(cpu_key(cpu) for cpu in self._sorted_cpus(ungrouped, rows))
        return order

    def no_match_notice(self) -> str:
        """What the table says in place of rows when the filter matches none."""
        return f"no CPU or PMU matches {printable(self.filter_text)!r}: / changes the filter, Esc there clears it"

    # -- cells -----------------------------------------------------------------------------

    def row_cells(self, key: RowKey) -> tuple[Cell, ...]:
        """A row's cells: its label's, then one per chosen column, each (text, style)."""
        cpu_rows, pmu_rows = self._rows_now()
        if isinstance(key, PmuKey):
            return self._pmu_cells(key.pmu, pmu_rows.get(key.pmu))
        return self._cpu_cells(key.cpu, cpu_rows.get(key.cpu))

    def cell(self, key: RowKey, column: ColumnKey) -> str:
        """The text shown in one column of a row (LABEL_COLUMN or a chosen column's key)."""
        return self.row_cells(key)[(LABEL_COLUMN, *self.column_keys).index(column)][0]

    def core_type_label(self, pmu: str) -> str:
        """The core type a core PMU covers, in words ("performance"); "" for another PMU."""
        return next((t.label for t in self.topology.core_types if t.pmu == pmu), "")

    def _pmu_cells(self, name: str, row: PmuRow | None) -> tuple[Cell, ...]:
        core_type = self.core_type_label(name)
        label: Cell = (f"Σ {name}", "bold")
        if row is None:
            return (label, *placeholder_cells((core_type, "bold"), columns=self.columns))
        return (label, *self._metric_cells(row.metric, core_type, bold=True))

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
            return (label, *placeholder_cells((core_type, "dim"), first=("offline", "dim"), columns=self.columns))
        if row is None:
            return (label, *placeholder_cells((core_type, ""), columns=self.columns))
        return (label, *self._metric_cells(row.metric, core_type, bold=False))

    def _metric_cells(self, lookup: Callable[..., Metric], core_type: str, *, bold: bool) -> tuple[Cell, ...]:
        result = []
        for key, _, _ in self.columns:
            if key is TableColumn.COVERAGE:
                cell = coverage_cell(row_coverage(lookup))
            elif key is TableColumn.CORE_TYPE:
                cell = (core_type, "")
            else:
                cell = metric_cell(key, lookup(key))
            if bold and cell[1] != "dim":
                cell = (cell[0], f"bold {cell[1]}".strip())
            result.append(cell)
        return tuple(result)

    # -- the selected row, described -------------------------------------------------------

    def describe(self, key: RowKey | None) -> Text:
        """The selected row in words: what it is, and why any cell says n/a."""
        if key is None:
            return Text("")
        cpu_rows, pmu_rows = self._rows_now()
        row = pmu_rows.get(key.pmu) if isinstance(key, PmuKey) else cpu_rows.get(key.cpu)
        # Asked every tick for the selected row, whose description seldom changes: built again only
        # when something it says did.
        said: tuple
        if row is None:
            said = (key,)
        elif isinstance(row, PmuRow):
            said = (
                key,
                self._reasons(row),
                row.encoding,
                row.metric(MetricKey.CYCLES).coverage,
                row.extrapolated_share,
            )
        else:
            said = (key, row.online, self._reasons(row))
        if self._described is None or self._described[0] != said:
            text = self._describe_pmu(key.pmu) if isinstance(key, PmuKey) else self._describe_cpu(key.cpu)
            self._described = (said, text)
        return self._described[1]

    def _describe_pmu(self, name: str) -> Text:
        pmu = self.topology.pmu(name)
        text = Text()
        text.append_text(literal(name, "bold"))
        if pmu is not None:
            text.append(f" type {pmu.type} · {self.core_type_label(name)} · CPUs {format_cpulist(pmu.cpus) or 'none'}")
        row = self._rows_now()[1].get(name)
        if row is not None:
            if row.encoding:
                text.append(f" · encoding {row.encoding}")
            cycles = row.metric(MetricKey.CYCLES)
            if cycles.coverage is not None:
                text.append(f" · coverage {cycles.coverage * 100:.0f}%")
            if row.extrapolated_share > 0:
                text.append(
                    f" · {row.extrapolated_share * 100:.1f}% of cycles+instructions extrapolated (multiplexed)",
                    style="yellow",
                )
            _append_reasons(text, self._reasons(row))
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
        row = self._rows_now()[0].get(cpu)
        online = row.online if row is not None else bool(topo_cpu and topo_cpu.online)
        if not online:
            text.append(" · offline: its counters resume when it comes back online", style="yellow")
            return text
        if row is not None:
            _append_reasons(text, self._reasons(row))
        return text

    def _reasons(self, row: CpuRow | PmuRow) -> tuple[tuple[str, str], ...]:
        """(column heading, why) for each n/a figure column of the row: the counter's failure, the model's
        note (a CPU too idle to measure its clock), or why the row has no such figure
        (pmutop.model.absence)."""
        snapshot = self.snapshot
        if snapshot is None:
            return ()
        reasons = []
        for key, heading, _ in self.columns:
            if isinstance(key, TableColumn):
                continue
            why = why_not_available(key, row.metrics.get(key), row, snapshot, self.topology)
            if why:
                # An event's heading may end in an ellipsis; its reason names the event whole.
                event = event_label(key)
                reasons.append((printable(event) if event is not None else heading, why))
        return tuple(reasons)


def _append_reasons(text: Text, reasons: tuple[tuple[str, str], ...]) -> None:
    """One line per distinct reason, naming the columns it blanks."""
    by_reason: dict[str, list[str]] = {}
    for heading, why in reasons:
        by_reason.setdefault(why, []).append(heading)
    for reason, headings in by_reason.items():
        text.append("\n")
        text.append(", ".join(headings) + " n/a: ", style="bold")
        text.append_text(literal(reason))
