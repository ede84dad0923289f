"""Line-API widgets that work out their styling once per size or style change, not once per paint.

Widget.render_lines hands each call to its StylesCache along with the widget's region and content
region (each a walk up to the screen and a lookup in its map), its background colours and opacity
(each a walk over every ancestor's styles), the app's line filters and ANSI theme. For a widget that
repaints one or two lines a tick, gathering those costs more than rendering the lines. They change
only when the widget's size does (Textual sets `_size` synchronously, in the layout that changes
it), when styles are applied to it (`notify_style_update`: a theme change, focus, hover, a class) or
when the whole widget is refreshed (an ancestor's colours, inline styles, a transition), so they are
gathered then and the StylesCache is called with them as they were.

For each line it draws, the StylesCache's render_line then unpacks the widget's borders and outlines,
checks for hatching, tint and text opacity and builds two closures, before it pads the content line
and gives it its background. For a widget that has none of those, PlainLineCache does only the last
part, with the same Strip operations on the same arguments, so it draws the same line
(tests/tui/test_painting.py compares the two).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual._segment_tools import line_pad
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.geometry import Offset, Region, Size, Spacing
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget


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


@dataclass(frozen=True, slots=True, eq=False)
class Styling:
    """Compared by identity: a new one is made whenever anything in it may have changed."""

    size: Size
    content_size: Size
    # Where the content starts in the widget (its top and left padding and border).
    content_offset: Offset
    # What StylesCache.render takes, but the crop.
    render_arguments: dict[str, Any]
    rich_style: Style
    # The widget's COMPONENT_CLASSES, by name.
    component_styles: dict[str, Style]


class SteadyStyling:
    """A mixin for line-API widgets, ahead of their Widget base: `class Table(SteadyStyling, ScrollView)`.

    Not itself a Widget: Textual inherits DEFAULT_CSS along the first base that is one, and that must
    stay the widget's own base (ScrollView's CSS gives a LiveTable its scrollbars).
    """

    _styling: Styling | None = None
    _screen: Screen | None = None

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

    @property
    def own_screen(self: Widget) -> Screen:
        """The screen the widget is on, looked up once (each `screen` is a walk up the DOM)."""
        if self._screen is None:
            self._screen = self.screen
        return self._screen

    def render_lines(self: Widget, crop: Region) -> list[Strip]:
        # Unlike Widget.render_lines, no hover styling of links: these widgets draw none.
        if self._border_title is not None or self._border_subtitle is not None:
            return super().render_lines(crop)
        cache = self._styles_cache
        # As render_widget does: the blank line it keeps is only good for one call.
        cache._simple_strip = None
        return cache.render(crop=crop, **self.styling.render_arguments)
