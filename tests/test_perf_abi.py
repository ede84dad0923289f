"""pmutop.model.perf_abi: its constants against <linux/perf_event.h>, and the group-read decoder."""

import dataclasses
import importlib.machinery
import importlib.util

import pytest
from cffi import FFI
from hypothesis import given
from hypothesis import strategies as st

from pmutop.kernel import perf
from pmutop.model import perf_abi
from pmutop.model.perf_abi import EventAttr, MalformedRead, group_read_words, parse_group_read

# Each constant group of the model, by the prefix its members carry in the C header.
C_PREFIXES = {
    perf_abi.EventType: "PERF_TYPE_",
    perf_abi.HardwareEvent: "PERF_COUNT_HW_",
    perf_abi.SoftwareEvent: "PERF_COUNT_SW_",
    perf_abi.ReadFormat: "PERF_FORMAT_",
    perf_abi.SampleFormat: "PERF_SAMPLE_",
    perf_abi.RecordType: "PERF_RECORD_",
}


@pytest.fixture(scope="module")
def header(tmp_path_factory):
    """The model's constants as the C compiler reads them from this machine's <linux/perf_event.h>."""
    names = [prefix + member.name for group, prefix in C_PREFIXES.items() for member in group]
    names.append("PERF_RECORD_MISC_COMM_EXEC")
    ffi = FFI()
    ffi.cdef("\n".join(f"#define {name} ..." for name in names))
    ffi.set_source("_perf_abi_check", "#include <linux/perf_event.h>")
    built = ffi.compile(tmpdir=str(tmp_path_factory.mktemp("abi")))
    loader = importlib.machinery.ExtensionFileLoader("_perf_abi_check", built)
    spec = importlib.util.spec_from_file_location("_perf_abi_check", built, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.lib


@pytest.mark.parametrize("group", list(C_PREFIXES), ids=lambda group: group.__name__)
def test_constants_are_the_headers(header, group):
    prefix = C_PREFIXES[group]
    assert {member.name: int(member) for member in group} == {
        member.name: getattr(header, prefix + member.name) for member in group
    }


def test_comm_exec_is_the_headers(header):
    assert perf_abi.RECORD_MISC_COMM_EXEC == header.PERF_RECORD_MISC_COMM_EXEC


def test_the_kernel_side_opens_exactly_the_models_attr():
    """open_event() fills the shim's struct from EventAttr by name: the model's fields are the shim's, no more."""
    shim = set(perf._SPEC_FIELDS) | {name for name, _bit in perf._FLAG_BITS}
    assert shim == {field.name for field in dataclasses.fields(EventAttr)}


def test_parse_group_read_decodes_and_bounds_checks():
    words = [7, 2, 100, 50, 5, 11, 6, 12]
    assert parse_group_read(words, 1) == (100, 50, (5, 6))
    assert parse_group_read(words, 1, 7) == (100, 50, (5, 6))
    # The read's own length bounds it, not the buffer: the words after it are another group's.
    assert parse_group_read(words, 1, 6) == MalformedRead(6, 7)
    assert parse_group_read([3, 1, 1, 5, 6]) == MalformedRead(5, 9)
    assert parse_group_read([1, 2], 0) == MalformedRead(2, 3)
    assert parse_group_read(words, 8) == MalformedRead(0, 3)


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=40),
    st.integers(0, 45),
    st.none() | st.integers(-5, 45),
)
def test_parse_group_read_never_reads_past_the_read(words, offset, length):
    decoded = parse_group_read(words, offset, length)
    available = max(0, min(len(words) - offset, len(words) - offset if length is None else length))
    if isinstance(decoded, MalformedRead):
        assert decoded.words == available and decoded.claimed > available
        return
    enabled, running, values = decoded
    assert group_read_words(len(values)) <= available
    assert (enabled, running) == (words[offset + 1], words[offset + 2])
    assert list(values) == words[offset + 3 : offset + 3 + 2 * len(values) : 2]
    assert len(values) == words[offset]
