"""The main screen, with a compositor that renders only the parts of the screen an update repaints.

Textual's compositor answers a partial update (a few changed lines) by asking every widget whose clip
touches the bounding box of the changes for all of its lines, then keeps only the changed lines. A
tick of pmutop changes a few lines of the live table and the history line, so each tick would walk
every line of every pane: cached, but that walk was most of a tick's CPU. This compositor asks only
the widgets under the changed spans (not those elsewhere on the same screen lines, such as the
topology pane beside the live table), skips a widget whose part of a change lies wholly under a widget
in front of it (the containers behind the live table), and asks each for just its part of the changed
lines, in the same front-to-back order, at full width (the compositor's cuts are widget edges, so a
widget is never split across columns here). Only the changed spans are written to the terminal, so
the cuts of the widgets not asked are never needed.

A tick goes further (PmutopScreen.painting, LineCompositor.lines_update): the lines that changed are
drawn straight from their widgets, cut where a widget in front covers them, and written as pieces of
lines, without the compositor's passes over every line of the screen. Textual's path stays for all
else: layouts, scrolling, the cursor, screens on top.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from rich.console import Console, ConsoleOptions, RenderResult
from rich.control import Control
from textual._compositor import ChopsUpdate, Compositor, CompositorUpdate
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from pmutop.tui.steady_styling import SteadyStyling


def line_runs(crop: Region, is_rendered_line: Callable[[int], bool]) -> list[tuple[int, int]]:
    """The runs [start, end) of consecutive lines of `crop` that are to be rendered."""
    runs: list[tuple[int, int]] = []
    start = None
    for y in crop.line_range:
        if is_rendered_line(y):
            if start is None:
                start = y
        elif start is not None:
            runs.append((start, y))
            start = None
    if start is not None:
        runs.append((start, crop.bottom))
    return runs


def span_regions(spans: Iterable[tuple[int, int, int]]) -> list[Region]:
    """The changed spans (y, x1, x2), sorted by line, as regions: a span below one with the same columns
    lengthens that region instead of starting another."""
    regions: list[Region] = []
    open_: dict[tuple[int, int], int] = {}  # (x1, x2) -> index in regions of the one ending on the last line
    for y, x1, x2 in spans:
        if x2 <= x1:
            continue
        index = open_.get((x1, x2))
        if index is not None and regions[index].bottom == y:
            region = regions[index]
            regions[index] = Region(region.x, region.y, region.width, region.height + 1)
        else:
            open_[(x1, x2)] = len(regions)
            regions.append(Region(x1, y, x2 - x1, 1))
    return regions


class LinesUpdate(CompositorUpdate):
    """Pieces of lines to write: (x, y, strip) in screen cells."""

    def __init__(self, pieces: list[tuple[int, int, Strip]]) -> None:
        self.pieces = pieces

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for x, y, strip in self.pieces:
            yield Control.move_to(x, y).segment
            yield from strip

    def render_segments(self, console: Console) -> str:
        # Control.move_to(x, y)'s sequence, written out: a Control object per piece costs more than the piece.
        return "".join(f"\x1b[{y + 1};{x + 1}H{strip.render(console)}" for x, y, strip in self.pieces)


def uncovered(span: tuple[int, int], covers: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of the column span [x1, x2) that none of the spans in `covers` overlaps."""
    parts = [span]
    for cover_x1, cover_x2 in covers:
        parts = [
            part for x1, x2 in parts for part in ((x1, min(x2, cover_x1)), (max(x1, cover_x2), x2)) if part[1] > part[0]
        ]
    return parts


