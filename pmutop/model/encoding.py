"""Turning sysfs event aliases into perf_event_attr config words.

A PMU's `format/<term>` file says which bits of which config word a term occupies
(`config:0-7,32-35`); an `events/<alias>` file is a list of `term=value` pairs. perf packs a
value into the listed bits in ascending order (pmu_format_value), which this module follows.
"""

import re
from dataclasses import dataclass

CONFIG_WORDS = ("config", "config1", "config2", "config3")
WORD_BITS = 64

_FORMAT_RE = re.compile(r"^(config[123]?):([0-9,\- ]+)$")


@dataclass(frozen=True, slots=True)
class FormatField:
    """One `format/<term>` file: the config word and the bit positions the term fills, lowest first."""

    word: str
    bits: tuple[int, ...]

    @property
    def max_value(self) -> int:
        return (1 << len(self.bits)) - 1

    def pack(self, value: int) -> int:
        """Scatter `value` into this field's bits of its config word."""
        if value < 0 or value > self.max_value:
            raise ValueError(f"value {value:#x} does not fit in {len(self.bits)} bits")
        packed = 0
        for index, bit in enumerate(self.bits):
            if value >> index & 1:
                packed |= 1 << bit
        return packed

    def unpack(self, word_value: int) -> int:
        """Gather this field's value back out of a config word."""
        return sum(1 << index for index, bit in enumerate(self.bits) if word_value >> bit & 1)

    def describe(self) -> str:
        """The sysfs spelling, e.g. `config:0-7,32-35`."""
        ranges: list[str] = []
        start = previous = self.bits[0]
        for bit in (*self.bits[1:], None):
            if bit is not None and bit == previous + 1:
                previous = bit
                continue
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
            if bit is not None:
                start = previous = bit
        return f"{self.word}:{','.join(ranges)}"


def parse_format(text: str) -> FormatField:
    """Parse a format file such as `config:0-7,32-35` or `config1:5`; ValueError when malformed."""
    match = _FORMAT_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a format specification: {text.strip()[:60]!r}")
    word, ranges = match.groups()
    bits: set[int] = set()
    for part in ranges.replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if not first or (sep and not last):
            raise ValueError(f"bad bit range {part!r}")
        low, high = int(first), int(last) if sep else int(first)
        if high < low:
            raise ValueError(f"bad bit range {part!r}")
        if high >= WORD_BITS:
            raise ValueError(f"bit range {part!r} is outside the 64-bit {word}")
        bits.update(range(low, high + 1))
    return FormatField(word=word, bits=tuple(sorted(bits)))


def _parse_value(text: str) -> int:
    return int(text, 0)


def encode_alias(terms: str, formats: dict[str, FormatField]) -> dict[str, int]:
    """Encode an event alias (`event=0x2e,umask=0x41,edge`) into config words.

    Bare terms mean 1; `config=`/`config1=`... set a whole word. Raises ValueError for an unknown
    term, a value that does not fit its field, or a term that needs a user value (`param=?`).
    """
    words: dict[str, int] = {}
    for raw_term in terms.strip().split(","):
        term = raw_term.strip()
        if not term:
            continue
        name, sep, value_text = term.partition("=")
        name = name.strip()
        if sep and value_text.strip() == "?":
            raise ValueError(f"term {name!r} needs a value from the user")
        try:
            value = _parse_value(value_text.strip()) if sep else 1
        except ValueError:
            raise ValueError(f"term {name!r} has a non-numeric value {value_text.strip()!r}") from None
        if name in CONFIG_WORDS:
            if not 0 <= value < 1 << WORD_BITS:
                raise ValueError(f"{name}={value_text} does not fit in 64 bits")
            words[name] = words.get(name, 0) | value
            continue
        field = formats.get(name)
        if field is None:
            raise ValueError(f"term {name!r} has no format/{name} on this PMU")
        words[field.word] = words.get(field.word, 0) | field.pack(value)
    return words


PMU_TYPE_SHIFT = 32


def legacy_hybrid_config(hw_id: int, pmu_type: int) -> int:
    """PERF_TYPE_HARDWARE config aimed at one core PMU: the PMU type in bits 32-63 (x86 5.13+, arm64 6.6+)."""
    return hw_id | (pmu_type << PMU_TYPE_SHIFT)
