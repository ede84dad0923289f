"""The compact live view: every CPU as one cell of a grid, grouped under its core PMU, for machines whose
CPUs do not fit one row each (448 CPUs fit an 80×24 terminal).

A cell's colour is the CPU's utilisation (as btop's and htop's CPU meters: green, yellow, red as it
fills) and its glyph the CPU's IPC (a taller bar is more instructions per cycle, on a scale to
IPC_CEILING); an offline CPU is a dim `·`, a CPU whose figures are n/a a dim `?`. Each group starts with
its PMU's aggregate line, and each line of cells with the number of its first CPU (as htop numbers its
meters); a line holds consecutive CPUs where the height has room for that. The CPUs shown are the live
table's (`LiveModel.groups`: `-C` and the `/` filter), and a cursor (arrows, the mouse) selects a CPU or a
PMU's line, described in the detail area as the table's selected row is. Like the table it is a line-API
widget: a tick repaints only the lines whose cells changed, and never lays out the screen.
"""

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from pmutop.model.cpulist import format_cpulist
from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import CpuRow, PmuRow, Snapshot
from pmutop.model.text import printable
from pmutop.tui.live_model import CpuKey, LiveModel, RowKey, cpu_key, pmu_key
from pmutop.tui.live_pane import CURSOR_BINDINGS
from pmutop.tui.paint import SteadyStyling, repaint_lines
from pmutop.tui.text import metric_cell

IPC_GLYPHS = "▁▂▃▄▅▆▇█"
IPC_CEILING = 4.0
# Utilisation bands and their colours, as CPU meters show them.
UTIL_COLOURS = ((25.0, "green"), (50.0, "bright_green"), (75.0, "yellow"), (90.0, "dark_orange"), (101.0, "red"))
OFFLINE = ("·", "dim")
UNKNOWN = ("?", "dim")
Cell = tuple[str, str]
ELLIPSIS = "…"
SWATCHES: list[Cell] = [("■", colour) for _, colour in UTIL_COLOURS]
# The key line over the grid, the longest that fits the width (the last one ends in `…` when even it does not).
# Spaces part its entries: a ` · ` would read as the offline cell's glyph.
LEGENDS: tuple[list[Cell], ...] = (
    [
        ("colour: util% ", "dim"),
        *SWATCHES,
        (" 0 → 100   bar: IPC ", "dim"),
        (IPC_GLYPHS, ""),
        (" 0 → 4   offline ", "dim"),
        OFFLINE,
        ("   n/a ", "dim"),
        UNKNOWN,
        ("   m: a row per CPU", "dim"),
    ],
    [
        ("util% ", "dim"),
        *SWATCHES,
        (" 0→100  IPC ", "dim"),
        (IPC_GLYPHS, ""),
        (" 0→4  offline ", "dim"),
        OFFLINE,
        ("  n/a ", "dim"),
        UNKNOWN,
        ("  m: rows", "dim"),
    ],
    [("util% ", "dim"), *SWATCHES, ("  IPC ", "dim"), (IPC_GLYPHS, ""), ("  m: rows", "dim")],
)
# A cpulist longer than this (a scattered filter) leaves the group's title line: its cells' numbers say it.
TITLE_CPULIST_MAX = 24
CURSOR = "reverse"
# Cells a line holds are rounded down to a multiple of this (when it leaves at least two of them), so that
# a line's first CPU numbers are round and a column is the same offset on every line.
ROUND_CELLS = 8


def cpu_cell(row: CpuRow | None) -> Cell:
    """(glyph, style) of one CPU: colour by utilisation, glyph by IPC."""
    if row is None or not row.online:
        return OFFLINE
    util = row.metric(MetricKey.UTIL_PCT).value
    ipc = row.metric(MetricKey.IPC).value
    if util is None and ipc is None:
        return UNKNOWN
    colour = next((colour for top, colour in UTIL_COLOURS if util is not None and util < top), "bright_black")
    if ipc is None:
        return ("■", colour)
    step = min(len(IPC_GLYPHS) - 1, max(0, int(ipc / IPC_CEILING * len(IPC_GLYPHS))))
    return (IPC_GLYPHS[step], colour)


