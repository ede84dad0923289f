"""Finding (and, as root, mounting) tracefs, and reading a tracepoint's id and format."""

import os
import subprocess

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
