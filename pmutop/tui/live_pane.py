"""The live pane's widget: one row per CPU, grouped under its core PMU with an aggregate row per PMU.

What the rows are, their order and their cells is `pmutop.tui.live_model.LiveModel`'s business; this
widget keeps the lines built from them, the cursor and the scroll position, and paints.

A line-API widget rather than a DataTable: a DataTable renders every visible line again after any
cell update, which at one tick a second cost more CPU than everything else pmutop does. Here each
row's line is built from its cells only when they (or the cursor, or the styles) changed, and a tick
repaints only the lines of the rows whose text changed. Rows are laid out in fixed-width columns
under a heading line that stays put while the rows scroll. The row order is worked out again each
tick (a sort by a changing metric reorders rows); the cursor stays on its row, and the scroll
position stays where it was.
"""

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pmutop.model.snapshot import Snapshot
from pmutop.model.topology import Topology
from pmutop.tui.live_model import PAD, Cell, Column, LiveModel, RowKey, fit_columns, heading_pieces, line_pieces
from pmutop.tui.paint import SteadyStyling, Styling, repaint_lines

# Lines above the rows that do not scroll: the column headings.
HEADING_LINES = 1
# The keys that move a cursor over rows, the table's and the heat map's (in a replay, the app's home and end
# seek: ctrl+home and ctrl+end move the cursor there).
CURSOR_BINDINGS: tuple[Binding, ...] = (
    Binding("up", "cursor_up", "Cursor up", show=False),
    Binding("down", "cursor_down", "Cursor down", show=False),
    Binding("pageup", "page_up", "Page up", show=False),
    Binding("pagedown", "page_down", "Page down", show=False),
    Binding("home,ctrl+home", "cursor_top", "Top", show=False),
    Binding("end,ctrl+end", "cursor_bottom", "Bottom", show=False),
)


