"""pmutop's migration log against perf's on the real kernel: thread churn, exit after a burst, hotplug."""

import json
import os
import subprocess
import time

import pytest
from cpus import CPU1_ONLINE, TWO_CPUS

from tests.migration_oracle import (
    BURST_THEN_EXIT,
    THREAD_CHURN,
    PerfMigrations,
    json_lines,
    pmutop_moves,
    python_command,
    read_tids,
)

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs"),
    pytest.mark.usefixtures("two_cpus_online"),
    pytest.mark.skipif(subprocess.run(["which", "perf"], capture_output=True).returncode != 0, reason="needs perf"),
]


def stat_json(pmutop_command, *args: str) -> list[dict]:
    result = subprocess.run([*pmutop_command, "stat", "--json", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json_lines(result.stdout)


def assert_same_log(records: list[dict], oracle: PerfMigrations, tids: set[int]) -> None:
    seen_by_perf = oracle.moves(tids)
    logged = pmutop_moves(records, tids)
    summary = records[-1]
    assert summary["summary"] is True
    # Nothing overflowed on an idle test machine: the count pmutop reports as lost is 0, so the logs are equal.
    assert summary["lost_migrations"] == 0 and summary["threads_seen_late"] == 0
    assert sum(seen_by_perf.values()) > 0
    assert logged == seen_by_perf, (sum(logged.values()), sum(seen_by_perf.values()))
    # The summary's totals are the intervals' entries, every one of them.
    interval_entries = sum(len(r.get("migrations", ())) for r in records[:-1])
    assert sum(task["migrations"] for task in summary["tasks"]) == interval_entries


def test_threads_that_live_less_than_a_tick_have_every_move_logged(pmutop_command, tmp_path):
    tids_file = tmp_path / "tids"
    with PerfMigrations(tmp_path) as oracle:
        records = stat_json(pmutop_command, "-I", "1000", "--", *python_command(THREAD_CHURN, str(tids_file)))
    tids = read_tids(tids_file)
    assert len(tids) == 160
    assert_same_log(records, oracle, tids)


def test_moves_right_before_the_process_exits_are_logged(pmutop_command, tmp_path):
    tids_file = tmp_path / "tids"
    with PerfMigrations(tmp_path) as oracle:
        records = stat_json(pmutop_command, "-I", "1000", "--", *python_command(BURST_THEN_EXIT, str(tids_file), "300"))
    assert_same_log(records, oracle, read_tids(tids_file))


def _wait_for_line(stream, predicate) -> dict:
    for line in stream:
        if line.startswith("{"):
            record = json.loads(line)
            if predicate(record):
                return record
    raise AssertionError("pmutop ended before the awaited interval")


def _cpu1_online(record: dict) -> bool:
    return next(cpu["online"] for cpu in record["cpus"] if cpu["cpu"] == 1)


@pytest.mark.changes_machine
def test_moves_from_a_cpu_that_went_offline_and_came_back_are_logged(pmutop_command, tmp_path):
    """Run under the machine lock: it takes CPU 1 offline and brings it back."""
    tids_file, cue = tmp_path / "tids", tmp_path / "cue"
    os.mkfifo(cue)
    run = subprocess.Popen(
        [
            *pmutop_command,
            "stat",
            "--json",
            "-I",
            "100",
            "--",
            *python_command(BURST_THEN_EXIT, str(tids_file), "200", str(cue)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(run.stdout, _cpu1_online)
        CPU1_ONLINE.write_text("0")
        _wait_for_line(run.stdout, lambda record: not _cpu1_online(record))
        CPU1_ONLINE.write_text("1")
        _wait_for_line(run.stdout, _cpu1_online)
        # perf opens its rings now, on both CPUs; pmutop's have been open since before the hotplug.
        with PerfMigrations(tmp_path) as oracle:
            with open(cue, "w") as cue_writer:
                cue_writer.write("go\n")
            out, _ = run.communicate(timeout=120)
    finally:
        CPU1_ONLINE.write_text("1")
        # A workload still waiting for its cue gets it, so nothing is left behind.
        release = os.open(cue, os.O_RDWR | os.O_NONBLOCK)
        os.write(release, b"go\n")
        os.close(release)
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0
    records = json_lines(out)
    tids = read_tids(tids_file)
    # Every other move leaves CPU 1, decided there: without a reopened ring they would all be missing.
    assert any(from_cpu == 1 for _, from_cpu, _ in oracle.moves(tids))
    seen_by_perf = oracle.moves(tids)
    assert pmutop_moves(records, tids) == seen_by_perf
    assert records[-1]["lost_migrations"] == 0
    assert any("cpu1 went offline and came back" in notice for notice in records[-1]["notices"])


def _moves_of_this_process(tracer) -> list[tuple[int, int]]:
    from pmutop.live.tasks import Migration

    return [(r.from_cpu, r.to_cpu) for r in tracer.take() if isinstance(r, Migration) and r.tid == os.getpid()]


def _bounce(times: int) -> None:
    affinity = os.sched_getaffinity(0)
    try:
        for i in range(times):
            os.sched_setaffinity(0, {i % 2})
    finally:
        os.sched_setaffinity(0, affinity)


@pytest.mark.changes_machine
@pytest.mark.parametrize("noticed_by", ["uevent", "time_enabled"])
def test_a_cpu_back_from_offline_gets_a_new_ring(noticed_by):
    """Both ways a returning CPU is noticed: the kernel's uevent wakes wait(), or sync_cpus() finds the
    old ring silent (its time_enabled stopped) however quickly the CPU came back."""
    from pmutop.live.tasks import MigrationTracer
    from pmutop.model.perf_abi import STOPPED_SLACK_NS

    tracer = MigrationTracer()
    assert tracer.start((0, 1)) is None
    try:
        tracer.wait(0)  # nothing pending yet
        if noticed_by == "uevent":
            # Back at once: the uevents are queued by the time each write returns.
            for _ in range(4):
                CPU1_ONLINE.write_text("0")
                CPU1_ONLINE.write_text("1")
            tracer.wait(0)
        else:
            # A silent ring is one whose time_enabled lags the clock by more than STOPPED_SLACK_NS: CPU 1
            # stays offline five times that long, by the clock. This is the duration the case is about (a
            # slower machine only makes it longer), not a wait for something to happen; however fast an
            # offline is, the ring's lag is then past the slack.
            CPU1_ONLINE.write_text("0")
            offline_at = time.monotonic_ns()
            while time.monotonic_ns() - offline_at < 5 * STOPPED_SLACK_NS:
                time.sleep(0.01)
            CPU1_ONLINE.write_text("1")
            tracer.sync_cpus(frozenset({0, 1}))
        _moves_of_this_process(tracer)
        _bounce(10)
        moves = _moves_of_this_process(tracer)
    finally:
        CPU1_ONLINE.write_text("1")
        tracer.close()
    assert moves.count((1, 0)) >= 4, moves  # decided on CPU 1: only its new ring has them
    assert any("cpu1 went offline and came back" in line for line in tracer.reopened)
