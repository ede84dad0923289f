"""A one-line history of a metric: its label and latest value, then bars, newest at the right, on a
scale that starts at zero.

Textual's Sparkline scales from the series' own minimum to its maximum, which turns 99% vs 100%
utilisation into an empty and a full bar; here the bottom is always zero (and utilisation tops out
at 100), so the height of a bar means the same thing across ticks and rows.
"""

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from pmutop.model.metrics import MetricKey
from pmutop.model.text import printable
from pmutop.tui.paint import SteadyStyling, repaint_lines

BLOCKS = " ▁▂▃▄▅▆▇█"
# Metrics with a natural ceiling; the others scale to their largest recent value.
CEILINGS = {MetricKey.UTIL_PCT: 100.0}
LABEL_WIDTH = 22
BAR_STYLE = Style(color="cyan")


def history_bars(series: list[float], width: int, ceiling: float | None) -> str:
    shown = series[-width:] if width > 0 else []
    top = ceiling if ceiling is not None else max(shown, default=0.0)
    steps = len(BLOCKS) - 1
    if top <= 0:
        cells = BLOCKS[1] * len(shown)
    else:
        # Any non-zero value gets at least the lowest block, so a trickle is not shown as nothing.
        cells = "".join(BLOCKS[min(steps, max(1 if value > 0 else 0, round(value / top * steps)))] for value in shown)
    return cells.rjust(width)


class HistoryBar(SteadyStyling, Widget):
    """Label and bars in one line-API widget whose size never changes: a new value repaints its one line,
    built straight from two segments, and never lays out the screen (a Static's update would)."""

    DEFAULT_CSS = "HistoryBar { height: 1; padding: 0 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[str, str, list[float], float | None] = ("", "", [], None)

    def show(self, label: str, label_style: str, series: list[float], metric: MetricKey | None) -> None:
        """`label` is shown with control bytes escaped: it names a row, and PMU names come from sysfs."""
        shown = (printable(label), label_style, series, CEILINGS.get(metric) if metric else None)
        if shown != self._shown:
            self._shown = shown
            repaint_lines(self)

    def render_line(self, y: int) -> Strip:
        label, label_style, series, ceiling = self._shown
        styling = self.styling
        base, width = styling.rich_style, styling.content_size.width
        # A long PMU name widens the label rather than cutting off the value at its end.
        label_width = min(max(LABEL_WIDTH, cell_len(label) + 1), width)
        bars = history_bars(series, width - label_width, ceiling)
        return Strip(
            [
                Segment(set_cell_size(label, label_width), base + Style.parse(label_style)),
                Segment(bars, base + BAR_STYLE),
            ]
        )