class LiveTable(SteadyStyling, ScrollView, can_focus=True):
    """The CPU table's widget over its view model (`model`, a LiveModel): the app calls `show` with each
    snapshot and the setters for view options here (each repaints what it changed), and reads the view's
    state (sort, grouping, filter, columns) from `model`."""

    BINDINGS: ClassVar[list[BindingType]] = list(CURSOR_BINDINGS)
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

        def __init__(self, key: RowKey | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, topology: Topology, cpus: tuple[int, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = LiveModel(topology, cpus)
        self.cursor_row = 0
        self._order: list[RowKey] = []
        # The cells of the rows on screen, by key: a row scrolled into view gets its cells when it is drawn,
        # so a tick over 448 CPUs formats the figures of the sixty or so rows that show.
        self._cells: dict[RowKey, tuple[Cell, ...]] = {}
        self._announced: RowKey | None = None
        # Which of the chosen columns the width has room for (indices into them, fitted on each resize).
        self.shown = tuple(range(len(self.model.columns)))
        self._heading: list[Cell] = []
        self._row_width = 0
        # Per row key (None: the heading): what its line was built from (cells, component class, styling, scroll)
        # and the line, so a repaint of the whole table builds only the lines that changed.
        self._lines: dict[RowKey | None, tuple[tuple, Strip]] = {}
        self._piece_styles_for: Styling | None = None
        self._piece_styles: dict[tuple[str, str], Style] = {}
        self._lay_out_columns()

    def set_columns(self, columns: tuple[Column, ...]) -> None:
        """Show these columns from now on (the sort stays if its column is still chosen, else it is by
        CPU); every line is built again."""
        if not self.model.set_columns(columns):
            return
        self._lay_out_columns()
        self._lines = {}
        self._cells = {}
        self._order = []
        self.refresh_rows()

    def on_mount(self) -> None:
        self.refresh_rows()

    def on_resize(self) -> None:
        self._lay_out_columns()
        # The cursor stays on screen: also when the table is shown for the first time (the heat map's
        # `m`), its cursor put on a row before it had a height to scroll by.
        self._scroll_to_cursor()
        self.refresh()

    def _lay_out_columns(self) -> None:
        """The columns that fit, the heading and the row width for them and the sort; every line is
        built again."""
        model = self.model
        if self.is_mounted:
            # The width the rows can use: less the scrollbar's gutter, kept for it whether or not it shows.
            width = self.scrollable_content_region.width
            self.shown = fit_columns(model.columns, width, model.label_width, model.sort_key)
        else:
            self.shown = tuple(range(len(model.columns)))
        self._heading = heading_pieces(model.label_width, model.columns, self.shown, model.sort_key, model.sort_arrow)
        self._row_width = sum(len(text) for text, _ in self._heading)
        self._lines.clear()
        if self.is_mounted:
            self.virtual_size = Size(self._row_width, len(self._order) + HEADING_LINES)

    @property
    def shown_column_keys(self) -> tuple[str, ...]:
        return tuple(self.model.columns[index][0] for index in self.shown)

    @property
    def selected_key(self) -> RowKey | None:
        if not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def cycle_sort(self) -> None:
        """The next column to sort by; one the width had dropped comes back while it is sorted by."""
        self.model.cycle_sort()
        self._lay_out_columns()
        self.refresh_rows()
        self.refresh()

    def reverse_sort(self) -> None:
        self.model.reverse_sort()
        self._lay_out_columns()
        self.refresh_rows()
        self.refresh()

    def sort_by(self, name: str) -> None:
        """Sort by the mode named `name` (last session's), if the chosen columns have it."""
        if self.model.sort_by(name):
            self._lay_out_columns()
            self.refresh_rows()

    def set_grouped(self, grouped: bool) -> None:
        self.model.grouped = grouped
        self.refresh_rows()

    def set_filter(self, text: str) -> None:
        self.model.filter_text = text
        self.refresh_rows()

    def set_highlighted(self, cpus: frozenset[int]) -> None:
        """Mark the rows of these CPUs (those of the PMU selected in the tree)."""
        if self.model.set_highlighted(cpus):
            self.refresh_rows()

    def show(self, snapshot: Snapshot) -> None:
        self.model.show(snapshot)
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

    def select(self, key: RowKey | None) -> None:
        """Put the cursor on this row, if the table shows it."""
        if key in self._order:
            self.move_cursor(self._order.index(key))

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
                if row == 0 and self.model.filter_text:
                    # Drawn afresh each time: only ever one line, while nothing matches.
                    return self._strip(self._no_match_pieces(), "", styling, scroll_x, width)
                return Strip.blank(width, styling.rich_style)
            key = self._order[row]
            cells, kind = self._cells_of(key), "live-table--cursor" if row == self.cursor_row else ""
        columns = self.model.columns
        signature = (cells, kind, styling, scroll_x, columns, self.shown)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        pieces = self._heading if cells is None else line_pieces(cells, self.model.label_width, columns, self.shown)
        line = self._strip(pieces, kind, styling, scroll_x, width)
        self._lines[key] = (signature, line)
        return line

    def _no_match_pieces(self) -> list[Cell]:
        return [(" " * PAD, ""), (self.model.no_match_notice(), "italic yellow")]

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

    def _rows_on_screen(self, order: list[RowKey]) -> range:
        top = round(self.scroll_y)
        return range(top, min(len(order), top + self._page_rows()))

    def _cells_of(self, key: RowKey) -> tuple[Cell, ...]:
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self.model.row_cells(key)
        return cells

    def refresh_rows(self) -> None:
        order = self.model.row_order()
        row_cells = self.model.row_cells
        on_screen = self._rows_on_screen(order)
        cells = {order[row]: row_cells(order[row]) for row in on_screen}
        if order != self._order:
            selected = self.selected_key
            self._order = order
            self._cells = cells
            self._lines = {key: line for key, line in self._lines.items() if key in cells}
            self.virtual_size = Size(self._row_width, len(order) + HEADING_LINES)
            # The cursor stays on its row wherever that row went, or else stays where it was on screen.
            row = order.index(selected) if selected in order else self.cursor_row
            self.cursor_row = max(0, min(row, len(order) - 1))
            # And on screen, as htop keeps its selected process after a sort.
            self._scroll_to_cursor()
            self.refresh()
            self._announce()
            return
        changed = [row for row in on_screen if cells[order[row]] != self._cells.get(order[row])]
        self._cells = cells
        self._refresh_rows(changed)
