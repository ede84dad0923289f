"""The live pane: one row per CPU, grouped under its core PMU with an aggregate row per PMU.

A line-API widget rather than a DataTable: a DataTable renders every visible line again after any
cell update, which at one tick a second cost more CPU than everything else pmutop does. Here each
row's line is built from its cells only when they (or the cursor, or the styles) changed, and a tick
repaints only the lines of the rows whose text changed. Rows are laid out in fixed-width columns
under a heading line that stays put while the rows scroll. The row order is worked out again each
tick (a sort by a changing metric reorders rows); the cursor stays on its row, and the scroll
position stays where it was.
"""

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pmutop.model.coverage import row_coverage
from pmutop.model.cpulist import format_cpulist, parse_cpulist
from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import EVENT_METRIC_PREFIX, NOT_COUNTED, CpuRow, PmuRow, Snapshot
from pmutop.model.text import printable
from pmutop.model.topology import Topology
from pmutop.tui.inbox import cpu_row_key, pmu_row_key
from pmutop.tui.paint import SteadyStyling, Styling, repaint_lines
from pmutop.tui.text import coverage_cell, literal, metric_cell


def metric_column(key: MetricKey, width: int) -> tuple[str, str, int]:
    return (key, key.heading(width), width)


# (column key, heading, width); metric columns are keyed by their MetricKey, headed by its label.
COLUMNS = (
    metric_column(MetricKey.GHZ, 5),
    metric_column(MetricKey.IPC, 5),
    metric_column(MetricKey.INSTRUCTIONS_PER_S, 7),
    metric_column(MetricKey.UTIL_PCT, 5),
    metric_column(MetricKey.CONTEXT_SWITCHES_PER_S, 6),
    metric_column(MetricKey.MIGRATIONS_PER_S, 6),
    ("coverage", "cov", 4),
    ("core_type", "core type", 12),
    metric_column(MetricKey.EFFECTIVE_GHZ, 7),
    metric_column(MetricKey.CYCLES, 7),
    metric_column(MetricKey.INSTRUCTIONS, 7),
)
LABEL_COLUMN = "label"
# Spaces between columns, and on each side of a row.
GAP = 2
PAD = 1
# Lines above the rows that do not scroll: the column headings.
HEADING_LINES = 1
# When the pane is narrower than every column, columns leave in this order (the first first), until
# the rest fit: raw counts, then what the detail line or the Σ rows also say, then the rates. The CPU
# label and util% always stay. (The README's "Layout by width" lists the same order.)
DROP_ORDER = (
    MetricKey.INSTRUCTIONS,
    MetricKey.CYCLES,
    MetricKey.EFFECTIVE_GHZ,
    MetricKey.CONTEXT_SWITCHES_PER_S,
    MetricKey.MIGRATIONS_PER_S,
    "core_type",
    MetricKey.INSTRUCTIONS_PER_S,
    MetricKey.GHZ,
    "coverage",
    MetricKey.IPC,
)
# Sort modes cycled by `s`: (name shown, column key or None for CPU number). Figures sort high first
# and CPU numbers low first; `r` reverses either.
SORT_ORDER = (
    MetricKey.UTIL_PCT,
    MetricKey.IPC,
    MetricKey.GHZ,
    MetricKey.INSTRUCTIONS_PER_S,
    MetricKey.CONTEXT_SWITCHES_PER_S,
    MetricKey.MIGRATIONS_PER_S,
    "coverage",
    MetricKey.EFFECTIVE_GHZ,
    MetricKey.CYCLES,
    MetricKey.INSTRUCTIONS,
)
TITLES = {key: title for key, title, _ in COLUMNS}

Cell = tuple[str, str]
Column = tuple[str, str, int]
BLANK: Cell = ("", "")


def sorts_for(columns: tuple[Column, ...]) -> tuple[tuple[str, str | None], ...]:
    """The sort modes over the chosen columns: CPU number, those of SORT_ORDER that are chosen, then
    each chosen -e event."""
    keys = {key for key, _, _ in columns}
    events = tuple((title, key) for key, title, _ in columns if key.startswith(EVENT_METRIC_PREFIX))
    return (("CPU", None), *((TITLES[key], key) for key in SORT_ORDER if key in keys), *events)


SORTS = sorts_for(COLUMNS)
ASCENDING, DESCENDING = "▲", "▼"


