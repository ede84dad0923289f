"""Why a row shows n/a where no counter failed and the model noted nothing: every n/a a face shows has a
reason (truth first), including a figure the row does not carry at all.

A row lacks a figure when it is not that row's to have: eff GHz is per CPU (TSC × APERF/MPERF), and
a -e event counts only on its PMU's CPUs (`cpu_atom/cache-misses/` is not on a cpu_core CPU, nor on
its Σ row; a software event such as `cs` is on the CPU rows, not summed on a core PMU's). A figure the
row carries with no value, no failure and no note had no honest delta this interval.
"""

from pmutop.model.cpulist import format_cpulist
from pmutop.model.metrics import MetricKey
from pmutop.model.plan import MSR_EVENTS
from pmutop.model.snapshot import NOT_COUNTED_WHY, CpuRow, Metric, PmuRow, Snapshot, event_label
from pmutop.model.text import printable
from pmutop.model.topology import Pmu, Topology

# A figure of pmutop's own that some rows never carry, and why.
ABSENT_FIGURE_WHY: dict[str, str] = {
    MetricKey.EFFECTIVE_GHZ: "TSC × APERF/MPERF, per CPU only, where the msr PMU has aperf and mperf (x86)",
}


def why_not_available(
    name: str, metric: Metric | None, row: CpuRow | PmuRow, snapshot: Snapshot, topology: Topology
) -> str | None:
    """Why `row`'s figure `name` (a MetricKey or a -e event's metric) is n/a; None when it has a value.
    `metric` is the row's figure, None when the row does not carry it."""
    if metric is not None:
        if metric.value is not None:
            return None
        if metric.failure is not None:
            return metric.failure.explanation
        return metric.note or NOT_COUNTED_WHY
    if (label := event_label(name)) is not None:
        return _absent_event_why(label, row, snapshot, topology)
    if name == MetricKey.EFFECTIVE_GHZ and isinstance(row, CpuRow):
        return effective_clock_absent_why(topology)
    return ABSENT_FIGURE_WHY.get(name, NOT_COUNTED_WHY)


def effective_clock_absent_why(topology: Topology) -> str:
    """What this machine lacks for eff GHz (TSC × APERF/MPERF from the msr PMU, as turbostat's Bzy_MHz)."""
    msr = topology.pmu("msr")
    if msr is None:
        return "needs the msr PMU's tsc, aperf and mperf (x86): this kernel has no msr PMU"
    missing = [event for event in MSR_EVENTS if event not in msr.events]
    if missing:
        return (
            f"TSC × APERF/MPERF: this machine's msr PMU has no {' or '.join(missing)} event "
            "(a hypervisor often hides APERF/MPERF from its guests)"
        )
    return ABSENT_FIGURE_WHY[MetricKey.EFFECTIVE_GHZ]


def _absent_event_why(label: str, row: CpuRow | PmuRow, snapshot: Snapshot, topology: Topology) -> str:
    shown = printable(label)
    known = [pmu for pmu in map(topology.pmu, dict.fromkeys(t.pmu for t in snapshot.events if t.label == label)) if pmu]
    if isinstance(row, PmuRow):
        if any(pmu.name == row.pmu for pmu in known):
            return f"{shown} has no total on {printable(row.pmu)} this interval"
        cores = [pmu for pmu in known if pmu.is_core]
        if cores:
            cpus = format_cpulist(sorted({cpu for pmu in cores for cpu in pmu.cpus}))
            names = " and ".join(f"{printable(pmu.name)}'s" for pmu in cores)
            return f"{shown} counts on {names} CPUs only ({cpus}), none of them {printable(row.pmu)}'s"
        owners = " and ".join(map(_owner, known)) or "another"
        return (
            f"{shown} is an event of the {owners} PMU, not of {printable(row.pmu)}: the CPU rows show it, "
            "and a core PMU's Σ row sums only its own events"
        )
    where = sorted({cpu for pmu in known for cpu in pmu.cpus})
    if where and row.cpu not in where:
        names = " and ".join(f"{printable(pmu.name)}'s" for pmu in known)
        return f"{shown} counts on {names} CPUs only ({format_cpulist(where)}), not on cpu{row.cpu}"
    return f"{shown} has no counter on cpu{row.cpu}: it did not open there"


def _owner(pmu: Pmu) -> str:
    """`software`, `tracepoint`, or `uncore_imc_0 (uncore)` where the kind says more than the name."""
    return printable(pmu.name) if pmu.name == pmu.kind else f"{printable(pmu.name)} ({pmu.kind})"
