"""Rendering snapshots for `pmutop stat`: text blocks like `perf stat -I`, CSV rows, JSON lines."""

import csv
import io
import json
import textwrap
from collections.abc import Callable, Mapping

from pmutop.model.absence import ABSENT_FIGURE_WHY, effective_clock_absent_why
from pmutop.model.aggregate import AggregateRow
from pmutop.model.coverage import COVERAGE_METRICS, least_coverage, row_coverage
from pmutop.model.metrics import MetricKey, whole
from pmutop.model.samples import CounterFailure
from pmutop.model.snapshot import (
    NOT_COUNTED,
    NOT_COUNTED_WHY,
    CpuRow,
    EventTotal,
    Metric,
    MetricName,
    PmuRow,
    Snapshot,
    TaskRow,
    event_metric,
)
from pmutop.model.task_summary import TaskSummary
from pmutop.model.text import plural, printable
from pmutop.model.topology import Topology

# Columns of the text table: metric and width (its heading and number format are the metric's). With the
# label columns the widest row is 119 characters (PMU names past 15 end in …): it fits a 120-column terminal.
TEXT_COLUMNS = (
    (MetricKey.CYCLES, 16),
    (MetricKey.INSTRUCTIONS, 16),
    (MetricKey.IPC, 6),
    (MetricKey.GHZ, 6),
    (MetricKey.UTIL_PCT, 5),
    (MetricKey.CONTEXT_SWITCHES_PER_S, 8),
    (MetricKey.MIGRATIONS_PER_S, 6),
    (MetricKey.EFFECTIVE_GHZ, 6),
)
_TEXT_METRICS = tuple(name for name, _ in TEXT_COLUMNS)
# The row's coverage is that of these columns' figures (every one of COVERAGE_METRICS is a column).
_COVERAGE_COLUMNS = tuple(map(_TEXT_METRICS.index, COVERAGE_METRICS))
LABEL_WIDTH = 9
PMU_WIDTH = 15
EVENT_NAME_WIDTH = 50
CSV_METRICS: tuple[MetricName, ...] = (
    MetricKey.CYCLES,
    MetricKey.INSTRUCTIONS,
    MetricKey.IPC,
    MetricKey.GHZ,
    MetricKey.INSTRUCTIONS_PER_S,
    MetricKey.UTIL_PCT,
    MetricKey.CONTEXT_SWITCHES_PER_S,
    MetricKey.MIGRATIONS_PER_S,
    MetricKey.TSC_GHZ,
    MetricKey.EFFECTIVE_GHZ,
)


# What a row that lacks a figure of the table shows in its place: n/a with why it lacks it, made once.
_ABSENT: dict[str, Metric] = {
    name: Metric(None, note=ABSENT_FIGURE_WHY.get(name, NOT_COUNTED_WHY)) for name, _ in TEXT_COLUMNS
}


def absent_on_cpu_rows(topology: Topology) -> Mapping[str, Metric]:
    """What a CPU row that lacks a figure shows: as _ABSENT, but eff GHz says what this machine lacks
    (no msr PMU, or one without aperf and mperf), as the TUI's detail area does."""
    why = effective_clock_absent_why(topology)
    return _ABSENT | {MetricKey.EFFECTIVE_GHZ: Metric(None, note=why)}


def explained(metrics: Mapping[str, Metric], absent: Mapping[str, Metric] = _ABSENT) -> Callable[[MetricName], Metric]:
    """A row's lookup that gives a figure of the table the row does not carry (eff GHz on a core PMU's
    row) as n/a with its reason (from `absent`), numbered in the notes like any other."""

    def metric_of(name: MetricName) -> Metric:
        metric = metrics.get(name)
        return metric if metric is not None else absent.get(name, NOT_COUNTED)

    return metric_of


def cell(metric: Metric, write: Callable[[float], str], note: str = "") -> str:
    """A figure as text (`write` makes it); n/a carries its note's number (`n/a[1]`) when there is one."""
    if metric.value is None:
        return f"n/a{note}"
    text = write(metric.value)
    # perf marks scaled-up counts with their coverage; pmutop does the same with a trailing ~.
    return text + "~" if metric.extrapolated else text


def coverage_text(metric_of: Callable[[MetricKey], Metric]) -> str:
    coverage = row_coverage(metric_of)
    return f"{100 * coverage:.0f}%" if coverage is not None else "-"


