"""Decoding tracepoint samples by the layout the kernel publishes in the event's `format` file.

The layout is not ABI: sched_migrate_task's `comm` became a `__data_loc` string in 6.16, moving
every field after it, so offsets are always taken from the running kernel's format file.
"""

import re
import struct
import sys
from dataclasses import dataclass

_FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d+);")
_INT_FORMATS = {1: "b", 2: "h", 4: "i", 8: "q"}
# Samples come from the running kernel, whose byte order is this process's.
_ORDER = "<" if sys.byteorder == "little" else ">"


@dataclass(frozen=True, slots=True)
class TraceField:
    name: str
    offset: int
    size: int
    signed: bool
    # `__data_loc` fields hold a u32: payload offset in the low 16 bits, length in the high 16;
    # `__rel_loc` offsets are relative to the end of the field itself.
    data_loc: bool = False
    rel_loc: bool = False
    is_string: bool = False


@dataclass(frozen=True)
class TraceFormat:
    name: str
    id: int
    fields: dict[str, TraceField]


def parse_format(text: str) -> TraceFormat:
    """Parse a tracefs `events/<system>/<event>/format` file; ValueError when it is not one."""
    name_match = re.search(r"^name:\s*(\S+)", text, re.M)
    id_match = re.search(r"^ID:\s*(\d+)", text, re.M)
    if not name_match or not id_match:
        raise ValueError("not a tracepoint format file (no name/ID)")
    fields = {}
    for match in _FIELD.finditer(text):
        decl = match["decl"].strip()
        # The field name is the last identifier, before any array suffix: `char comm[16]`.
        name_part = re.sub(r"\[[^\]]*\]$", "", decl.split()[-1])
        fields[name_part] = TraceField(
            name=name_part,
            offset=int(match["offset"]),
            size=int(match["size"]),
            signed=match["signed"] == "1",
            data_loc=decl.startswith("__data_loc"),
            rel_loc=decl.startswith("__rel_loc"),
            is_string="char" in decl.split(name_part)[0] or decl.endswith("[]"),
        )
    return TraceFormat(name=name_match[1], id=int(id_match[1]), fields=fields)


def read_field(layout: TraceFormat, raw: bytes, name: str) -> int | str:
    """One field of a PERF_SAMPLE_RAW payload, as an int or (for char arrays and data_loc) a str."""
    field = layout.fields[name]
    if field.data_loc or field.rel_loc:
        (location,) = struct.unpack_from(_ORDER + "I", raw, field.offset)
        start, length = location & 0xFFFF, location >> 16
        if field.rel_loc:
            start += field.offset + field.size
        return _c_string(raw[start : start + length])
    if field.is_string:
        return _c_string(raw[field.offset : field.offset + field.size])
    code = _INT_FORMATS.get(field.size)
    if code is None:
        raise ValueError(f"field {name} has unsupported size {field.size}")
    if not field.signed:
        code = code.upper()
    value: int = struct.unpack_from(_ORDER + code, raw, field.offset)[0]
    return value


def _c_string(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", errors="backslashreplace")
