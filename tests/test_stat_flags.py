"""The perf stat flags pmutop takes, run as a perf user would type them, on this machine's kernel."""

import json
import re
import subprocess
import sys

import pytest
import sysfs_trees

from pmutop.live.topology_loader import load_topology
from pmutop.model.aggregate import Aggregation, aggregate, cpu_groups
from pmutop.model.snapshot import CpuRow, Metric, Snapshot


def run(command, *args, check=True):
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_version_flags(pmutop_command):
    for flag in ("--version", "-V"):
        assert re.match(r"pmutop \S+", run(pmutop_command, flag).stdout)


def test_subcommand_errors_name_that_subcommand_and_its_help(pmutop_command):
    for sub, needed in (("stat", ()), ("record", ("-o", "/dev/null")), ("topology", ())):
        result = run(pmutop_command, sub, *needed, "--no-such-flag", check=False)
        assert result.returncode == 2
        assert result.stderr == (f"pmutop {sub}: unrecognized arguments: --no-such-flag (see `pmutop {sub} -h`)\n"), (
            result.stderr
        )


def test_help_says_where_pmutop_differs_from_perf(pmutop_command):
    text = run(pmutop_command, "stat", "--help").stdout
    assert "where pmutop stat differs from perf stat" in text
    for flag in (
        "-a",
        "-A",
        "--per-core",
        "--per-socket",
        "--per-node",
        "-x",
        "-j",
        "-o",
        "-r",
        "-t",
        "--interval-count",
    ):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}[\s,]", text), flag


@pytest.mark.needs_root
def test_output_file_json_interval_count_and_all_cpus(pmutop_command, tmp_path):
    out = tmp_path / "out.json"
    result = run(pmutop_command, "stat", "-a", "-j", "-o", str(out), "-I", "100", "--interval-count", "2", "-e", "cs")
    assert result.stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [bool(r.get("summary")) for r in records] == [False, False, True]
    assert all(r["events"][0]["event"] == "cs" for r in records)


@pytest.mark.needs_root
def test_perf_csv_default_events_and_per_cpu(pmutop_command):
    lines = run(pmutop_command, "stat", "-x,", "-I", "100", "-n", "1").stdout.splitlines()
    interval = [line.split(",") for line in lines if re.match(r"^\d+\.\d{9},", line)]
    assert [fields[3] for fields in interval] == [
        "cpu-clock",
        "context-switches",
        "cpu-migrations",
        "page-faults",
        "cycles",
        "instructions",
        "branches",
        "branch-misses",
    ]
    clock = interval[0]
    assert clock[2] == "msec" and float(clock[1]) > 0 and clock[5] == "100.00"
    for fields in interval[4:]:
        assert fields[1] == "<not supported>" or float(fields[1]) >= 0
    per_cpu = run(pmutop_command, "stat", "-x;", "-A", "-I", "100", "-n", "1", "-e", "cs").stdout.splitlines()
    cpus = {line.split(";")[1] for line in per_cpu if re.match(r"^\d+\.\d{9};", line)}
    assert cpus and all(re.fullmatch(r"CPU\d+", cpu) for cpu in cpus)


@pytest.mark.needs_root
def test_aggregations_sum_the_per_cpu_counts_of_one_recording(pmutop_command, tmp_path):
    recording = tmp_path / "r.jsonl"
    run(pmutop_command, "record", "-o", str(recording), "-I", "100", "-n", "2", "-e", "cs,faults")

    def counts(*flags):
        lines = run(pmutop_command, "stat", "--input", str(recording), "-x,", *flags).stdout.splitlines()
        return [line.split(",") for line in lines if re.match(r"^\d+\.\d{9},", line)]

    per_cpu = counts("-A")
    for flag, label in (("--per-socket", r"S\d+"), ("--per-core", r"S\d+-D\d+-C\d+"), ("--per-node", r"N\?")):
        rows = counts(flag)
        assert rows and all(re.fullmatch(label, row[1]) for row in rows), flag
        for event in ("cs", "faults"):
            for time_s in {row[0] for row in rows}:
                cpu_sum = sum(float(r[2]) for r in per_cpu if r[0] == time_s and r[4] == event)
                assert sum(float(r[3]) for r in rows if r[0] == time_s and r[5] == event) == cpu_sum


@pytest.mark.needs_root
def test_text_fits_120_columns_and_the_header_is_printed_once_off_a_terminal(pmutop_command):
    text = run(pmutop_command, "stat", "-I", "100", "-n", "3", "-e", "cs,branch-misses,sched:sched_switch").stdout
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    table_headers = [line for line in lines if line.startswith("#     time       CPU PMU")]
    # Once for the intervals, once under the summary's title.
    assert len(table_headers) == 2
    notes = [line for line in lines if re.match(r"# \[\d+\] ", line)]
    assert len(notes) == len({line.split("]")[0] for line in notes})


@pytest.mark.needs_root
def test_repeat_prints_mean_and_stddev(pmutop_command):
    text = run(pmutop_command, "stat", "-r", "3", "-e", "cs", "--", sys.executable, "-c", "pass").stdout
    assert "# over 3 runs: mean ± stddev" in text
    assert re.search(r"^\s+[\d.]+\s+seconds time elapsed\s+\( ± +[\d.]+% \)$", text, re.M)
    assert re.search(r"^\s+[\d,]+\s+cs\s+\( ± +[\d.]+% \)$", text, re.M)
    assert run(pmutop_command, "stat", "-r", "2", check=False).returncode != 0


@pytest.mark.needs_root
def test_tid_follows_the_threads_process(pmutop_command):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        records = [
            json.loads(line)
            for line in run(
                pmutop_command, "stat", "-j", "-t", str(sleeper.pid), "-I", "100", "-n", "1"
            ).stdout.splitlines()
        ]
        assert records[0]["tasks"][0]["pid"] == sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()
    assert "no thread" in run(pmutop_command, "stat", "-t", "999999999", check=False).stderr


# ------------------------------------------------------------------ the aggregation model on fixtures
@pytest.fixture(scope="module")
def alder_lake(tmp_path_factory):
    return load_topology(sysfs_trees.build_alder_lake(tmp_path_factory.mktemp("adl")))


def test_per_core_groups_hyperthread_siblings_and_sums_counts(alder_lake):
    groups = cpu_groups(alder_lake, Aggregation.CORE)
    siblings = {cpu.cpu: cpu.thread_siblings for cpu in alder_lake.cpus if cpu.online}
    for cpus in groups.values():
        for cpu in cpus:
            assert set(siblings.get(cpu) or (cpu,)) <= set(cpus)
    rows = tuple(
        CpuRow(
            cpu.cpu,
            cpu.core_pmu,
            None,
            cpu.online,
            {"cycles": Metric(1000.0), "instructions": Metric(500.0 * (cpu.cpu + 1)), "util_pct": Metric(50.0)},
        )
        for cpu in alder_lake.cpus
    )
    snapshot = Snapshot(0, 1.0, 1.0, 0.0, rows, ())
    for row in aggregate(snapshot, cpu_groups(alder_lake, Aggregation.SOCKET)):
        online = [c for c in row.cpus]
        assert row.metric("cycles").value == 1000.0 * len(online)
        assert row.metric("instructions").value == sum(500.0 * (c + 1) for c in online)
        assert row.metric("util_pct").value == 50.0
        assert row.metric("ipc").value == pytest.approx(row.metric("instructions").value / row.metric("cycles").value)
