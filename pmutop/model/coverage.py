"""A row's coverage: the least time_running/time_enabled of the counters behind its figures.

One rule for every face (stat's `cover` column, the TUI's cov column, a sort by it): the counted
metrics among COVERAGE_METRICS, at their worst. Software counters count too, so a machine without
a hardware PMU still shows 100% where its context switches were counted the whole interval.
"""

from collections.abc import Callable, Iterable

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import Metric

COVERAGE_METRICS = (MetricKey.CYCLES, MetricKey.INSTRUCTIONS, MetricKey.CONTEXT_SWITCHES_PER_S)


def least_coverage(metrics: Iterable[Metric]) -> float | None:
    """The lowest coverage among the metrics that have a value and a coverage; None if none has."""
    coverages = [m.coverage for m in metrics if m.coverage is not None and m.value is not None]
    return min(coverages) if coverages else None


def row_coverage(metric_of: Callable[[MetricKey], Metric]) -> float | None:
    return least_coverage(metric_of(name) for name in COVERAGE_METRICS)