def comment_lines(text: str, lead: str = "") -> list[str]:
    """A long explanation as `#` lines that fit 120 columns, continuation lines indented under the text."""
    return textwrap.wrap(text, 120, initial_indent="# " + lead, subsequent_indent="#   " + " " * len(lead))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Notes:
    """Why figures are n/a, numbered once for the whole run: rows show `n/a[N]`, the reason is printed once."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._pending: list[str] = []
        # The reference of each (failure, note) already numbered: most figures of a row are n/a for the
        # same few reasons every interval, and the text of each need not be worked out again.
        self._refs: dict[tuple[CounterFailure | None, str | None], str] = {}

    def ref(self, metric: Metric) -> str:
        if metric.value is not None:
            return ""
        known = self._refs.get((metric.failure, metric.note))
        if known is not None:
            return known
        if metric.failure is not None:
            # The reason without what it was opening (`cycles, cpu0: ...`): a 256-CPU VM says it once, for
            # every CPU and counter it stands for, and names its errno once.
            errno_name, reason = metric.failure.errno_name, metric.failure.explanation.split(": ", 1)[-1]
            key = f"{errno_name}:{reason}"
            text = f"n/a: {reason}" if f"({errno_name})" in reason else f"n/a ({errno_name}): {reason}"
        else:
            key = text = metric.note or NOT_COUNTED_WHY
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = len(self._numbers) + 1
            self._pending += comment_lines(printable(text), f"[{number}] ")
        reference = self._refs[metric.failure, metric.note] = f"[{number}]"
        return reference

    def take_new(self) -> list[str]:
        lines, self._pending = self._pending, []
        return lines


class TextRenderer:
    """perf-stat-like blocks that fit 120 columns: the header once per screen (perf stat -I repeats it
    every 25 intervals), the reason for each n/a once, as a numbered note.

    `rows` picks what each interval shows: "cpu" (each CPU, then each core PMU), "pmu" (core PMUs
    only), or an Aggregation's rows given to `render`. `per_cpu_events` prints -e events for each row,
    as `perf stat -A` does, instead of their totals.
    """

    def __init__(
        self,
        per_pmu_only: bool = False,
        per_cpu_events: bool = False,
        screen_lines: int | None = None,
        cpu_absent: Mapping[str, Metric] = _ABSENT,
    ):
        self.per_pmu_only = per_pmu_only
        self.cpu_absent = cpu_absent
        self.per_cpu_events = per_cpu_events
        self.screen_lines = screen_lines
        self.notes = Notes()
        self._notices_shown = False
        self._since_header: int | None = None

    def header(self) -> str:
        cols = "".join(f" {name.heading(width):>{width}}" for name, width in TEXT_COLUMNS)
        return f"#{'time':>9} {'CPU':>{LABEL_WIDTH}} {'PMU':<{PMU_WIDTH}}{cols} {'cover':>5}"

    @staticmethod
    def event_header() -> str:
        event = f"{'event':<{EVENT_NAME_WIDTH}}"
        return f"#{'time':>9} {'CPU':>{LABEL_WIDTH}} {'counts':>20}  {event} {'cover':>6} {'CPUs':>7}"

    def _row(self, time_s: float, label: str, pmu: str, metrics_of) -> str:
        # Each figure looked up once (a lookup builds a Metric): its cell, its note and the row's coverage.
        metrics = list(map(metrics_of, _TEXT_METRICS))
        ref = self.notes.ref
        cells = "".join(
            f" {cell(metric, name.text, ref(metric)):>{width}}"
            for metric, (name, width) in zip(metrics, TEXT_COLUMNS, strict=True)
        )
        coverage = least_coverage(map(metrics.__getitem__, _COVERAGE_COLUMNS))
        cover = f"{100 * coverage:.0f}%" if coverage is not None else "-"
        where = f"{_fit(label, LABEL_WIDTH):>{LABEL_WIDTH}} {_fit(pmu, PMU_WIDTH):<{PMU_WIDTH}}"
        return f"{time_s:10.3f} {where}{cells} {cover:>5}"

    def _header_due(self, lines: int) -> bool:
        if self._since_header is None:
            return True
        return self.screen_lines is not None and self._since_header + lines >= self.screen_lines

    def render(
        self, snapshot: Snapshot, title: str | None = None, aggregates: tuple[AggregateRow, ...] | None = None
    ) -> str:
        lines = []
        if not self._notices_shown:
            lines += [line for notice in snapshot.notices for line in comment_lines(printable(notice))]
            self._notices_shown = True
        body = self._body(snapshot, aggregates)
        events = self._event_lines(snapshot, aggregates)
        if title:
            lines.append(f"# {title}")
        if title or self._header_due(len(body) + len(events)):
            lines.append(self.header())
            self._since_header = 0
            if events:
                events.insert(0, self.event_header())
        lines += body + events
        for task in snapshot.tasks:
            lines += task_lines(task)
        for entry in snapshot.migrations:
            lines.append(
                f"#   migration {entry.time_s:.6f} pid {entry.pid} tid {entry.tid} {_fit(printable(entry.comm), 16)}: "
                f"cpu{entry.from_cpu} ({entry.from_pmu or '-'}) -> cpu{entry.to_cpu} ({entry.to_pmu or '-'})"
                + (" CROSS-TYPE" if entry.cross_type else "")
            )
        lines += [f"#   {line}" for line in migration_losses(snapshot)]
        lines += self.notes.take_new()
        self._since_header = (self._since_header or 0) + len(lines)
        return "\n".join(lines)

    def _body(self, snapshot: Snapshot, aggregates: tuple[AggregateRow, ...] | None) -> list[str]:
        lines = []
        if aggregates is not None:
            lines += [
                self._row(snapshot.time_s, row.label, plural(len(row.cpus), "CPU"), explained(row.metrics))
                for row in aggregates
            ]
        elif not self.per_pmu_only:
            lines += [self._cpu_line(snapshot.time_s, row) for row in snapshot.cpus]
        lines += [self._pmu_line(snapshot.time_s, row) for row in snapshot.pmus]
        return lines

    def _event_lines(self, snapshot: Snapshot, aggregates: tuple[AggregateRow, ...] | None) -> list[str]:
        if not snapshot.events:
            return []
        if not self.per_cpu_events and aggregates is None:
            return [self._event_line(snapshot.time_s, "all", total) for total in snapshot.events]
        lines = []
        labels = dict.fromkeys(total.label for total in snapshot.events)
        rows = aggregates if aggregates is not None else [row for row in snapshot.cpus if row.online]
        for row in rows:
            name = row.label if isinstance(row, AggregateRow) else f"CPU{row.cpu}"
            for label in labels:
                metric = row.metric(event_metric(label))
                if metric is NOT_COUNTED:
                    continue  # the event does not open on this CPU (another core PMU's, or an uncore's)
                cover = (
                    f"{100 * metric.coverage:.0f}%" if metric.coverage is not None and metric.value is not None else "-"
                )
                lines.append(
                    f"{snapshot.time_s:10.3f} {_fit(name, LABEL_WIDTH):>{LABEL_WIDTH}} "
                    f"{cell(metric, whole, self.notes.ref(metric)):>20}  "
                    f"{_fit(printable(label), EVENT_NAME_WIDTH):<{EVENT_NAME_WIDTH}} {cover:>6}"
                )
        return lines

    def _event_line(self, time_s: float, label: str, total: EventTotal) -> str:
        metric = total.metric
        cover = f"{100 * metric.coverage:.0f}%" if metric.coverage is not None and metric.value is not None else "-"
        cpus = f"{total.cpus_counted}/{total.cpus_wanted}"
        count = cell(metric, whole, self.notes.ref(metric))
        name = _fit(printable(total.name), EVENT_NAME_WIDTH)
        return f"{time_s:10.3f} {label:>{LABEL_WIDTH}} {count:>20}  {name:<{EVENT_NAME_WIDTH}} {cover:>6} {cpus:>7}"

    def _cpu_line(self, time_s: float, row: CpuRow) -> str:
        if not row.online:
            return f"{time_s:10.3f} {row.cpu:>{LABEL_WIDTH}} {_fit(row.pmu or '-', PMU_WIDTH):<{PMU_WIDTH}} offline"
        return self._row(time_s, str(row.cpu), row.pmu or "-", explained(row.metrics, self.cpu_absent))

    def _pmu_line(self, time_s: float, row: PmuRow) -> str:
        # How much of it was scaled up is in the JSON (extrapolated_share); here the ~ marks and cover say it.
        return self._row(time_s, "all", row.pmu, explained(row.metrics))


def migration_losses(snapshot: Snapshot) -> list[str]:
    """What the migration log may be missing, and why; nothing when it is complete."""
    lines = []
    if snapshot.lost_migrations:
        lines.append(
            f"{plural(snapshot.lost_migrations, 'migration-ring record')} lost (ring buffer overflow): "
            "migrations, or the thread records that say whose they are"
        )
    if snapshot.threads_seen_late:
        lines.append(
            f"{plural(snapshot.threads_seen_late, 'thread')} seen late (found in /proc, their creation record lost): "
            "their earlier migrations are missing"
        )
    return lines


def _task_ipc(metric: Metric) -> str:
    """A task's IPC on one core PMU; n/a says why (it did not run there)."""
    if metric.value is None and metric.note:
        return f"n/a({metric.note})"
    return cell(metric, MetricKey.IPC.text)