class LineCompositor(Compositor):
    def __init__(self) -> None:
        super().__init__()
        self._runs: list[tuple[int, int]] | None = None
        self._targets: list[Region] | None = None

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = self._dirty_regions
        if regions:
            screen = self.size.region
            self._targets = span_regions(self._regions_to_spans(region.intersection(screen) for region in regions))
        try:
            return super().render_partial_update()
        finally:
            self._targets = None

    def lines_update(self, changed: Mapping[Widget, Iterable[Region] | None]) -> LinesUpdate:
        """The changed lines of these widgets (regions in each one's content coordinates; None: all of
        it), drawn where no widget in front covers them, as pieces of lines to write.

        What render_partial_update would write for them, without its passes over every line of the
        screen (its cuts, chops and their ends) and without the compositor's dirty-region state: the
        widget's lines, cut where a widget in front of it (its scrollbars, a notification) overlaps.
        """
        visible = self.visible_widgets
        pieces: list[tuple[int, int, Strip]] = []
        for widget, regions in changed.items():
            cache = widget._styles_cache
            offset = widget.styling.content_offset if isinstance(widget, SteadyStyling) else widget.content_offset
            if regions is not None:
                lines = [region.translate(offset) for region in regions]
                cache.set_dirty(*lines)
            else:
                cache.clear()
                lines = [widget.outer_size.region]
            geometry = visible.get(widget)
            if geometry is None:
                continue
            region, clip = geometry
            shown = region.intersection(clip)
            # Widgets earlier in the map are in front: each covers the parts of lines it overlaps.
            in_front: list[Region] = []
            for other, (other_region, other_clip) in visible.items():
                if other is widget:
                    break
                cover = other_region.intersection(other_clip).intersection(shown)
                if cover:
                    in_front.append(cover)
            for line in lines:
                target = line.translate(region.offset).intersection(shown)
                for y in target.line_range:
                    covers = [(cover.x, cover.right) for cover in in_front if cover.y <= y < cover.bottom]
                    for x1, x2 in uncovered((target.x, target.right), covers):
                        (strip,) = widget.render_lines(Region(x1 - region.x, y - region.y, x2 - x1, 1))
                        pieces.append((x1, y, strip))
        return LinesUpdate(pieces)

    def _render_chops(self, crop: Region, is_rendered_line: Callable[[int], bool]) -> Sequence[Mapping[int, Strip]]:
        self._runs = line_runs(crop, is_rendered_line)
        try:
            return super()._render_chops(crop, is_rendered_line)
        finally:
            self._runs = None

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None or self._runs is None:
            yield from super()._get_renders(crop)
            return
        if self._targets is not None:
            yield from self._get_span_renders(self._targets)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            for start, end in self._runs:
                lines = visible.intersection(Region(visible.x, start, visible.width, end - start))
                if lines.height and lines.width:
                    # Returned as its own region and clip: the chops take exactly these lines.
                    yield lines, lines, widget.render_lines(lines.translate((-region.x, -region.y)))

    def _get_span_renders(self, targets: list[Region]) -> Iterable[tuple[Region, Region, list[Strip]]]:
        # Front to back: what a widget in front already drew over a whole change needs nothing behind it.
        drawn: list[Region] = []
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            if not (visible.width and visible.height):
                continue
            for target in targets:
                part = visible.intersection(target)
                if not (part.width and part.height):
                    continue
                if any(front.contains_region(part) for front in drawn):
                    continue
                lines = Region(visible.x, part.y, visible.width, part.height)
                drawn.append(lines)
                yield lines, lines, widget.render_lines(lines.translate((-region.x, -region.y)))


class PmutopScreen(Screen):
    """The main screen: a LineCompositor, and a tick's changed lines drawn in the tick's own handler.

    A widget's refresh() reaches the terminal through four hand-offs between message pumps (the
    widget's idle handler posts an Update to the screen, whose idle handler resumes its update timer,
    whose callback runs the compositor, which then posts Ready to the app), each a wake-up of an
    asyncio task: most of the UI's CPU for a tick that changes three lines. Inside `painting()`, the
    lines that widgets mark with `repaint_lines` are instead drawn as the block ends, by
    LineCompositor.lines_update, and written at once. Anything else (a layout, a scroll, another
    screen on top) takes Textual's own path.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = LineCompositor()
        # While painting(): the widgets whose lines changed, with the changed regions (None: all of it).
        self._changed_lines: dict[Widget, set[Region] | None] | None = None

    @contextmanager
    def painting(self) -> Iterator[None]:
        self._changed_lines = {}
        try:
            yield
        except BaseException:
            # The handler failed: its lines are left to whatever Textual does next, and the error shows.
            self._changed_lines = None
            raise
        changed, self._changed_lines = self._changed_lines, None
        self._paint(changed)

    def repaint_lines(self, widget: Widget, *regions: Region) -> None:
        """Repaint `regions` of `widget` (its content's coordinates; none: all of it), as refresh() would."""
        changed = self._changed_lines
        if changed is None:
            widget.refresh(*regions)
        elif not regions:
            changed[widget] = None
        elif widget not in changed:
            changed[widget] = set(regions)
        elif changed[widget] is not None:
            # A set: a row marked twice in one tick (new cells, then new marks) is drawn once.
            changed[widget].update(regions)

    def _paint(self, changed: dict[Widget, set[Region] | None]) -> None:
        if not changed:
            return
        pending = self._layout_required or self._scroll_required or self._repaint_required or self._recompose_required
        app = self.app
        if pending or app.screen is not self or app._batch_count:
            # The next screen update draws everything that changed anyway; these lines go with it.
            for widget, regions in changed.items():
                widget.refresh(*(regions or ()))
            return
        update = self._compositor.lines_update(changed)
        if update.pieces:
            app._display(self, update)


def repaint_lines(widget: Widget, *regions: Region) -> None:
    """Repaint lines of a widget: within its PmutopScreen's painting() block, at the block's end."""
    screen = widget.own_screen if isinstance(widget, SteadyStyling) else widget.screen
    if isinstance(screen, PmutopScreen):
        screen.repaint_lines(widget, *regions)
    else:
        widget.refresh(*regions)