def placeholder_cells(core_type: Cell, first: Cell = BLANK, columns: tuple[Column, ...] = COLUMNS) -> tuple[Cell, ...]:
    """Cells of a row with no figures (before the first snapshot, or offline): only the core type."""
    cells = [core_type if key == "core_type" else BLANK for key, _, _ in columns]
    if cells:
        cells[0] = first
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


def fit_columns(columns: tuple[Column, ...], width: int, label_width: int, keep: str | None = None) -> tuple[int, ...]:
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
        pieces.append((fit_text(value, width) if column == "core_type" else value.rjust(width), style))
    pieces.append((" " * PAD, ""))
    return pieces


def heading_pieces(
    label_width: int, columns: tuple[Column, ...], shown: tuple[int, ...], sort_key: str | None, arrow: str
) -> list[Cell]:
    """The heading line; the sorted column's title carries the arrow (in the gap before a figure's)."""
    label = "CPU" + (arrow if sort_key is None else "")
    pieces: list[Cell] = [(" " * PAD, ""), (label.ljust(label_width), "")]
    for index in shown:
        key, title, width = columns[index]
        if key == "core_type":
            pieces.append((" " * GAP + title.ljust(width), ""))
        else:
            pieces.append(((arrow + title if key == sort_key else title).rjust(GAP + width), ""))
    pieces.append((" " * PAD, ""))
    return pieces


