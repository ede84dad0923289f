"""Hypothesis over the parsers of other people's files, with generators that know each format's shape
(recording lines and headers, sysfs text, cpulists, format and alias strings, tar members), not only
random bytes. The property everywhere: only the parser's own error escapes, memory stays bounded, and
valid input still parses."""

import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pmutop_runs import write_recording
from synthetic_recordings import synthetic_recording
from sysfs_trees import build_this_vm

from pmutop.kernel.sysfs import SnapshotError, read_snapshot, read_sysfs
from pmutop.live.topology_loader import topology_of
from pmutop.model.cpulist import MAX_CPU, parse_cpulist
from pmutop.model.encoding import FormatField, encode_alias, parse_format
from pmutop.model.rates import RateModel
from pmutop.model.topology import build_topology
from pmutop.recording.format import RecordingError, read_recording

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PER_EXAMPLE_BYTES = 64 * 2**20
TICKS = 4

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
# Tokens that are not JSON but that careless writers emit, spliced into otherwise valid text.
raw_tokens = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "[" * 50, "\xff", "\x00", '"', "\n", ""])


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    root = build_this_vm(tmp_path_factory.mktemp("vm"))
    read = read_sysfs(root)
    recording = synthetic_recording(read, ticks=TICKS, host="vm", follow=(77, "spin"))
    path = write_recording(recording, tmp_path_factory.mktemp("rec") / "vm.jsonl")
    return read, path.read_text().splitlines(keepends=True)


@st.composite
def mutated(draw, value):
    """`value` with one place inside it replaced, removed or wrapped: a near miss of the real shape."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["descend", "delete", "replace"]))
        copy = dict(value)
        if action == "delete":
            del copy[key]
        elif action == "replace":
            copy[key] = draw(json_values)
        else:
            copy[key] = draw(mutated(value[key]))
        return copy
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        copy = list(value)
        copy[index] = draw(mutated(value[index]))
        return copy
    return draw(st.one_of(json_values, st.just([value]), st.just(2**64), st.just(-1)))


@st.composite
def spliced(draw, line: str) -> str:
    """A line's text with a non-JSON token put in at some place."""
    at = draw(st.integers(0, len(line) - 1))
    return line[:at] + draw(raw_tokens) + line[at:]


def bounded(function, *args):
    tracemalloc.start()
    try:
        return function(*args)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < PER_EXAMPLE_BYTES


def replay_all(recording) -> None:
    """What `replay` and `stat --input` do with a recording that loaded: the model over every tick."""
    header = recording.header
    model = RateModel(topology_of(header.sysfs), header.layouts, header.notices)
    for tick in recording.ticks:
        snapshot = model.update(tick)
        if snapshot is not None:
            json.dumps(snapshot.to_json(), allow_nan=False)


@FUZZ
@given(data=st.data())
def test_a_mutated_tick_line_costs_at_most_that_line(vm, tmp_path, data):
    _, lines = vm
    n = data.draw(st.integers(1, TICKS))
    if data.draw(st.booleans()):
        bad = json.dumps(data.draw(mutated(json.loads(lines[n]))), allow_nan=False) + "\n"
    else:
        bad = data.draw(spliced(lines[n]))
    path = tmp_path / "rec.jsonl"
    path.write_text("".join([*lines[:n], bad, *lines[n + 1 :]]), encoding="utf-8", errors="surrogateescape")
    loaded = bounded(read_recording, path)
    event("line damaged" if loaded.errors else "line still valid")
    assert len(loaded.ticks) >= TICKS - 1
    assert all(error.line > n for error in loaded.errors)
    replay_all(loaded)


@FUZZ
@given(data=st.data())
def test_a_mutated_header_is_one_error_or_replays(vm, tmp_path, data):
    _, lines = vm
    header = data.draw(mutated(json.loads(lines[0])))
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    try:
        loaded = bounded(read_recording, path)
    except RecordingError as exc:
        event("header refused")
        assert "line 1 (header)" in str(exc)
        return
    event("header accepted")
    replay_all(loaded)


def test_the_valid_recording_still_reads_whole(vm, tmp_path):
    _, lines = vm
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(lines))
    loaded = read_recording(path)
    assert len(loaded.ticks) == TICKS and loaded.errors == ()


cpulist_like = st.lists(
    st.one_of(
        st.integers(0, 70000).map(str),
        st.tuples(st.integers(0, 70000), st.integers(0, 70000)).map(lambda r: f"{r[0]}-{r[1]}"),
        st.sampled_from(["", "-", "a", " ", "0-", "-3", "0x1", "٣", "1_0", "99999999999999999999"]),
    ),
    max_size=30,
).map(",".join)


@FUZZ
@given(st.one_of(cpulist_like, st.text(alphabet="0123456789-, \n\t", max_size=40), st.text(max_size=40)))
def test_cpulists_parse_or_raise_valueerror(text):
    try:
        cpus = bounded(parse_cpulist, text)
    except ValueError:
        return
    assert list(cpus) == sorted(set(cpus)) and all(0 <= cpu < MAX_CPU for cpu in cpus)


