"""`pmutop stat -- CMD` and `-p PID` end with perf stat's block; checked against perf on the same workload."""

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from pmutop.live.sampler import current_privileges
from pmutop.live.task_counters import TaskCounters, task_specs
from pmutop.live.topology_loader import load_topology

PAGES = 50000
# Touches PAGES fresh pages (a page fault each), sleeps a little (context switches), then spins 0.2 s of its
# own CPU time: the same work whatever the load, so two runs of it (pmutop's and perf's) have about the same
# task-clock, and its elapsed time is at least 0.2 s.
WORKLOAD = [
    sys.executable,
    "-c",
    f"import mmap, time\narea = mmap.mmap(-1, {PAGES} * 4096)\nfor p in range({PAGES}): area[p * 4096] = 1\n"
    "for _ in range(20): time.sleep(0.001)\nend = time.thread_time() + 0.2\nwhile time.thread_time() < end: pass\n",
]


def run(command, *args):
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def perf_block_counts(text: str) -> dict[str, float]:
    counts = {}
    for line in text.splitlines():
        match = re.match(r"^\s+([\d,.]+)\s+(?:msec\s+)?([\w:/-]+)\s", line)
        if match:
            counts[match.group(2)] = float(match.group(1).replace(",", ""))
    return counts


@pytest.mark.needs_root
def test_command_summary_reads_like_perf_and_agrees_with_it(pmutop_command):
    ours = run(pmutop_command, "stat", "--", *WORKLOAD).stdout
    assert "Performance counter stats for '" in ours
    for words in ("CPUs utilized", "seconds time elapsed", "seconds user", "seconds sys", "# pmutop: "):
        assert words in ours, words
    assert max(len(line) for line in ours.splitlines()) <= 120
    # The system-wide per-CPU table is not part of a command's summary: perf's block and pmutop's lines are.
    assert "#     time       CPU PMU" not in ours
    counts = perf_block_counts(ours)
    assert {"task-clock", "context-switches", "cpu-migrations", "page-faults"} <= set(counts)
    if shutil.which("perf"):
        theirs = perf_block_counts(
            subprocess.run(["perf", "stat", "--", *WORKLOAD], capture_output=True, text=True).stderr
        )
        assert counts["page-faults"] == pytest.approx(theirs["page-faults"], rel=0.05)
        assert counts["task-clock"] == pytest.approx(theirs["task-clock"], rel=0.5)
    elapsed = float(re.search(r"([\d.]+) seconds time elapsed", ours).group(1))
    clock_s = counts["task-clock"] / 1000
    utilized = float(re.search(r"#\s+([\d.]+) CPUs utilized", ours).group(1))
    assert utilized == pytest.approx(clock_s / elapsed, rel=0.01, abs=0.002)
    assert counts["page-faults"] >= PAGES


@pytest.mark.needs_root
def test_command_summary_in_json_and_perf_csv(pmutop_command):
    record = json.loads(run(pmutop_command, "stat", "-j", "-e", "faults,cs", "--", *WORKLOAD).stdout.splitlines()[-1])
    task = record["task_summary"]
    assert [c["event"] for c in task["counters"]] == ["faults", "cs"]
    assert task["counters"][0]["value"] >= PAGES and task["elapsed_s"] > 0.2
    assert task["user_s"] is not None and task["sys_s"] is not None
    assert record["tasks"] and record["summary"] is True
    lines = run(pmutop_command, "stat", "-x,", "--", *WORKLOAD).stdout.splitlines()
    events = [line.split(",")[2] for line in lines]
    assert events[:4] == ["task-clock", "context-switches", "cpu-migrations", "page-faults"]
    assert lines[0].split(",")[1] == "msec"


@pytest.mark.needs_root
def test_a_pid_is_counted_from_when_counting_starts_not_from_the_open():
    """-p's counters and its user/sys baseline start together: a spinner's task-clock over 0.2 s of
    counting, opened 1 s before, is at most those 0.2 s (one thread), not the time since the open
    (CI once saw 0.30 s of task-clock against 0.25 s of user + sys when the open came early)."""
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"]
    )
    topology = load_topology("/")
    counters = TaskCounters.open(
        topology, current_privileges(), task_specs(topology, {}, ()), "test", pids=(spinner.pid,)
    )
    try:
        time.sleep(1.0)  # the spinner runs, opened and not yet counted
        counters.started()
        time.sleep(0.2)  # the interval counted
        summary = counters.summary()
    finally:
        counters.close()
        spinner.kill()
        spinner.wait()
    task_clock = next(line.metric.value for line in summary.lines if line.name == "task-clock")
    assert task_clock is not None and 0 < task_clock / 1e9 <= summary.elapsed_s + 0.005


@pytest.mark.needs_root
def test_pid_summary_counts_the_running_process(pmutop_command):
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"]
    )
    try:
        text = run(pmutop_command, "stat", "-p", str(spinner.pid), "-I", "200", "-n", "2").stdout
    finally:
        spinner.kill()
        spinner.wait()
    assert f"Performance counter stats for process id '{spinner.pid}'" in text
    counts = perf_block_counts(text.split("Performance counter stats")[1])
    user = float(re.search(r"([\d.]+) seconds user", text).group(1))
    system = float(re.search(r"([\d.]+) seconds sys", text).group(1))
    # A spinning process is on a CPU whenever it can be: its task-clock is its user + sys time
    # (from /proc, to a clock tick), however loaded the machine is.
    assert counts["task-clock"] / 1000 == pytest.approx(user + system, rel=0.2, abs=0.03)
    assert counts["task-clock"] > 0


def test_hybrid_summary_has_ipc_and_coverage_per_core_pmu():
    from pmutop.cli.stat_output import Notes, task_summary_lines
    from pmutop.model.task_summary import TaskCounterRead, summarize

    reads = (
        TaskCounterRead("task-clock", "software", 2_000_000_000, 10, 10),
        TaskCounterRead("context-switches", "software", 50, 10, 10),
        TaskCounterRead("cpu_core/cycles/", "cpu_core", 3_000_000_000, 100, 70),
        TaskCounterRead("cpu_core/instructions/", "cpu_core", 6_000_000_000, 100, 70),
        TaskCounterRead("cpu_atom/cycles/", "cpu_atom", 0, 100, 0),
        TaskCounterRead("cpu_atom/instructions/", "cpu_atom", 0, 100, 0),
    )
    summary = summarize("'make'", reads, elapsed_s=1.0, user_s=1.5, sys_s=0.5)
    lines = {line.name: line for line in summary.lines}
    assert lines["task-clock"].comment == "2.000 CPUs utilized"
    assert lines["context-switches"].comment == "25.000 /sec"
    core_cycles = lines["cpu_core/cycles/"].metric
    assert core_cycles.value == pytest.approx(3e9 / 0.7) and core_cycles.coverage == 0.7
    assert lines["cpu_core/instructions/"].comment == "2.00 insn per cycle"
    # Never on an E-core: perf's <not counted>, not a zero.
    assert lines["cpu_atom/cycles/"].metric.value is None
    text = task_summary_lines(summary, Notes())
    assert any(re.search(r"cpu_core/instructions/\s+#\s+2.00 insn per cycle\s+\(70.00%\)$", line) for line in text)
    assert any(line.strip().startswith("<not counted>") and "cpu_atom/cycles/" in line for line in text)
    assert max(len(line) for line in text) <= 120
