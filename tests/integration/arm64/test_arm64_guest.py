"""pmutop on a real Linux Arm PMU driver: arm64 guests under QEMU, one and two core PMUs, 6.1 and 6.12.

The module fixture builds the kernels and the initramfs (see build.py) and boots the four
configurations once; each test checks one property of what the guests printed. QEMU's counts are
plumbing, not truth (a virtual 1 GHz clock and one instruction counter shared by all CPUs), so the
tests assert presence, attribution and encodings, never values.
"""

import json
import subprocess
import sys

import pytest

from . import build

pytestmark = pytest.mark.arm64_guest

RELEASES = build.KERNEL_RELEASES
LAYOUTS = ("stock", "two-pmu")
CONFIGS = build.CONFIGURATIONS
IDS = [f"{release}-{layout}" for release, layout in CONFIGS]
# The core PMU each CPU must report, per layout.
OWNERS = {
    "stock": {0: "armv8_pmuv3", 1: "armv8_pmuv3"},
    "two-pmu": {0: "armv8_cortex_a53", 1: "armv8_cortex_a72"},
}
CORE_EVENTS = ("cycles", "instructions")
# arm64 gained PERF_PMU_CAP_EXTENDED_HW_TYPE in 6.6: 6.12 takes `config | type << 32`, 6.1 refuses it.
EXTENDED_TYPE = {"bookworm": False, "trixie": True}
# What `pmutop stat` must say it used, per (release, layout).
EXPECTED_ENCODING = {
    ("bookworm", "stock"): "hardware",
    ("trixie", "stock"): "hardware",
    ("bookworm", "two-pmu"): "raw-alias",
    ("trixie", "two-pmu"): "extended",
}
# Sections that must exist and exit 0 whatever pmutop's state (stat-help is checked by the stat tests).
REQUIRED_SECTIONS = ("sysfs", "import", "probe", "busy-vs-idle", "topology")


def owners_pmus(layout: str) -> dict[str, list[int]]:
    pmus: dict[str, list[int]] = {}
    for cpu, pmu in sorted(OWNERS[layout].items()):
        pmus.setdefault(pmu, []).append(cpu)
    return pmus


@pytest.fixture(scope="module")
def guests():
    """Built and booted in the background since collection ended (conftest.py); waited for here."""
    try:
        artifacts, results = build.background_results()
    except (build.UnsupportedHost, build.ArchiveUnreachable) as exc:
        pytest.skip(f"arm64 guest harness not run: {exc}")
    timings = ", ".join(f"{name} {sec:.1f} s" for name, sec in artifacts.timings.phases)
    print(f"\narm64 guest harness phases: {timings}", file=sys.stderr)
    return results


class Guest:
    """One booted configuration, with helpers that fail with the console tail."""

    def __init__(self, result: build.BootResult) -> None:
        self.result = result
        self.release = result.release
        self.layout = result.layout

    def fail(self, message: str, section: str | None = None) -> None:
        body = ""
        if section and section in self.result.sections:
            body = f"\n--- section {section} ---\n" + self.result.sections[section][0][-6000:]
        pytest.fail(
            f"[{self.result.name}] {message}{body}\n--- {self.result.phase_report()}"
            f"\n--- console tail ({self.result.name}, "
            f"log in {build.WORK / 'logs'}) ---\n{self.result.tail()}",
            pytrace=False,
        )

    def check(self, condition: bool, message: str, section: str | None = None) -> None:
        if not condition:
            self.fail(message, section)

    def body(self, name: str) -> str:
        if name not in self.result.sections:
            self.fail(f"the guest printed no `{name}` section")
        body, rc = self.result.sections[name]
        if rc is None:
            self.fail(f"section `{name}` never ended (guest crashed or timed out)", name)
        if rc != 0:
            self.fail(f"section `{name}` exited with {rc}", name)
        return body

    def json_lines(self, name: str) -> list[dict]:
        rows = []
        for line in self.body(name).splitlines():
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    self.fail(f"section `{name}`: bad JSON line ({exc}): {line[:200]}", name)
        return rows

    def json_document(self, name: str) -> dict:
        text = "\n".join(line for line in self.body(name).splitlines() if not line.startswith("#"))
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(f"section `{name}` is not one JSON document: {exc}", name)
            raise

    def sysfs(self) -> dict:
        return self.json_lines("sysfs")[0]

    def sysfs_types(self) -> dict[str, int]:
        return {name: int(entry["type"]) for name, entry in self.sysfs()["pmus"].items()}


