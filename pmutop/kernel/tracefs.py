"""Finding (and, as root, mounting) tracefs, and reading a tracepoint's id and format."""

import os
import subprocess
from collections.abc import Iterator, Mapping

TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def _mounted_tracefs() -> str | None:
    try:
        with open("/proc/self/mounts") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "tracefs":
                    return fields[1]
    except OSError:
        return None
    return None


def find_tracefs() -> str | None:
    """The tracefs mount point, or None when tracefs is not mounted."""
    mounted = _mounted_tracefs()
    if mounted:
        return mounted
    # debugfs may expose tracefs below it without a separate mount line.
    for path in TRACEFS_CANDIDATES:
        if os.path.isdir(os.path.join(path, "events")):
            return path
    return None


def mount_tracefs(path: str = TRACEFS_CANDIDATES[0]) -> str | None:
    """Mount tracefs at `path`; a one-line error, or None on success."""
    try:
        result = subprocess.run(["mount", "-t", "tracefs", "nodev", path], capture_output=True, text=True)
    except OSError as exc:
        return f"cannot run mount: {exc.strerror}"
    return None if result.returncode == 0 else (result.stderr.strip() or f"mount exited {result.returncode}")


def unmount_tracefs(path: str) -> None:
    subprocess.run(["umount", path], capture_output=True)


def read_event_format(tracefs: str, system: str, event: str) -> str | None:
    try:
        with open(os.path.join(tracefs, "events", system, event, "format")) as handle:
            return handle.read(65536)
    except OSError:
        return None


# A tracepoint id file holds a small decimal number; anything longer is not one.
_ID_BYTES = 32


class TracepointIds(Mapping[str, int]):
    """`system:name` → the tracepoint's perf config (its tracefs `id`), read on demand.

    Looking one up reads one file; only listing (globs, suggestions for a misspelt name) walks
    `events/`, which holds a couple of thousand directories.
    """

    def __init__(self, tracefs: str | None) -> None:
        self.tracefs = tracefs
        self._names: list[str] | None = None

    def __getitem__(self, key: str) -> int:
        system, sep, event = key.partition(":")
        if not sep or not system or not event or "/" in key or key.startswith("."):
            raise KeyError(key)
        if self.tracefs is None:
            raise KeyError(key)
        try:
            with open(os.path.join(self.tracefs, "events", system, event, "id"), "rb") as handle:
                return int(handle.read(_ID_BYTES))
        except (OSError, ValueError):
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def _listing(self) -> list[str]:
        if self._names is None:
            names: list[str] = []
            events = os.path.join(self.tracefs, "events") if self.tracefs else ""
            try:
                systems = sorted(os.listdir(events)) if events else []
            except OSError:
                systems = []
            for system in systems:
                try:
                    entries = sorted(os.listdir(os.path.join(events, system)))
                except (OSError, NotADirectoryError):
                    continue
                names += [
                    f"{system}:{entry}"
                    for entry in entries
                    if os.path.isfile(os.path.join(events, system, entry, "id"))
                ]
            self._names = names
        return self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._listing())

    def __len__(self) -> int:
        return len(self._listing())