def task_lines(task: TaskRow) -> list[str]:
    """A followed task in two lines of at most 120 columns: where it is, then where it ran and how fast."""
    residency = " ".join(f"{place}={100 * share:.0f}%" for place, share in task.residency.items()) or "-"
    ipc = " ".join(f"{place}={_task_ipc(metric)}" for place, metric in task.ipc.items()) or "-"
    state = "running" if task.alive else f"exited({task.exit_status})" if task.exit_status is not None else "exited"
    where = f"cpu{task.cpu_now}" if task.cpu_now is not None else "-"
    kind = task.core_type_now or task.pmu_now or "-"
    return [
        _fit(
            f"#   task {task.pid} {printable(task.comm)} [{state}, {plural(task.threads, 'thread')}] "
            f"on {where} ({kind}); "
            f"migrations {task.migrations_interval} (cross-type {task.cross_type_interval}), "
            f"total {task.migrations} ({task.cross_type_migrations})",
            120,
        ),
        _fit(f"#     residency {residency}; IPC {ipc}", 120),
    ]


def json_line(snapshot: Snapshot, **extra) -> str:
    record = snapshot.to_json()
    record.update(extra)
    return json.dumps(record, separators=(",", ":"))


CSV_LEADING = ("interval", "kind", "time", "scope", "cpu", "pmu", "online")
CSV_TASK_COLUMNS = ("pid", "comm", "state", "residency", "task_ipc", "migrations", "cross_type_migrations")