@pytest.fixture(params=CONFIGS, ids=IDS)
def guest(request, guests) -> Guest:
    return Guest(guests[request.param])


# ---------------------------------------------------------------- the guest ran


def test_guest_booted_ran_and_powered_off(guest):
    result = guest.result
    guest.check(result.stopped is None, f"the host stopped the guest: {result.stopped}")
    guest.check("===PMUTOP-GUEST-DONE 0===" in result.console, "the guest script did not finish")
    guest.check(result.returncode == 0, f"qemu exited with {result.returncode}")
    for name in REQUIRED_SECTIONS:
        guest.body(name)
    facts = guest.sysfs()
    guest.check(facts["machine"] == "aarch64", f"guest machine is {facts['machine']}")
    major_minor = tuple(int(x) for x in facts["release"].split(".")[:2])
    expected = (6, 1) if guest.release == "bookworm" else (6, 12)
    guest.check(major_minor == expected, f"guest kernel {facts['release']}, expected {expected}")
    guest.check(facts["online"] == "0-1", f"online CPUs {facts['online']}")


def test_guest_sysfs_has_the_layout(guest):
    """The device tree did what it should: the guest kernel registered the expected core PMUs."""
    pmus = guest.sysfs()["pmus"]
    core = {name: entry["cpus"] for name, entry in pmus.items() if "cpus" in entry}
    expected = {"stock": {"armv8_pmuv3": "0-1"}, "two-pmu": {"armv8_cortex_a53": "0", "armv8_cortex_a72": "1"}}[
        guest.layout
    ]
    guest.check(core == expected, f"guest core PMUs {core}, expected {expected}", "sysfs")
    for name in core:
        events = pmus[name]["events"]
        guest.check(events.get("cpu_cycles") == "event=0x0011", f"{name}: events {events}", "sysfs")
        guest.check(events.get("inst_retired") == "event=0x0008", f"{name}: events {events}", "sysfs")


# ---------------------------------------------------------------- topology


def test_topology_matches_guest(guest):
    topo = guest.json_document("topology")
    types = guest.sysfs_types()
    expected_pmus = owners_pmus(guest.layout)
    by_name = {pmu["name"]: pmu for pmu in topo["pmus"]}
    # Every PMU pmutop lists has the type the guest's sysfs says, and none is missing.
    guest.check(set(by_name) == set(types), f"pmutop PMUs {sorted(by_name)} != sysfs {sorted(types)}", "topology")
    for name, pmu in by_name.items():
        guest.check(pmu["type"] == types[name], f"{name}: pmutop type {pmu['type']}, sysfs {types[name]}", "topology")
    core = {name: pmu["cpus"] for name, pmu in by_name.items() if pmu["is_core"]}
    guest.check(core == expected_pmus, f"pmutop core PMUs {core}, expected {expected_pmus}", "topology")
    if "core_pmus" in topo:
        guest.check(sorted(topo["core_pmus"]) == sorted(expected_pmus), f"core_pmus {topo['core_pmus']}", "topology")
    if "heterogeneous" in topo:
        guest.check(topo["heterogeneous"] == (guest.layout == "two-pmu"), "wrong `heterogeneous`", "topology")
    cpus = {row["cpu"]: row for row in topo["cpus"]}
    guest.check(sorted(cpus) == [0, 1], f"pmutop CPUs {sorted(cpus)}", "topology")
    for cpu, owner in OWNERS[guest.layout].items():
        guest.check(cpus[cpu]["online"] is True, f"cpu{cpu} not online in pmutop", "topology")
        guest.check(
            cpus[cpu]["core_pmu"] == owner,
            f"cpu{cpu}: pmutop says {cpus[cpu]['core_pmu']}, expected {owner}",
            "topology",
        )
    guest.check(topo["problems"] == [], f"pmutop reports problems: {topo['problems']}", "topology")


# ---------------------------------------------------------------- pmutop's kernel layer on the real driver


