"""Rendering snapshots for `pmutop stat`: text blocks like `perf stat -I`, CSV rows, JSON lines."""

import csv
import io
import json
from collections.abc import Iterable

from pmutop.model.snapshot import CpuRow, Metric, PmuRow, Snapshot, TaskRow
from pmutop.model.text import printable

# Columns of the text table: metric name, header, width, number format.
TEXT_COLUMNS = (
    ("cycles", "cycles", 14, "{:,.0f}"),
    ("instructions", "instructions", 14, "{:,.0f}"),
    ("ipc", "IPC", 12, "{:.2f}"),
    ("ghz", "GHz", 12, "{:.2f}"),
    ("util_pct", "util%", 6, "{:.1f}"),
    ("context_switches_per_s", "cs/s", 9, "{:,.0f}"),
    ("migrations_per_s", "migr/s", 7, "{:,.0f}"),
    ("effective_ghz", "effGHz", 6, "{:.2f}"),
)
CSV_METRICS = (
    "cycles",
    "instructions",
    "ipc",
    "ghz",
    "instructions_per_s",
    "util_pct",
    "context_switches_per_s",
    "migrations_per_s",
    "tsc_ghz",
    "effective_ghz",
)


def cell(metric: Metric, fmt: str) -> str:
    if metric.value is None:
        return f"n/a ({metric.failure.errno_name})" if metric.failure else "n/a"
    text = fmt.format(metric.value)
    # perf marks scaled-up counts with their coverage; pmutop does the same with a trailing ~.
    return text + "~" if metric.extrapolated else text


def coverage_text(metrics: Iterable[Metric]) -> str:
    coverages = [m.coverage for m in metrics if m.coverage is not None and m.value is not None]
    return f"{100 * min(coverages):.0f}%" if coverages else "-"


class TextRenderer:
    """perf-stat-like blocks; the long explanation of each failure is printed once, when first seen."""

    def __init__(self, per_pmu_only: bool = False) -> None:
        self.per_pmu_only = per_pmu_only
        self._explained: set[str] = set()
        self._notices_shown = False

    def header(self) -> str:
        cols = "".join(f" {title:>{width}}" for _, title, width, _ in TEXT_COLUMNS)
        return f"#{'time':>9} {'CPU':>5} {'PMU':<18}{cols} {'cover':>6}"

    def _row(self, time_s: float, label: str, pmu: str, metrics_of) -> str:
        cells = "".join(f" {cell(metrics_of(name), fmt):>{width}}" for name, _, width, fmt in TEXT_COLUMNS)
        cover = coverage_text(metrics_of(name) for name in ("cycles", "instructions", "context_switches_per_s"))
        return f"{time_s:10.3f} {label:>5} {pmu:<18}{cells} {cover:>6}"

    def render(self, snapshot: Snapshot, title: str | None = None) -> str:
        lines = []
        if not self._notices_shown:
            lines += [f"# {printable(n)}" for n in snapshot.notices]
            self._notices_shown = True
        if title:
            lines.append(f"# {title}")
        lines.append(self.header())
        if not self.per_pmu_only:
            for row in snapshot.cpus:
                lines.append(self._cpu_line(snapshot.time_s, row))
        for pmu_row in snapshot.pmus:
            lines.append(self._pmu_line(snapshot.time_s, pmu_row))
        for task in snapshot.tasks:
            lines.append(task_line(task))
        for entry in snapshot.migrations:
            lines.append(
                f"#   migration {entry.time_s:.6f} pid {entry.pid} tid {entry.tid} {printable(entry.comm)}: "
                f"cpu{entry.from_cpu} ({entry.from_pmu or '-'}) -> cpu{entry.to_cpu} ({entry.to_pmu or '-'})"
                + (" CROSS-TYPE" if entry.cross_type else "")
            )
        lines += [f"#   {line}" for line in migration_losses(snapshot)]
        lines += self._new_explanations(snapshot)
        return "\n".join(lines)

    def _cpu_line(self, time_s: float, row: CpuRow) -> str:
        if not row.online:
            return f"{time_s:10.3f} {row.cpu:>5} {row.pmu or '-':<18} offline"
        return self._row(time_s, str(row.cpu), row.pmu or "-", row.metric)

    def _pmu_line(self, time_s: float, row: PmuRow) -> str:
        line = self._row(time_s, "all", f"{row.pmu}:{row.type}", row.metric)
        if row.extrapolated_share > 0:
            line += f"  ({100 * row.extrapolated_share:.0f}% extrapolated)"
        return line

    def _new_explanations(self, snapshot: Snapshot) -> list[str]:
        lines = []
        for row in snapshot.cpus:
            for metric in row.metrics.values():
                failure = metric.failure
                if failure is None:
                    continue
                # One explanation per distinct reason (ignoring which CPU): a 256-CPU VM says it once.
                key = failure.errno_name + failure.explanation.split(":", 1)[-1]
                if key not in self._explained:
                    self._explained.add(key)
                    lines.append(f"#   n/a ({failure.errno_name}): {failure.explanation}")
        return lines