class LiveTable(SteadyStyling, ScrollView, can_focus=True):
    """The CPU table; the app calls `show` with each snapshot and setters for view options."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "cursor_top", "Top", show=False),
        Binding("end,ctrl+end", "cursor_bottom", "Bottom", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"live-table--header", "live-table--cursor"}
    # The look of Textual's DataTable, which this replaces.
    DEFAULT_CSS = """
    LiveTable {
        background: $surface;
        color: $foreground;
        & > .live-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .live-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .live-table--header {
                background-tint: $foreground 5%;
            }
            & > .live-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor is on another row (its key), or on none."""

        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, topology: Topology, cpus: tuple[int, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.topology = topology
        # The CPUs the feed counts: the others get no row (`-C`).
        self.counted_cpus = frozenset(cpus)
        self.snapshot: Snapshot | None = None
        self.sort_index = 0
        self.grouped = True
        self.filter_text = ""
        self.marks = RowMarks()
        self.cursor_row = 0
        self._order: list[str] = []
        # The cells of the rows on screen, by key: a row scrolled into view gets its cells when it is drawn,
        # so a tick over 448 CPUs formats the figures of the sixty or so rows that show.
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._announced: str | None = None
        self._label_width = max(
            [len(f"cpu{cpu.cpu}") + 2 for cpu in topology.cpus] + [len(p.name) + 2 for p in topology.core_pmus] + [6]
        )
        self.sort_reversed = False
        # The chosen columns, in order (the column chooser changes them; pmutop.tui.columns), the sorts
        # over them, and which of them the width has room for (indices into them, fitted on each resize).
        self.columns: tuple[Column, ...] = COLUMNS
        self.sorts = SORTS
        self.shown = tuple(range(len(COLUMNS)))
        self._heading: list[Cell] = []
        self._row_width = 0
        # Per row key (None: the heading): what its line was built from (cells, component class, styling, scroll)
        # and the line, so a repaint of the whole table builds only the lines that changed.
        self._lines: dict[str | None, tuple[tuple, Strip]] = {}
        # The snapshot _rows was worked out for; a fresh object so that the first call works them out.
        self._rows_of: Snapshot | object | None = object()
        self._rows: tuple[dict[int, CpuRow | None], dict[str, PmuRow | None]] = ({}, {})
        # The last description: what it was built from, and its text.
        self._described: tuple[tuple, Text] | None = None
        self._piece_styles_for: Styling | None = None
        self._piece_styles: dict[tuple[str, str], Style] = {}
        self._lay_out_columns()

    def set_columns(self, columns: tuple[Column, ...]) -> None:
        """Show these columns from now on (the sort stays if its column is still chosen, else it is by
        CPU); every line is built again."""
        if columns == self.columns:
            return
        sort_key = self.sort_key
        self.columns = columns
        self.sorts = sorts_for(columns)
        keys = [key for _, key in self.sorts]
        if sort_key in keys:
            self.sort_index = keys.index(sort_key)
        else:
            self.sort_index, self.sort_reversed = 0, False
        self._lay_out_columns()
        self._lines = {}
        self._cells = {}
        self._order = []
        self.refresh_rows()

    def on_mount(self) -> None:
        self.refresh_rows()

    def on_resize(self) -> None:
        self._lay_out_columns()
        self.refresh()

    def _lay_out_columns(self) -> None:
        """The columns that fit, the heading and the row width for them and the sort; every line is
        built again."""
        if self.is_mounted:
            self.shown = fit_columns(self.columns, self.styling.content_size.width, self._label_width, self.sort_key)
        else:
            self.shown = tuple(range(len(self.columns)))
        self._heading = heading_pieces(self._label_width, self.columns, self.shown, self.sort_key, self.sort_arrow)
        self._row_width = sum(len(text) for text, _ in self._heading)
        self._lines.clear()
        if self.is_mounted:
            self.virtual_size = Size(self._row_width, len(self._order) + HEADING_LINES)

    @property
    def sort_name(self) -> str:
        return self.sorts[self.sort_index][0]

    @property
    def sort_key(self) -> str | None:
        """The key of the column sorted by; None for CPU number."""
        return self.sorts[self.sort_index][1]

    @property
    def sort_arrow(self) -> str:
        """▼ for high first, ▲ for low first: CPU numbers go up by default, figures down."""
        ascending = (self.sort_key is None) != self.sort_reversed
        return ASCENDING if ascending else DESCENDING

    @property
    def shown_column_keys(self) -> tuple[str, ...]:
        return tuple(self.columns[index][0] for index in self.shown)

    @property
    def selected_key(self) -> str | None:
        if not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def cycle_sort(self) -> None:
        """The next column to sort by; one the width had dropped comes back while it is sorted by."""
        self.sort_index = (self.sort_index + 1) % len(self.sorts)
        self.sort_reversed = False
        self._lay_out_columns()
        self.refresh_rows()
        self.refresh()

    def reverse_sort(self) -> None:
        self.sort_reversed = not self.sort_reversed
        self._lay_out_columns()
        self.refresh_rows()
        self.refresh()

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

    # -- the cursor ------------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row `row` (clamped), scrolled into view."""
        row = max(0, min(row, len(self._order) - 1))
        if row != self.cursor_row:
            self._refresh_rows([self.cursor_row, row])
            self.cursor_row = row
        self._scroll_to_cursor()
        self._announce()

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADING_LINES)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + self._page_rows():
            self.scroll_to(y=self.cursor_row - self._page_rows() + 1, animate=False)

    def _announce(self) -> None:
        """Tell the app when the selected row changed (its detail line and history follow the cursor)."""
        key = self.selected_key
        if key != self._announced:
            self._announced = key
            self.post_message(self.RowHighlighted(key))

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.scroll_to(y=self.scroll_y - self._page_rows(), animate=False)
        self.move_cursor(self.cursor_row - self._page_rows())

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_y + self._page_rows(), animate=False)
        self.move_cursor(self.cursor_row + self._page_rows())

    def action_cursor_top(self) -> None:
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        line = event.y - self.gutter.top
        if line >= HEADING_LINES:
            row = round(self.scroll_y) + line - HEADING_LINES
            if row < len(self._order):
                self.move_cursor(row)

    # -- drawing ---------------------------------------------------------------------------

    def _refresh_rows(self, rows: list[int]) -> None:
        """Repaint the lines of those rows that are on screen (in one refresh: each call has a cost)."""
        top = round(self.scroll_y) - HEADING_LINES
        size = self.styling.content_size
        width = max(self.virtual_size.width, size.width)
        lines = [row - top for row in rows if HEADING_LINES <= row - top < size.height]
        if lines:
            repaint_lines(self, *(Region(0, y, width, 1) for y in lines))

    def render_line(self, y: int) -> Strip:
        # A change of size, theme or focus makes a new Styling, and the rows' lines are built again.
        styling = self.styling
        scroll_x, scroll_y = self.scroll_offset
        width = styling.content_size.width
        if y < HEADING_LINES:
            key, cells, kind = None, None, "live-table--header"
        else:
            row = y - HEADING_LINES + scroll_y
            if row >= len(self._order):
                if row == 0 and self.filter_text:
                    # Drawn afresh each time: only ever one line, while nothing matches.
                    return self._strip(self._no_match_pieces(), "", styling, scroll_x, width)
                return Strip.blank(width, styling.rich_style)
            key = self._order[row]
            cells, kind = self._cells_of(key), "live-table--cursor" if row == self.cursor_row else ""
        signature = (cells, kind, styling, scroll_x, self.columns, self.shown)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        pieces = self._heading if cells is None else line_pieces(cells, self._label_width, self.columns, self.shown)
        line = self._strip(pieces, kind, styling, scroll_x, width)
        self._lines[key] = (signature, line)
        return line

    def _no_match_pieces(self) -> list[Cell]:
        text = f"no CPU or PMU matches {printable(self.filter_text)!r}: / changes the filter, Esc there clears it"
        return [(" " * PAD, ""), (text, "italic yellow")]

    def _strip(self, pieces: list[Cell], kind: str, styling: Styling, scroll_x: int, width: int) -> Strip:
        """A row's pieces as a line `width` cells wide from column `scroll_x`, blank past its end.

        `kind` is the component class the line is drawn in ("" for a plain row)."""
        if self._piece_styles_for is not styling:
            # Each piece's style is the widget's, its line's component style and its cell's style added up:
            # worked out once per styling, not once a cell (a Style.parse and a Style add each).
            self._piece_styles_for, self._piece_styles = styling, {}
        piece_styles = self._piece_styles
        base = styling.rich_style

        def style_of(cell_style: str) -> Style:
            style = piece_styles.get((kind, cell_style))
            if style is None:
                style = base
                if kind:
                    style += styling.component_styles[kind]
                if cell_style:
                    style += Style.parse(cell_style)
                piece_styles[(kind, cell_style)] = style
            return style

        whole = "".join(text for text, _ in pieces)
        if not whole.isascii():
            # A wide character (from a sysfs name) makes cells and characters differ: Textual crops.
            wide = [Segment(text, style_of(cell_style)) for text, cell_style in pieces if text]
            length = cell_len(whole)
            return Strip(wide, length).crop_extend(scroll_x, scroll_x + width, base).simplify()
        # Cropped to the visible columns piece by piece (one character, one cell), and made into one Strip:
        # Textual's crop and extend would make two more, and every Strip costs eight objects. Pieces of one
        # style are joined into one segment, as Strip.simplify would: a line is the same segments whichever
        # path draws it (a screenshot's text runs do not depend on what was painted last).
        segments: list[Segment] = []
        end = scroll_x + width
        x = 0

        def add(text: str, style: Style) -> None:
            if segments and segments[-1].style is style:
                segments[-1] = Segment(segments[-1].text + text, style)
            else:
                segments.append(Segment(text, style))

        for text, cell_style in pieces:
            after = x + len(text)
            if after > scroll_x and text:
                add(text[max(scroll_x - x, 0) : end - x], style_of(cell_style))
            x = after
            if x >= end:
                break
        if x < end:
            add(" " * (end - max(x, scroll_x)), base)
        return Strip(segments, width)

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

    def _cpu_rows(self) -> dict[int, CpuRow | None]:
        return self._rows_now()[0]

    def _pmu_rows(self) -> dict[str, PmuRow | None]:
        return self._rows_now()[1]

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

    def row_order(self) -> list[str]:
        rows = self._cpu_rows()
        visible = self._visible_cpus()
        order: list[str] = []
        owned: set[int] = set()
        core_pmus = [(t, self.topology.pmu(t.pmu)) for t in self.topology.core_types]
        core_pmu_of = {cpu.cpu: cpu.core_pmu for cpu in self.topology.cpus}
        for core_type, pmu in core_pmus:
            members = [cpu for cpu in visible if core_pmu_of[cpu] == core_type.pmu]
            owned.update(members)
            if members or (pmu and matches_filter(self.filter_text, -1, pmu.name, core_type.label)):
                order.append(pmu_row_key(core_type.pmu))
            if self.grouped:
                order.extend(cpu_row_key(cpu) for cpu in self._sorted_cpus(members, rows))
        rest = [cpu for cpu in visible if cpu not in owned] if self.grouped else visible
        order.extend(cpu_row_key(cpu) for cpu in self._sorted_cpus(rest, rows))
        return order

    def _rows_on_screen(self, order: list[str]) -> range:
        top = round(self.scroll_y)
        return range(top, min(len(order), top + self._page_rows()))

    def _cells_of(self, key: str) -> tuple[Cell, ...]:
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self._row_cells(key, self._cpu_rows(), self._pmu_rows())
        return cells

    def refresh_rows(self) -> None:
        order = self.row_order()
        cpu_rows, pmu_rows = self._cpu_rows(), self._pmu_rows()
        on_screen = self._rows_on_screen(order)
        cells = {order[row]: self._row_cells(order[row], cpu_rows, pmu_rows) for row in on_screen}
        if order != self._order:
            selected = self.selected_key
            self._order = order
            self._cells = cells
            self._lines = {key: line for key, line in self._lines.items() if key in cells}
            self.virtual_size = Size(self._row_width, len(order) + HEADING_LINES)
            # The cursor stays on its row wherever that row went, or else stays where it was on screen.
            row = order.index(selected) if selected in order else self.cursor_row
            self.cursor_row = max(0, min(row, len(order) - 1))
            self.refresh()
            self._announce()
            return
        changed = [row for row in on_screen if cells[order[row]] != self._cells.get(order[row])]
        self._cells = cells
        self._refresh_rows(changed)

    def cell(self, key: str, column: str) -> str:
        """The text shown in one column of a row (LABEL_COLUMN or a shown column's key)."""
        keys = (LABEL_COLUMN, *(name for name, _, _ in self.columns))
        return self._cells_of(key)[keys.index(column)][0]

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

    def _metric_cells(self, lookup, core_type: str, *, bold: bool) -> tuple[Cell, ...]:
        result = []
        for key, _, _ in self.columns:
            if key == "coverage":
                cell = coverage_cell(row_coverage(lookup))
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
        row = self._pmu_rows().get(name) if kind == "pmu" else self._cpu_rows().get(int(name))
        # Asked every tick for the selected row, whose description seldom changes: built again only
        # when something it says did.
        if row is None:
            said: tuple = (key,)
        elif isinstance(row, PmuRow):
            said = (
                key,
                _reasons(row.metrics, self.columns),
                row.encoding,
                row.metric(MetricKey.CYCLES).coverage,
                row.extrapolated_share,
            )
        else:
            said = (key, row.online, _reasons(row.metrics, self.columns))
        if self._described is None or self._described[0] != said:
            text = self._describe_pmu(name) if kind == "pmu" else self._describe_cpu(int(name))
            self._described = (said, text)
        return self._described[1]

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
            cycles = row.metric(MetricKey.CYCLES)
            if cycles.coverage is not None:
                text.append(f" · coverage {cycles.coverage * 100:.0f}%")
            if row.extrapolated_share > 0:
                text.append(
                    f" · {row.extrapolated_share * 100:.1f}% of cycles+instructions extrapolated (multiplexed)",
                    style="yellow",
                )
            _append_reasons(text, row.metrics, self.columns)
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
            _append_reasons(text, row.metrics, self.columns)
        return text