def test_kernel_layer_counts_on_owner_and_enoent_elsewhere(guest):
    """pmutop.kernel.perf.open_event with each encoding on each CPU: counts where the PMU covers the CPU,
    ENOENT where it does not, the extended type only on 6.12, legacy HARDWARE everywhere."""
    rows = guest.json_lines("probe")
    owners = OWNERS[guest.layout]
    seen = set()
    for row in rows:
        cpu, pmu, enc = row["cpu"], row["pmu"], row["encoding"]
        where = f"{enc} {row['event']} pmu={pmu} cpu{cpu}"
        seen.add((enc, row["event"], pmu, cpu))
        if enc == "hardware":
            should_count = True
        elif enc == "own-type":
            should_count = owners[cpu] == pmu
        else:
            should_count = owners[cpu] == pmu and EXTENDED_TYPE[guest.release]
        if should_count:
            guest.check("errno" not in row, f"{where}: refused with {row.get('errno')}", "probe")
            guest.check(row["value"] > 0, f"{where}: counted {row['value']}", "probe")
            guest.check(
                row["running"] == row["enabled"] > 0, f"{where}: ran {row['running']}/{row['enabled']}", "probe"
            )
        else:
            guest.check(row.get("errno") == "ENOENT", f"{where}: expected ENOENT, got {row}", "probe")
    for cpu in owners:
        for pmu in set(owners.values()):
            for event in CORE_EVENTS:
                for enc in ("own-type", "extended"):
                    guest.check((enc, event, pmu, cpu) in seen, f"probe missing {enc} {event} {pmu} cpu{cpu}", "probe")


def test_kernel_layer_user_only_counts_follow_the_busy_cpu(guest):
    """QEMU's cycles are its virtual clock and its instruction count is global, so user+kernel counts
    are the same on a busy and an idle CPU; user-only counts (exclude_kernel) follow the busy CPU."""
    rows = guest.json_lines("busy-vs-idle")
    value = {(r["busy"], r["cpu"], r["event"]): r["value"] for r in rows}
    for busy in (0, 1):
        idle = 1 - busy
        for event in ("cycles", "instructions"):
            guest.check(value[(busy, busy, event)] > 0, f"{event} on busy cpu{busy} is 0", "busy-vs-idle")
            guest.check(value[(busy, idle, event)] > 0, f"{event} on idle cpu{idle} is 0", "busy-vs-idle")
            b, i = value[(busy, busy, event + ":u")], value[(busy, idle, event + ":u")]
            guest.check(
                b > 0 and b > 100 * i, f"user {event}: busy cpu{busy} {b} vs idle cpu{idle} {i}", "busy-vs-idle"
            )


# ---------------------------------------------------------------- pmutop stat


def _require_stat(guest: Guest) -> None:
    guest.body("stat-help")


def _intervals(guest: Guest, name: str) -> tuple[list[dict], dict | None]:
    rows = guest.json_lines(name)
    intervals = [r for r in rows if not r.get("summary")]
    summary = next((r for r in rows if r.get("summary")), None)
    return intervals, summary


def _spinning_intervals(guest: Guest, name: str) -> list[dict]:
    """The interval records printed after the guest started the pinned spinner (see guest_run.py)."""
    body = guest.body(name)
    marker = body.find("# spinner-started")
    guest.check(marker >= 0, "the guest never started the spinner", name)
    rows = [json.loads(line) for line in body[marker:].splitlines() if line.startswith("{")]
    return [r for r in rows if not r.get("summary")]


