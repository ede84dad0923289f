"""pmutop's fast paint path: every use of Textual's private API in pmutop is in this module.

Importing it checks that the installed Textual is one of the versions this code was verified against
(tests/tui/test_painting.py compares its lines with Textual's own rendering) and that the private
signatures it builds on are as they were then; otherwise, or with PMUTOP_TEXTUAL_STOCK set, it raises
StockTextual before touching any private symbol, and pmutop.tui.paint runs on pmutop.tui.paint_stock.

Three speed-ups live here, each measured in benchmarks/README.md:

- LineCompositor and FastScreen: a tick's changed lines drawn straight from their widgets.
  Textual's compositor answers a partial update (a few changed lines) by asking every widget whose clip
  touches the bounding box of the changes for all of its lines, then keeps only the changed lines. This
  compositor asks only the widgets under the changed spans (not those elsewhere on the same screen
  lines, such as the topology pane beside the live table), skips a widget whose part of a change lies
  wholly under a widget in front of it, and asks each for just its part of the changed lines, in the
  same front-to-back order, at full width. Inside FastScreen.painting(), the lines that widgets mark
  with `repaint_lines` are drawn as the block ends (LineCompositor.lines_update) and written at once,
  without the four hand-offs between message pumps a refresh() takes. Textual's path stays for all
  else: layouts, scrolling, the cursor, screens on top.
- FastStyling and PlainLineCache: a widget's styling worked out once per size or style change, not
  once per paint. Widget.render_lines hands each call to its StylesCache along with the widget's
  region and content region, its background colours and opacity (each a walk over every ancestor's
  styles), the app's line filters and ANSI theme. They change only when the widget's size does, when
  styles are applied to it (`notify_style_update`) or when the whole widget is refreshed (an
  ancestor's colours, inline styles, a transition), so they are gathered then. For a widget without
  borders, outlines, hatching, tint or opacity, PlainLineCache does only the last part of
  StylesCache.render_line: pad the content line and give it its background.
- QuietLinuxDriver: Textual's LinuxDriver reads the terminal on a thread that wakes ten times a
  second whether or not a key was pressed; this one blocks until the terminal or a stop pipe is
  readable, in poll(2) (select(2) cannot watch a descriptor numbered 1024 or more, which the stop pipe
  is when the sampler holds a thousand perf fds, on 128 CPUs or more). For a moment after each input it
  still wakes every ESCAPE_DELAY, as Textual's does: the parser needs those ticks to tell a lone Esc
  from the start of an escape sequence.
"""

import inspect
import os
import selectors
import time
from codecs import getincrementaldecoder
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from importlib import metadata
from threading import Event
from typing import IO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.control import Control
from rich.style import Style
from textual import constants
from textual.color import Color
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Region, Size, Spacing
from textual.strip import Strip
from textual.widget import Widget

from pmutop.tui.paint_stock import PaintingScreen, SteadyStyling, Styling

# The Textual releases this module was run and tested against (StylesCache.render took `native_ansi`
# from 8.2.7 on; earlier 8.2 releases crash here).
VERIFIED_TEXTUAL = ("8.2.7", "8.2.8")
STOCK_VARIABLE = "PMUTOP_TEXTUAL_STOCK"


class StockTextual(ImportError):
    """Why the fast path is off: pmutop runs on stock Textual."""


def _check_version() -> str:
    if os.environ.get(STOCK_VARIABLE, "") not in ("", "0"):
        raise StockTextual(f"{STOCK_VARIABLE} is set")
    version = metadata.version("textual")
    if version not in VERIFIED_TEXTUAL:
        raise StockTextual(f"fast path verified on Textual {', '.join(VERIFIED_TEXTUAL)} only")
    return version


TEXTUAL_VERSION = _check_version()

# Past the version check: the private symbols, each checked for the shape this module relies on.
try:
    from textual._compositor import ChopsUpdate, Compositor, CompositorUpdate
    from textual._parser import ParseError
    from textual._segment_tools import line_pad
    from textual._styles_cache import StylesCache
    from textual._xterm_parser import XTermParser
    from textual.app import App
except ImportError as error:
    raise StockTextual(f"Textual {TEXTUAL_VERSION} lacks {error.name}") from error

