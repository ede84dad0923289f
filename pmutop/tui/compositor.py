"""The main screen, with a compositor that renders only the screen lines an update repaints.

Textual's compositor answers a partial update (a few changed lines) by asking every widget whose clip
touches the bounding box of the changes for all of its lines, then keeps only the changed lines. A
tick of pmutop changes a few lines of the live table and the history line, so each tick would walk
every line of every pane: cached, but that walk was most of a tick's CPU. This compositor asks each
widget for just its part of the changed lines, in the same front-to-back order, at full width (the
compositor's cuts are widget edges, so a widget is never split across columns here).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence

from textual._compositor import Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip


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


class LineCompositor(Compositor):
    def __init__(self) -> None:
        super().__init__()
        self._runs: list[tuple[int, int]] | None = None

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        self._runs = line_runs(crop, is_rendered_line)
        try:
            return super()._render_chops(crop, is_rendered_line)
        finally:
            self._runs = None

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None or self._runs is None:
            yield from super()._get_renders(crop)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            for start, end in self._runs:
                lines = visible.intersection(Region(visible.x, start, visible.width, end - start))
                if lines.height and lines.width:
                    # Returned as its own region and clip: the chops take exactly these lines.
                    yield lines, lines, widget.render_lines(lines.translate((-region.x, -region.y)))


class PmutopScreen(Screen):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = LineCompositor()
