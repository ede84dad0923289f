"""The task pane: where each followed process runs, its residency and IPC per core type, migrations.

Task names come from the followed processes themselves and are shown with `literal`: a process
named `[bold]x\\x1b[31m` is displayed exactly so, never styled and never sent as an escape.
"""

from rich.text import Text
from textual.widgets import Static

from pmutop.model.snapshot import MigrationEntry, TaskRow
from pmutop.tui.paint import update_in_place
from pmutop.tui.text import bar, literal, metric_cell

BAR_WIDTH = 16
LOG_LINES = 12


def place_key(core_pmus: tuple[str, ...]):
    """Order residency places as the topology does: core PMUs biggest first, then CPUs by number."""

    def key(place: str) -> tuple[int, int, str]:
        if place in core_pmus:
            return (0, core_pmus.index(place), place)
        if place.startswith("cpu") and place[3:].isdigit():
            return (1, int(place[3:]), place)
        return (2, 0, place)

    return key


def _residency_lines(task: TaskRow, order) -> Text:
    text = Text()
    if not task.residency_total:
        return text
    text.append("  residency")
    if task.residency_method:
        text.append(f" ({task.residency_method})", style="dim")
    for place in sorted(task.residency_total, key=order):
        now = task.residency.get(place, 0.0)
        text.append("\n    ")
        text.append_text(literal(place.ljust(14)))
        text.append(bar(now, BAR_WIDTH), style="green")
        text.append(f" {now * 100:5.1f}% now  {task.residency_total[place] * 100:5.1f}% overall")
    return text


def _ipc_line(task: TaskRow, order) -> Text:
    text = Text()
    if not task.ipc:
        return text
    text.append("  IPC")
    for place in sorted(task.ipc, key=order):
        metric = task.ipc[place]
        value, style = metric_cell("ipc", metric)
        text.append("  ")
        text.append_text(literal(place))
        text.append(f" {value}", style=style)
    return text


def describe_task(task: TaskRow, order) -> Text:
    text = Text()
    text.append(f"{task.pid} ", style="bold")
    text.append_text(literal(task.comm, "bold"))
    text.append(f"  {task.threads} thread{'s' if task.threads != 1 else ''}")
    if not task.alive:
        status = f"exited ({task.exit_status})" if task.exit_status is not None else "exited"
        text.append(f"  {status}", style="yellow")
    elif task.cpu_now is not None:
        text.append("  on ")
        text.append(f"cpu{task.cpu_now}", style="bold magenta")
        if task.pmu_now:
            text.append(" · ")
            text.append_text(literal(task.pmu_now))
        if task.core_type_now:
            text.append(f" ({task.core_type_now})")
    for part in (_residency_lines(task, order), _ipc_line(task, order)):
        if part.plain:
            text.append("\n")
            text.append_text(part)
    text.append(
        f"\n  migrations {task.migrations} ({task.cross_type_migrations} across core types)"
        f" · this interval {task.migrations_interval} ({task.cross_type_interval})"
    )
    return text


def describe_migration(entry: MigrationEntry) -> Text:
    style = "bold yellow" if entry.cross_type else ""
    text = Text(f"{entry.time_s:9.3f} {entry.tid:>7} ", style=style)
    text.append_text(literal(entry.comm[:16].ljust(16), style))
    text.append(f" cpu{entry.from_cpu}→cpu{entry.to_cpu}", style=style)
    if entry.from_pmu or entry.to_pmu:
        text.append("  ")
        text.append_text(literal(f"{entry.from_pmu or '?'}→{entry.to_pmu or '?'}", style))
    if entry.cross_type:
        text.append("  ⇄ core type", style=style)
    return text


class TaskPane(Static):
    def __init__(self, core_pmus: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self._order = place_key(core_pmus)
        self._shown: Text | None = None

    def show(self, tasks: tuple[TaskRow, ...], log: list[MigrationEntry], lost: int, seen_late: int) -> None:
        text = Text()
        for index, task in enumerate(tasks):
            if index:
                text.append("\n")
            text.append_text(describe_task(task, self._order))
        # Only the processes followed now (the log outlives a change of what is followed), newest first:
        # the pane shows its top lines when it is short.
        followed = {task.pid for task in tasks}
        entries = [entry for entry in log if entry.pid in followed][-LOG_LINES:]
        text.append("\nmigration log", style="bold underline")
        text.append(" newest first", style="dim")
        if lost:
            text.append(f"  {lost} records lost (ring buffer overflow)", style="bold red")
        if seen_late:
            text.append(f"  {seen_late} threads seen late (earlier moves missing)", style="bold red")
        if not entries:
            text.append("\n  no migrations yet", style="dim")
        for entry in reversed(entries):
            text.append("\n")
            text.append_text(describe_migration(entry))
        if text != self._shown:
            self._shown = text
            update_in_place(self, text)
