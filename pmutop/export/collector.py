"""A prometheus_client custom collector over one immutable Exposition, plus the exporter's own scrape figures.

`collect()` never touches the kernel or the sampler: it renders the Exposition it was given, so a scrape
costs the same however many run at once and each sees one whole tick.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from pmutop.export.totals import Exposition, Family

try:
    VERSION = version("pmutop")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "unknown"


def _family(family: Family) -> CounterMetricFamily | GaugeMetricFamily:
    if family.kind == "counter":
        return CounterMetricFamily(family.name, family.help, labels=family.labels, unit=family.unit)
    return GaugeMetricFamily(family.name, family.help, labels=family.labels, unit=family.unit)


def exposition_metrics(exposition: Exposition) -> Iterator[Metric]:
    """Every family of one tick, in a stable order."""
    for family, series in exposition.series:
        metric = _family(family)
        values = exposition.values
        if family.scale == 1.0:
            for labels, slot in series:
                metric.add_metric(labels, values[slot])
        else:
            for labels, slot in series:
                metric.add_metric(labels, values[slot] / family.scale)
        yield metric
    yield from _group_metrics(exposition)
    yield from _info_metrics(exposition)
    yield from _task_metrics(exposition)
    yield from _tick_metrics(exposition)


def _group_metrics(exposition: Exposition) -> Iterator[Metric]:
    groups = GaugeMetricFamily(
        "pmutop_group_up",
        "1 when the counter group was read this tick; 0 with the errno that stopped it (ENODEV: CPU offline)",
        labels=("cpu", "group", "pmu", "errno"),
    )
    # Only the events that are not counting: one series per CPU and event would double a big machine's scrape.
    unavailable = GaugeMetricFamily(
        "pmutop_event_unavailable",
        "1 for each event pmutop wanted that is not counting, with the errno the kernel gave for it or its group",
        labels=("cpu", "group", "pmu", "event", "errno"),
    )
    for state in exposition.groups:
        cpu_label = str(state.cpu)
        groups.add_metric((cpu_label, state.group, state.pmu, state.errno), 0 if state.errno else 1)
        for event, error in state.events:
            if error:
                unavailable.add_metric((cpu_label, state.group, state.pmu, event, error), 1)
    online = GaugeMetricFamily("pmutop_cpu_online", "1 when the CPU is online", labels=("cpu",))
    for cpu in exposition.topology.cpus:
        online.add_metric((str(cpu.cpu),), 1 if cpu.cpu in exposition.online else 0)
    yield from (groups, unavailable, online)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _info_metrics(exposition: Exposition) -> Iterator[Metric]:
    topology = exposition.topology
    pmus = InfoMetricFamily(
        "pmutop_pmu", "A PMU the kernel exposes: its perf type, kind and core type", labels=("pmu", "pmu_type", "kind")
    )
    core_types = {core_type.pmu: core_type.label for core_type in topology.core_types}
    for pmu in topology.pmus:
        pmus.add_metric((pmu.name, str(pmu.type), str(pmu.kind)), {"core_type": core_types.get(pmu.name, "")})
    cpus = InfoMetricFamily(
        "pmutop_cpu", "A possible CPU: its core PMU, core type, package and core", labels=("cpu", "core_pmu")
    )
    for cpu in topology.cpus:
        cpus.add_metric(
            (str(cpu.cpu), cpu.core_pmu or ""),
            {
                "core_type": cpu.core_type.label if cpu.core_type else "",
                "package": _text(cpu.package),
                "core": _text(cpu.core),
            },
        )
    exporter = InfoMetricFamily(
        "pmutop_exporter", "How this exporter counts", value={"version": VERSION, **dict(exposition.facts)}
    )
    yield from (pmus, cpus, exporter)


def _task_metrics(exposition: Exposition) -> Iterator[Metric]:
    if not exposition.tasks and exposition.lost_migrations is None:
        return
    for family, series in exposition.task_totals:
        metric = _family(family)
        for labels, value in series:
            metric.add_metric(labels, value)
        yield metric
    alive = GaugeMetricFamily(
        "pmutop_task_alive", "1 while a followed process runs, 0 once it exited", labels=("pid", "comm")
    )
    info = InfoMetricFamily("pmutop_task", "How a followed process's residency is measured", labels=("pid", "comm"))
    for task in exposition.tasks:
        ids = (str(task.pid), task.comm)
        alive.add_metric(ids, 1 if task.alive else 0)
        info.add_metric(ids, {"residency_method": task.residency_method.label})
    yield from (alive, info)
    if exposition.lost_migrations is not None:
        yield CounterMetricFamily(
            "pmutop_task_lost_migrations",
            "Migration records the kernel dropped (ring buffer overflow): followed migrations undercount by this",
            value=exposition.lost_migrations,
        )


def _tick_metrics(exposition: Exposition) -> Iterator[Metric]:
    yield CounterMetricFamily("pmutop_ticks", "Sampler ticks folded in", value=exposition.ticks)
    yield GaugeMetricFamily(
        "pmutop_last_tick_timestamp_seconds",
        "Unix time of the tick these figures come from (scrapes show the newest tick)",
        value=exposition.wall_time,
    )
    yield GaugeMetricFamily(
        "pmutop_tick_duration_seconds",
        "How long the newest tick took to read and fold in",
        value=exposition.tick_duration_s,
    )


@dataclass
class ScrapeStats:
    """Scrape count, time and errors, updated by the HTTP threads under a lock."""

    count: int = 0
    seconds: float = 0.0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, failed: bool) -> None:
        with self._lock:
            self.count += 1
            self.seconds += seconds
            self.errors += int(failed)

    def metrics(self) -> Iterator[Metric]:
        with self._lock:
            count, seconds, errors = self.count, self.seconds, self.errors
        yield SummaryMetricFamily(
            "pmutop_scrape_duration_seconds",
            "Time to collect and encode /metrics, over the scrapes finished before this one",
            count_value=count,
            sum_value=seconds,
        )
        yield CounterMetricFamily(
            "pmutop_scrape_errors", "Scrapes that failed and were answered with HTTP 500", value=errors
        )


@dataclass(frozen=True)
class ExpositionCollector:
    """What prometheus_client's encoders collect from: one tick, and for HTTP the scrape figures."""

    exposition: Exposition
    scrapes: ScrapeStats | None = None

    def collect(self) -> Iterator[Metric]:
        yield from exposition_metrics(self.exposition)
        if self.scrapes is not None:
            yield from self.scrapes.metrics()
