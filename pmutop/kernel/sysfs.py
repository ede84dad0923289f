"""Reading the sysfs (and a few procfs) files that describe PMUs and CPUs, as raw text.

Everything here is I/O and nothing is interpreted: the model turns the text into a topology. A
read never raises to the caller. Each file that cannot be read is kept as an error with a
one-line reason, so that a vanished PMU directory, a dangling symlink or a 5 MB file becomes a
reported problem while the rest of the tree still loads.

The same reader serves the live machine (root "/"), an unpacked copy of another machine's sysfs,
and a `pmutop snapshot` tarball, so all three give the same result for the same files.
"""

import bz2
import errno
import gzip
import io
import json
import lzma
import os
import re
import stat
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pmutop.kernel.bounded_json import loads_bounded

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
# A sysfs attribute is at most one page (sysfs_emit's PAGE_SIZE buffer, 4096 bytes on every
# architecture pmutop runs on); a file claiming more is not what it says it is.
MAX_FILE_BYTES = 4096
# A directory listing this long is not a PMU's events or formats.
MAX_DIR_ENTRIES = 4096
SNAPSHOT_MANIFEST = "pmutop-snapshot.json"
# A snapshot is someone else's file, read as root: caps on what reading it may cost. A snapshot of a
# 448-CPU machine with hundreds of uncore PMUs holds about 10,000 members and a few MiB.
MAX_MEMBERS = 50_000
MAX_MEMBER_NAME = 1024
MAX_MANIFEST_BYTES = 4 * 2**20
MAX_SNAPSHOT_BYTES = 32 * 2**20  # all kept files together
MAX_ARCHIVE_BYTES = 64 * 2**20  # the tar stream once decompressed, headers and skipped members included
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


class _DirectoryTree:
    """Files under a directory on disk: the live machine ("/") or an unpacked copy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # A copied tree's links must stay inside it (sysfs's own are relative, within /sys): a link to
        # /etc/shadow would otherwise be read as root and shown back as a "not a number" problem.
        self._inside = None if os.path.realpath(root) == "/" else os.path.realpath(root)

    def read(self, rel: str, limit: int) -> bytes:
        path = self.root / rel
        if self._inside is not None and os.path.commonpath([self._inside, os.path.realpath(path)]) != self._inside:
            raise OSError(errno.EXDEV, "a link out of the tree; not followed")
        # O_NONBLOCK and the regular-file check: a FIFO or a device in a copied tree would block a
        # plain open or read for ever (sysfs and procfs attributes are all regular files).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb", closefd=True) as handle:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            if not stat.S_ISREG(mode):
                raise OSError(errno.EINVAL, "not a regular file (a FIFO or device in the tree)")
            return handle.read(limit)

    def names(self, rel: str, limit: int) -> list[str]:
        names = []
        with os.scandir(self.root / rel) as entries:
            for entry in entries:
                names.append(entry.name)
                if len(names) >= limit:
                    break
        return names

    def is_dir(self, rel: str) -> bool:
        return (self.root / rel).is_dir()

    def is_link(self, rel: str) -> bool:
        return os.path.islink(self.root / rel)


class _Reader:
    def __init__(self, tree: "_DirectoryTree | _ArchiveTree") -> None:
        self.tree = tree
        self.files: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def read(self, rel: str, *, required: bool = False) -> None:
        try:
            raw = self.tree.read(rel, MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            if self.tree.is_link(rel):
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
            self.errors[rel] = f"larger than a sysfs attribute can be ({MAX_FILE_BYTES} bytes); ignored"
            return
        self.files[rel] = raw.decode("utf-8", errors="replace")

    def list_dir(self, rel: str) -> list[str]:
        try:
            names = self.tree.names(rel, MAX_DIR_ENTRIES + 1)
        except FileNotFoundError:
            if self.tree.is_link(rel):
                self.errors[rel] = "dangling symlink"
            return []
        except NotADirectoryError:
            self.errors[rel] = "not a directory"
            return []
        except OSError as exc:
            self.errors[rel] = _describe_os_error(exc)
            return []
        if len(names) > MAX_DIR_ENTRIES:
            self.errors[rel] = f"more than {MAX_DIR_ENTRIES} entries; ignored"
            return []
        return sorted(names)

    def read_dir_files(self, rel: str) -> None:
        for name in self.list_dir(rel):
            self.read(f"{rel}/{name}")


def read_attribute(path: str) -> str | None:
    """One live sysfs attribute's text (at most MAX_FILE_BYTES), or None when it cannot be read or is larger."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return raw.decode("utf-8", errors="replace") if len(raw) <= MAX_FILE_BYTES else None


