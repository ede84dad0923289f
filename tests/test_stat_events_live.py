"""`pmutop stat -e` on this machine's kernel, checked against `perf stat -e` over the same run."""

import json
import shutil
import subprocess
import sys

import pytest

from pmutop.recording.format import FORMAT_VERSION

# A workload that dwarfs the background: pipe ping-pong between two processes (each round trip is
# two context switches and two sched_switch events) and fresh pages touched one by one (a page fault each).
# The counts are of the whole machine: what other work does in the gap between pmutop's window and
# perf's (perf's start and stop) is inside the 5% below. 100000 round trips keep a busy machine's few
# thousand switches a second there, however long perf takes to start on it.
ROUND_TRIPS = 100000
PAGES = 200000
WORKLOAD = f"""
import mmap, os
r1, w1 = os.pipe(); r2, w2 = os.pipe()
if os.fork() == 0:
    for _ in range({ROUND_TRIPS}):
        os.read(r1, 1); os.write(w2, b"x")
    os._exit(0)
for _ in range({ROUND_TRIPS}):
    os.write(w1, b"x"); os.read(r2, 1)
os.wait()
area = mmap.mmap(-1, {PAGES} * 4096)
for page in range({PAGES}):
    area[page * 4096] = 1
"""
EVENTS = "context-switches,sched:sched_switch,page-faults"


def perf_counts(stderr: str) -> dict[str, float]:
    """perf stat -x, lines: value,unit,event,run time,percentage,..."""
    counts = {}
    for line in stderr.splitlines():
        fields = line.split(",")
        if len(fields) >= 3 and fields[0].replace(".", "").isdigit():
            counts[fields[2]] = float(fields[0])
    return counts


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is the oracle")
def test_software_events_and_tracepoints_match_perf_over_the_same_run(pmutop_command, tmp_path):
    perf_out = tmp_path / "perf.csv"
    # pmutop's window (first tick to last) encloses perf's, which encloses the workload: the only
    # difference is perf's own start and stop, small against the workload's counts.
    result = subprocess.run(
        [
            *pmutop_command,
            "stat",
            "--json",
            "-e",
            EVENTS,
            "--",
            "perf",
            "stat",
            "-a",
            "-x,",
            "-o",
            str(perf_out),
            "-e",
            EVENTS,
            "--",
            sys.executable,
            "-c",
            WORKLOAD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["summary"] is True
    ours = {total["event"]: total["value"] for total in summary["events"]}
    theirs = perf_counts(perf_out.read_text())
    assert set(ours) == set(theirs) == set(EVENTS.split(","))
    assert theirs["context-switches"] >= 2 * ROUND_TRIPS and theirs["page-faults"] >= PAGES
    for event, count in theirs.items():
        assert ours[event] == pytest.approx(count, rel=0.05), event
        # pmutop's window is the wider one: it cannot have counted less than perf did.
        assert ours[event] >= count * 0.999, event


@pytest.mark.needs_root
def test_event_missing_on_the_pmu_is_na_with_reason_and_the_rest_count(pmutop_command):
    result = subprocess.run(
        [*pmutop_command, "stat", "--json", "-I", "100", "-n", "1", "-e", "cs,branch-misses,{cpu-clock,faults}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    interval = json.loads(result.stdout.splitlines()[0])
    totals = {total["event"]: total for total in interval["events"]}
    assert totals["cs"]["value"] is not None and totals["cs"]["coverage"] == 1.0
    assert totals["cpu-clock"]["value"] > 0 and totals["faults"]["value"] is not None
    online = [cpu for cpu in interval["cpus"] if cpu["online"]]
    assert totals["cs"]["cpus_counted"] == len(online)
    if totals["branch-misses"]["value"] is None:
        # This VM has no hardware PMU: the kernel's answer, explained, on that event only.
        assert totals["branch-misses"]["error"] == "ENOENT" and "branch-misses" in totals["branch-misses"]["reason"]
    for cpu in online:
        assert cpu["metrics"]["event:cs"]["value"] is not None


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("brnch-misses", "did you mean branch-misses"),
        ("sched:sched_swich", "did you mean sched:sched_switch"),
        ("{cycles", "expected '}'"),
    ],
)
def test_unknown_event_is_one_line_and_an_error_exit(pmutop_command, events, message):
    result = subprocess.run(
        [*pmutop_command, "stat", "-n", "1", "-e", events], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.needs_root
def test_recorded_events_replay_with_the_same_figures(pmutop_command, tmp_path):
    path = tmp_path / "events.jsonl"
    recorded = subprocess.run(
        [*pmutop_command, "record", "-o", str(path), "-I", "100", "-n", "2", "-e", "cs,sched:sched_switch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert recorded.returncode == 0, recorded.stderr
    header = json.loads(path.read_text().splitlines()[0])
    assert header["version"] == FORMAT_VERSION and header["events"] == ["cs,sched:sched_switch"]
    replayed = subprocess.run(
        [*pmutop_command, "stat", "--json", "--input", str(path)], capture_output=True, text=True, timeout=60
    )
    assert replayed.returncode == 0, replayed.stderr
    lines = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert len(lines) == 3 and lines[-1]["summary"] is True
    for line in lines:
        assert [total["event"] for total in line["events"]] == ["cs", "sched:sched_switch"]
        assert all(total["value"] is not None for total in line["events"])
    # The summary is the whole recording: the two intervals add up to it.
    for index in range(2):
        whole = lines[-1]["events"][index]["value"]
        assert whole == pytest.approx(lines[0]["events"][index]["value"] + lines[1]["events"][index]["value"])