def test_a_cpulist_of_repeated_huge_ranges_is_one_pass():
    assert len(bounded(parse_cpulist, ",".join([f"0-{MAX_CPU - 1}"] * 10_000))) == MAX_CPU


format_like = st.builds(
    lambda word, ranges, junk: f"{word}:{','.join(ranges)}{junk}",
    st.sampled_from(["config", "config1", "config2", "config3", "config9", "", "CONFIG"]),
    st.lists(
        st.one_of(
            st.integers(-2, 70).map(str),
            st.tuples(st.integers(-2, 70), st.integers(-2, 70)).map(lambda r: f"{r[0]}-{r[1]}"),
        ),
        max_size=6,
    ),
    st.sampled_from(["", "\n", " ", ":", "-", "x"]),
)


@FUZZ
@given(st.one_of(format_like, st.text(max_size=30)))
def test_format_strings_parse_or_raise_valueerror(text):
    try:
        field = parse_format(text)
    except ValueError:
        return
    assert field.bits and all(0 <= bit < 64 for bit in field.bits)


FORMATS = {"event": FormatField("config", tuple(range(8))), "umask": FormatField("config", tuple(range(8, 16)))}
alias_like = st.lists(
    st.builds(
        lambda name, sep, value: f"{name}{sep}{value}",
        st.sampled_from(["event", "umask", "config", "config1", "edge", "period", "", " "]),
        st.sampled_from(["=", "", "=="]),
        st.one_of(
            st.integers(-1, 2**66).map(hex), st.integers(-1, 300).map(str), st.sampled_from(["?", "", "x", "0b1"])
        ),
    ),
    max_size=6,
).map(",".join)


@FUZZ
@given(st.one_of(alias_like, st.text(max_size=30)))
def test_alias_strings_encode_or_raise_valueerror(text):
    try:
        words = encode_alias(text, FORMATS)
    except ValueError:
        return
    assert all(0 <= value < 2**64 for value in words.values())


sysfs_text = st.one_of(cpulist_like, format_like, alias_like, st.text(max_size=40), st.just(""), st.just("\x00" * 10))


@FUZZ
@given(data=st.data())
def test_sysfs_text_of_any_shape_builds_a_topology(vm, data):
    read, _ = vm
    files = dict(read.files)
    for path in data.draw(st.lists(st.sampled_from(sorted(files)), max_size=8)):
        files[path] = data.draw(sysfs_text)
    topology = build_topology(files, read.errors, read.pmu_names, read.cpu_names)
    json.dumps(topology.to_json(), allow_nan=False)


member_names = st.one_of(
    st.lists(
        st.sampled_from(["sys", "bus", "event_source", "devices", "software", "type", "..", ".", "", "x" * 120]),
        min_size=1,
        max_size=8,
    ).map("/".join),
    st.sampled_from(
        [
            "sys/bus/event_source/devices/software/type",
            "sys/bus/event_source/devices/software/events/cpu-clock",
            "sys/bus/event_source/devices/software/format/event",
            "sys/devices/system/cpu/online",
            "sys/devices/system/cpu/cpu0/online",
            "./sys/devices/system/cpu/possible",
            "sys//bus/event_source/devices/x/../software/type",
            "pmutop-snapshot.json",
            "/etc/passwd",
            "../x",
        ]
    ),
    st.sampled_from(["sys/devices/system/cpu/online", "sys/bus/event_source/devices/software/type"]),
    st.text(max_size=30),
)
member_kinds = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
        tarfile.CONTTYPE,
        b"Z",
    ]
)


@st.composite
def tarballs(draw) -> bytes:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
    ) as archive:
        for _ in range(draw(st.integers(0, 12))):
            name = draw(member_names) or "empty"
            info = tarfile.TarInfo(name)
            info.type = draw(member_kinds)
            info.linkname = draw(member_names)
            data = draw(st.binary(max_size=64)) if info.type in (tarfile.REGTYPE, tarfile.CONTTYPE) else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    blob = out.getvalue()
    damage = draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut":
        blob = blob[: draw(st.integers(0, len(blob)))]
    elif damage == "flip" and blob:
        at = draw(st.integers(0, len(blob) - 1))
        blob = blob[:at] + bytes([blob[at] ^ draw(st.integers(1, 255))]) + blob[at + 1 :]
    return blob


@FUZZ
@given(blob=tarballs())
def test_any_tarball_reads_or_is_one_snapshot_error(tmp_path, blob):
    path = Path(tmp_path) / "fuzz.tar"
    path.write_bytes(blob)
    try:
        read = bounded(read_snapshot, path)
    except SnapshotError as exc:
        event("snapshot refused")
        assert str(path) in str(exc)
        return
    event(f"snapshot read, {len(read.files)} files")
    assert all(not key.startswith("/") and ".." not in key.split("/") for key in read.files)
    json.dumps(topology_of(read).to_json(), allow_nan=False)