def fit_pieces(pieces: list[Cell], width: int) -> list[Cell]:
    """The pieces in at most `width` cells: those past the edge cut, the last kept one ended with `…`."""
    if sum(cell_len(text) for text, _ in pieces) <= width:
        return pieces
    fitted: list[Cell] = []
    room = width - 1
    for text, style in pieces:
        cells = cell_len(text)
        if cells >= room:
            if room > 0:
                fitted.append((set_cell_size(text, room), style))
            break
        fitted.append((text, style))
        room -= cells
    fitted.append((ELLIPSIS, "dim"))
    return fitted


def legend(width: int) -> list[Cell]:
    """The key line in `width` cells."""
    for pieces in LEGENDS:
        if sum(cell_len(text) for text, _ in pieces) <= width:
            return pieces
    return fit_pieces(LEGENDS[-1], width)


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A group's title line: its core PMU (None: the CPUs of no core PMU) and the CPUs shown under it."""

    pmu: str | None
    label: str
    cpus: tuple[int, ...]

    @property
    def key(self) -> RowKey | None:
        """The row the cursor selects on this line (the PMU's Σ row; none for CPUs of no core PMU)."""
        return pmu_key(self.pmu) if self.pmu is not None else None


@dataclass(frozen=True, slots=True)
class CellLine:
    """A line of cells, one per CPU, in order."""

    cpus: tuple[int, ...]


MapLine = GroupLine | CellLine


@dataclass(frozen=True, slots=True)
class Grid:
    """The map's lines for one width and height: which CPU is where, and how wide a cell is."""

    lines: tuple[MapLine, ...]
    cell_width: int
    # Columns of a line's CPU number (the widest shown), before the space that ends it.
    label_width: int

    def keys(self, line: int) -> tuple[RowKey, ...]:
        """What the cursor can select on a line, left to right."""
        shown = self.lines[line]
        if isinstance(shown, GroupLine):
            return (shown.key,) if shown.key is not None else ()
        return tuple(cpu_key(cpu) for cpu in shown.cpus)


def runs(cpus: list[int]) -> list[list[int]]:
    """The CPUs (ascending) as runs of consecutive numbers."""
    found: list[list[int]] = []
    for cpu in cpus:
        if found and cpu == found[-1][-1] + 1:
            found[-1].append(cpu)
        else:
            found.append([cpu])
    return found


