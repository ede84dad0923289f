"""The recording format: round trips, replays that recompute the same figures, damaged files."""

import gzip
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from synthetic_recordings import synthetic_recording
from sysfs_trees import build_alder_lake, build_this_vm
from terminal import run_in_terminal
from waiting import HANG_S

from pmutop.kernel.sysfs import read_sysfs
from pmutop.live.feed import FeedCapability, FeedSource
from pmutop.live.topology_loader import topology_of
from pmutop.model.cpulist import parse_cpulist
from pmutop.model.rates import RateModel
from pmutop.model.residency import ResidencyMethod
from pmutop.recording.format import FORMAT_VERSION, RecordingError, RecordingWriter, read_recording
from pmutop.recording.replay import ReplayFeed

TICKS = 12


@pytest.fixture(scope="module")
def alder_lake(tmp_path_factory):
    root = build_alder_lake(tmp_path_factory.mktemp("adl"))
    return synthetic_recording(read_sysfs(root), ticks=TICKS, host="adl", follow=(4242, "busy"))


@pytest.fixture(scope="module")
def this_vm(tmp_path_factory):
    root = build_this_vm(tmp_path_factory.mktemp("vm"))
    return synthetic_recording(read_sysfs(root), ticks=TICKS, host="vm", follow=(77, "spin"))


def write(recording, path: Path) -> Path:
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks:
            writer.write_tick(tick)
    return path


def snapshots(recording) -> list[dict]:
    sysfs = recording.header.sysfs
    topology = topology_of(sysfs)
    model = RateModel(topology, recording.header.layouts, recording.header.notices)
    return [s.to_json() for tick in recording.ticks if (s := model.update(tick)) is not None]


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_round_trip_keeps_every_raw_value(alder_lake, tmp_path, name):
    loaded = read_recording(write(alder_lake, tmp_path / name))
    assert loaded.errors == ()
    assert loaded.header == alder_lake.header
    assert loaded.ticks == alder_lake.ticks


def test_replayed_figures_equal_the_original(this_vm, tmp_path):
    loaded = read_recording(write(this_vm, tmp_path / "vm.jsonl"))
    assert snapshots(loaded) == snapshots(this_vm)
    # Task following made it through: residency and migrations are recomputed on replay.
    assert snapshots(loaded)[-1]["tasks"][0]["comm"] == "spin"


def test_header_is_versioned_and_documented_fields_are_there(alder_lake, tmp_path):
    path = write(alder_lake, tmp_path / "rec.jsonl")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "pmutop-recording" and header["version"] == FORMAT_VERSION
    assert {"host", "kernel", "privileges", "interval_s", "sysfs", "layouts", "notices"} <= set(header)
    tick = json.loads(path.read_text().splitlines()[2])
    assert tick["type"] == "tick" and {"reads", "cpu_times", "online", "monotonic_ns"} <= set(tick)


def test_replay_shows_the_recorded_machine(alder_lake):
    """This VM has no core PMU; the replay still shows Alder Lake's two core PMUs and 24 CPUs."""
    feed = ReplayFeed(alder_lake)
    assert [pmu.name for pmu in feed.topology.core_pmus] == ["cpu_core", "cpu_atom"]
    assert len(feed.topology.cpus) == 24


def test_truncated_file_reports_the_line_and_keeps_the_valid_ticks(alder_lake, tmp_path):
    path = write(alder_lake, tmp_path / "rec.jsonl")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    loaded = read_recording(path)
    assert len(loaded.ticks) == TICKS - 1
    assert loaded.errors[0].line == TICKS + 1
    assert "truncated" in loaded.errors[0].reason
    assert f"line {TICKS + 1}" in loaded.error_summary()


def test_corrupt_line_is_skipped_and_reported(alder_lake, tmp_path):
    path = write(alder_lake, tmp_path / "rec.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = '{"type": "tick", "index": "garbage"}\n'
    lines[6] = "\x00\x01 not json\n"
    path.write_text("".join(lines))
    loaded = read_recording(path)
    assert [error.line for error in loaded.errors] == [5, 7]
    assert len(loaded.ticks) == TICKS - 2
    # Rates over the gap come from the recorded times, so they stay right.
    assert all(s["elapsed_s"] > 0 for s in snapshots(loaded))


def test_truncated_gzip_replays_what_is_valid(alder_lake, tmp_path):
    path = write(alder_lake, tmp_path / "rec.jsonl.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    loaded = read_recording(path)
    assert 0 < len(loaded.ticks) < TICKS
    assert loaded.errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no header"),
        ("not json\n", "line 1"),
        ('{"format": "something-else"}\n', "not a pmutop recording"),
        ('{"format": "pmutop-recording", "version": 99}\n', "version 99"),
    ],
)
def test_unusable_header_is_an_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(RecordingError):
        read_recording(tmp_path / "absent.jsonl")


