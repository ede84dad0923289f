"""Per-task totals against `perf stat` on the same run, with threads that live less than a tick."""

import json
import signal
import subprocess

import pytest

from tests.migration_oracle import SPIN_CHURN, PerfStatTaskClock, python_command

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(subprocess.run(["which", "perf"], capture_output=True).returncode != 0, reason="needs perf"),
]


def _next_record(stream) -> dict:
    for line in stream:
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("pmutop ended early")


def test_task_clock_total_matches_perf_stat_under_thread_churn(pmutop_command, tmp_path):
    workload = subprocess.Popen(python_command(SPIN_CHURN), stdin=subprocess.PIPE, text=True)
    run = subprocess.Popen(
        [*pmutop_command, "stat", "--json", "-I", "200", "-p", str(workload.pid)], stdout=subprocess.PIPE, text=True
    )
    try:
        _next_record(run.stdout)  # following has begun: counters are open
        with PerfStatTaskClock(tmp_path, workload.pid) as perf_stat:
            workload.stdin.write("go\n")
            workload.stdin.flush()
            workload.wait()
        # pmutop ends by itself once what it follows has exited; Ctrl-C ends it too, with the same summary.
        summary = _next_record(run.stdout)
        while not summary.get("summary"):
            if not summary["tasks"][0]["alive"] and run.poll() is None:
                run.send_signal(signal.SIGINT)
            summary = _next_record(run.stdout)
        run.wait(timeout=60)
    finally:
        for process in (workload, run):
            if process.poll() is None:
                process.kill()
                process.wait()
    (task,) = summary["tasks"]
    # 60 threads of 20 ms each, none alive at any tick but the first few.
    assert perf_stat.msec > 1000
    assert task["running_s"] * 1000 == pytest.approx(perf_stat.msec, rel=0.02)