def lay_out(groups: list[tuple[str | None, str, list[int]]], width: int, height: int) -> Grid:
    """The grid for `groups` ((PMU, label, CPUs) each) in a `width` × `height` area under the key line:
    two columns a cell, lines broken where the numbering jumps, a round number of cells a line, as far as
    the height has room for each; else one column a cell, cells packed. What fits no height scrolls.
    A run of CPUs takes as few lines as the width allows, each as full as the others."""
    shown = [cpu for _, _, cpus in groups for cpu in cpus]
    label_width = len(str(max(shown))) if shown else 1
    room = max(1, width - label_width - 1)
    choices = [
        (cell_width, split, rounded) for cell_width in (2, 1) for split in (True, False) for rounded in (True, False)
    ]
    grid = None
    for cell_width, split, rounded in choices:
        per_line = max(1, room // cell_width)
        if rounded and per_line >= 2 * ROUND_CELLS:
            per_line -= per_line % ROUND_CELLS
        lines: list[MapLine] = []
        for pmu, label, cpus in groups:
            lines.append(GroupLine(pmu, label, tuple(cpus)))
            for run in runs(cpus) if split else [cpus]:
                # As many lines as `per_line` needs, the cells shared out evenly (64 CPUs at 56 a line: two
                # lines of 32, not 56 and 8), still a round number a line when it was.
                count = -(-len(run) // per_line)
                even = -(-len(run) // count) if run else per_line
                if rounded and per_line >= 2 * ROUND_CELLS:
                    even = min(per_line, -(-even // ROUND_CELLS) * ROUND_CELLS)
                lines.extend(CellLine(tuple(run[start : start + even])) for start in range(0, len(run), even))
        grid = Grid(tuple(lines), cell_width, label_width)
        if len(lines) <= height:
            return grid
    assert grid is not None
    return grid


def title_pieces(line: GroupLine, row: PmuRow | None, selected: bool, width: int, filtered: bool = False) -> list[Cell]:
    """A group's title line in `width` cells: what does not fit leaves whole (the cpulist, then the figures
    from the last), and only what still does not fit ends in `…`. With a filter the line shows some of
    the PMU's CPUs, but its figures are the whole PMU's (its Σ row's), and it says so."""
    name = printable(line.pmu) if line.pmu is not None else line.label
    about = f" {printable(line.label)} ·" if line.pmu is not None and line.label and line.label != line.pmu else ""
    count = len(line.cpus)
    cpulist = format_cpulist(line.cpus)
    where = f" ({cpulist})" if count and len(cpulist) <= TITLE_CPULIST_MAX else ""
    head: Cell = (f"Σ {name}" if line.pmu is not None else name, f"bold {CURSOR}" if selected else "bold")
    counted = f"{about} {count} CPU{'' if count == 1 else 's'}{' shown' if filtered else ''}"
    figures: list[list[Cell]] = []
    if row is not None:
        for metric in (MetricKey.UTIL_PCT, MetricKey.IPC, MetricKey.GHZ):
            text, style = metric_cell(metric, row.metric(metric))
            figures.append([(f" · {metric.label} ", ""), (text, style or "bold")])
        if filtered:
            figures[0][0] = (f" · all {len(row.cpus)}: {MetricKey.UTIL_PCT.label} ", "")
    choices = [(where, len(figures)), *(("", kept) for kept in range(len(figures), -1, -1))]
    for shown_where, kept in choices:
        pieces = [head, (counted + shown_where, ""), *(piece for figure in figures[:kept] for piece in figure)]
        if sum(cell_len(text) for text, _ in pieces) <= width:
            return pieces
    return fit_pieces(pieces, width)


class CpuHeatMap(SteadyStyling, Widget, can_focus=True):
    """The grid over the live table's view model (its groups and filter, and its description of the row
    selected here); the app calls `show` with each snapshot and `refresh_groups` when the filter changed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *CURSOR_BINDINGS,
        # In a replay ← and → seek (the app's keys come first); shift+←/→ move the cursor there too.
        Binding("left,shift+left", "cursor_left", "Cursor left", show=False),
        Binding("right,shift+right", "cursor_right", "Cursor right", show=False),
    ]
    DEFAULT_CSS = "CpuHeatMap { height: 1fr; min-height: 5; padding: 0 1; }"

    class CellHighlighted(Message):
        """The cursor is on another CPU or PMU line (its row key), or on none."""

        def __init__(self, key: RowKey | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, model: LiveModel, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self._cpu_rows: dict[int, CpuRow] = {}
        self._pmu_rows: dict[str, PmuRow] = {}
        self.groups: list[tuple[str | None, str, list[int]]] = []
        self.grid = Grid((), 2, 1)
        # The grid's line shown first under the key line, and the selected row with the column up and down
        # keep to (as a text editor's cursor keeps its column across shorter lines).
        self.top = 0
        self.cursor: RowKey | None = None
        self._column = 0
        self._announced: RowKey | None = None
        # The width and height the grid was laid out for (None: the groups changed since).
        self._grid_for: int | None = None
        self._grid_for_height = 0
        # The pieces of each line on screen, as last painted.
        self._painted: list[list[Cell]] = []
        # Each cell style added to the widget's, once per styling.
        self._styles_for = None
        self._styles: dict[str, Style] = {}
        self.refresh_groups()

    # -- what is shown ---------------------------------------------------------------------

    def refresh_groups(self) -> None:
        """Take the model's groups again (the filter changed): laid out, and repainted, anew."""
        model = self.model
        self.groups = [
            (pmu, model.core_type_label(pmu) if pmu is not None else "no core PMU", cpus)
            for pmu, cpus in model.groups()
        ]
        if len(self.groups) > 1 and self.groups[-1][0] is None:
            self.groups[-1] = (None, "other", self.groups[-1][2])
        self._grid_for = None
        if self.is_mounted:
            self._paint(whole=True)

    def show(self, snapshot: Snapshot | None) -> None:
        self._cpu_rows = {row.cpu: row for row in snapshot.cpus} if snapshot else {}
        self._pmu_rows = {row.pmu: row for row in snapshot.pmus} if snapshot else {}
        if self.display:
            self._paint()

    @property
    def selected_key(self) -> RowKey | None:
        return self.cursor

    def select(self, key: RowKey | None) -> None:
        """Put the cursor on this row's cell or line, if the map shows it."""
        self._fit()
        position = self._position(key)
        if position is not None:
            self._move_to(*position)
            self._paint()

    # -- layout ----------------------------------------------------------------------------

    def _content_height(self) -> int:
        return max(1, self.styling.content_size.height - 1)

    def _fit(self) -> None:
        """Lay the grid out again if the groups or the width changed, or the height no longer holds it, keeping
        the cursor on its row. Not when the height only grew: the detail area grows and shrinks with the row
        selected, and the cells would jump about as the cursor moves."""
        width, height = self.styling.content_size.width, self._content_height()
        if self._grid_for == width and (len(self.grid.lines) <= height or self._grid_for_height == height):
            return
        self._grid_for, self._grid_for_height = width, height
        self.grid = lay_out(self.groups, width, height)
        position = self._position(self.cursor)
        if position is None:
            self.cursor, self._column = None, 0
            position = self._first_position()
        if position is not None:
            self._move_to(*position, announce=False, keep_column=True)
        self.top = min(self.top, max(0, len(self.grid.lines) - self._content_height()))
        self._scroll_to_cursor()
        self._announce()

    def _position(self, key: RowKey | None) -> tuple[int, int] | None:
        if key is None:
            return None
        for line in range(len(self.grid.lines)):
            keys = self.grid.keys(line)
            if key in keys:
                return line, keys.index(key)
        return None

    def _first_position(self) -> tuple[int, int] | None:
        return next(((line, 0) for line in range(len(self.grid.lines)) if self.grid.keys(line)), None)

    # -- the cursor ------------------------------------------------------------------------

    def _cursor_line(self) -> int | None:
        position = self._position(self.cursor)
        return position[0] if position is not None else None

    def _move_to(self, line: int, index: int, *, announce: bool = True, keep_column: bool = False) -> None:
        keys = self.grid.keys(line)
        if not keys:
            return
        index = max(0, min(index, len(keys) - 1))
        if not keep_column:
            self._column = index
        self.cursor = keys[index]
        self._scroll_to_cursor()
        if announce:
            self._announce()

    def _scroll_to_cursor(self) -> None:
        line = self._cursor_line()
        if line is None:
            return
        height = self._content_height()
        if line < self.top:
            self.top = line
        elif line >= self.top + height:
            self.top = line - height + 1

    def _announce(self) -> None:
        if self.cursor != self._announced:
            self._announced = self.cursor
            self.post_message(self.CellHighlighted(self.cursor))

    def _step_lines(self, lines: int) -> None:
        """Up or down `lines` lines with a selectable row, to the column kept (or the line's last)."""
        current = self._cursor_line()
        if current is None:
            return
        selectable = [line for line in range(len(self.grid.lines)) if self.grid.keys(line)]
        at = selectable.index(current)
        target = selectable[max(0, min(at + lines, len(selectable) - 1))]
        column = self._column if isinstance(self.grid.lines[target], CellLine) else 0
        self._move_to(target, column, keep_column=True)
        self._paint()

    def _step_cells(self, cells: int) -> None:
        """Left or right through every selectable row in order, across lines."""
        order = [(line, index) for line in range(len(self.grid.lines)) for index in range(len(self.grid.keys(line)))]
        if not order:
            return
        position = self._position(self.cursor)
        at = order.index(position) if position in order else 0
        self._move_to(*order[max(0, min(at + cells, len(order) - 1))])
        self._paint()

    def action_cursor_up(self) -> None:
        self._step_lines(-1)

    def action_cursor_down(self) -> None:
        self._step_lines(1)

    def action_cursor_left(self) -> None:
        self._step_cells(-1)

    def action_cursor_right(self) -> None:
        self._step_cells(1)

    def action_page_up(self) -> None:
        self._step_lines(-self._content_height())

    def action_page_down(self) -> None:
        self._step_lines(self._content_height())

    def action_cursor_top(self) -> None:
        self._step_cells(-len(self.model.counted_cpus) - len(self.groups))

    def action_cursor_bottom(self) -> None:
        self._step_cells(len(self.model.counted_cpus) + len(self.groups))

    def on_click(self, event: events.Click) -> None:
        y, x = event.y - self.gutter.top, event.x - self.gutter.left
        line = self.top + y - 1
        if y < 1 or not 0 <= line < len(self.grid.lines):
            return
        if isinstance(self.grid.lines[line], GroupLine):
            self._move_to(line, 0)
        elif x > self.grid.label_width:
            index = (x - self.grid.label_width - 1) // self.grid.cell_width
            if index >= len(self.grid.keys(line)):
                return
            self._move_to(line, index)
        self._paint()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_by(3)
        event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_by(-3)
        event.stop()

    def _scroll_by(self, lines: int) -> None:
        self.top = max(0, min(self.top + lines, len(self.grid.lines) - self._content_height()))
        self._paint()

    # -- drawing ---------------------------------------------------------------------------

    def _screen_lines(self) -> list[list[Cell]]:
        """The pieces of each line on screen: the key line, then the grid's lines from `top`."""
        width = self.styling.content_size.width
        grid, cursor = self.grid, self.cursor
        lines = [legend(width)]
        if not self.groups and self.model.filter_text:
            lines.append(fit_pieces([(self.model.no_match_notice(), "italic yellow")], width))
        cpu_rows = self._cpu_rows
        for shown in grid.lines[self.top : self.top + self._content_height()]:
            if isinstance(shown, GroupLine):
                row = self._pmu_rows.get(shown.pmu) if shown.pmu is not None else None
                selected = shown.key is not None and shown.key == cursor
                lines.append(title_pieces(shown, row, selected, width, bool(self.model.filter_text)))
                continue
            gap = " " * (grid.cell_width - 1)
            has_cursor = isinstance(cursor, CpuKey) and cursor.cpu in shown.cpus
            pieces: list[Cell] = [(f"{shown.cpus[0]:>{grid.label_width}} ", "bold" if has_cursor else "dim")]
            # Cells of one colour in a row are one piece (and one segment): a line's cost is its colours.
            run, run_style = "", ""
            for cpu in shown.cpus:
                glyph, style = cpu_cell(cpu_rows.get(cpu))
                if has_cursor and cursor == cpu_key(cpu):
                    pieces.append((run, run_style))
                    pieces.append((glyph, f"{style} {CURSOR}"))
                    run, run_style = gap, ""
                elif style == run_style:
                    run += glyph + gap
                else:
                    pieces.append((run, run_style))
                    run, run_style = glyph + gap, style
            pieces.append((run, run_style))
            lines.append(fit_pieces([piece for piece in pieces if piece[0]], width))
        return lines

    def _paint(self, whole: bool = False) -> None:
        self._fit()
        lines = self._screen_lines()
        painted = self._painted
        changed = [y for y, line in enumerate(lines) if whole or y >= len(painted) or painted[y] != line]
        changed += range(len(lines), len(painted))
        self._painted = lines
        width = self.styling.size.width
        if changed:
            repaint_lines(self, *(Region(0, y, width, 1) for y in changed))

    def on_resize(self) -> None:
        self._grid_for = None
        self._fit()
        self._painted = self._screen_lines()
        self.refresh()

    def on_show(self) -> None:
        self._paint(whole=True)

    def render_line(self, y: int) -> Strip:
        styling = self.styling
        base, width = styling.rich_style, styling.content_size.width
        if y >= len(self._painted):
            return Strip.blank(width, base)
        if self._styles_for is not styling:
            self._styles_for, self._styles = styling, {}
        segments = []
        length = 0
        for text, style in self._painted[y]:
            cell_style = self._styles.get(style)
            if cell_style is None:
                cell_style = self._styles[style] = base + Style.parse(style) if style else base
            segments.append(Segment(text, cell_style))
            length += cell_len(text)
        if length < width:
            segments.append(Segment(" " * (width - length), base))
        return Strip(segments, width)
