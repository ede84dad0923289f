"""Property tests for the cpulist and format-field codecs (pmutop.model.cpulist / .encoding) and the
shim's /proc/stat parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pmutop.kernel.procfs import CpuTimesReader
from pmutop.model.cpulist import parse_cpulist
from pmutop.model.encoding import FormatField, encode_alias, parse_format

cpu_sets = st.sets(st.integers(min_value=0, max_value=8191), max_size=200)
bit_sets = st.sets(st.integers(min_value=0, max_value=63), min_size=1, max_size=64)
words = st.sampled_from(["config", "config1", "config2", "config3"])


def ranges(numbers: set[int]) -> str:
    """Tiny independent formatter: sorted numbers as kernel-style ranges (`0-3,8,10-11`)."""
    parts: list[str] = []
    for n in sorted(numbers):
        if parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == n - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        elif parts and "-" not in parts[-1] and int(parts[-1]) == n - 1:
            parts[-1] = f"{parts[-1]}-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts)


def unpack(word_value: int, bits: tuple[int, ...]) -> int:
    """Gather a value back from its bit positions, lowest position = lowest value bit (pmu_format_value)."""
    return sum(1 << i for i, bit in enumerate(bits) if word_value >> bit & 1)


@given(cpu_sets)
def test_cpulist_roundtrip(cpus: set[int]) -> None:
    text = ranges(cpus)
    assert parse_cpulist(text) == tuple(sorted(cpus))
    assert parse_cpulist(text + "\n") == tuple(sorted(cpus))  # sysfs files end with a newline


@given(cpu_sets, st.randoms(use_true_random=False))
def test_cpulist_singletons_any_order(cpus: set[int], rnd) -> None:
    """A list of single CPUs (the kernel never writes it unsorted, but it is valid syntax) parses sorted."""
    listed = list(cpus)
    rnd.shuffle(listed)
    assert parse_cpulist(",".join(map(str, listed))) == tuple(sorted(cpus))


@given(words, bit_sets)
def test_format_parse_roundtrip(word: str, bits: set[int]) -> None:
    field = parse_format(f"{word}:{ranges(bits)}\n")
    assert field == FormatField(word=word, bits=tuple(sorted(bits)))


@given(words, bit_sets, st.data())
def test_encode_decode_roundtrip(word: str, bits: set[int], data) -> None:
    field = parse_format(f"{word}:{ranges(bits)}")
    value = data.draw(st.integers(min_value=0, max_value=(1 << len(bits)) - 1))
    encoded = encode_alias(f"term={value:#x}", {"term": field})
    packed = encoded.get(word, 0)
    assert set(encoded) <= {word}
    assert packed & ~sum(1 << b for b in bits) == 0  # nothing outside the field's bits
    assert unpack(packed, field.bits) == value
    assert bin(packed).count("1") == bin(value).count("1")


@given(words, bit_sets, st.data())
def test_encode_rejects_values_that_do_not_fit(word: str, bits: set[int], data) -> None:
    field = parse_format(f"{word}:{ranges(bits)}")
    value = data.draw(st.integers(min_value=1 << len(bits), max_value=1 << 70))
    try:
        encode_alias(f"term={value:#x}", {"term": field})
    except ValueError:
        return
    raise AssertionError(f"{value:#x} accepted into {len(bits)} bits")


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 255)),
        min_size=1,
        max_size=3,
        unique_by=lambda t: t[0],
    )
)
def test_encode_terms_in_disjoint_fields_combine(pairs: list[tuple[str, int]]) -> None:
    formats = {"a": parse_format("config:0-7"), "b": parse_format("config:8-15"), "c": parse_format("config:32-39")}
    shift = {"a": 0, "b": 8, "c": 32}
    terms = ",".join(f"{name}={value:#x}" for name, value in pairs)
    assert encode_alias(terms, formats).get("config", 0) == sum(v << shift[n] for n, v in pairs)


# /proc/stat's per-CPU lines: 7 to 10 counters (older kernels lack steal, guest and guest_nice).
cpu_stat_lines = st.dictionaries(
    st.integers(min_value=0, max_value=4095),
    st.lists(st.integers(min_value=0, max_value=2**50), min_size=7, max_size=10),
    max_size=300,
)


@given(cpu_stat_lines)
def test_proc_stat_cpu_times_parse_as_documented(tmp_path_factory, lines):
    """The shim's /proc/stat parser against proc(5): busy is user..steal less idle, iowait and steal."""
    path = tmp_path_factory.mktemp("stat") / "stat"
    text = "cpu  1 2 3 4 5 6 7 8 0 0\n"
    text += "".join(f"cpu{cpu} {' '.join(map(str, values))}\n" for cpu, values in sorted(lines.items()))
    text += "intr 12345 " + " ".join("0" for _ in range(2000)) + "\nctxt 99\nbtime 1\n"
    path.write_text(text)
    expected = {}
    for cpu, values in lines.items():
        counted = values[:8]
        total = sum(counted)
        expected[cpu] = (total - counted[3] - counted[4] - (counted[7] if len(counted) > 7 else 0), total)
    # Started small, the reader grows its buffers until the lines fit.
    reader = CpuTimesReader(str(path), buffer_bytes=64, max_cpus=1)
    try:
        assert reader.read() == expected
        assert reader.read() == expected  # read again from the same fd, as every tick does
    finally:
        reader.close()
