"""The rate arithmetic figure by figure, as pmutop did it before the model went columnar: the oracle the
bulk RateModel is checked against (tests/test_rates_bulk.py). One Metric per figure, plain loops."""

from pmutop.model.rates import MIN_BUSY_TICKS_FOR_GHZ, TOO_IDLE, USER_HZ
from pmutop.model.samples import GroupRole, RawTick
from pmutop.model.snapshot import NOT_COUNTED, Metric

SOFTWARE = (("context-switches", "context_switches_per_s"), ("cpu-migrations", "migrations_per_s"))


def group_delta(layout, previous, current):
    """(scaled, raw, coverage, extrapolated, enabled, running), or None without an honest delta."""
    if previous.generation != current.generation or len(previous.values) != len(current.values):
        return None
    enabled, running = current.enabled - previous.enabled, current.running - previous.running
    if enabled < 0 or running < 0:
        return None
    raw = {}
    for name, before, after in zip(layout.members, previous.values, current.values, strict=False):
        if after < before:
            return None
        raw[name] = after - before
    if running == 0:
        scaled = {}
    elif running < enabled:
        scaled = {name: value * enabled / running for name, value in raw.items()}
    else:
        scaled = {name: float(value) for name, value in raw.items()}
    return scaled, raw, (running / enabled if enabled > 0 else None), 0 < running < enabled, enabled, running


def ratio(numerator, denominator):
    return None if numerator is None or not denominator else numerator / denominator


def derived(value, *sources, scale=1.0):
    failure = next((source.failure for source in sources if source.failure), None)
    coverages = [source.coverage for source in sources if source.coverage is not None]
    if value is None:
        return Metric(None, failure=failure)
    return Metric(value * scale, min(coverages, default=None), any(source.extrapolated for source in sources))


def member(layout, delta, lost, name):
    cause = lost or next((cause for member, cause in layout.failures if member == name), None)
    if cause or delta is None or name not in delta[0]:
        return Metric(None, coverage=delta[2] if delta else None, failure=cause)
    return Metric(delta[0][name], coverage=delta[2], extrapolated=delta[3])


def ghz(cycles, busy_s):
    if busy_s is not None and busy_s * USER_HZ < MIN_BUSY_TICKS_FOR_GHZ:
        return Metric(None, note=TOO_IDLE)
    return derived(ratio(cycles.value, busy_s), cycles, scale=1e-9)


def cpu_metrics(layouts, previous: RawTick, tick: RawTick, cpu: int, interval_s: float):
    """(metrics, busy_s, util_pct) of one CPU."""
    busy_s = util = None
    now, before = tick.cpu_times.get(cpu), previous.cpu_times.get(cpu)
    if cpu in tick.online and now and before:
        total, busy = now.total - before.total, now.busy - before.busy
        if total > 0 and busy >= 0:
            busy_s, util = busy / USER_HZ, 100.0 * busy / total
    metrics = {"util_pct": Metric(util) if util is not None else NOT_COUNTED}
    for layout in layouts:
        if layout.cpu != cpu:
            continue
        lost = tick.lost.get(layout.key)
        before_read, read = previous.reads.get(layout.key), tick.reads.get(layout.key)
        delta = group_delta(layout, before_read, read) if before_read and read else None
        if layout.role is GroupRole.CORE:
            if lost is None and not layout.members:
                delta, busy_for_ghz, interval = None, None, 1.0
            else:
                busy_for_ghz, interval = busy_s, interval_s
            cycles, instructions = member(layout, delta, lost, "cycles"), member(layout, delta, lost, "instructions")
            metrics.update(cycles=cycles, instructions=instructions)
            if "ref-cycles" in layout.members or any(name == "ref-cycles" for name, _ in layout.failures):
                metrics["ref_cycles"] = member(layout, delta, lost, "ref-cycles")
            if not cycles.available:
                metrics["ghz"] = metrics["ipc"] = (
                    Metric(None, failure=cycles.failure) if cycles.failure else NOT_COUNTED
                )
            else:
                metrics["ghz"] = ghz(cycles, busy_for_ghz)
                metrics["ipc"] = derived(ratio(instructions.value, cycles.value), cycles, instructions)
            metrics["instructions_per_s"] = derived(ratio(instructions.value, interval), instructions)
        elif layout.role is GroupRole.SOFTWARE:
            for name, metric in (
                ("context-switches", "context_switches_per_s"),
                ("cpu-migrations", "migrations_per_s"),
            ):
                count = member(layout, delta, lost, name)
                metrics[metric] = derived(ratio(count.value, interval_s), count)
        elif layout.role is GroupRole.MSR:
            tsc = member(layout, delta, lost, "tsc")
            tsc_ghz = metrics["tsc_ghz"] = derived(ratio(tsc.value, interval_s), tsc, scale=1e-9)
            if "aperf" in layout.members and "mperf" in layout.members:
                aperf, mperf = member(layout, delta, lost, "aperf"), member(layout, delta, lost, "mperf")
                both = ratio(aperf.value, mperf.value)
                value = tsc_ghz.value * both if tsc_ghz.value is not None and both is not None else None
                metrics["effective_ghz"] = derived(value, tsc_ghz, aperf, mperf)
    return metrics, busy_s, util


def pmu_metrics(layouts, previous: RawTick, tick: RawTick, pmu: str, members, interval_s: float):
    """(metrics, extrapolated_share) of a core PMU; `members` are its online CPUs' cpu_metrics."""
    totals, raw_totals = {"cycles": 0.0, "instructions": 0.0}, {"cycles": 0, "instructions": 0}
    counted = dict.fromkeys(totals, False)
    enabled = running = 0
    failure = None
    for layout in layouts:
        if layout.role is not GroupRole.CORE or layout.pmu != pmu:
            continue
        failure = failure or next((cause for name, cause in layout.failures if name == "cycles"), None)
        before, read = previous.reads.get(layout.key), tick.reads.get(layout.key)
        delta = group_delta(layout, before, read) if before and read else None
        if delta is None or not delta[0]:
            continue
        enabled, running = enabled + delta[4], running + delta[5]
        for name in totals:
            if name in delta[0]:
                totals[name] += delta[0][name]
                raw_totals[name] += delta[1][name]
                counted[name] = True
    coverage = running / enabled if enabled else None

    def count(name):
        if not counted[name]:
            return Metric(None, failure=failure)
        return Metric(totals[name], coverage=coverage, extrapolated=running < enabled)

    cycles, instructions = count("cycles"), count("instructions")
    busy_s = 0.0
    for _, busy, _ in members:
        busy_s += busy or 0.0
    utils = [util for _, _, util in members if util is not None]
    util_sum = 0.0
    for util in utils:
        util_sum += util
    metrics = {
        "cycles": cycles,
        "instructions": instructions,
        "ghz": ghz(cycles, busy_s),
        "ipc": derived(ratio(instructions.value, cycles.value), cycles, instructions),
        "instructions_per_s": derived(ratio(instructions.value, interval_s), instructions),
        "util_pct": Metric(util_sum / len(utils)) if utils else NOT_COUNTED,
    }
    for name in ("context_switches_per_s", "migrations_per_s"):
        present = [m[name].value for m, _, _ in members if name in m and m[name].value is not None]
        total = 0.0
        for value in present:
            total += value
        metrics[name] = Metric(total) if present else NOT_COUNTED
    scaled_sum = totals["cycles"] + totals["instructions"]
    raw_sum = raw_totals["cycles"] + raw_totals["instructions"]
    return metrics, (scaled_sum - raw_sum) / scaled_sum if scaled_sum > 0 else 0.0