# The parameters of each private callable this module calls or overrides, as verified.
EXPECTED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "StylesCache.render": (
        "self",
        "styles",
        "size",
        "base_background",
        "background",
        "render_content_line",
        "filters",
        "border_title",
        "border_subtitle",
        "content_size",
        "padding",
        "crop",
        "opacity",
        "ansi_theme",
        "native_ansi",
    ),
    "StylesCache.render_line": (
        "self",
        "styles",
        "y",
        "size",
        "content_size",
        "padding",
        "base_background",
        "background",
        "render_content_line",
        "border_title",
        "border_subtitle",
        "opacity",
        "ansi_theme",
        "native_ansi",
    ),
    "StylesCache.get_inner_outer": ("cls", "base_background", "background"),
    "line_pad": ("segments", "pad_left", "pad_right", "style"),
    "Compositor.render_partial_update": ("self",),
    "Compositor._render_chops": ("self", "crop", "is_rendered_line"),
    "Compositor._get_renders": ("self", "crop"),
    "Compositor._regions_to_spans": ("regions",),
    "XTermParser.__init__": ("self", "debug"),
    "App._display": ("self", "screen", "renderable"),
    "Widget._set_dirty": ("self", "regions"),
}
_NAMESPACES = {
    "StylesCache": StylesCache,
    "Compositor": Compositor,
    "XTermParser": XTermParser,
    "App": App,
    "Widget": Widget,
    "line_pad": line_pad,
}
for _name, _expected in EXPECTED_SIGNATURES.items():
    _owner, _, _attribute = _name.partition(".")
    _callable = getattr(_NAMESPACES[_owner], _attribute) if _attribute else _NAMESPACES[_owner]
    _found = tuple(inspect.signature(_callable).parameters)
    if _found != _expected:
        raise StockTextual(f"Textual {TEXTUAL_VERSION}: {_name}{_found} is not as verified")


# ---------------------------------------------------------------- styling


class PlainLineCache(StylesCache):
    """A StylesCache that draws the lines of an undecorated widget without its general-purpose checks."""

    def __init__(self) -> None:
        super().__init__()
        # The background style of the content and padding, while the widget has no border, outline,
        # tint, hatching or (text) opacity, and no padding above or below its content; else None.
        self.plain_style: Style | None = None

    def render_line(
        self,
        styles,
        y: int,
        size: Size,
        content_size: Size,
        padding: Spacing,
        base_background: Color,
        background: Color,
        render_content_line: Callable[[int], Strip],
        *rest,
    ) -> Strip:
        inner = self.plain_style
        if inner is None:
            return super().render_line(
                styles, y, size, content_size, padding, base_background, background, render_content_line, *rest
            )
        # What StylesCache.render_line does for a content line (its case C) when nothing else applies.
        line = render_content_line(y).adjust_cell_length(content_size.width, inner)
        if padding.left or padding.right:
            return Strip(line_pad(line, padding.left, padding.right, inner), size.width)
        # Strips are immutable: the content line itself, rather than a copy of its segments.
        return line


def is_plain(styles, opacity: float) -> bool:
    """Whether StylesCache.render_line would only pad a content line and give it its background."""
    no_edges = all(not edge for edge, _ in styles.border) and all(not edge for edge, _ in styles.outline)
    hatched = styles.has_rule("hatch") and styles.hatch != "none"
    return (
        no_edges
        and not hatched
        and not styles.tint.a
        and styles.text_opacity == 1.0
        and opacity == 1.0
        and not styles.padding.top
        and not styles.padding.bottom
    )


class FastStyling(SteadyStyling):
    """SteadyStyling with the styling gathered once per size or style change, and plain lines drawn by a
    PlainLineCache."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._styles_cache = PlainLineCache()

    def _forget_styling(self: Widget) -> None:
        self._styling = None
        # Until styling is worked out again, lines take StylesCache's general path.
        self._styles_cache.plain_style = None

    def notify_style_update(self: Widget) -> None:
        self._forget_styling()
        super().notify_style_update()

    def _set_dirty(self: Widget, *regions: Region) -> None:
        # The whole widget is dirty on every refresh() without regions: Textual's way of telling a widget
        # that an ancestor's colours, its own inline styles, or a transition changed how it looks, none of
        # which goes through notify_style_update. (A tick's lines never come here.)
        if not regions:
            self._forget_styling()
        super()._set_dirty(*regions)

    @property
    def styling(self: Widget) -> Styling:
        """The widget's size, styles and colours as they are now."""
        styling = self._styling
        if styling is None or styling.size != self._size:
            base_background, background = self.background_colors
            styles = self.styles
            app = self.app
            size = self._size
            content_size = size - styles.gutter.totals
            opacity = self.opacity
            arguments = {
                "styles": styles,
                "size": size,
                "base_background": base_background,
                "background": background,
                "render_content_line": self.render_line,
                "filters": self.get_line_filters(),
                "border_title": None,
                "border_subtitle": None,
                "content_size": content_size,
                "padding": styles.padding,
                "opacity": opacity,
                "ansi_theme": app.ansi_theme,
                "native_ansi": app.native_ansi_color,
            }
            cache = self._styles_cache
            inner = cache.get_inner_outer(base_background, background)[0].rich_style
            cache.plain_style = inner if is_plain(styles, opacity) else None
            components = {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES}
            styling = self._styling = Styling(
                size, content_size, self.content_offset, arguments, self.rich_style, components
            )
        return styling

    def render_lines(self: Widget, crop: Region) -> list[Strip]:
        # Unlike Widget.render_lines, no hover styling of links: these widgets draw none.
        if self._border_title is not None or self._border_subtitle is not None:
            return super().render_lines(crop)
        cache = self._styles_cache
        # As render_widget does: the blank line it keeps is only good for one call.
        cache._simple_strip = None
        return cache.render(crop=crop, **self.styling.render_arguments)