def test_gzip_header_damage_is_an_error(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b"x" * 100)[:20])
    with pytest.raises(RecordingError):
        read_recording(path)


def run_feed(feed: ReplayFeed) -> tuple[list, list]:
    delivered, ended = [], []
    done = threading.Event()

    def on_end(reason):
        ended.append(reason)
        done.set()

    feed.start(delivered.append, on_end, lambda state: None)
    assert done.wait(HANG_S)
    feed.stop()
    return delivered, ended


def test_replay_feed_delivers_every_interval_and_reports_damage(alder_lake, tmp_path):
    path = write(alder_lake, tmp_path / "rec.jsonl")
    path.write_bytes(path.read_bytes()[:-40])
    feed = ReplayFeed.from_file(path, speed=1000.0)
    delivered, ended = run_feed(feed)
    assert [s.index for s in delivered] == list(range(1, TICKS - 1))
    assert "line" in ended[0]


def test_replay_feed_pauses_and_steps(alder_lake):
    feed = ReplayFeed(alder_lake, paused=True, start_at=3)
    delivered = []
    arrived = threading.Semaphore(0)

    def on_snapshot(snapshot):
        delivered.append(snapshot.index)
        arrived.release()

    feed.start(on_snapshot, lambda reason: None, lambda state: None)
    for _ in range(3):
        assert arrived.acquire(timeout=HANG_S)
    # Nothing comes while paused. The 0.2 s cannot fail a correct feed on a slow machine (slowness only
    # makes a wrong delivery later); it is how long a broken one has to show itself.
    assert not arrived.acquire(timeout=0.2)
    feed.step()
    assert arrived.acquire(timeout=HANG_S)
    assert delivered == [1, 2, 3, 4]
    feed.set_interval(0.25)
    assert feed.state().playback.speed == pytest.approx(4.0)
    feed.stop()


def test_replay_follow_filters_recorded_tasks(alder_lake):
    feed = ReplayFeed(alder_lake, speed=1000.0)
    listed = []
    feed.watch_processes(listed.append)
    (recorded,) = listed
    assert recorded.recorded and [(p.pid, p.comm) for p in recorded.processes] == [(4242, "busy")]
    feed.unfollow()
    delivered, _ = run_feed(feed)
    assert all(s.tasks == () for s in delivered)


