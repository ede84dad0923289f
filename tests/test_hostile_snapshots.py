"""Snapshot tarballs built to attack `pmutop topology --sysfs-root X.tar.gz`, which often runs as root.

Every tarball here is made by the test itself. A snapshot is read, never extracted: links, devices,
FIFOs and names outside the tree are listed as problems, nothing is written to disk, no path but
the archive is opened, memory stays bounded, and a file that is not a whole archive is one error line.
"""

import bz2
import gzip
import io
import json
import lzma
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from pmutop_runs import MEMORY_BOUND_KB, peak_kb, run_pmutop
from sysfs_trees import build_this_vm

from pmutop.kernel import sysfs
from pmutop.kernel.sysfs import SnapshotError, read_snapshot, read_sysfs, write_snapshot

PMU_DIR = sysfs.PMU_DIR


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    """A genuine `pmutop snapshot` of a fixture tree."""
    root = build_this_vm(tmp_path_factory.mktemp("vm"))
    path = tmp_path_factory.mktemp("snap") / "vm.tar.gz"
    write_snapshot(read_sysfs(root), path, machine="vm")
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def hostile(honest: Path, out: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """The honest snapshot's members followed by `members` (data for regular files)."""
    with tarfile.open(honest) as source, tarfile.open(out, "w:gz") as archive:
        for member in source.getmembers():
            archive.addfile(member, source.extractfile(member) if member.isreg() else None)
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def realpath_limit_chain(outside: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """CVE-2025-4517: nested long symlinks whose expansion overflows PATH_MAX, so that tarfile's `data`
    filter (before the 2025 fixes) checks a truncated path and lets `escape` point outside the tree;
    a hard link through it then overwrites a file outside, and a file is created there."""
    steps = "abcdefghijklmnop"
    component = "d" * 247
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    path = ""
    for step in steps:
        members.append((entry(os.path.join(path, component), tarfile.DIRTYPE, mode=0o777), None))
        members.append((entry(os.path.join(path, step), tarfile.SYMTYPE, linkname=component), None))
        path = os.path.join(path, component)
    link = os.path.join(*steps, "l" * 254)
    members.append((entry(link, tarfile.SYMTYPE, linkname=os.path.join(*[".."] * len(steps))), None))
    depth = len(Path(os.path.relpath(outside, "/")).parts) + 8
    members.append(
        (entry("escape", tarfile.SYMTYPE, linkname=os.path.join(link, *[".."] * depth, *outside.parts[1:])), None)
    )
    members.append((entry("flaglink", tarfile.LNKTYPE, linkname="escape/flag"), None))
    members.append((entry("flaglink"), b"overwritten"))
    members.append((entry("escape/newfile"), b"created"))
    # And a PMU file that is a link to the secret: reading it would print another file's contents.
    members.append(
        (entry(f"{PMU_DIR}/software/events/leak", tarfile.SYMTYPE, linkname="../../../../../../escape/flag"), None)
    )
    return members


def test_symlink_chain_reads_nothing_outside_and_writes_nothing(honest, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "flag").write_text("SECRET-FLAG\n")
    archive = hostile(honest, tmp_path / "chain.tar.gz", realpath_limit_chain(outside))
    result = run_pmutop("topology", "--json", "--sysfs-root", str(archive))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "SECRET-FLAG" not in result.stdout
    assert (outside / "flag").read_text() == "SECRET-FLAG\n"
    assert sorted(p.name for p in outside.iterdir()) == ["flag"]
    problems = {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}
    assert "symbolic link" in problems["escape"]
    assert "hard link" in problems["flaglink"]
    assert "symbolic link" in problems[f"{PMU_DIR}/software/events/leak"]
    # The honest part of the snapshot still reads.
    assert "software" in {p["name"] for p in json.loads(result.stdout)["pmus"]}


AUDITED_READ = textwrap.dedent(
    """
    import json, os, sys
    from pmutop.kernel.sysfs import read_snapshot
    from pmutop.live.topology_loader import topology_of
    archive = os.path.abspath(sys.argv[1])
    touched = []
    WRITES = ("os.mkdir", "os.symlink", "os.link", "os.rename", "os.remove", "os.chmod", "os.utime", "os.truncate")
    def audit(event, args):
        if event == "open" and args[0] != archive and not str(args[0]).endswith((".py", ".pyc", ".so")):
            touched.append(["open", str(args[0])])
        elif event in WRITES:
            touched.append([event, str(args[0])])
    sys.addaudithook(audit)
    topology = topology_of(read_snapshot(archive))
    print(json.dumps({"touched": touched, "problems": len(topology.problems)}))
    """
)


def test_reading_a_snapshot_opens_only_the_archive_and_creates_nothing(honest, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "flag").write_text("x\n")
    archive = hostile(honest, tmp_path / "chain.tar.gz", realpath_limit_chain(outside))
    result = subprocess.run(
        [sys.executable, "-c", AUDITED_READ, str(archive)], capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout)
    assert report["touched"] == []
    assert report["problems"] > 0


@pytest.mark.parametrize(
    ("member", "path", "reason"),
    [
        (entry("../../etc/pmutop-evil"), "'../../etc/pmutop-evil'", "outside the snapshot's tree"),
        (entry("/etc/pmutop-evil"), "'/etc/pmutop-evil'", "outside the snapshot's tree"),
        (entry(f"{PMU_DIR}/software/../../../../../x/../../../../etc/y"), None, "outside the snapshot's tree"),
        (
            entry(f"{PMU_DIR}/software/type2", tarfile.LNKTYPE, linkname="/etc/shadow"),
            f"{PMU_DIR}/software/type2",
            "hard link",
        ),
        (
            entry(f"{PMU_DIR}/software/abs", tarfile.SYMTYPE, linkname="/etc/shadow"),
            f"{PMU_DIR}/software/abs",
            "symbolic link",
        ),
        (
            entry(f"{PMU_DIR}/software/events/mem", tarfile.CHRTYPE, devmajor=1, devminor=1),
            f"{PMU_DIR}/software/events/mem",
            "device node",
        ),
        (
            entry(f"{PMU_DIR}/software/events/sda", tarfile.BLKTYPE, devmajor=8),
            f"{PMU_DIR}/software/events/sda",
            "device node",
        ),
        (entry(f"{PMU_DIR}/software/events/fifo", tarfile.FIFOTYPE), f"{PMU_DIR}/software/events/fifo", "FIFO"),
    ],
    ids=["dotdot", "absolute", "dotdot-inside", "hardlink", "symlink-absolute", "chardev", "blockdev", "fifo"],
)
def test_plain_attacks_are_problems_not_tracebacks(honest, tmp_path, member, path, reason):
    archive = hostile(honest, tmp_path / "bad.tar.gz", [(member, b"evil\n" if member.isreg() else None)])
    result = run_pmutop("topology", "--json", "--sysfs-root", str(archive))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    problems = {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}
    matching = [where for where, why in problems.items() if reason in why]
    assert matching, problems
    if path is not None:
        assert path in matching
    assert not Path("/etc/pmutop-evil").exists()
    text = run_pmutop("topology", "--sysfs-root", str(archive))
    assert text.returncode == 0 and "Problems (" in text.stdout


def sparse_member(name: str, real_size: int) -> bytes:
    """A GNU sparse ('S') member: one 512-byte block stored, `real_size` bytes once expanded."""
    info = entry(name, tarfile.GNUTYPE_SPARSE, size=512, mode=0o444)
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[386:398] = b"%011o\0" % (real_size - 512)  # the one data region: at the end of the file
    header[398:410] = b"%011o\0" % 512
    header[483:495] = b"%011o\0" % real_size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + b"x" * 512


def test_a_one_gigabyte_sparse_member_costs_no_memory(honest, tmp_path):
    plain = tmp_path / "sparse.tar"
    with gzip.open(honest) as source:
        tar = source.read()
    end = tar.rindex(b"pmutop-snapshot.json")  # insert before the manifest header; keep the end blocks
    at = end - end % 512
    plain.write_bytes(tar[:at] + sparse_member(f"{PMU_DIR}/software/events/huge", 2**30) + tar[at:])
    with tarfile.open(plain) as check:  # the member is what it claims to be
        assert check.getmember(f"{PMU_DIR}/software/events/huge").size == 2**30
    code, peak, stderr = peak_kb("topology", "--json", "--sysfs-root", str(plain))
    assert code == 0, stderr
    assert peak < MEMORY_BOUND_KB
    problems = read_snapshot(plain).errors
    assert "sparse file" in problems[f"{PMU_DIR}/software/events/huge"]


def test_a_huge_manifest_is_not_read(honest, tmp_path):
    manifest = b'{"errors": {' + b'"x": "y", ' * 1_000_000 + b'"z": "w"}}'
    archive = hostile(honest, tmp_path / "manifest.tar.gz", [(entry("pmutop-snapshot.json"), manifest)])
    code, peak, stderr = peak_kb("topology", "--sysfs-root", str(archive))
    assert code == 0, stderr
    assert peak < MEMORY_BOUND_KB
    assert "read cap" in read_snapshot(archive).errors["pmutop-snapshot.json"] or "twice" in read_snapshot(
        archive
    ).errors.get("pmutop-snapshot.json", "")


def test_a_deeply_nested_manifest_is_ignored(tmp_path):
    archive = tmp_path / "nested.tar"
    with tarfile.open(archive, "w") as out:
        data = b"[" * 100_000
        out.addfile(entry("pmutop-snapshot.json", size=len(data)), io.BytesIO(data))
    assert read_snapshot(archive).captured == {}


def test_a_gzip_bomb_is_one_error_with_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(entry(f"{PMU_DIR}/software/type", size=2**30).tobuf())
        zeros = b"\0" * 2**20
        for _ in range(1024):
            out.write(zeros)
    code, peak, stderr = peak_kb("topology", "--sysfs-root", str(bomb))
    assert code == 1
    assert stderr.count("\n") == 1 and "MiB" in stderr, stderr
    assert peak < MEMORY_BOUND_KB


def test_too_many_members_is_one_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sysfs, "MAX_MEMBERS", 10)
    archive = tmp_path / "many.tar"
    with tarfile.open(archive, "w") as out:
        for n in range(11):
            out.addfile(entry(f"sys/f{n}", size=1), io.BytesIO(b"1"))
    with pytest.raises(SnapshotError, match="more than 10 members"):
        read_snapshot(archive)


def test_files_adding_up_past_the_cap_is_one_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sysfs, "MAX_SNAPSHOT_BYTES", 1000)
    archive = tmp_path / "big.tar"
    with tarfile.open(archive, "w") as out:
        for n in range(3):
            out.addfile(entry(f"sys/f{n}", size=600), io.BytesIO(b"1" * 600))
    with pytest.raises(SnapshotError, match="add up to more than"):
        read_snapshot(archive)