def _cpu_sort_key(name: str) -> int:
    return int(name[3:])


def read_sysfs(root: str | os.PathLike[str] = "/") -> SysfsRead:
    """Read the PMU and CPU files under `root` (a directory, normally "/")."""
    return _read_tree(_DirectoryTree(Path(root)), source=str(root))


def _read_tree(tree: "_DirectoryTree | _ArchiveTree", source: str) -> SysfsRead:
    reader = _Reader(tree)
    pmu_names = []
    for name in reader.list_dir(PMU_DIR):
        pmu_rel = f"{PMU_DIR}/{name}"
        if not tree.is_dir(pmu_rel):
            # A PMU entry that does not lead to a directory: usually a dangling symlink left by a
            # driver that went away between the listing and this read.
            kind = "dangling symlink" if tree.is_link(pmu_rel) else "not a directory"
            reader.errors[pmu_rel] = f"{kind}; not a PMU"
            continue
        pmu_names.append(name)
        for file_name in PMU_FILES:
            reader.read(f"{pmu_rel}/{file_name}", required=file_name == "type")
        for sub in PMU_SUBDIRS:
            reader.read_dir_files(f"{pmu_rel}/{sub}")
    if not tree.is_dir(PMU_DIR):
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
        source=source,
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


class SnapshotError(Exception):
    """A --sysfs-root that is neither a directory nor a readable snapshot archive: one line saying why."""


class _ArchiveTree:
    """A snapshot's regular files, held in memory, served with the same answers a directory gives."""

    def __init__(self, files: dict[str, bytes], dirs: set[str]) -> None:
        self.files = files
        self.children: dict[str, set[str]] = {}
        for rel in (*files, *dirs):
            parts = rel.split("/")
            for depth in range(len(parts)):
                self.children.setdefault("/".join(parts[:depth]), set()).add(parts[depth])

    def read(self, rel: str, limit: int) -> bytes:
        if rel in self.children:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        if rel not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return self.files[rel][:limit]

    def names(self, rel: str, limit: int) -> list[str]:
        if rel in self.children:
            return sorted(self.children[rel])[:limit]
        if rel in self.files:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    def is_dir(self, rel: str) -> bool:
        return rel in self.children

    def is_link(self, rel: str) -> bool:
        # Links are refused when the archive is read: none is ever part of the tree.
        return False


