"""The compact live view: every CPU as one cell of a grid, grouped under its core PMU, for machines whose
CPUs do not fit one row each (448 CPUs fit an 80×24 terminal).

A cell's colour is the CPU's utilisation (as btop's and htop's CPU meters: green, yellow, red as it
fills) and its glyph the CPU's IPC (a taller bar is more instructions per cycle, on a scale to
IPC_CEILING); an offline CPU is a dim `·`, a CPU whose figures are n/a a dim `?`. Each group starts with
its PMU's aggregate line. Like the live table it is a line-API widget: a tick repaints only the lines
whose cells changed, and never lays out the screen.
"""

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import CpuRow, PmuRow, Snapshot
from pmutop.model.text import printable
from pmutop.model.topology import Topology
from pmutop.tui.paint import SteadyStyling, repaint_lines
from pmutop.tui.text import metric_cell

IPC_GLYPHS = "▁▂▃▄▅▆▇█"
IPC_CEILING = 4.0
# Utilisation bands and their colours, as CPU meters show them.
UTIL_COLOURS = ((25.0, "green"), (50.0, "bright_green"), (75.0, "yellow"), (90.0, "dark_orange"), (101.0, "red"))
OFFLINE = ("·", "dim")
UNKNOWN = ("?", "dim")
Cell = tuple[str, str]
KEY_LINE = "a cell per CPU: colour util% (green → red), bar IPC (▁ 0 … █ 4) · m: a row per CPU"


def cpu_cell(row: CpuRow | None) -> Cell:
    """(glyph, style) of one CPU: colour by utilisation, glyph by IPC."""
    if row is None or not row.online:
        return OFFLINE
    util = row.metric(MetricKey.UTIL_PCT).value
    ipc = row.metric(MetricKey.IPC).value
    if util is None and ipc is None:
        return UNKNOWN
    colour = next((colour for top, colour in UTIL_COLOURS if util is not None and util < top), "bright_black")
    if ipc is None:
        return ("■", colour)
    step = min(len(IPC_GLYPHS) - 1, max(0, int(ipc / IPC_CEILING * len(IPC_GLYPHS))))
    return (IPC_GLYPHS[step], colour)


def group_title(name: str, label: str, cpus: int, row: PmuRow | None) -> list[Cell]:
    about = f" {label} ·" if label and label != name else ""
    pieces: list[Cell] = [(f"Σ {printable(name)}", "bold"), (f"{about} {cpus} CPUs", "")]
    if row is not None:
        for metric in (MetricKey.UTIL_PCT, MetricKey.IPC, MetricKey.GHZ):
            text, style = metric_cell(metric, row.metric(metric))
            pieces += [(f" · {metric.label} ", ""), (text, style or "bold")]
    return pieces


class CpuHeatMap(SteadyStyling, Widget):
    """The grid; the app calls `show` with each snapshot."""

    DEFAULT_CSS = "CpuHeatMap { height: 1fr; min-height: 5; padding: 0 1; }"

    def __init__(self, topology: Topology, cpus: tuple[int, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.topology = topology
        self.snapshot: Snapshot | None = None
        # Only the CPUs the feed counts (`-C`).
        shown = [cpu for cpu in topology.cpus if cpu.cpu in set(cpus)]
        # (PMU name or None for CPUs without one, label, CPU numbers), in the topology's order.
        groups: list[tuple[str | None, str, list[int]]] = [
            (core_type.pmu, core_type.label, [cpu.cpu for cpu in shown if cpu.core_pmu == core_type.pmu])
            for core_type in topology.core_types
        ]
        rest = [cpu.cpu for cpu in shown if cpu.core_pmu not in {name for name, _, _ in groups}]
        if rest:
            groups.append((None, "no core PMU" if not groups else "other", rest))
        self.groups = groups
        self._lines: list[list[Cell]] = []
        # Each cell style added to the widget's, once per styling.
        self._styles_for = None
        self._styles: dict[str, Style] = {}

    def show(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        if not self.display:
            return
        lines = self._layout_lines(self.styling.content_size.width)
        changed = [y for y, line in enumerate(lines) if y >= len(self._lines) or self._lines[y] != line]
        changed += range(len(lines), len(self._lines))
        self._lines = lines
        width = self.styling.size.width
        if changed:
            repaint_lines(self, *(Region(0, y, width, 1) for y in changed))

    def cells_per_line(self, width: int) -> tuple[int, int]:
        """(cells per line, columns per cell): two columns a cell when the grid still fits the height."""
        height = self.styling.content_size.height
        for cell_width in (2, 1):
            per_line = max(1, width // cell_width)
            needed = 1 + sum(1 + -(-len(cpus) // per_line) for _, _, cpus in self.groups)
            if needed <= height:
                return per_line, cell_width
        return max(1, width), 1

    def _layout_lines(self, width: int) -> list[list[Cell]]:
        snapshot = self.snapshot
        cpu_rows = {row.cpu: row for row in snapshot.cpus} if snapshot else {}
        pmu_rows = {row.pmu: row for row in snapshot.pmus} if snapshot else {}
        per_line, cell_width = self.cells_per_line(width)
        lines: list[list[Cell]] = [[(KEY_LINE, "dim")]]
        for name, label, cpus in self.groups:
            title = f"{name}" if name else label
            lines.append(group_title(title, label if name else "", len(cpus), pmu_rows.get(name) if name else None))
            for start in range(0, len(cpus), per_line):
                line = []
                for cpu in cpus[start : start + per_line]:
                    glyph, style = cpu_cell(cpu_rows.get(cpu))
                    line.append((glyph.ljust(cell_width), style))
                lines.append(line)
        return lines

    def on_resize(self) -> None:
        self._lines = self._layout_lines(self.styling.content_size.width)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        styling = self.styling
        base, width = styling.rich_style, styling.content_size.width
        if y >= len(self._lines):
            return Strip.blank(width, base)
        if self._styles_for is not styling:
            self._styles_for, self._styles = styling, {}
        segments = []
        length = 0
        for text, style in self._lines[y]:
            cells = cell_len(text)
            if length + cells > width:
                text, cells = set_cell_size(text, width - length), width - length
            if not cells:
                break
            cell_style = self._styles.get(style)
            if cell_style is None:
                cell_style = self._styles[style] = base + Style.parse(style) if style else base
            segments.append(Segment(text, cell_style))
            length += cells
        if length < width:
            segments.append(Segment(" " * (width - length), base))
        return Strip(segments, width)