def sort_value(row: CpuRow, column: str) -> float | None:
    """What a row is sorted by in a column: its figure, or for cov the coverage the cell shows."""
    return row_coverage(row.metric) if column == "coverage" else row.metrics.get(column, NOT_COUNTED).value


# Why a column is n/a when the row has no such figure at all (no counter failed, the model noted nothing).
ABSENT_WHY: dict[str, str] = {
    MetricKey.EFFECTIVE_GHZ: "TSC × APERF/MPERF, per CPU only, where the msr PMU has aperf and mperf (x86)",
}


def _reasons(metrics, columns: tuple[Column, ...]) -> tuple[tuple[str, str], ...]:
    """(column heading, why) for each n/a column: the counter's failure, or the model's note (a CPU too
    idle to measure its clock), or for a figure the row does not have, ABSENT_WHY."""
    reasons = []
    for key, heading, _ in columns:
        metric = metrics.get(key)
        if metric is None:
            why = ABSENT_WHY.get(key)
        elif metric.value is None:
            why = metric.failure.explanation if metric.failure is not None else metric.note
        else:
            why = None
        if why:
            reasons.append((heading, why))
    return tuple(reasons)


def _append_reasons(text: Text, metrics, columns: tuple[Column, ...]) -> None:
    """One line per distinct reason, naming the columns it blanks."""
    by_reason: dict[str, list[str]] = {}
    for heading, why in _reasons(metrics, columns):
        by_reason.setdefault(why, []).append(heading)
    for reason, headings in by_reason.items():
        text.append("\n")
        text.append(", ".join(headings) + " n/a: ", style="bold")
        text.append_text(literal(reason))