class _CappedStream(io.RawIOBase):
    """The decompressed archive, cut off with a SnapshotError past `cap` bytes (a bomb, not a snapshot)."""

    def __init__(self, inner: io.BufferedIOBase | BinaryIO, cap: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = cap
        self._cap = cap

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        wanted = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data = self._inner.read(wanted)
        self._left -= len(data)
        if self._left < 0:
            raise SnapshotError(f"more than {self._cap // 2**20} MiB once decompressed; not a pmutop snapshot")
        return data


def _decompressed(raw: BinaryIO) -> io.BufferedIOBase | BinaryIO:
    """The archive's tar stream, whatever `pmutop snapshot` or tar(1) compressed it with."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


def _tree_path(name: str) -> str | None:
    """A member name as a path inside the tree, or None when it points outside it (absolute, `..`)."""
    if not name or name.startswith("/") or "\0" in name or len(name) > MAX_MEMBER_NAME:
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device node"
    if member.isfifo():
        return "FIFO"
    if member.issparse():
        return "sparse file"
    return f"member of tar type {member.type!r}"


def _read_members(archive: tarfile.TarFile) -> tuple[dict[str, bytes], set[str], dict[str, str]]:
    """Regular files and directories into memory; everything else is refused with a reason, never opened."""
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    refused: dict[str, str] = {}
    total = 0
    for count, member in enumerate(iter(archive.next, None), start=1):
        if count > MAX_MEMBERS:
            raise SnapshotError(f"more than {MAX_MEMBERS} members; not a pmutop snapshot")
        rel = _tree_path(member.name)
        if rel is None:
            refused[repr(member.name[:200])] = "member name outside the snapshot's tree; refused"
            continue
        if member.isdir():
            dirs.add(rel)
            continue
        if not member.isreg() or member.issparse():
            refused[rel] = f"{_member_kind(member)} in a snapshot; refused (a snapshot holds only files)"
            continue
        cap = MAX_MANIFEST_BYTES if rel == SNAPSHOT_MANIFEST else MAX_FILE_BYTES
        if member.size > cap:
            refused[rel] = f"larger than the {cap // 1024} KiB read cap; ignored"
            continue
        if rel in files:
            refused[rel] = "appears twice in the archive; the first copy is kept"
            continue
        total += member.size
        if total > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(f"files add up to more than {MAX_SNAPSHOT_BYTES // 2**20} MiB; not a pmutop snapshot")
        handle = archive.extractfile(member)
        data = handle.read(member.size) if handle is not None else b""
        if len(data) != member.size:
            raise SnapshotError(f"{rel} is cut short")
        files[rel] = data
    return files, dirs, refused


def _manifest(data: bytes | None) -> dict[str, Any]:
    """The capture-time manifest, each field checked; a damaged one is as good as none."""
    if data is None:
        return {}
    try:
        manifest = loads_bounded(data.decode("utf-8"), max_depth=4)
    except ValueError:
        return {}
    if not isinstance(manifest, dict):
        return {}
    errors = manifest.get("errors")
    if not isinstance(errors, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items()):
        errors = {}
    found: dict[str, Any] = {k: v for k, v in manifest.items() if k in ("captured_at", "machine", "kernel")}
    found["errors"] = {key[:MAX_MEMBER_NAME]: reason[:200] for key, reason in errors.items()}
    return found


def read_snapshot(path: str | os.PathLike[str]) -> SysfsRead:
    """Read a `pmutop snapshot` tarball the same way as a live tree, without extracting anything.

    Regular files are read into memory (each, all together and their number capped); links,
    devices, FIFOs and names outside the tree are refused and listed as problems. A file that is
    not a tar archive, or one that is damaged or cut short, raises SnapshotError.

    Errors recorded at capture time (unreadable files on the captured machine) are carried over,
    so the re-read reports the same problems as the live read did.
    """
    try:
        with open(path, "rb") as raw, _decompressed(raw) as stream:
            capped = _CappedStream(stream, MAX_ARCHIVE_BYTES)
            with tarfile.open(fileobj=capped, mode="r|") as archive:
                files, dirs, refused = _read_members(archive)
            # tar stops at its end-of-archive blocks, before the compressor's trailer. Read on to the
            # end so gzip, bzip2 and xz check their CRC: flipped bytes in a member's data then make the
            # archive damaged, instead of a tree with garbled or missing files.
            while capped.read(1 << 16):
                pass
    except SnapshotError as exc:
        raise SnapshotError(f"{path}: {exc}") from None
    except tarfile.ReadError as exc:
        detail = "not a tar archive" if "empty" in str(exc) or "header" in str(exc) else str(exc)
        raise SnapshotError(f"{path}: {detail} (expected a `pmutop snapshot` tarball)") from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, UnicodeError, ValueError) as exc:
        raise SnapshotError(f"{path}: damaged or cut short ({exc or type(exc).__name__})") from None
    except OSError as exc:
        raise SnapshotError(f"{path}: {exc.strerror or exc}") from None
    manifest = _manifest(files.pop(SNAPSHOT_MANIFEST, None))
    read = _read_tree(_ArchiveTree(files, dirs), source=str(path))
    # Files that were unreadable on the captured machine are absent from the tarball; their
    # original reasons replace the "missing" a re-read would report.
    errors = {**read.errors, **manifest.pop("errors", {}), **refused}
    return SysfsRead(
        files=read.files,
        errors=errors,
        pmu_names=read.pmu_names,
        cpu_names=read.cpu_names,
        source=str(path),
        captured={k: str(v)[:200] for k, v in manifest.items()},
    )


def read_sysfs_any(source: str | os.PathLike[str]) -> SysfsRead:
    """A directory root or a snapshot tarball; anything else raises SnapshotError."""
    if Path(source).is_dir():
        return read_sysfs(source)
    if not os.path.lexists(source):
        raise SnapshotError(f"{source}: no such file or directory")
    return read_snapshot(source)
