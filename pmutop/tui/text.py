"""Turning values and kernel-provided strings into Rich Text for the widgets.

Everything the kernel or a user process controls (task names, PMU names, alias terms, notices)
goes through `literal`, so `[bold]` is shown as typed and escape bytes are shown escaped, never
sent to the terminal. Widgets are only ever given Text, never markup strings.
"""

from rich.text import Text

from pmutop.model.snapshot import Metric

_CONTROL_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_controls(value: str) -> str:
    """C0/C1 control characters and DEL as Python-style escapes (`\\x1b`), the rest unchanged."""
    if value.isprintable():
        return value
    out = []
    for char in value:
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(_CONTROL_ESCAPES.get(char, f"\\x{code:02x}"))
        else:
            out.append(char)
    return "".join(out)


def literal(value: str, style: str = "") -> Text:
    """A kernel or process string shown exactly: no markup, control bytes escaped."""
    return Text(escape_controls(value), style=style, no_wrap=True)


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float) -> str:
    """A compact count or rate: 3.21G, 845M, 12.3k, 7."""
    magnitude = abs(value)
    for scale, suffix in _SI:
        if magnitude >= scale:
            scaled = value / scale
            return f"{scaled:.3g}{suffix}" if abs(scaled) < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.3g}" if magnitude < 100 else f"{value:.0f}"


# How each metric is written in a cell; counts and rates use SI suffixes.
_FORMATS = {
    "ghz": "{:.2f}",
    "effective_ghz": "{:.2f}",
    "tsc_ghz": "{:.2f}",
    "ipc": "{:.2f}",
    "util_pct": "{:.1f}",
}

NOT_AVAILABLE = ("n/a", "dim")


def metric_cell(name: str, metric: Metric) -> tuple[str, str]:
    """(text, style) for one table cell; extrapolated values are marked so they are not taken as counted."""
    if metric.value is None:
        return NOT_AVAILABLE
    pattern = _FORMATS.get(name)
    text = pattern.format(metric.value) if pattern else si(metric.value)
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