def test_live_record_then_stat_input_round_trip(tmp_path):
    """A real recording on this machine's kernel, recomputed headless from the file."""
    path = tmp_path / "live.jsonl"
    record = subprocess.run(
        [sys.executable, "-m", "pmutop", "record", "-o", str(path), "-I", "200", "-n", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert record.returncode == 0, record.stderr
    assert "wrote 4 ticks" in record.stderr
    stat = subprocess.run(
        [sys.executable, "-m", "pmutop", "stat", "--input", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stat.returncode == 0, stat.stderr
    lines = [json.loads(line) for line in stat.stdout.splitlines()]
    assert [line["interval"] for line in lines[:3]] == [1, 2, 3]
    assert lines[-1]["summary"] is True and len(lines) == 4
    online = set(parse_cpulist(Path("/sys/devices/system/cpu/online").read_text().strip()))
    assert {row["cpu"] for row in lines[0]["cpus"] if row["online"]} == online
    # Each interval lasts what the recorded clock says (how close that is to -I is a benchmark's question).
    ticks = read_recording(path).ticks
    for line, (before, after) in zip(lines[:3], itertools.pairwise(ticks), strict=True):
        assert line["elapsed_s"] == pytest.approx((after.monotonic_ns - before.monotonic_ns) / 1e9, abs=1e-6)
        # Software counters count on every kernel, with or without a hardware PMU.
        assert all(row["metrics"]["context_switches_per_s"]["value"] is not None for row in line["cpus"])


def test_record_shows_progress_on_a_terminal_and_counts_ticks_in_words(tmp_path):
    """On a terminal `record` rewrites one progress line each tick; its last line says `wrote N ticks`."""
    path = tmp_path / "progress.jsonl"
    code, text = run_in_terminal(["-m", "pmutop", "record", "-o", str(path), "-I", "100", "-n", "3"], ready=b"\0")
    assert code == 0
    assert "\rpmutop record: 2 ticks to " in text and "(Ctrl-C stops)" in text
    assert "wrote 4 ticks" in text and "wrote 1 ticks" not in text


RECORDING_FIXTURES = Path(__file__).parent / "fixtures" / "recordings"


def methods_written(path: Path) -> set[str]:
    ticks = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    return {tick["tasks"]["method"] for tick in ticks if "tasks" in tick}


@pytest.mark.parametrize(("recording", "code"), [("this_vm", "cpu-task-clock"), ("alder_lake", "core-pmu-cycles")])
def test_the_residency_method_is_written_as_its_code(recording, code, request, tmp_path):
    recording = request.getfixturevalue(recording)
    path = write(recording, tmp_path / "rec.jsonl")
    assert methods_written(path) == {code}
    assert {tick.tasks.method.value for tick in read_recording(path).ticks if tick.tasks} == {code}


def as_older_version(path: Path, version: int, out: Path) -> Path:
    """The file as versions 1 and 2 wrote it: the method's label where version 3 has its code."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["version"] = version
    for tick in lines[1:]:
        if "tasks" in tick:
            tick["tasks"]["method"] = ResidencyMethod(tick["tasks"]["method"]).label
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_store_the_label_and_still_read(alder_lake, tmp_path, version):
    older = as_older_version(write(alder_lake, tmp_path / "rec.jsonl"), version, tmp_path / "old.jsonl")
    assert methods_written(older) == {"cycles per core PMU"}
    loaded = read_recording(older)
    assert loaded.errors == ()
    assert loaded.ticks == alder_lake.ticks
    assert snapshots(loaded) == snapshots(alder_lake)


def test_a_version_1_file_with_a_code_is_damaged_where_it_is(alder_lake, tmp_path):
    """Each version has one spelling: a code in a version 1 file is no label."""
    path = write(alder_lake, tmp_path / "rec.jsonl")
    text = path.read_text().replace('"version":3', '"version":1', 1)
    path.write_text(text)
    loaded = read_recording(path)
    assert loaded.errors and all("unknown residency method" in error.reason for error in loaded.errors)
    assert not any(tick.tasks for tick in loaded.ticks)


def test_the_version_1_fixture_still_replays_with_its_residency_method():
    path = RECORDING_FIXTURES / "arm64-two-pmu.jsonl"
    assert json.loads(path.read_text().splitlines()[0])["version"] == 1
    loaded = read_recording(path)
    assert loaded.errors == ()
    assert {tick.tasks.method for tick in loaded.ticks if tick.tasks} == {ResidencyMethod.CORE_PMU_CYCLES}
    followed = [task for snapshot in snapshots(loaded) for task in snapshot["tasks"]]
    assert followed and {task["residency_method"] for task in followed} == {"cycles per core PMU"}


def test_replay_feed_hands_on_its_state_before_each_snapshot(alder_lake):
    feed = ReplayFeed(alder_lake, speed=1000.0)
    states: list = []
    positions_at_snapshot: list[tuple[int, int]] = []
    done = threading.Event()

    def on_snapshot(snapshot):
        positions_at_snapshot.append((snapshot.index, states[-1].playback.position))
        # What the header shows is the snapshot's interval number, as stat numbers it.
        assert states[-1].playback.interval == snapshot.index

    def on_end(reason):
        done.set()

    assert feed.state().playback.position == 0
    feed.start(on_snapshot, on_end, states.append)
    assert done.wait(HANG_S)
    # The first tick makes no snapshot; each one after it comes after the state of its position.
    assert positions_at_snapshot == [(index, index + 1) for index in range(1, TICKS)]
    last = states[-1]
    assert last.source is FeedSource.RECORDING and last.playback.at_end and last.playback.total == TICKS
    assert last.playback.interval == last.playback.intervals == TICKS - 1
    assert last.capabilities == {FeedCapability.PAUSE, FeedCapability.STEP, FeedCapability.SEEK}
    paused = feed.set_paused(True)
    assert paused.paused and states[-1] == paused
    faster = feed.set_speed(2000.0)
    assert faster.playback.speed == 2000.0 and faster.interval_s == pytest.approx(paused.interval_s / 2)
    feed.stop()
