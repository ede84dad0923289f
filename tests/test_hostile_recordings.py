"""Recordings built to break the reader: each damaged line costs only that line and is named, a bad
header is one error line, memory and work stay bounded, and `replay` and `stat --input` exit alike."""

import dataclasses
import gzip
import json
import sys
import threading
from pathlib import Path

import pytest
from pmutop_runs import MEMORY_BOUND_KB, peak_kb, run_pmutop, this_vm_recording_file
from terminal import run_in_terminal
from waiting import HANG_S

from pmutop.recording import format as recording_format
from pmutop.recording.format import RecordingError, RecordingWriter, read_recording
from pmutop.recording.replay import ReplayFeed

TICKS = 8


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[str]:
    """A valid synthetic recording of this VM following one process, as its lines."""
    path = this_vm_recording_file(tmp_path_factory.mktemp("rec"), ticks=TICKS, follow=(77, "spin"))
    return path.read_text().splitlines(keepends=True)


def save(tmp_path: Path, content: list[str] | bytes, name: str = "rec.jsonl") -> Path:
    path = tmp_path / name
    data = content if isinstance(content, bytes) else "".join(content).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def tick(lines: list[str], n: int) -> dict:
    return json.loads(lines[n])


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as every other JSON reader does."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))


def damaged_at(lines: list[str], n: int, replacement: str | bytes) -> list[str] | bytes:
    if isinstance(replacement, bytes):
        return (
            b"".join(line.encode() for line in lines[:n])
            + replacement
            + b"".join(line.encode() for line in lines[n + 1 :])
        )
    return [*lines[:n], replacement, *lines[n + 1 :]]


def with_field(lines: list[str], n: int, edit) -> list[str]:
    record = tick(lines, n)
    edit(record)
    return damaged_at(lines, n, json.dumps(record) + "\n")


def first_key(record: dict, field: str) -> str:
    return next(iter(record[field]))


