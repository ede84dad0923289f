"""Reading the sysfs (and a few procfs) files that describe PMUs and CPUs, as raw text.

Everything here is I/O and nothing is interpreted: the model turns the text into a topology. A
read never raises to the caller. Each file that cannot be read is kept as an error with a
one-line reason, so that a vanished PMU directory, a dangling symlink or a 5 MB file becomes a
reported problem while the rest of the tree still loads.

The same reader serves the live machine (root "/"), an unpacked copy of another machine's sysfs,
and a `pmutop snapshot` tarball, so all three give the same result for the same files.
"""

import errno
import io
import json
import os
import re
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PMU_DIR = "sys/bus/event_source/devices"
CPU_DIR = "sys/devices/system/cpu"
KERNEL_FILES = (
    "proc/sys/kernel/osrelease",
    "proc/sys/kernel/hostname",
    "proc/sys/kernel/perf_event_paranoid",
)
PMU_FILES = ("type", "cpus", "cpumask")
PMU_SUBDIRS = ("caps", "events", "format")
CPU_LIST_FILES = ("possible", "present", "online")
CPU_FILES = (
    "online",
    "cpu_capacity",
    "topology/physical_package_id",
    "topology/die_id",
    "topology/cluster_id",
    "topology/core_id",
    "topology/thread_siblings_list",
    "regs/identification/midr_el1",
)
# sysfs attributes are at most a page; the largest legitimate file pmutop reads (a cpulist on a
# machine with thousands of CPUs) is far below this. Anything larger is not what it claims to be.
MAX_FILE_BYTES = 64 * 1024
# A directory listing this long is not a PMU's events or formats.
MAX_DIR_ENTRIES = 4096
SNAPSHOT_MANIFEST = "pmutop-snapshot.json"
SNAPSHOT_FORMAT = 1
_CPU_NAME = re.compile(r"^cpu[0-9]+$")


@dataclass(frozen=True)
class SysfsRead:
    """The raw text of every file read, keyed by path relative to the root ("sys/..." or "proc/...")."""

    files: dict[str, str]
    errors: dict[str, str]
    pmu_names: tuple[str, ...]
    cpu_names: tuple[str, ...]
    source: str = "/"
    # Set when read from a snapshot: what the capturing machine said about itself.
    captured: dict[str, str] = field(default_factory=dict)


def _describe_os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"unreadable ({name}: {exc.strerror or exc})"


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def read(self, rel: str, *, required: bool = False) -> None:
        path = self.root / rel
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            if os.path.islink(path):
                self.errors[rel] = "dangling symlink"
            elif required:
                self.errors[rel] = "missing"
            return
        except IsADirectoryError:
            self.errors[rel] = "is a directory, expected a file"
            return
        except OSError as exc:
            self.errors[rel] = _describe_os_error(exc)
            return
        if len(raw) > MAX_FILE_BYTES:
            self.errors[rel] = f"larger than the {MAX_FILE_BYTES // 1024} KiB read cap; ignored"
            return
        self.files[rel] = raw.decode("utf-8", errors="replace")

    def list_dir(self, rel: str) -> list[str]:
        path = self.root / rel
        try:
            with os.scandir(path) as entries:
                names = []
                for entry in entries:
                    names.append(entry.name)
                    if len(names) > MAX_DIR_ENTRIES:
                        self.errors[rel] = f"more than {MAX_DIR_ENTRIES} entries; ignored"
                        return []
        except FileNotFoundError:
            if os.path.islink(path):
                self.errors[rel] = "dangling symlink"
            return []
        except NotADirectoryError:
            self.errors[rel] = "not a directory"
            return []
        except OSError as exc:
            self.errors[rel] = _describe_os_error(exc)
            return []
        return sorted(names)

    def read_dir_files(self, rel: str) -> None:
        for name in self.list_dir(rel):
            self.read(f"{rel}/{name}")


def _cpu_sort_key(name: str) -> int:
    return int(name[3:])


