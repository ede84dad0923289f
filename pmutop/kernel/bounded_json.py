"""JSON from files other people send (snapshot manifests, recordings), parsed with a nesting bound.

json.loads recurses once per level, so a line of a million `[` ends in RecursionError; and it
accepts NaN and Infinity, which are not JSON and which pmutop must never pass on. Both become a
ValueError here, so a caller has one exception to turn into a problem or a damaged line.
"""

import json
import re
from typing import Any

# In valid JSON every string is closed, so this skips strings in one linear pass: a "[" inside a
# string is not nesting.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_bounded(text: str, *, max_depth: int) -> Any:
    """json.loads with at most `max_depth` levels of nesting and no NaN or Infinity; ValueError otherwise."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    if text.count("[") + text.count("{") > max_depth:
        # The text parsed, so its brackets balance: each pass strips one level of innermost pairs.
        brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
        for _ in range(max_depth):
            brackets = _INNERMOST.sub("", brackets)
        if brackets:
            raise ValueError(f"nested more than {max_depth} levels deep")
    return value
