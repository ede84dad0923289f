"""The TUI's remembered choices: interval, sort, theme and columns, in $XDG_CONFIG_HOME/pmutop/tui.json.

Read with bounds and validated field by field: a file that is missing, unreadable, too big or wrong in
a field gives the defaults for what is wrong, never an error at start-up.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_CONFIG_BYTES = 65536
MAX_COLUMNS = 256
FILE_NAME = "tui.json"


@dataclass(frozen=True)
class TuiConfig:
    interval_ms: int | None = None
    sort: str | None = None
    theme: str | None = None
    # Column keys in the order shown; None: every column.
    columns: tuple[str, ...] | None = None


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "pmutop" / FILE_NAME


def _field(record: dict[str, Any], name: str, kind: type) -> Any:
    value = record.get(name)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def load_config(path: Path | None = None) -> TuiConfig:
    path = path or config_path()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            return TuiConfig()
        record = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return TuiConfig()
    if not isinstance(record, dict):
        return TuiConfig()
    interval = _field(record, "interval_ms", int)
    columns = record.get("columns")
    if not (isinstance(columns, list) and len(columns) <= MAX_COLUMNS and all(isinstance(c, str) for c in columns)):
        columns = None
    return TuiConfig(
        interval_ms=interval if interval is not None and 10 <= interval <= 60_000 else None,
        sort=_field(record, "sort", str),
        theme=_field(record, "theme", str),
        columns=tuple(columns) if columns is not None else None,
    )


def save_config(config: TuiConfig, path: Path | None = None) -> str | None:
    """Write atomically (a temporary file renamed over); a one-line reason when it cannot."""
    path = path or config_path()
    record = asdict(config)
    record["columns"] = list(config.columns) if config.columns is not None else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        temporary.replace(path)
    except OSError as exc:
        return f"cannot save {path}: {exc.strerror}"
    return None