def _walk_metrics(record: dict, path: str = ""):
    """Yield (path, name, metric) for every metric dict anywhere in a stat record."""
    for key, value in record.items():
        if isinstance(value, dict):
            if "value" in value and (set(value) <= {"value", "coverage", "extrapolated", "error", "reason"}):
                yield path, key, value
            else:
                yield from _walk_metrics(value, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _walk_metrics(item, f"{path}.{key}[{index}]")


@pytest.mark.parametrize("busy_cpu", [0, 1])
def test_stat_counts_per_cpu_on_its_own_pmu(guest, busy_cpu):
    _require_stat(guest)
    name = f"stat-busy-cpu{busy_cpu}"
    intervals, _summary = _intervals(guest, name)
    guest.check(len(intervals) >= 3, f"{len(intervals)} interval lines, expected 3", name)
    owners = OWNERS[guest.layout]
    for record in intervals:
        rows = {row["cpu"]: row for row in record["cpus"]}
        guest.check(sorted(rows) == [0, 1], f"interval {record.get('interval')}: cpus {sorted(rows)}", name)
        for cpu, owner in owners.items():
            row = rows[cpu]
            guest.check(row["pmu"] == owner, f"cpu{cpu} attributed to {row['pmu']}, expected {owner}", name)
            guest.check(row["online"] is True, f"cpu{cpu} offline", name)
            for event in CORE_EVENTS:
                metric = row["metrics"].get(event)
                guest.check(metric is not None, f"cpu{cpu}: no {event} metric", name)
                guest.check(
                    metric.get("value") is not None and metric["value"] > 0,
                    f"cpu{cpu} {event}: {metric}",
                    name,
                )
                guest.check(metric.get("coverage") == 1.0, f"cpu{cpu} {event}: coverage {metric.get('coverage')}", name)


@pytest.mark.parametrize("busy_cpu", [0, 1])
def test_stat_busy_cpu_is_busier(guest, busy_cpu):
    """The pinned spinner's CPU shows full utilisation and the other one far less. Not judged by cycles:
    QEMU's cycle counter is its virtual clock and its instruction counter is global, so both run on an
    idle CPU too. The idle CPU is not at 0% either: under round-robin TCG its IPI handlers last as long
    as the busy vCPU's time slice."""
    _require_stat(guest)
    name = f"stat-busy-cpu{busy_cpu}"
    intervals = _spinning_intervals(guest, name)
    guest.check(len(intervals) >= 2, f"only {len(intervals)} intervals with the spinner running", name)
    idle_cpu = 1 - busy_cpu
    busy_utils, idle_utils = [], []
    for record in intervals:
        rows = {row["cpu"]: row for row in record["cpus"]}
        busy_utils.append(rows[busy_cpu]["metrics"]["util_pct"]["value"])
        idle_utils.append(rows[idle_cpu]["metrics"]["util_pct"]["value"])
    guest.check(None not in busy_utils + idle_utils, f"util_pct missing: busy {busy_utils} idle {idle_utils}", name)
    guest.check(min(busy_utils) >= 90, f"busy cpu{busy_cpu} util% {busy_utils}", name)
    mean_idle = sum(idle_utils) / len(idle_utils)
    guest.check(mean_idle <= 75, f"idle cpu{idle_cpu} util% {idle_utils} (busy cpu{busy_cpu} {busy_utils})", name)


@pytest.mark.parametrize("busy_cpu", [0, 1])
def test_stat_user_cycles_follow_the_busy_cpu(guest, busy_cpu):
    """With `--user`, pmutop's own cycles and instructions separate busy from idle: the spinner's CPU
    counts far more than the other, each on the PMU that owns it."""
    _require_stat(guest)
    name = f"stat-user-busy-cpu{busy_cpu}"
    intervals = _spinning_intervals(guest, name)
    guest.check(len(intervals) >= 2, f"only {len(intervals)} intervals with the spinner running", name)
    idle_cpu = 1 - busy_cpu
    for record in intervals:
        rows = {row["cpu"]: row for row in record["cpus"]}
        for event in CORE_EVENTS:
            busy = rows[busy_cpu]["metrics"][event]["value"]
            idle = rows[idle_cpu]["metrics"][event]["value"]
            guest.check(busy is not None and busy > 0, f"user {event} on busy cpu{busy_cpu}: {busy}", name)
            guest.check(idle is not None, f"user {event} on idle cpu{idle_cpu} not counted", name)
            guest.check(busy > 10 * idle, f"user {event}: busy cpu{busy_cpu} {busy} vs idle cpu{idle_cpu} {idle}", name)
            guest.check(rows[busy_cpu]["pmu"] == OWNERS[guest.layout][busy_cpu], f"busy cpu{busy_cpu} PMU", name)


def test_stat_per_pmu_rows_and_encoding(guest):
    _require_stat(guest)
    types = guest.sysfs_types()
    expected = owners_pmus(guest.layout)
    encoding = EXPECTED_ENCODING[(guest.release, guest.layout)]
    for name in ("stat-busy-cpu0", "stat-busy-cpu1"):
        intervals, _ = _intervals(guest, name)
        for record in intervals:
            rows = {row["pmu"]: row for row in record["pmus"]}
            guest.check(sorted(rows) == sorted(expected), f"pmu rows {sorted(rows)}, expected {sorted(expected)}", name)
            for pmu, row in rows.items():
                guest.check(row["type"] == types[pmu], f"{pmu}: type {row['type']}, sysfs {types[pmu]}", name)
                guest.check(row["cpus"] == expected[pmu], f"{pmu}: cpus {row['cpus']}", name)
                guest.check(
                    row["encoding"] == encoding, f"{pmu}: encoding {row['encoding']}, expected {encoding}", name
                )
                for event in CORE_EVENTS:
                    metric = row["metrics"].get(event, {})
                    guest.check((metric.get("value") or 0) > 0, f"{pmu} {event}: {metric}", name)


def test_stat_never_shows_a_refused_counter_as_zero(guest):
    """ENOENT (a PMU on a CPU it does not cover, the extended type on 6.1) is never a zero count."""
    _require_stat(guest)
    for name in ("stat-busy-cpu0", "stat-busy-cpu1"):
        intervals, summary = _intervals(guest, name)
        for record in [*intervals, *([summary] if summary else [])]:
            for path, metric_name, metric in _walk_metrics(record):
                if "error" in metric:
                    guest.check(metric["value"] is None, f"{path}.{metric_name}: error with a value {metric}", name)
                if metric_name in CORE_EVENTS:
                    guest.check(metric["value"] != 0, f"{path}.{metric_name} shown as 0: {metric}", name)


# ---------------------------------------------------------------- task following


def test_stat_follows_a_task_across_core_types(guest):
    """`pmutop stat -- CMD` with CMD pinning itself to CPU 0, then to CPU 1: the task is reported on
    CPU 0's core PMU, then on CPU 1's, with a migration between them that is cross-core-type exactly
    when the two CPUs have different core PMUs."""
    _require_stat(guest)
    if "stat-task" not in guest.result.sections:
        guest.fail("`pmutop stat -- CMD` exists on the host but the guest did not run it")
    name = "stat-task"
    intervals, summary = _intervals(guest, name)
    owners = OWNERS[guest.layout]
    tasks = [task for record in intervals for task in record.get("tasks", [])]
    guest.check(tasks, "no task rows in any interval", name)
    # Where the task was at the end of each interval, consecutive repeats folded.
    where: list[str] = []
    for task in tasks:
        if task["pmu"] is not None and (not where or where[-1] != task["pmu"]):
            where.append(task["pmu"])
    expected = [owners[0]] if owners[0] == owners[1] else [owners[0], owners[1]]
    guest.check(where == expected, f"task seen on {where}, expected {expected}", name)
    guest.check(tasks[-1]["alive"] is False and tasks[-1]["exit_status"] == 0, f"last task row {tasks[-1]}", name)
    migrations = [m for record in intervals for m in record.get("migrations", [])]
    to_one = [m for m in migrations if m["from_cpu"] == 0 and m["to_cpu"] == 1]
    guest.check(len(to_one) == 1, f"expected one migration cpu0 -> cpu1, got {migrations}", name)
    move = to_one[0]
    guest.check(
        (move["from_pmu"], move["to_pmu"]) == (owners[0], owners[1]),
        f"migration attributed {move['from_pmu']} -> {move['to_pmu']}, expected {owners[0]} -> {owners[1]}",
        name,
    )
    cross = guest.layout == "two-pmu"
    guest.check(move["cross_type"] is cross, f"migration cross_type {move['cross_type']}, expected {cross}", name)
    for m in migrations:
        guest.check(m["cross_type"] is (owners[m["from_cpu"]] != owners[m["to_cpu"]]), f"migration {m}", name)
    final = summary["tasks"][0] if summary and summary.get("tasks") else tasks[-1]
    if cross:
        residency = final["residency_total"]
        guest.check(
            all(residency.get(pmu, 0) > 0.2 for pmu in expected), f"residency_total {residency}, expected both", name
        )
        guest.check(final["cross_type_migrations"] >= 1, f"cross_type_migrations {final}", name)


def test_recording_from_the_guest_replays_on_the_host(guest, tmp_path):
    """`pmutop record` in the guest, `pmutop stat --input` on this x86 host: the replay shows the guest's
    PMUs and recomputes the task's trip across core types from the raw counts. The recording is kept in
    work/recordings/ (tests/fixtures/recordings/arm64-two-pmu.jsonl is a copy of the 6.12 two-PMU one)."""
    _require_stat(guest)
    name = "recording"
    lines = [line for line in guest.body(name).splitlines() if line.startswith("{")]
    guest.check(len(lines) >= 4, f"recording has {len(lines)} lines", name)
    kept = build.WORK / "recordings" / f"{guest.release}-{guest.layout}.jsonl"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pmutop", "stat", "--input", str(kept), "--json"], capture_output=True, text=True
    )
    guest.check(result.returncode == 0, f"stat --input failed: {result.stderr[-500:]}", name)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    owners = OWNERS[guest.layout]
    for record in records:
        rows = {row["cpu"]: row["pmu"] for row in record["cpus"]}
        guest.check(rows == owners, f"replayed CPUs attributed {rows}, expected {owners}", name)
        guest.check(sorted(p["pmu"] for p in record["pmus"]) == sorted(set(owners.values())), "replayed PMUs", name)
    migrations = [m for record in records for m in record.get("migrations", [])]
    crossing = [m for m in migrations if (m["from_cpu"], m["to_cpu"]) == (0, 1)]
    guest.check(len(crossing) == 1, f"replayed migrations {migrations}", name)
    guest.check(crossing[0]["cross_type"] is (owners[0] != owners[1]), f"replayed migration {crossing[0]}", name)