def damaged(honest: Path, tmp_path: Path, how: str) -> Path:
    data = honest.read_bytes()
    path = tmp_path / f"{how}.tar.gz"
    if how == "cut":
        path.write_bytes(data[: len(data) // 2])
    elif how == "corrupt":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 64]) + data[middle + 64 :])
    elif how == "cut-plain-tar":
        raw = gzip.decompress(data)
        path = tmp_path / "cut.tar"
        path.write_bytes(raw[: len(raw) // 2 + 100])
    elif how == "not-an-archive":
        path.write_text("just some text\n" * 100)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "gzip-of-text":
        path.write_bytes(gzip.compress(b"hello\n" * 1000))
    return path


@pytest.mark.parametrize("compress", [None, bz2.compress, lzma.compress], ids=["gzip", "bzip2", "xz"])
def test_flipped_bytes_anywhere_in_a_compressed_archive_are_refused(honest, tmp_path, compress):
    """tar stops reading at its end-of-archive blocks, before the compressor's checksum: flipped bytes
    inside a member's data once decoded to a tree with garbled or missing files, about one offset in five."""
    data = honest.read_bytes() if compress is None else compress(gzip.decompress(honest.read_bytes()))
    path = tmp_path / "flipped"
    offsets = range(24, len(data) - 96, 11)
    accepted = []
    for offset in offsets:
        path.write_bytes(data[:offset] + bytes(b ^ 0x5A for b in data[offset : offset + 64]) + data[offset + 64 :])
        try:
            read_snapshot(path)
        except SnapshotError as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        else:
            accepted.append(offset)
    assert len(offsets) > 50 and accepted == []


@pytest.mark.parametrize("how", ["cut", "corrupt", "cut-plain-tar", "not-an-archive", "empty", "gzip-of-text"])
def test_a_damaged_archive_is_one_clear_error(honest, tmp_path, how):
    path = damaged(honest, tmp_path, how)
    for command in ("topology", "snapshot"):
        args = [command, "--sysfs-root", str(path)] + ([str(tmp_path / "out.tar.gz")] if command == "snapshot" else [])
        result = run_pmutop(*args)
        assert result.returncode == 1, (how, result)
        assert result.stderr.count("\n") == 1 and str(path) in result.stderr, result.stderr
        assert result.stderr.startswith(f"pmutop {command}: ")


def test_a_missing_root_is_one_clear_error(tmp_path):
    result = run_pmutop("topology", "--sysfs-root", str(tmp_path / "nothing-here"))
    assert result.returncode == 1
    assert result.stderr == f"pmutop topology: {tmp_path / 'nothing-here'}: no such file or directory\n"


def test_the_honest_snapshot_still_reads_as_its_tree(honest, tmp_path):
    with tarfile.open(honest) as archive:
        archive.extractall(tmp_path, filter="data")
    from_archive = read_snapshot(honest)
    from_tree = read_sysfs(tmp_path)
    assert from_archive.files == from_tree.files
    assert from_archive.pmu_names == from_tree.pmu_names and from_archive.cpu_names == from_tree.cpu_names
    assert from_archive.captured["machine"] == "vm"


def test_a_fifo_in_a_copied_tree_is_a_problem_not_a_hang(tmp_path):
    root = build_this_vm(tmp_path / "tree")
    software = root / PMU_DIR / "software"
    (software / "type").unlink()
    os.mkfifo(software / "type")  # a plain open() of it would wait for a writer for ever
    result = run_pmutop("topology", "--json", "--sysfs-root", str(root))
    assert result.returncode == 0, result.stderr
    problems = {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}
    assert "not a regular file" in problems[f"{PMU_DIR}/software/type"]


@pytest.mark.needs_root
def test_a_device_in_a_copied_tree_is_a_problem(tmp_path):
    root = build_this_vm(tmp_path / "tree")
    os.mknod(root / PMU_DIR / "software" / "cpumask", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    result = run_pmutop("topology", "--json", "--sysfs-root", str(root))
    assert result.returncode == 0, result.stderr
    problems = {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}
    assert "not a regular file" in problems[f"{PMU_DIR}/software/cpumask"]


def test_a_link_out_of_a_copied_tree_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("SECRET-SHADOW\n")
    root = build_this_vm(tmp_path / "tree")
    software = root / PMU_DIR / "software"
    (software / "type").unlink()
    (software / "type").symlink_to(secret)
    result = run_pmutop("topology", "--json", "--sysfs-root", str(root))
    assert result.returncode == 0, result.stderr
    assert "SECRET" not in result.stdout
    problems = {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}
    assert "out of the tree" in problems[f"{PMU_DIR}/software/type"]