DAMAGE = {
    "deep nesting": lambda lines: damaged_at(lines, 4, "[" * 200_000 + "]" * 200_000 + "\n"),
    "nested past the bound": lambda lines: with_field(lines, 4, lambda r: r.update(extra=[[[[[[[[[[1]]]]]]]]]])),
    "not UTF-8": lambda lines: damaged_at(lines, 4, lines[4].encode()[:30] + b"\xff\xfe" + lines[4].encode()[30:]),
    "NaN wall time": lambda lines: damaged_at(lines, 4, lines[4].replace('"wall_time":', '"wall_time":NaN,"x":')),
    "Infinity wall time": lambda lines: damaged_at(
        lines, 4, lines[4].replace('"wall_time":', '"wall_time":1e999,"x":')
    ),
    "counter past 64 bits": lambda lines: with_field(
        lines, 4, lambda r: r["reads"][first_key(r, "reads")][3].__setitem__(0, 2**70)
    ),
    "running above enabled": lambda lines: with_field(
        lines, 4, lambda r: r["reads"][first_key(r, "reads")].__setitem__(1, r["reads"][first_key(r, "reads")][0] + 1)
    ),
    "CPU not in the topology": lambda lines: with_field(lines, 4, lambda r: r["online"].append(4096)),
    "cpu_times of an unknown CPU": lambda lines: with_field(lines, 4, lambda r: r["cpu_times"].update({"77": [1, 2]})),
    "migration to an unknown CPU": lambda lines: with_field(
        lines, 4, lambda r: r["tasks"]["migrations"].append([r["monotonic_ns"], 77, 77, "spin", 0, 999])
    ),
    "wrong types": lambda lines: with_field(lines, 4, lambda r: r.update(reads=[1, 2, 3])),
    "unknown residency method": lambda lines: with_field(lines, 4, lambda r: r["tasks"].update(method="guesswork")),
    # Version 3 stores the code: the label versions 1 and 2 stored is no code.
    "residency label in version 3": lambda lines: with_field(
        lines, 4, lambda r: r["tasks"].update(method="task-clock per CPU")
    ),
    "residency method not text": lambda lines: with_field(lines, 4, lambda r: r["tasks"].update(method=["cpu"])),
    "residency method too long": lambda lines: with_field(lines, 4, lambda r: r["tasks"].update(method="x" * 5000)),
    "boolean count": lambda lines: with_field(lines, 4, lambda r: r.update(index=True)),
    "too long": lambda lines: damaged_at(lines, 4, '{"type": "tick", "pad": "' + "x" * (17 * 2**20) + '"}\n'),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_line_costs_only_that_line(lines, tmp_path, damage):
    path = save(tmp_path, DAMAGE[damage](lines))
    loaded = read_recording(path)
    assert [error.line for error in loaded.errors] == [5], loaded.errors
    assert len(loaded.ticks) == TICKS - 1
    assert "line 5" in loaded.error_summary()


@pytest.mark.parametrize("damage", ["NaN wall time", "counter past 64 bits", "running above enabled", "not UTF-8"])
def test_stat_input_names_the_line_and_exits_1_with_valid_json(lines, tmp_path, damage):
    path = save(tmp_path, DAMAGE[damage](lines))
    result = run_pmutop("stat", "--input", str(path), "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}: line 5:" in result.stderr
    records = [strict_json(line) for line in result.stdout.splitlines()]
    assert len(records) == TICKS - 1  # the intervals that remain and the summary


HEADER_DAMAGE = {
    "sysfs is a list": lambda h: h.update(sysfs=[]),
    "layouts is an object": lambda h: h.update(layouts={}),
    "interval_s is text": lambda h: h.update(interval_s="fast"),
    "interval_s is negative": lambda h: h.update(interval_s=-1),
    "cpu_names hold numbers": lambda h: h["sysfs"].update(cpu_names=[0, 1]),
    "files hold numbers": lambda h: h["sysfs"].update(files={"a": 1}),
    "layout on an unknown CPU": lambda h: h["layouts"][0].update(cpu=4096),
    "host is an object": lambda h: h.update(host={"a": "b"}),
    "processes are not pairs": lambda h: h.update(processes=[[1, 2, 3]]),
    "no layouts": lambda h: h.pop("layouts"),
    # JSON true and 3.0 compare equal to 1 and 3 in Python; neither is a version.
    "version is true": lambda h: h.update(version=True),
    "version is a float": lambda h: h.update(version=3.0),
}


@pytest.mark.parametrize("damage", sorted(HEADER_DAMAGE))
def test_a_bad_header_is_one_clear_error(lines, tmp_path, damage):
    header = json.loads(lines[0])
    HEADER_DAMAGE[damage](header)
    path = save(tmp_path, [json.dumps(header) + "\n", *lines[1:]])
    with pytest.raises(RecordingError, match="line 1 \\(header\\)"):
        read_recording(path)
    for command in (["stat", "--input"], ["replay"]):
        result = run_pmutop(*command, str(path))
        assert result.returncode == 1, result
        assert result.stderr.count("\n") == 1 and "line 1 (header)" in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_millions_of_blank_lines_are_counted_with_bounded_work_and_memory(lines, tmp_path, name):
    blanks = 5_000_000
    path = save(tmp_path, [lines[0], "\n" * blanks, " \t\r\n" * 1000, *lines[1:]], name)
    code, peak, stderr = peak_kb("stat", "--input", str(path), "--json")
    assert code == 0, stderr
    assert peak < MEMORY_BOUND_KB
    assert f"skipped {blanks + 1000} blank lines" in stderr
    # Linear in the file's size, and not per line in Python: the reader's own lines run a few hundred
    # times for five million blank lines (once per 1 MiB read, once per run of blanks).
    executed = 0

    def count_lines(frame, event, arg):
        nonlocal executed
        if frame.f_code.co_filename == recording_format.__file__:
            executed += event == "line"
            return count_lines
        return None

    sys.settrace(count_lines)
    try:
        loaded = read_recording(path)
    finally:
        sys.settrace(None)
    assert loaded.blank_lines == blanks + 1000 and len(loaded.ticks) == TICKS
    assert executed < 20_000 * TICKS


def test_a_gzip_of_newlines_without_a_header_is_one_error(tmp_path):
    path = save(tmp_path, b"\n" * 10_000_000, "rec.jsonl.gz")
    code, peak, stderr = peak_kb("stat", "--input", str(path))
    assert code == 1 and stderr.count("\n") == 1 and "no header" in stderr, stderr
    assert peak < MEMORY_BOUND_KB


def test_many_damaged_lines_keep_a_bounded_list(lines, tmp_path):
    garbage = ["{not json}\n"] * 100_000
    path = save(tmp_path, [*lines, *garbage])
    loaded = read_recording(path)
    assert len(loaded.errors) == recording_format.MAX_LINE_ERRORS
    assert loaded.damaged_lines == 100_000
    assert f"and {100_000 - 1} more bad lines" in loaded.error_summary()


def test_the_writer_refuses_nan(lines, tmp_path):
    recording = read_recording(save(tmp_path, lines))
    bad = recording.ticks[0].__class__(**{**recording.ticks[0].__dict__, "wall_time": float("nan")})
    with RecordingWriter(tmp_path / "out.jsonl", recording.header) as writer, pytest.raises(ValueError):
        writer.write_tick(bad)


def test_replay_and_stat_input_agree_on_exit_codes(lines, tmp_path):
    damaged = save(tmp_path, DAMAGE["counter past 64 bits"](lines), "damaged.jsonl")
    clean = save(tmp_path, lines, "clean.jsonl")
    for path, expected in ((damaged, 1), (clean, 0)):
        assert run_pmutop("stat", "--input", str(path)).returncode == expected
        code, screen = run_in_terminal(["-m", "pmutop", "replay", "--speed", "1000", str(path)], b"q")
        assert code == expected, screen[-2000:]
        assert "Traceback" not in screen


def test_a_model_error_during_replay_ends_the_feed_with_a_reason(lines, tmp_path):
    """Past the reader's checks, a failure in the model stops the replay with a message, not a thread traceback."""
    recording = read_recording(save(tmp_path, lines))
    broken = dataclasses.replace(recording.ticks[1], reads={key: "not a read" for key in recording.ticks[1].reads})
    feed = ReplayFeed(dataclasses.replace(recording, ticks=(recording.ticks[0], broken)), speed=1000.0)
    ended = []
    done = threading.Event()
    feed.start(lambda snapshot: None, lambda reason: (ended.append(reason), done.set()), lambda state: None)
    assert done.wait(HANG_S), "the replay thread died without ending the feed"
    feed.stop()
    assert ended[0].startswith("replay stopped: ")
