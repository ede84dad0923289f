"""Turning values and kernel-provided strings into Rich Text for the widgets.

Everything the kernel or a user process controls (task names, PMU names, alias terms, notices)
goes through `literal`, so `[bold]` is shown as typed and escape bytes are shown escaped, never
sent to the terminal. Widgets are only ever given Text, never markup strings.
"""

from collections.abc import Callable

from rich.text import Text

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import EVENT_METRIC_PREFIX, Metric
from pmutop.model.text import Units, in_units, printable


def literal(value: str, style: str = "") -> Text:
    """A kernel or process string shown exactly: no markup, control bytes escaped."""
    return Text(printable(value), style=style, no_wrap=True)


# Up to E: a 64-bit counter reaches 18.4E, and nothing it counts may print as 1000T.
_SI: Units = ((1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P"), (1e18, "E"))


def _three_digits(scaled: float) -> str:
    return f"{scaled:.3g}" if abs(scaled) < 100 else f"{scaled:.0f}"


def si(value: float) -> str:
    """A compact count or rate in at most 3 digits: 3.21G, 845M, 12.3k, 7 (999.96M is 1G, not 1000M)."""
    return "".join(in_units(value, _SI, _three_digits))


NOT_AVAILABLE = ("n/a", "dim")


def metric_cell(name: str, metric: Metric) -> tuple[str, str]:
    """(text, style) for one table cell of metric `name` (a MetricKey, or a -e event's event_metric): a
    ratio or a clock with its decimals, a count or a rate with an SI suffix; extrapolated values are
    marked so they are not taken as counted. Any other name is a TypeError, never a cell."""
    write: Callable[[float], str]
    if isinstance(name, MetricKey):
        write = si if name.decimals is None else name.text
    elif name.startswith(EVENT_METRIC_PREFIX):
        write = si
    else:
        raise TypeError(f"{name!r} is neither a MetricKey nor a -e event's metric")
    if metric.value is None:
        return NOT_AVAILABLE
    text = write(metric.value)
    return (text + "~", "italic") if metric.extrapolated else (text, "")


def coverage_cell(coverage: float | None) -> tuple[str, str]:
    """A row's coverage (pmutop.model.coverage), blank when nothing behind it was counted."""
    if coverage is None:
        return ("", "")
    percent = coverage * 100
    return (f"{percent:.0f}%", "" if percent >= 99.5 else "yellow")


def bar(fraction: float, width: int) -> str:
    """A horizontal bar in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width, "·")
