"""The figures pmutop works out per CPU and per core PMU, in one table: name, label and number format.

Every face (the TUI, `pmutop stat`, the exporter) names a figure by its MetricKey, never by a string,
so a misspelt name is an AttributeError at import and a type error under mypy, not a column that
quietly says "not counted". A MetricKey is a str (a StrEnum): its value is the name snapshots carry
and JSON lines, CSV headers and recordings spell, so a row's metrics can be looked up by either.
The unit is in the label (GHz, util%, cs/s), as every face shows it; a count is per interval.
"""

from collections.abc import Callable
from enum import StrEnum

# A count or a rate as `pmutop stat` writes it, a -e event's too: 1,234,567.
whole: Callable[[float], str] = "{:,.0f}".format


class MetricKey(StrEnum):
    """A figure's name (the member's value), with how faces write it.

    `label` is its heading and `short` the heading where `label` does not fit (`heading`);
    `decimals` is how many decimals a ratio or a clock is written with, and None for a count or a
    rate, which is written whole (`pmutop stat`, with thousands separators) or with an SI suffix (the TUI).
    """

    label: str
    short: str
    decimals: int | None
    # A value as `pmutop stat` writes it: 2.41, 99.5, 1,234,567 (a bound str.format: cells are made each tick).
    text: Callable[[float], str]

    def __new__(cls, name: str, label: str, short: str, decimals: int | None) -> "MetricKey":
        member = str.__new__(cls, name)
        member._value_ = name
        member.label = label
        member.short = short
        member.decimals = decimals
        member.text = whole if decimals is None else f"{{:.{decimals}f}}".format
        return member

    # In display order. Counts are per interval, rates per second.
    GHZ = ("ghz", "GHz", "GHz", 2)
    IPC = ("ipc", "IPC", "IPC", 2)
    INSTRUCTIONS_PER_S = ("instructions_per_s", "instr/s", "instr/s", None)
    UTIL_PCT = ("util_pct", "util%", "util%", 1)
    CONTEXT_SWITCHES_PER_S = ("context_switches_per_s", "cs/s", "cs/s", None)
    MIGRATIONS_PER_S = ("migrations_per_s", "migr/s", "migr/s", None)
    CYCLES = ("cycles", "cycles", "cycles", None)
    INSTRUCTIONS = ("instructions", "instructions", "instr", None)
    REF_CYCLES = ("ref_cycles", "ref-cycles", "ref-cyc", None)
    EFFECTIVE_GHZ = ("effective_ghz", "eff GHz", "effGHz", 2)
    TSC_GHZ = ("tsc_ghz", "TSC GHz", "TSC GHz", 2)

    def heading(self, width: int) -> str:
        """The label if it fits `width` cells, else the short one."""
        return self.label if len(self.label) <= width else self.short
