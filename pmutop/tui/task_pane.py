"""The task pane: where each followed process runs, its residency and IPC per core type, migrations.

Task names come from the followed processes themselves and are shown with `literal`: a process
named `[bold]x\\x1b[31m` is displayed exactly so, never styled and never sent as an escape.

Every line is cut with an ellipsis at the pane's edge, never wrapped: a wrapped log row would leave
its tail alone on the next line, where it reads as a row of its own.

A residency bar is the task's CPU time on that place this interval, as a share of one CPU (what an
htop user reads a bar as), so a sleeping task's bars are empty; the share of its own running time is
the figure beside it. Once the task has exited only its final, whole-run figures are shown.
"""

from rich.text import Text
from textual.widgets import Static

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import MigrationEntry, TaskRow
from pmutop.model.text import plural
from pmutop.tui.paint import update_in_place
from pmutop.tui.text import bar, literal, metric_cell

BAR_WIDTH = 12
LOG_LINES = 12
CROSS_TYPE = "⇄"


def place_key(core_pmus: tuple[str, ...]):
    """Order residency places as the topology does: core PMUs biggest first, then CPUs by number."""

    def key(place: str) -> tuple[int, int, str]:
        if place in core_pmus:
            return (0, core_pmus.index(place), place)
        if place.startswith("cpu") and place[3:].isdigit():
            return (1, int(place[3:]), place)
        return (2, 0, place)

    return key


def _residency_lines(task: TaskRow, order, cpu_share: float | None) -> Text:
    """Per place: a bar of CPU time there this interval (share of one CPU), and its share of the task's
    running time now and overall; an exited task, only the overall share. `cpu_share` is the task's
    CPU time this interval over the interval's length (None: not known yet)."""
    text = Text()
    if not task.residency_total:
        # Asleep the whole time (no running time anywhere yet): say so, not an empty pane.
        text.append("  residency: it has not run since it was followed", style="dim")
        return text
    text.append("  residency")
    text.append(f" ({task.residency_method.label})", style="dim")
    if task.alive and cpu_share is None:
        # CPU% is the growth of the task's running time since the snapshot before: none yet.
        text.append(" · CPU n/a until its second interval", style="dim")
    places = sorted(task.residency_total, key=order)
    width = max(len(place) for place in places) + 2
    for place in places:
        text.append("\n    ")
        text.append_text(literal(place.ljust(width)))
        overall = f"{task.residency_total[place] * 100:5.1f}% overall"
        if not task.alive:
            text.append(f"ran here {overall}")
            continue
        share = task.residency.get(place, 0.0)
        if cpu_share is None:
            text.append(bar(0.0, BAR_WIDTH), style="dim")
            text.append("   n/a CPU")
        else:
            cpu = share * cpu_share
            text.append(bar(cpu, BAR_WIDTH), style="green")
            text.append(f" {cpu * 100:5.1f}% CPU")
        text.append(f" · ran here {share * 100:3.0f}% now {overall}")
    return text


def _ipc_line(task: TaskRow, order) -> Text:
    """IPC per place this interval; an exited task's over its whole run."""
    ipc = task.ipc if task.alive else task.ipc_total
    text = Text()
    if not ipc:
        return text
    text.append("  IPC" if task.alive else "  IPC overall")
    for place in sorted(ipc, key=order):
        metric = ipc[place]
        value, style = metric_cell(MetricKey.IPC, metric)
        text.append("  ")
        text.append_text(literal(place))
        text.append(f" {value}", style=style)
        if metric.value is None and metric.note:
            text.append_text(literal(f" ({metric.note})", "dim"))
    return text


def describe_task(task: TaskRow, order, cpu_share: float | None = None) -> Text:
    text = Text()
    text.append(f"{task.pid} ", style="bold")
    text.append_text(literal(task.comm, "bold"))
    if not task.alive:
        status = f"exited ({task.exit_status})" if task.exit_status is not None else "exited"
        text.append(f"  {status} · final figures", style="bold yellow")
    else:
        text.append(f"  {plural(task.threads, 'thread')}")
    if task.alive and task.cpu_now is not None:
        text.append("  on ")
        text.append(f"cpu{task.cpu_now}", style="bold magenta")
        if task.pmu_now:
            text.append(" · ")
            text.append_text(literal(task.pmu_now))
        if task.core_type_now:
            text.append(f" ({task.core_type_now})")
    for part in (_residency_lines(task, order, cpu_share), _ipc_line(task, order)):
        if part.plain:
            text.append("\n")
            text.append_text(part)
    text.append(f"\n  {plural(task.migrations, 'migration')} ({task.cross_type_migrations} across core types)")
    if task.alive:
        text.append(f" · this interval {task.migrations_interval} ({task.cross_type_interval})")
    return text


def describe_migration(entry: MigrationEntry) -> Text:
    """One log row: time, ⇄ when it crossed core types, thread, name, CPUs and core PMUs."""
    style = "bold yellow" if entry.cross_type else ""
    text = Text(f"{entry.time_s:9.3f} {CROSS_TYPE if entry.cross_type else ' '} {entry.tid:>7} ", style=style)
    text.append_text(literal(entry.comm[:16].ljust(16), style))
    text.append(f" cpu{entry.from_cpu}→cpu{entry.to_cpu}", style=style)
    if entry.from_pmu or entry.to_pmu:
        text.append("  ")
        text.append_text(literal(f"{entry.from_pmu or '?'}→{entry.to_pmu or '?'}", style))
    return text


class TaskPane(Static):
    def __init__(self, core_pmus: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self._order = place_key(core_pmus)
        self._shown: Text | None = None

    def show(
        self,
        tasks: tuple[TaskRow, ...],
        log: list[MigrationEntry],
        lost: int,
        seen_late: int,
        cpu_shares: dict[int, float],
    ) -> None:
        """`cpu_shares`: each task's CPU time this interval over its length (SnapshotInbox.cpu_shares)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for position, task in enumerate(tasks):
            if position:
                text.append("\n")
            text.append_text(describe_task(task, self._order, cpu_shares.get(task.pid)))
        # Only the processes followed now (the log outlives a change of what is followed), newest first:
        # the pane shows its top lines when it is short.
        followed = {task.pid for task in tasks}
        entries = [entry for entry in log if entry.pid in followed][-LOG_LINES:]
        text.append("\nmigration log", style="bold underline")
        text.append(f" newest first, {CROSS_TYPE} across core types", style="dim")
        if lost:
            text.append(f"  {plural(lost, 'record')} lost (ring buffer overflow)", style="bold red")
        if seen_late:
            text.append(f"  {plural(seen_late, 'thread')} seen late (earlier moves missing)", style="bold red")
        if not entries:
            text.append("\n  no migrations yet", style="dim")
        for entry in reversed(entries):
            text.append("\n")
            text.append_text(describe_migration(entry))
        if text != self._shown:
            self._shown = text
            update_in_place(self, text)
