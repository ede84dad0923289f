"""Showing strings that come from outside (task names, sysfs text) literally and safely, and numbers
in units."""

from collections.abc import Callable

# C0 and C1 control characters would move the cursor or recolour a terminal: show them as escapes.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def printable(text: str) -> str:
    """`text` with control characters (ESC, BEL, newlines, C1 controls) escaped, everything else kept.

    Every face shows outside strings through this one function (the TUI's `literal` and table cells,
    `pmutop stat`'s lines, the topology command)."""
    # Most names are plain: isprintable() is one C pass and false for every string with a control in it.
    return text if text.isprintable() else text.translate(_ESCAPES)


def plural(count: int, noun: str) -> str:
    """`1 thread`, `2 threads`, `0 ticks`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# A unit is (scale, suffix), in ascending scales; each is 1000 times the one before.
Units = tuple[tuple[float, str], ...]


def in_units(value: float, units: Units, write: Callable[[float], str]) -> tuple[str, str]:
    """(number, suffix): `value` written by `write` in the largest unit it reaches, chosen after rounding,
    so that 999,960,000 at 3 digits is 1G, never 1000M (the number is under 1000 but in the largest unit)."""
    magnitude = abs(value)
    at = max((index for index, (scale, _) in enumerate(units) if magnitude >= scale), default=0)
    text = write(value / units[at][0])
    if at + 1 < len(units) and abs(float(text.replace(",", ""))) * units[at][0] >= units[at + 1][0]:
        at += 1
        text = write(value / units[at][0])
    return text, units[at][1]
