"""Showing strings that come from outside (task names, sysfs text) literally and safely."""

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
