"""A real Prometheus (Debian's package) on loopback scraping `pmutop export` for real.

Two targets: this machine, live, following a steady load; and a synthetic Alder Lake recording replayed at its
recorded pace, so the rules and dashboard queries that need core PMUs (which this VM lacks) get real scrapes
too. `pmutop stat` runs beside them as the oracle for the context-switch rates.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from export_support import PMUTOP, REPO, poll, start_exporter, start_prometheus
from synthetic_recordings import synthetic_recording
from sysfs_trees import build_alder_lake

from pmutop.kernel.sysfs import read_sysfs
from pmutop.recording.format import RecordingWriter

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed (.ci/run installs it)"),
]
RULES = REPO / "deploy/prometheus/pmutop-rules.yml"
ALERTS = REPO / "deploy/prometheus/pmutop-alerts.yml"
DASHBOARD = REPO / "deploy/grafana/pmutop-dashboard.json"
INTERVAL_MS = 200
# The window rate() is checked over, and how many seconds of scrapes it needs.
WINDOW_S = 30
LOAD_COMM = "pmutop-load"
# Sleeps of 0.5 ms on each CPU: a steady few thousand context switches per second, so the edges of the
# window weigh little against the whole.
LOAD = (
    "import os, sys, time\n"
    "os.sched_setaffinity(0, {int(sys.argv[1])})\n"
    f"open('/proc/self/comm', 'w').write('{LOAD_COMM}')\n"
    "while True:\n"
    "    time.sleep(0.0005)\n"
)


def _hybrid_recording(path: Path) -> Path:
    recording = synthetic_recording(
        read_sysfs(build_alder_lake(path.parent / "adl-tree")),
        ticks=240,
        interval_s=0.5,
        host="adl",
        follow=(4242, "x264"),
    )
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks:
            writer.write_tick(tick)
    return path


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """Prometheus with both targets, once it holds WINDOW_S seconds of scrapes and has evaluated every rule."""
    workdir = tmp_path_factory.mktemp("prometheus")
    cpus = sorted(os.sched_getaffinity(0))
    load = [subprocess.Popen([sys.executable, "-c", LOAD, str(cpu)]) for cpu in cpus]
    stat_out = open(workdir / "stat.jsonl", "w")  # noqa: SIM115 (closed in finally)
    children = []
    prometheus = stat = None
    try:
        live = start_exporter("--listen", "127.0.0.1:0", "-I", str(INTERVAL_MS), "--comm", LOAD_COMM)
        children.append(live)
        replay = start_exporter("--listen", "127.0.0.1:0", "--input", str(_hybrid_recording(workdir / "adl.jsonl")))
        children.append(replay)
        stat = subprocess.Popen([*PMUTOP, "stat", "-I", str(INTERVAL_MS), "--json"], cwd=REPO, stdout=stat_out)
        prometheus = start_prometheus(workdir, {"pmutop": live.url, "pmutop-replay": replay.url}, (RULES, ALERTS))

        def enough_scrapes():
            result = prometheus.query(f'count_over_time(pmutop_ticks_total{{job="pmutop"}}[{WINDOW_S * 2}s])')
            return result and float(result[0]["value"][1]) >= WINDOW_S + 2

        poll(enough_scrapes, f"{WINDOW_S} s of scrapes")

        def rules_evaluated():
            groups = prometheus.api("rules")["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            return all(rule.get("lastEvaluation", "").startswith("2") for rule in rules) and groups

        groups = poll(rules_evaluated, "every rule to be evaluated")
        yield prometheus, groups, workdir / "stat.jsonl", cpus
    finally:
        if stat is not None:
            stat.send_signal(signal.SIGINT)
            stat.wait(timeout=30)
        if prometheus is not None:
            prometheus.stop()
        for child in children:
            child.stop()
        for process in load:
            process.kill()
            process.wait()
        stat_out.close()


def test_both_targets_are_up_and_scraped_as_openmetrics(scraped):
    prometheus, *_ = scraped
    targets = prometheus.api("targets")["activeTargets"]
    assert {target["labels"]["job"] for target in targets} == {"pmutop", "pmutop-replay"}
    assert all(target["health"] == "up" and target["lastError"] == "" for target in targets), targets
    # Prometheus asks for OpenMetrics first: it then knows families by their OpenMetrics names and types
    # (from the Prometheus text format it would have seen a gauge named pmutop_cpu_info).
    metadata = prometheus.api("metadata")
    assert metadata["pmutop_cpu"][0]["type"] == "info"
    assert metadata["pmutop_context_switches"][0]["type"] == "counter"
    assert metadata["pmutop_cpu_busy_seconds"][0]["unit"] == "seconds"


def test_rate_of_context_switches_per_cpu_agrees_with_pmutop_stat(scraped):
    prometheus, _, stat_path, cpus = scraped
    # One evaluation time for every CPU, a little in the past so pmutop stat has printed every interval in it.
    ticks = prometheus.query(f'pmutop_last_tick_timestamp_seconds{{job="pmutop"}}[{WINDOW_S + 5}s]')[0]["values"]
    at = float(ticks[-3][0])
    window = [float(tick) for scraped_at, tick in ticks if at - WINDOW_S < float(scraped_at) <= at]
    intervals = [json.loads(line) for line in stat_path.read_text().splitlines() if line.strip()]
    # The exported totals at the window's first and last scrape are those of the ticks read at window[0] and
    # window[-1]: pmutop stat's intervals centred between those ticks count the same events.
    inside = [i for i in intervals if window[0] < i["timestamp"] - i["elapsed_s"] / 2 <= window[-1]]
    seconds = sum(i["elapsed_s"] for i in inside)
    assert seconds >= WINDOW_S * 0.8
    compared = []
    for cpu in cpus:
        rows = [next(row for row in i["cpus"] if row["cpu"] == cpu) for i in inside]
        values = [row["metrics"]["context_switches_per_s"]["value"] for row in rows]
        if None in values:
            # Another run's hotplug test took this CPU offline meanwhile: pmutop stat gives no figure for the
            # interval its counters reopened in, the exporter counts on. CPU 0 cannot be unplugged.
            continue
        counted = sum(value * i["elapsed_s"] for value, i in zip(values, inside, strict=True))
        expr = f'rate(pmutop_context_switches_total{{job="pmutop", cpu="{cpu}"}}[{WINDOW_S}s])'
        rate = float(prometheus.query(expr, at)[0]["value"][1])
        assert rate == pytest.approx(counted / seconds, rel=0.03), (cpu, rate, counted / seconds)
        compared.append(cpu)
    assert compared and compared[0] == cpus[0]


def test_every_rule_evaluates_and_every_recording_rule_returns_series(scraped):
    prometheus, groups, *_ = scraped
    empty = []
    for group in groups:
        for rule in group["rules"]:
            assert rule["health"] == "ok" and not rule.get("lastError"), rule
            if rule["type"] == "recording" and not prometheus.query(rule["name"]):
                empty.append(rule["name"])
    assert empty == []
    files = {Path(group["file"]).name for group in groups}
    assert files == {RULES.name, ALERTS.name}


def _dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def test_every_dashboard_query_returns_series(scraped):
    prometheus, *_ = scraped
    queries = list(_dashboard_queries())
    assert len(queries) >= 10
    empty = [title for title, expr in queries if not prometheus.query(expr.replace("$instance", ".+"))]
    assert empty == []


def test_per_core_type_figures_follow_the_recorded_machine(scraped):
    """The hybrid replay's IPC per core type is the recording's own: P-cores well above E-cores."""
    prometheus, *_ = scraped
    ipc = {
        row["metric"]["core_type"]: float(row["value"][1])
        for row in prometheus.query('core_type:pmutop_ipc:ratio1m{job="pmutop-replay"}')
    }
    assert set(ipc) == {"performance", "efficiency"}
    assert 1.5 < ipc["performance"] < 2.3 and 0.8 < ipc["efficiency"] < 1.3
    shares = prometheus.query('task:pmutop_core_type_share:ratio1m{job="pmutop-replay", comm="x264"}')
    assert sum(float(row["value"][1]) for row in shares) == pytest.approx(1.0)


def test_promtool_checks_the_rule_files():
    result = subprocess.run(["promtool", "check", "rules", str(RULES), str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
