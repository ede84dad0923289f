"""A run's summary is the same live and replayed from its recording: totals, migrations, losses."""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cpus import TWO_CPUS
from waiting import HANG_S

from pmutop.kernel.sysfs import read_sysfs_any
from pmutop.live.stat_session import StatSession
from pmutop.live.topology_loader import topology_of
from pmutop.recording.format import RecordingHeader, RecordingWriter, read_recording
from pmutop.recording.replay import ReplayFeed
from tests.migration_oracle import THREAD_CHURN, python_command

FIXTURE = Path(__file__).parent / "fixtures" / "recordings" / "arm64-two-pmu.jsonl"


def stat_input(pmutop_command, path: Path) -> list[dict]:
    result = subprocess.run([*pmutop_command, "stat", "--json", "--input", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_fixture_summary_keeps_the_migrations_of_its_intervals(pmutop_command):
    *intervals, summary = stat_input(pmutop_command, FIXTURE)
    (task,) = summary["tasks"]
    logged = sum(len(record["migrations"]) for record in intervals)
    assert logged == intervals[-1]["tasks"][0]["migrations"] == 2
    assert task["migrations"] == task["migrations_interval"] == logged
    assert task["cross_type_migrations"] == 2


@pytest.mark.needs_root
@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs")
@pytest.mark.usefixtures("two_cpus_online")
def test_live_summary_equals_the_replayed_one(pmutop_command, tmp_path):
    read = read_sysfs_any("/")
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    gate_fd = os.open(gate, os.O_RDWR)  # never blocks, and stays writable after the workload exits
    session = StatSession.create(
        command=python_command(THREAD_CHURN, str(tmp_path / "tids"), str(gate)),
        topology=topology_of(read),
        interval_s=0.05,
    )
    assert not isinstance(session, str), session
    header = RecordingHeader(
        host="live",
        kernel=os.uname().release,
        privileges=session.sampler.privileges.describe(),
        interval_s=0.05,
        sysfs=read,
        layouts=session.sampler.layouts,
        notices=session.sampler.notices,
        created=None,
    )
    path = tmp_path / "run.jsonl"
    with RecordingWriter(path, header) as writer:
        session.start()
        writer.write_tick(session.last_raw)
        os.write(gate_fd, b"tick\n")  # one phase of the workload per tick: several intervals by construction
        deadline = time.monotonic()
        while True:
            deadline += 0.05
            ended = session.wait_until(deadline)
            session.tick()
            writer.write_tick(session.last_raw)
            if ended:
                break
            os.write(gate_fd, b"tick\n")
        live = session.finish()
    os.close(gate_fd)
    replayed = stat_input(pmutop_command, path)[-1]
    live_record = live.to_json()
    assert live_record["tasks"][0]["migrations"] >= 160 * 5
    assert sum(1 for line in path.read_text().splitlines() if '"tasks"' in line) >= 4  # several intervals
    for key in ("tasks", "lost_migrations", "threads_seen_late"):
        assert replayed[key] == live_record[key], key
    assert [cpu["metrics"] for cpu in replayed["cpus"]] == [cpu["metrics"] for cpu in live_record["cpus"]]
    # The TUI's replay folds the same ticks with the same model: the same total on its last tick.
    feed = ReplayFeed.from_file(str(path), start_at=len(read_recording(path).ticks))
    delivered, ended = [], threading.Event()
    feed.start(delivered.append, lambda reason: ended.set(), lambda state: None)
    assert ended.wait(HANG_S), "the replay never ended"
    feed.stop()
    assert delivered[-1].tasks[0].migrations == live_record["tasks"][0]["migrations"]