# ---------------------------------------------------------------- -e events (see guest_run.event_lists)


def _event_totals(record: dict) -> dict[str, dict]:
    return {total["name"]: total for total in record.get("events", ())}


def test_pmu_qualified_and_raw_events_count_on_the_right_cpus(guest):
    _require_stat(guest)
    name = "stat-events"
    intervals, _summary = _intervals(guest, name)
    guest.check(len(intervals) >= 2, f"{len(intervals)} interval lines, expected 2", name)
    owners = OWNERS[guest.layout]
    types = guest.sysfs_types()
    if guest.layout == "stock":
        # One core PMU: each event on both CPUs, one total each, named as given.
        expected = {
            "armv8_pmuv3/inst_retired/": [0, 1],
            "r08": [0, 1],
            "armv8_pmuv3/cpu_cycles/": [0, 1],
            "instructions": [0, 1],
        }
    else:
        # Two core PMUs: a53's event on cpu0 only; raw and alias events once per core PMU, on its own CPU.
        expected = {
            "armv8_cortex_a53/cpu_cycles/": [0],
            "armv8_cortex_a53/r08/": [0],
            "armv8_cortex_a72/r08/": [1],
            "armv8_cortex_a53/inst_retired/": [0],
            "armv8_cortex_a72/inst_retired/": [1],
            "armv8_cortex_a53/instructions/": [0],
            "armv8_cortex_a72/instructions/": [1],
        }
    for record in intervals:
        totals = _event_totals(record)
        guest.check(set(totals) == set(expected), f"event totals {sorted(totals)}, expected {sorted(expected)}", name)
        for event, cpus in expected.items():
            total = totals[event]
            guest.check(total["pmu"] in types, f"{event} on {total['pmu']}, not a guest PMU", name)
            guest.check(
                (total["cpus_wanted"], total["cpus_counted"]) == (len(cpus), len(cpus)),
                f"{event}: counted on {total['cpus_counted']} of {total['cpus_wanted']} CPUs, expected {len(cpus)}",
                name,
            )
            guest.check(total.get("value") is not None and total["value"] > 0, f"{event}: {total}", name)
            guest.check(total.get("coverage") == 1.0, f"{event}: coverage {total.get('coverage')}", name)
            guest.check(
                all(owners[cpu] == total["pmu"] for cpu in cpus), f"{event} on {total['pmu']} for cpus {cpus}", name
            )
        rows = {row["cpu"]: row for row in record["cpus"]}
        for event, cpus in expected.items():
            label = totals[event]["event"]
            for cpu in (0, 1):
                metric = rows[cpu]["metrics"].get(f"event:{label}")
                if cpu in cpus:
                    counted = metric is not None and (metric.get("value") or 0) > 0
                    guest.check(counted, f"cpu{cpu} {label}: {metric}", name)
                elif guest.layout == "two-pmu" and label == "armv8_cortex_a53/cpu_cycles/":
                    guest.check(metric is None, f"cpu{cpu} has {label} though its PMU does not cover it", name)


def test_an_event_on_a_pmu_the_guest_lacks_is_one_line_naming_its_pmus(guest):
    name = "stat-events-other-layout"
    guest.check(name in guest.result.sections, f"the guest printed no `{name}` section")
    body, rc = guest.result.sections[name]
    guest.check(rc == 2, f"exit {rc}, expected 2 (bad usage)", name)
    # The runner's own lines (argv, guest seconds) start with "# ".
    lines = [line for line in body.strip().splitlines() if not line.startswith("# ")]
    guest.check(len(lines) == 1 and "pmutop stat: -e:" in lines[0], f"not one error line: {body[:400]}", name)
    guest.check(any(pmu in lines[0] for pmu in OWNERS[guest.layout].values()), f"no PMU suggested: {lines[0]}", name)