def read_sysfs(root: str | os.PathLike[str] = "/") -> SysfsRead:
    """Read the PMU and CPU files under `root` (a directory, normally "/")."""
    reader = _Reader(Path(root))
    pmu_names = []
    for name in reader.list_dir(PMU_DIR):
        pmu_rel = f"{PMU_DIR}/{name}"
        if not (reader.root / pmu_rel).is_dir():
            # A PMU entry that does not lead to a directory: usually a dangling symlink left by a
            # driver that went away between the listing and this read.
            kind = "dangling symlink" if os.path.islink(reader.root / pmu_rel) else "not a directory"
            reader.errors[pmu_rel] = f"{kind}; not a PMU"
            continue
        pmu_names.append(name)
        for file_name in PMU_FILES:
            reader.read(f"{pmu_rel}/{file_name}", required=file_name == "type")
        for sub in PMU_SUBDIRS:
            reader.read_dir_files(f"{pmu_rel}/{sub}")
    if not (reader.root / PMU_DIR).is_dir():
        reader.errors[PMU_DIR] = "missing: no perf_event PMUs are exposed (kernel without CONFIG_PERF_EVENTS?)"
    for file_name in CPU_LIST_FILES:
        reader.read(f"{CPU_DIR}/{file_name}", required=file_name == "online")
    cpu_names = sorted((n for n in reader.list_dir(CPU_DIR) if _CPU_NAME.match(n)), key=_cpu_sort_key)
    for name in cpu_names:
        for file_name in CPU_FILES:
            reader.read(f"{CPU_DIR}/{name}/{file_name}")
    for rel in KERNEL_FILES:
        reader.read(rel)
    return SysfsRead(
        files=reader.files,
        errors=reader.errors,
        pmu_names=tuple(pmu_names),
        cpu_names=tuple(cpu_names),
        source=str(root),
    )


def write_snapshot(read: SysfsRead, out_path: str | os.PathLike[str], *, machine: str) -> None:
    """Write a tarball of the files read plus a manifest, for attaching to a bug report."""
    manifest = {
        "format": SNAPSHOT_FORMAT,
        "tool": "pmutop",
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "kernel": read.files.get("proc/sys/kernel/osrelease", "").strip(),
        "errors": read.errors,
        "pmu_names": list(read.pmu_names),
        "cpu_names": list(read.cpu_names),
    }
    dirs = {f"{PMU_DIR}/{n}" for n in read.pmu_names} | {f"{CPU_DIR}/{n}" for n in read.cpu_names}
    now = time.time()
    with tarfile.open(out_path, "w:gz") as archive:
        for rel in sorted(dirs):
            entry = tarfile.TarInfo(rel)
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o755
            entry.mtime = now
            archive.addfile(entry)
        for rel, text in sorted({**read.files, SNAPSHOT_MANIFEST: json.dumps(manifest, indent=1)}.items()):
            payload = text.encode()
            entry = tarfile.TarInfo(rel)
            entry.size = len(payload)
            entry.mode = 0o444
            entry.mtime = now
            archive.addfile(entry, io.BytesIO(payload))


def is_snapshot_file(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_file() and tarfile.is_tarfile(path)


def read_snapshot(path: str | os.PathLike[str]) -> SysfsRead:
    """Read a `pmutop snapshot` tarball the same way as a live tree.

    Errors recorded at capture time (unreadable files on the captured machine) are carried over,
    so the re-read reports the same problems as the live read did.
    """
    with tempfile.TemporaryDirectory(prefix="pmutop-snapshot-") as scratch:
        with tarfile.open(path, "r:*") as archive:
            # The "data" filter refuses absolute paths, links out of the tree and device files:
            # a snapshot is user-supplied input.
            archive.extractall(scratch, filter="data")
        read = read_sysfs(scratch)
        manifest_text = (
            (Path(scratch) / SNAPSHOT_MANIFEST).read_text() if (Path(scratch) / SNAPSHOT_MANIFEST).is_file() else "{}"
        )
    try:
        manifest = json.loads(manifest_text)
    except ValueError:
        manifest = {}
    errors = dict(read.errors)
    # Files that were unreadable on the captured machine are absent from the tarball; their
    # original reasons replace the "missing" a re-read would report.
    errors.update(manifest.get("errors", {}))
    return SysfsRead(
        files=read.files,
        errors=errors,
        pmu_names=read.pmu_names,
        cpu_names=read.cpu_names,
        source=str(path),
        captured={k: str(manifest[k]) for k in ("captured_at", "machine", "kernel") if k in manifest},
    )


def read_sysfs_any(source: str | os.PathLike[str]) -> SysfsRead:
    """A directory root or a snapshot tarball."""
    return read_snapshot(source) if is_snapshot_file(source) else read_sysfs(source)