class CsvRenderer:
    """pmutop's table as CSV. `kind` tells interval rows from the summary's; task rows (scope `task`)
    carry a followed process's residency, IPC and migrations in their own columns."""

    def __init__(self) -> None:
        self._header_done = False
        # The -e events' metrics, fixed by the first snapshot: every row has the same columns.
        self._metrics: tuple[MetricName, ...] = CSV_METRICS

    def render(self, snapshot: Snapshot, summary: bool = False) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not self._header_done:
            labels = dict.fromkeys(total.label for total in snapshot.events)
            self._metrics = CSV_METRICS + tuple(event_metric(label) for label in labels)
            writer.writerow([*CSV_LEADING, *self._metrics, "coverage", "errors", *CSV_TASK_COLUMNS])
            self._header_done = True
        kind = "summary" if summary else "interval"
        for row in snapshot.cpus:
            writer.writerow(self._fields(snapshot, kind, "cpu", row.cpu, row.pmu, row.online, row.metric))
        for pmu_row in snapshot.pmus:
            writer.writerow(self._fields(snapshot, kind, "pmu", "", pmu_row.pmu, True, pmu_row.metric))
        blank = [""] * (len(self._metrics) + 2)
        for task in snapshot.tasks:
            state = (
                "running" if task.alive else f"exited({task.exit_status})" if task.exit_status is not None else "exited"
            )
            residency = ";".join(f"{place}={share:.4f}" for place, share in task.residency.items())
            ipc = ";".join(f"{place}={m.value:.4f}" for place, m in task.ipc.items() if m.value is not None)
            cpu = task.cpu_now if task.cpu_now is not None else ""
            writer.writerow(
                [
                    *(snapshot.index, kind, f"{snapshot.time_s:.3f}", "task", cpu, task.pmu_now or "", int(task.alive)),
                    *blank,
                    *(task.pid, printable(task.comm), state, residency, ipc),
                    *(task.migrations_interval, task.cross_type_interval),
                ]
            )
        return buffer.getvalue().rstrip("\n")

    def _fields(self, snapshot: Snapshot, kind: str, scope: str, cpu, pmu, online: bool, metric_of) -> list:
        metrics = [metric_of(name) for name in self._metrics]
        errors = sorted({m.failure.errno_name for m in metrics if m.failure})
        values = ["" if m.value is None else f"{m.value:.6g}" for m in metrics]
        cover = coverage_text(metric_of)
        return [
            snapshot.index,
            kind,
            f"{snapshot.time_s:.3f}",
            scope,
            cpu,
            pmu or "",
            int(online),
            *values,
            cover,
            ";".join(errors),
        ]


# perf prints clocks in milliseconds with this unit; other software events and tracepoints are plain counts.
_MSEC_EVENTS = ("cpu-clock", "task-clock")


def perf_count_fields(metric: Metric, label: str) -> tuple[str, str]:
    """perf's count and unit fields: `<not supported>` for ENOENT/EOPNOTSUPP, `<not counted>` otherwise."""
    if metric.value is None:
        unsupported = metric.failure is not None and metric.failure.errno_name in ("ENOENT", "EOPNOTSUPP", "EINVAL")
        return ("<not supported>" if unsupported else "<not counted>"), ""
    if label.split(":", 1)[0] in _MSEC_EVENTS:
        return f"{metric.value / 1e6:.2f}", "msec"
    return f"{metric.value:.0f}", ""