def migration_losses(snapshot: Snapshot) -> list[str]:
    """What the migration log may be missing, and why; nothing when it is complete."""
    lines = []
    if snapshot.lost_migrations:
        lines.append(
            f"{snapshot.lost_migrations} migration-ring records lost (ring buffer overflow): migrations, or the "
            "thread records that say whose they are"
        )
    if snapshot.threads_seen_late:
        lines.append(
            f"{snapshot.threads_seen_late} threads seen late (found in /proc, their creation record lost): "
            "their earlier migrations are missing"
        )
    return lines


def task_line(task: TaskRow) -> str:
    residency = " ".join(f"{place}={100 * share:.0f}%" for place, share in task.residency.items()) or "-"
    ipc = " ".join(f"{place}={cell(metric, '{:.2f}')}" for place, metric in task.ipc.items()) or "-"
    state = "running" if task.alive else f"exited({task.exit_status})" if task.exit_status is not None else "exited"
    where = f"cpu{task.cpu_now}" if task.cpu_now is not None else "-"
    kind = task.core_type_now or task.pmu_now or "-"
    return (
        f"#   task {task.pid} {printable(task.comm)} [{state}, {task.threads} threads] on {where} ({kind}); "
        f"residency {residency}; IPC {ipc}; migrations {task.migrations_interval} "
        f"(cross-type {task.cross_type_interval}), total {task.migrations} ({task.cross_type_migrations})"
    )


def json_line(snapshot: Snapshot, **extra) -> str:
    record = snapshot.to_json()
    record.update(extra)
    return json.dumps(record, separators=(",", ":"))


class CsvRenderer:
    def __init__(self) -> None:
        self._header_done = False

    def render(self, snapshot: Snapshot) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not self._header_done:
            writer.writerow(["interval", "time", "scope", "cpu", "pmu", "online", *CSV_METRICS, "coverage", "errors"])
            self._header_done = True
        for row in snapshot.cpus:
            writer.writerow(self._fields(snapshot, "cpu", row.cpu, row.pmu, row.online, row.metric))
        for pmu_row in snapshot.pmus:
            writer.writerow(self._fields(snapshot, "pmu", "", pmu_row.pmu, True, pmu_row.metric))
        return buffer.getvalue().rstrip("\n")

    @staticmethod
    def _fields(snapshot: Snapshot, scope: str, cpu, pmu, online: bool, metric_of) -> list:
        metrics = [metric_of(name) for name in CSV_METRICS]
        errors = sorted({m.failure.errno_name for m in metrics if m.failure})
        values = ["" if m.value is None else f"{m.value:.6g}" for m in metrics]
        cover = coverage_text(metric_of(n) for n in ("cycles", "instructions", "context_switches_per_s"))
        return [
            snapshot.index,
            f"{snapshot.time_s:.3f}",
            scope,
            cpu,
            pmu or "",
            int(online),
            *values,
            cover,
            ";".join(errors),
        ]
