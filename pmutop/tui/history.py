"""A one-line history of a metric: its label and latest value, then bars, newest at the right, on a
scale that starts at zero.

Textual's Sparkline scales from the series' own minimum to its maximum, which turns 99% vs 100%
utilisation into an empty and a full bar; here the bottom is always zero (and utilisation tops out
at 100), so the height of a bar means the same thing across ticks and rows.
"""

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
# Metrics with a natural ceiling; the others scale to their largest recent value.
CEILINGS = {"util_pct": 100.0}
LABEL_WIDTH = 22


def history_text(series: list[float], width: int, ceiling: float | None) -> Text:
    shown = series[-width:] if width > 0 else []
    top = ceiling if ceiling is not None else max(shown, default=0.0)
    steps = len(BLOCKS) - 1
    if top <= 0:
        cells = BLOCKS[1] * len(shown)
    else:
        # Any non-zero value gets at least the lowest block, so a trickle is not shown as nothing.
        cells = "".join(BLOCKS[min(steps, max(1 if value > 0 else 0, round(value / top * steps)))] for value in shown)
    return Text(cells.rjust(width), style="cyan", no_wrap=True)


class HistoryBar(Widget):
    """Label and bars in one widget whose size never changes, so a new value costs a repaint of one line
    and never a layout of the screen (a Static's update re-lays out the screen every time)."""

    DEFAULT_CSS = "HistoryBar { height: 1; padding: 0 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._label = Text()
        self._series: list[float] = []
        self._ceiling: float | None = None

    def show(self, label: Text, series: list[float], metric: str | None) -> None:
        ceiling = CEILINGS.get(metric) if metric else None
        if (label, series, ceiling) != (self._label, self._series, self._ceiling):
            self._label, self._series, self._ceiling = label, series, ceiling
            self.refresh()

    def render(self) -> Text:
        label = self._label.copy()
        label.truncate(LABEL_WIDTH, pad=True)
        width = self.content_size.width - LABEL_WIDTH
        return Text.assemble(label, history_text(self._series, width, self._ceiling))