class PerfCsvRenderer:
    """`-x SEP`: perf stat's CSV, one line per counter: [time,][CPU,]count,unit,event,run time,run %.

    Run time is the nanoseconds the counter was on the PMU, summed over the CPUs it counted on, and
    run % is its coverage, as perf prints them.
    """

    def __init__(self, separator: str, per_cpu: bool = False, with_time: bool = True) -> None:
        self.separator = separator
        self.per_cpu = per_cpu
        self.with_time = with_time

    def render(self, snapshot: Snapshot, aggregates: tuple[AggregateRow, ...] | None = None) -> str:
        lines = []
        prefix = [f"{snapshot.time_s:.9f}"] if self.with_time else []
        if aggregates is None and not self.per_cpu:
            for total in snapshot.events:
                count, unit = perf_count_fields(total.metric, total.label)
                pct = f"{100 * total.metric.coverage:.2f}" if total.metric.coverage is not None else ""
                lines.append([*prefix, count, unit, total.name, str(total.running_ns), pct])
        else:
            labels = dict.fromkeys(total.label for total in snapshot.events)
            rows: list[tuple[str, str | None, Callable[[MetricName], Metric]]]
            if aggregates is not None:
                rows = [(row.label, str(len(row.cpus)), row.metric) for row in aggregates]
            else:
                rows = [(f"CPU{row.cpu}", None, row.metric) for row in snapshot.cpus if row.online]
            for name, cpus, metric_of in rows:
                for label in labels:
                    metric = metric_of(event_metric(label))
                    if metric is NOT_COUNTED:
                        continue
                    count, unit = perf_count_fields(metric, label)
                    pct = f"{100 * metric.coverage:.2f}" if metric.coverage is not None else ""
                    where = [name] if cpus is None else [name, cpus]
                    lines.append([*prefix, *where, count, unit, label, "", pct])
        return "\n".join(self.separator.join(fields) for fields in lines)

    def render_task(self, summary: TaskSummary) -> str:
        """perf stat -x's lines for -- CMD / -p: the task's counters, then nothing else (as perf)."""
        lines = []
        for line in summary.lines:
            count, unit = perf_count_fields(line.metric, line.name)
            pct = f"{100 * line.metric.coverage:.2f}" if line.metric.coverage is not None else ""
            lines.append([count, unit, line.name, "", pct])
        return "\n".join(self.separator.join(fields) for fields in lines)


def task_summary_lines(summary: TaskSummary, notes: Notes, tasks: tuple[TaskRow, ...] = ()) -> list[str]:
    """perf stat's block for -- CMD / -p, then pmutop's own lines: residency and migrations per core type."""
    lines = ["", _fit(f" Performance counter stats for {printable(summary.target)}:", 120), ""]
    for line in summary.lines:
        metric = line.metric
        if metric.value is None:
            unsupported = metric.failure is not None and metric.failure.errno_name in ("ENOENT", "EOPNOTSUPP", "EINVAL")
            count = ("<not supported>" if unsupported else "<not counted>") + notes.ref(metric)
            unit = ""
        elif line.unit == "msec":
            count, unit = f"{metric.value / 1e6:,.2f}", "msec"
        else:
            count, unit = f"{metric.value:,.0f}", ""
        number, _, words = line.comment.partition(" ")
        comment = f"# {number:>8} {words}" if line.comment else ""
        if metric.value is not None and metric.coverage is not None and metric.coverage < 1.0:
            comment = f"{comment:<26} ({100 * metric.coverage:.2f}%)"
        lines.append(f"{count:>20} {unit:<5} {_fit(printable(line.name), 36):<36} {comment}".rstrip())
    lines += ["", f"{summary.elapsed_s:>20.9f} seconds time elapsed", ""]
    if summary.user_s is not None and summary.sys_s is not None:
        lines += [f"{summary.user_s:>20.9f} seconds user", f"{summary.sys_s:>20.9f} seconds sys", ""]
    for task in tasks:
        residency = " ".join(f"{place} {100 * share:.1f}%" for place, share in task.residency.items()) or "-"
        lines.append(
            _fit(
                f"# pmutop: {task.pid} {printable(task.comm)} ran on {residency}; "
                f"{plural(task.migrations, 'migration')} ({task.cross_type_migrations} across core types)",
                120,
            )
        )
    lines += notes.take_new()
    return lines
