"""perf stat's end-of-run block for `-- CMD` and `-p PID`: task-clock, CPUs utilized, context switches,
migrations, page faults, cycles/instructions/IPC per core PMU with coverage, elapsed, user and sys.

The counters follow the task (inherit, so its children count too); on a hybrid machine each core
PMU's cycles count only while the task ran on that PMU's CPUs, so their coverage is the share of time
spent there, as perf shows it. Pure arithmetic on raw reads.
"""

from dataclasses import dataclass
from typing import Any

from pmutop.model.samples import CounterFailure
from pmutop.model.snapshot import Metric
from pmutop.model.text import Units, in_units


@dataclass(frozen=True, slots=True)
class TaskCounterRead:
    """One per-task counter at the end: its perf name, the PMU it is on ("" for software), and the read."""

    name: str
    pmu: str
    value: int | None = None
    enabled: int = 0
    running: int = 0
    failure: CounterFailure | None = None

    def metric(self) -> Metric:
        if self.failure is not None or self.value is None:
            return Metric(None, failure=self.failure)
        if self.running == 0:
            # perf's <not counted>: never on the PMU (a hybrid PMU whose CPUs the task never ran on).
            return Metric(None, coverage=0.0, note="not counted: the task never ran where this counter counts")
        if self.running < self.enabled:
            return Metric(
                self.value * self.enabled / self.running, coverage=self.running / self.enabled, extrapolated=True
            )
        return Metric(float(self.value), coverage=1.0)


@dataclass(frozen=True, slots=True)
class SummaryLine:
    name: str
    metric: Metric
    # perf's comment after `#`: "0.998 CPUs utilized", "1.234 K/sec", "1.52 insn per cycle".
    comment: str = ""
    unit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, "unit": self.unit, "comment": self.comment, **self.metric.to_json()}


@dataclass(frozen=True, slots=True)
class TaskSummary:
    target: str
    lines: tuple[SummaryLine, ...]
    elapsed_s: float
    user_s: float | None
    sys_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "counters": [line.to_json() for line in self.lines],
            "elapsed_s": round(self.elapsed_s, 9),
            "user_s": self.user_s,
            "sys_s": self.sys_s,
        }


# perf's units for a software event's rate (`1.234 K/sec`).
_PER_SECOND_UNITS: Units = ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "G"))


def _per_second(value: float, elapsed_s: float) -> str:
    rate = value / elapsed_s if elapsed_s > 0 else 0.0
    number, suffix = in_units(rate, _PER_SECOND_UNITS, "{:.3f}".format)
    return f"{number} {suffix}/sec"


def summarize(
    target: str, reads: tuple[TaskCounterRead, ...], elapsed_s: float, user_s: float | None, sys_s: float | None
) -> TaskSummary:
    """perf's lines and comments for the reads; IPC is per core PMU (instructions/cycles on the same PMU)."""
    metrics = {(read.pmu, read.name): read.metric() for read in reads}
    task_clock = metrics.get(("software", "task-clock"))
    clock_s = task_clock.value / 1e9 if task_clock is not None and task_clock.value is not None else None
    lines = []
    for read in reads:
        metric = metrics[(read.pmu, read.name)]
        comment, unit = "", ""
        if read.pmu == "software" and read.name == "task-clock":
            unit = "msec"
            if metric.value is not None and elapsed_s > 0:
                comment = f"{metric.value / 1e9 / elapsed_s:.3f} CPUs utilized"
        elif read.pmu in ("software", "tracepoint") and metric.value is not None and clock_s:
            comment = _per_second(metric.value, clock_s)
        elif read.name.rstrip("/").endswith("instructions"):
            cycles = metrics.get((read.pmu, read.name.replace("instructions", "cycles", 1)))
            if cycles is not None and cycles.value and metric.value is not None:
                comment = f"{metric.value / cycles.value:.2f} insn per cycle"
        elif read.name.rstrip("/").endswith("cycles") and metric.value is not None and clock_s:
            comment = f"{metric.value / clock_s / 1e9:.3f} GHz"
        lines.append(SummaryLine(read.name, metric, comment, unit))
    return TaskSummary(target, tuple(lines), elapsed_s, user_s, sys_s)
