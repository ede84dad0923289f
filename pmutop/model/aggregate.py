"""CPU rows summed per core, socket or NUMA node: perf stat's --per-core, --per-socket, --per-node.

Counts and per-second rates add up; utilisation and clocks are averaged over the CPUs that have
them; IPC is worked out again from the summed counts, never averaged. A figure no CPU of the group
has stays n/a, with the first CPU's reason.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import EVENT_METRIC_PREFIX, NOT_COUNTED, Metric, MetricName, Snapshot
from pmutop.model.topology import Topology

SUMMED = frozenset(
    (
        MetricKey.CYCLES,
        MetricKey.INSTRUCTIONS,
        MetricKey.REF_CYCLES,
        MetricKey.INSTRUCTIONS_PER_S,
        MetricKey.CONTEXT_SWITCHES_PER_S,
        MetricKey.MIGRATIONS_PER_S,
    )
)
AVERAGED = frozenset((MetricKey.UTIL_PCT, MetricKey.GHZ, MetricKey.EFFECTIVE_GHZ, MetricKey.TSC_GHZ))


class Aggregation(StrEnum):
    CORE = "core"
    SOCKET = "socket"
    NODE = "node"


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One core, socket or node: perf's label (S0-D0-C1, S0, N0), its online CPUs, and its figures."""

    label: str
    cpus: tuple[int, ...]
    metrics: Mapping[str, Metric]

    def metric(self, name: MetricName) -> Metric:
        return self.metrics.get(name, NOT_COUNTED)


def cpu_groups(
    topology: Topology, aggregation: Aggregation, nodes: Mapping[int, int] | None = None
) -> dict[str, tuple[int, ...]]:
    """Label → CPUs, in label order. A CPU whose socket, core or node is unknown goes under `?`."""
    groups: dict[str, list[int]] = {}
    for cpu in topology.cpus:
        if aggregation is Aggregation.CORE:
            label = f"S{_known(cpu.package)}-D{_known(cpu.die)}-C{_known(cpu.core)}"
        elif aggregation is Aggregation.SOCKET:
            label = f"S{_known(cpu.package)}"
        else:
            label = f"N{_known((nodes or {}).get(cpu.cpu))}"
        groups.setdefault(label, []).append(cpu.cpu)
    return {label: tuple(cpus) for label, cpus in sorted(groups.items(), key=lambda item: item[1][0])}


def _known(value: int | None) -> str:
    return "?" if value is None else str(value)


def aggregate(snapshot: Snapshot, groups: Mapping[str, tuple[int, ...]]) -> tuple[AggregateRow, ...]:
    rows_by_cpu = {row.cpu: row for row in snapshot.cpus}
    result = []
    for label, cpus in groups.items():
        rows = [rows_by_cpu[cpu] for cpu in cpus if cpu in rows_by_cpu and rows_by_cpu[cpu].online]
        names = dict.fromkeys(name for row in rows for name in row.metrics)
        metrics: dict[str, Metric] = {}
        for name in names:
            if name in SUMMED or name.startswith(EVENT_METRIC_PREFIX):
                metrics[name] = _combine([row.metrics.get(name, NOT_COUNTED) for row in rows], average=False)
            elif name in AVERAGED:
                metrics[name] = _combine([row.metrics.get(name, NOT_COUNTED) for row in rows], average=True)
        if MetricKey.CYCLES in names and MetricKey.INSTRUCTIONS in names:
            metrics[MetricKey.IPC] = _ipc(
                metrics.get(MetricKey.INSTRUCTIONS, NOT_COUNTED), metrics.get(MetricKey.CYCLES, NOT_COUNTED)
            )
        result.append(AggregateRow(label, tuple(row.cpu for row in rows), metrics))
    return tuple(result)


def _combine(metrics: list[Metric], average: bool) -> Metric:
    present = [m for m in metrics if m.value is not None]
    if not present:
        first = next((m for m in metrics if m.failure or m.note), NOT_COUNTED)
        return Metric(None, failure=first.failure, note=first.note)
    total = sum(m.value for m in present)  # type: ignore[misc]
    coverages = [m.coverage for m in present if m.coverage is not None]
    return Metric(
        total / len(present) if average else total,
        coverage=min(coverages) if coverages else None,
        extrapolated=any(m.extrapolated for m in present),
    )


def _ipc(instructions: Metric, cycles: Metric) -> Metric:
    if instructions.value is None or not cycles.value:
        return Metric(None, failure=cycles.failure or instructions.failure)
    coverage = min((c for c in (instructions.coverage, cycles.coverage) if c is not None), default=None)
    return Metric(
        instructions.value / cycles.value,
        coverage=coverage,
        extrapolated=instructions.extrapolated or cycles.extrapolated,
    )
