"""How pmutop's line-API widgets get their styling and repaint their lines, on Textual's public API only.

This is the whole of the paint path when Textual is one pmutop's fast path was not verified against
(or PMUTOP_TEXTUAL_STOCK is set): a widget's styling is worked out from its public properties when
asked, and a changed line is a plain `refresh(region)`. pmutop.tui.paint_fast builds its faster path
on these same classes; pmutop.tui.paint picks one.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.geometry import Offset, Region, Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static


@dataclass(frozen=True, slots=True, eq=False)
class Styling:
    """Compared by identity: a new one is made whenever anything in it may have changed."""

    size: Size
    content_size: Size
    # Where the content starts in the widget (its top and left padding and border).
    content_offset: Offset
    # What the fast path's StylesCache.render takes, but the crop (empty on the stock path).
    render_arguments: dict[str, Any]
    rich_style: Style
    # The widget's COMPONENT_CLASSES, by name.
    component_styles: dict[str, Style]


class SteadyStyling:
    """A mixin for line-API widgets, ahead of their Widget base: `class Table(SteadyStyling, ScrollView)`.

    Not itself a Widget: Textual inherits DEFAULT_CSS along the first base that is one, and that must
    stay the widget's own base (ScrollView's CSS gives a LiveTable its scrollbars).
    """

    _screen: Screen | None = None
    _styling: Styling | None = None

    @property
    def styling(self: Widget) -> Styling:
        """The widget's size, styles and colours as they are now: looked up on every call, and the same
        Styling object as last time while they are equal (widgets cache lines by it)."""
        components = {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES}
        styling = Styling(self.outer_size, self.size, self.content_offset, {}, self.rich_style, components)
        last = self._styling
        if last is not None and _same_looks(last, styling):
            return last
        self._styling = styling
        return styling

    @property
    def own_screen(self: Widget) -> Screen:
        """The screen the widget is on, looked up once (each `screen` is a walk up the DOM)."""
        if self._screen is None:
            self._screen = self.screen
        return self._screen


def _same_looks(one: Styling, other: Styling) -> bool:
    return (one.size, one.content_size, one.content_offset, one.rich_style, one.component_styles) == (
        other.size,
        other.content_size,
        other.content_offset,
        other.rich_style,
        other.component_styles,
    )


class PaintingScreen(Screen):
    """A screen whose `painting()` block gathers the lines widgets change; on the stock path each
    change is a refresh() of its regions, drawn by Textual's compositor on its next update."""

    @contextmanager
    def painting(self) -> Iterator[None]:
        yield

    def repaint_lines(self, widget: Widget, *regions: Region) -> None:
        """Repaint `regions` of `widget` (its content's coordinates; none: all of it), as refresh() would."""
        widget.refresh(*regions)


def repaint_lines(widget: Widget, *regions: Region) -> None:
    """Repaint lines of a widget: within its PaintingScreen's painting() block, at the block's end."""
    screen = widget.own_screen if isinstance(widget, SteadyStyling) else widget.screen
    if isinstance(screen, PaintingScreen):
        screen.repaint_lines(widget, *regions)
    else:
        widget.refresh(*regions)


def update_in_place(static: Static, content: Any) -> None:
    """Static.update, laid out again only when the new content takes another number of lines.

    Static.update re-lays out the whole screen by default; a header whose replay position changes each
    tick, or a task pane whose figures do, keeps its height, and then only its lines need a repaint.
    """
    width = static.content_region.width
    if not static.display or width <= 0:
        static.update(content)
        return
    size = static.screen.size if static.is_mounted else static.size
    height_before = static.get_content_height(size, size, width)
    static.update(content, layout=False)
    if static.get_content_height(size, size, width) != height_before:
        static.refresh(layout=True)