# ---------------------------------------------------------------- compositor and screen


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
            offset = widget.styling.content_offset if isinstance(widget, FastStyling) else widget.content_offset
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


class FastScreen(PaintingScreen):
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


# ---------------------------------------------------------------- driver
# How long after an input the thread keeps ticking the parser (any escape sequence is complete by then).
TICKING_S = 1.0


class WakingEvent(Event):
    """The input thread's stop flag; setting it also makes the thread's poll return.

    The pipe's read end never blocks: a thread that finds it readable only drains it, and a stale
    wake-up (two threads woken by one byte, a byte left from the last stop) costs a failed read, not a
    thread blocked in read(2) that the driver then waits for in join() forever."""

    def __init__(self) -> None:
        super().__init__()
        self.fileno, self._wake = os.pipe()
        os.set_blocking(self.fileno, False)

    def set(self) -> None:
        super().set()
        os.write(self._wake, b"\0")

    def clear(self) -> None:
        # LinuxDriver clears it after each stop, for a resume: the next input thread must not wake at once.
        super().clear()
        self.drain()

    def drain(self) -> None:
        with suppress(BlockingIOError):
            while os.read(self.fileno, 64):
                pass

    def close(self) -> None:
        os.close(self.fileno)
        os.close(self._wake)


class TerminalOutput:
    """The file the driver's writer thread writes the screen to, which outlives its terminal.

    Textual's writer thread dies on the first failed write (EIO once the terminal has hung up); its
    queue then fills and the event loop blocks for good in queue.put, deaf to every signal handler that
    asks it to quit. Here the first failed write marks the terminal gone and the rest are dropped (the
    hangup itself is noticed by `pmutop.cli.errors`, for every driver)."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            self._guarded(self._file.write, text)

    def flush(self) -> None:
        if not self.gone:
            self._guarded(self._file.flush)

    def fileno(self) -> int:
        return self._file.fileno()

    def _guarded(self, call: Callable[..., object], *args: object) -> None:
        try:
            call(*args)
        except OSError:
            self.gone = True


class QuietLinuxDriver(LinuxDriver):
    """Textual's LinuxDriver with a blocking poll for input, and a terminal that can go away.

    When the terminal goes away (its emulator or tmux server ends, an ssh link drops) the kernel sends
    the session leader SIGHUP and SIGCONT, and reads and writes on it fail. This driver (1) resumes on
    SIGCONT only after it suspended (Textual's resumes whenever one comes, starting a second input
    thread on the same stop flag, which the driver then joins forever on the way out); (2) keeps
    its writer thread alive after a failed write (TerminalOutput); and (3) stops reading a terminal
    that ends (EOF or EIO), so that the app can quit the normal way when the hangup's SIGHUP comes
    (raised by `pmutop.cli.errors`'s watch if the kernel sent none)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = WakingEvent()
        self._file = TerminalOutput(self._file)
        self._suspended = False

    def suspend_application_mode(self) -> None:
        self._suspended = True
        super().suspend_application_mode()

    def resume_application_mode(self) -> None:
        if self._suspended:
            self._suspended = False
            super().resume_application_mode()

    def close(self) -> None:
        super().close()
        self.exit_event.close()

    def run_input_thread(self) -> None:
        """Textual's input loop (LinuxDriver.run_input_thread), with a blocking poll when idle."""
        stop = self.exit_event
        selector = selectors.PollSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(stop.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        ticking_until = 0.0

        def read_input(final: bool = False) -> None:
            try:
                data = decode(os.read(self.fileno, 4096), final=final)
            except OSError:  # EIO: the terminal has hung up
                data = ""
            if not data:
                # End of input (a terminal hung up, a pipe ended): nothing more will come, so stop
                # waiting on it.
                selector.unregister(self.fileno)
                return
            for event in parser.feed(data):
                self.process_message(event)

        try:
            while not stop.is_set():
                timeout = constants.ESCAPE_DELAY if time.monotonic() < ticking_until else None
                for key, _ in selector.select(timeout):
                    if key.fd == stop.fileno:
                        stop.drain()
                    else:
                        read_input()
                        ticking_until = time.monotonic() + TICKING_S
                for event in parser.tick():
                    self.process_message(event)
            selector.unregister(stop.fileno)
            if selector.get_map() and selector.select(constants.ESCAPE_DELAY):
                read_input(final=True)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
