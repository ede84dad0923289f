"""The kernel's cpulist syntax ("0-3,8,10-11"), as in sysfs `cpus`, `cpumask` and `online` files."""

from collections.abc import Iterable

# A cpulist naming more CPUs than this is garbage, not a machine: the kernel's NR_CPUS tops out at 8192.
MAX_CPU = 1 << 16


def parse_cpulist(text: str) -> tuple[int, ...]:
    """Parse a cpulist into sorted unique CPU numbers; an empty list is valid (no CPU).

    Raises ValueError naming the bad part, for input such as "0-", "3-1" or "a".
    """
    text = text.strip()
    if not text:
        return ()
    # Ranges first, expanded once at the end: "0-65535" repeated over a 64 KiB file then costs one
    # pass over at most MAX_CPU numbers, not one per repetition.
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        first, sep, last = part.partition("-")
        try:
            low = int(first, 10)
            high = int(last, 10) if sep else low
        except ValueError:
            raise ValueError(f"bad cpulist element {part!r}") from None
        if low < 0 or high < low:
            raise ValueError(f"bad cpulist range {part!r}")
        if high >= MAX_CPU:
            raise ValueError(f"cpu number out of range in {part!r}")
        ranges.append((low, high))
    cpus: list[int] = []
    for low, high in sorted(ranges):
        start = max(low, cpus[-1] + 1) if cpus else low
        cpus.extend(range(start, high + 1))
    return tuple(cpus)


def format_cpulist(cpus: Iterable[int]) -> str:
    """The inverse of parse_cpulist: compact ranges, as the kernel prints them."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        start = index
        while index + 1 < len(ordered) and ordered[index + 1] == ordered[index] + 1:
            index += 1
        low, high = ordered[start], ordered[index]
        parts.append(str(low) if low == high else f"{low}-{high}")
        index += 1
    return ",".join(parts)
