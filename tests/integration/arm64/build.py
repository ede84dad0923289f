"""Build everything the arm64 guest tests boot: kernels, an initramfs holding pmutop, a two-PMU dtb.

Run it alone with `.venv/bin/python tests/integration/arm64/build.py` (add `--boot` to boot the four
guests too); the pytest module imports it. Everything is cached under `tests/integration/arm64/work/`
so that a rerun only redoes what changed:

- host tools (qemu-system-arm, device-tree-compiler, cpio, the aarch64 cross compiler) are installed
  with the host's apt when missing;
- arm64 `.deb`s are fetched with PRIVATE apt state (own lists, cache, status and sources list), using
  the archive URIs and keyring of the host's `/etc/apt/sources.list.d/debian.sources`, so the host's
  apt is untouched and no host name is written into the project; package lists are refreshed when
  older than LISTS_MAX_AGE_S, and `.deb`s already downloaded are kept;
- the kernel packages are resolved through the `linux-image-cloud-arm64` meta-package at run time;
- pmutop's cffi extensions are cross-compiled for aarch64 from the C code cffi emits for them;
- the initramfs is rebuilt whenever pmutop's sources, the guest scripts or the userland change
  (it is keyed by a hash of all of them).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
WORK = Path(os.environ.get("PMUTOP_ARM64_WORK", HERE / "work"))
GUEST_DIR = HERE / "guest"

HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
HOST_PACKAGES = ("qemu-system-arm", "device-tree-compiler", "cpio", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross")
HOST_FILES = {
    "qemu-system-arm": "/usr/bin/qemu-system-aarch64",
    "device-tree-compiler": "/usr/bin/dtc",
    "cpio": "/usr/bin/cpio",
    "gcc-aarch64-linux-gnu": "/usr/bin/aarch64-linux-gnu-gcc",
    "libc6-dev-arm64-cross": "/usr/aarch64-linux-gnu/include/linux/perf_event.h",
}
KERNEL_META = "linux-image-cloud-arm64"
# Debian release -> the kernel it boots (the suites come from the host's sources with the codename swapped).
KERNEL_RELEASES = ("bookworm", "trixie")
USERLAND_RELEASE = "bookworm"
USERLAND_PACKAGES = (
    "busybox-static",
    "libc6",
    "libgcc-s1",
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libffi8",
    "zlib1g",
    "libexpat1",
    "libbz2-1.0",
    "liblzma5",
    "python3-cffi-backend",
    # The rate model computes in bulk with numpy (Debian's, with the reference BLAS/LAPACK it links).
    "python3-numpy",
    "libblas3",
    "liblapack3",
    "libgfortran5",
)
# dpkg-deb -x runs no maintainer scripts: the links that libblas3's and liblapack3's alternatives make.
ALTERNATIVE_LINKS = {
    "usr/lib/aarch64-linux-gnu/libblas.so.3": "blas/libblas.so.3",
    "usr/lib/aarch64-linux-gnu/liblapack.so.3": "lapack/liblapack.so.3",
}
# Test suites inside the unpacked packages (numpy's alone are several MB of initramfs).
PRUNE_GLOBS = ("usr/lib/python3/dist-packages/numpy/**/tests",)
HEADER_PACKAGES = ("libpython3.11-dev", "python3.11-dev")
LISTS_MAX_AGE_S = 24 * 3600
PY_TAG = "cpython-311-aarch64-linux-gnu"

QEMU = "qemu-system-aarch64"
MACHINE_ARGS = ["-machine", "virt", "-cpu", "cortex-a57", "-smp", "2", "-m", "1024", "-icount", "shift=0"]
QEMU_ARGS = [*MACHINE_ARGS, "-nographic", "-no-reboot", "-nic", "none"]
KERNEL_CMDLINE = "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=3"
# A guest is stopped when its console has been silent this long (hung), or at the ceiling (looping).
# Measured on the 2-CPU VM at load average 7 (a CPU hog and other test runs beside two guests): the
# longest silent phase was the kernel's boot, 21 s, and the slowest whole boot 92 s; idle, a boot takes
# about 22 s. A time limit on progress rather than on the whole run does not turn a loaded machine
# into a failure, and both keep at least 5x headroom.
BOOT_STALL_S = float(os.environ.get("PMUTOP_ARM64_STALL", "120"))
BOOT_CEILING_S = float(os.environ.get("PMUTOP_ARM64_CEILING", "600"))

# What to leave out of the guest: documentation, tests, GUI and packaging parts of the stdlib.
PRUNE = (
    "usr/share",
    "usr/lib/python3.11/test",
    "usr/lib/python3.11/idlelib",
    "usr/lib/python3.11/tkinter",
    "usr/lib/python3.11/turtledemo",
    "usr/lib/python3.11/ensurepip",
    "usr/lib/python3.11/lib2to3",
    "usr/lib/python3.11/pydoc_data",
    "usr/lib/python3.11/distutils",
    "usr/lib/python3.11/unittest/test",
    "usr/lib/python3.11/sqlite3",
    "usr/lib/python3.11/venv",
    "usr/lib/python3.11/config-3.11-aarch64-linux-gnu",
    "usr/lib/python3.11/lib-dynload/_test",
    "usr/bin/pydoc3.11",
    "usr/lib/aarch64-linux-gnu/gconv",
    "etc/init.d",
    "etc/cron.daily",
)

NETWORK_ERRORS = re.compile(
    r"Could not resolve|Temporary failure resolving|Could not connect|Connection failed|"
    r"Connection timed out|Network is unreachable|No route to host|Unable to connect|"
    r"Failed to fetch .*(?:Connection|resolve|timed out|unreachable)|Cannot initiate the connection",
    re.IGNORECASE,
)


class BuildError(RuntimeError):
    """The build failed for a reason that is a bug, not the environment: the tests must fail."""


class ArchiveUnreachable(RuntimeError):
    """The Debian archive (or the host's apt mirror) cannot be reached: the tests skip."""


class UnsupportedHost(RuntimeError):
    """Not an x86-64 host, or not root: the tests skip."""


@dataclass
class Timings:
    phases: list[tuple[str, float]] = field(default_factory=list)

    def run(self, name, fn, *args, **kwargs):
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.monotonic() - start
            self.phases.append((name, elapsed))
            log(f"phase {name}: {elapsed:.1f} s")


@dataclass
class Artifacts:
    kernels: dict[str, Path]  # release -> raw Image
    kernel_versions: dict[str, str]  # release -> e.g. 6.1.0-37-cloud-arm64
    initramfs: Path
    dtb_two_pmu: Path
    timings: Timings


def log(message: str) -> None:
    print(f"[arm64-build] {message}", file=sys.stderr, flush=True)


def run(cmd, *, cwd=None, env=None, check=True, timeout=None, input_bytes=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        input=input_bytes,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace")[-4000:]
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return proc


def check_host() -> None:
    if platform.machine() not in ("x86_64", "AMD64"):
        raise UnsupportedHost(f"host is {platform.machine()}, the arm64 guest harness needs x86-64")
    if os.geteuid() != 0:
        raise UnsupportedHost("the arm64 guest harness needs root (it installs host packages with apt)")


def _raise_if_network(output: str, what: str) -> None:
    if NETWORK_ERRORS.search(output):
        lines = [line for line in output.splitlines() if NETWORK_ERRORS.search(line)]
        raise ArchiveUnreachable(f"{what}: Debian archive unreachable: {lines[0].strip()[:300]}")


# ---------------------------------------------------------------- host tools


def ensure_host_tools() -> None:
    missing = [pkg for pkg, path in HOST_FILES.items() if not Path(path).exists()]
    if not missing:
        return
    log(f"installing host packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    proc = run(cmd, env=env, check=False, timeout=900)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        _raise_if_network(out, "apt-get install")
        log("apt-get install failed; running apt-get update and retrying")
        upd = run(["apt-get", "update"], env=env, check=False, timeout=600)
        _raise_if_network(upd.stdout.decode(errors="replace"), "apt-get update")
        proc = run(cmd, env=env, check=False, timeout=900)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            _raise_if_network(out, "apt-get install")
            raise BuildError(f"apt-get install {' '.join(missing)} failed:\n{out[-4000:]}")
    still = [pkg for pkg, path in HOST_FILES.items() if not Path(path).exists()]
    if still:
        raise BuildError(f"installed {missing} but still missing {still}")


# ---------------------------------------------------------------- private apt state


def _parse_deb822(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
            continue
        if line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise BuildError("no VERSION_CODENAME in /etc/os-release")


def private_sources(release: str) -> str:
    """A one-line-style sources.list for `release`, built from the host's deb822 sources."""
    if not HOST_SOURCES.exists():
        raise BuildError(f"{HOST_SOURCES} is missing: cannot find the host's Debian archive")
    codename = host_codename()
    lines = []
    for stanza in _parse_deb822(HOST_SOURCES.read_text()):
        if "deb" not in stanza.get("Types", "").split() or stanza.get("Enabled", "yes") == "no":
            continue
        suites = []
        for suite in stanza.get("Suites", "").split():
            if suite == codename or suite.startswith(codename + "-"):
                suites.append(release + suite[len(codename) :])
        if not suites:
            continue
        options = ["arch=arm64"]
        if stanza.get("Signed-By"):
            options.append(f"signed-by={stanza['Signed-By'].split()[0]}")
        for uri in stanza.get("URIs", "").split():
            for suite in suites:
                lines.append(f"deb [{' '.join(options)}] {uri} {suite} main")
    if not lines:
        raise BuildError(f"no usable Debian archive for {release} in {HOST_SOURCES}")
    return "\n".join(lines) + "\n"


class PrivateApt:
    def __init__(self, release: str) -> None:
        self.release = release
        self.root = WORK / "apt" / release
        for sub in ("lists/partial", "cache/archives/partial", "empty"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "status").touch()
        sources = private_sources(release)
        path = self.root / "sources.list"
        if not path.exists() or path.read_text() != sources:
            path.write_text(sources)
            (self.root / "lists.stamp").unlink(missing_ok=True)

    def _opts(self) -> list[str]:
        r = self.root
        opts = {
            "APT::Architecture": "arm64",
            "APT::Architectures": "arm64",
            "Dir::State::Lists": r / "lists",
            "Dir::State::status": r / "status",
            "Dir::Cache": r / "cache",
            "Dir::Etc::SourceList": r / "sources.list",
            "Dir::Etc::SourceParts": r / "empty",
            "Dir::Etc::Preferences": r / "empty/none",
            "Dir::Etc::PreferencesParts": r / "empty",
            "APT::Sandbox::User": "root",
            "Acquire::Languages": "none",
            "Acquire::Retries": "1",
            "Acquire::http::Timeout": "30",
        }
        return [f"-o{k}={v}" for k, v in opts.items()]

    def apt_get(self, *args, cwd=None, check=True) -> str:
        proc = run(["apt-get", "-q", *self._opts(), *args], cwd=cwd, check=False, timeout=900)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0 or (args[0] == "update" and re.search(r"^(Err:|E:|W: Failed)", out, re.M)):
            _raise_if_network(out, f"apt-get {args[0]} ({self.release})")
            if check:
                raise BuildError(f"apt-get {' '.join(args)} ({self.release}) failed:\n{out[-4000:]}")
        return out

    def apt_cache(self, *args) -> str:
        proc = run(["apt-cache", *self._opts(), *args], check=False, timeout=300)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            raise BuildError(f"apt-cache {' '.join(args)} ({self.release}) failed:\n{out[-4000:]}")
        return out

    def update(self) -> None:
        stamp = self.root / "lists.stamp"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE_S:
            return
        self.apt_get("update")
        stamp.touch()

    def resolve_kernel(self) -> str:
        out = self.apt_cache("depends", KERNEL_META)
        for line in out.splitlines():
            m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
            if m and not m.group(1).startswith("<"):
                return m.group(1)
        raise BuildError(f"{KERNEL_META} ({self.release}) has no linux-image dependency:\n{out}")

    def download(self, packages: list[str], dest: Path) -> dict[str, Path]:
        """Download `packages` into `dest` unless the exact .deb is already there; name -> path."""
        dest.mkdir(parents=True, exist_ok=True)
        out = self.apt_get("download", "--print-uris", *packages)
        wanted: dict[str, Path] = {}
        for line in out.splitlines():
            m = re.match(r"'(\S+)' (\S+\.deb) (\d+) (\S+)", line)
            if not m:
                continue
            filename = m.group(2)
            pkg = filename.split("_", 1)[0]
            wanted[pkg] = dest / filename
        missing_names = [p for p in packages if p not in wanted]
        if missing_names:
            raise BuildError(f"apt-get download --print-uris gave no URI for {missing_names} ({self.release})")
        todo = [p for p, path in wanted.items() if not path.exists()]
        if todo:
            log(f"downloading {len(todo)} arm64 packages from {self.release}: {' '.join(todo)}")
            self.apt_get("download", *todo, cwd=dest)
        for pkg, path in wanted.items():
            if not path.exists():
                # apt names files with an epoch as %3a; --print-uris already gives that form.
                raise BuildError(f"{pkg} was downloaded but {path.name} is not in {dest}")
        return wanted


# ---------------------------------------------------------------- debs


def fetch_debs() -> tuple[dict[str, Path], dict[str, Path]]:
    """Kernel .debs per release, and userland + header .debs (name -> path)."""
    debs = WORK / "debs"
    apts = {release: PrivateApt(release) for release in KERNEL_RELEASES}
    if USERLAND_RELEASE not in apts:
        apts[USERLAND_RELEASE] = PrivateApt(USERLAND_RELEASE)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(apts)) as pool:
        list(pool.map(lambda a: a.update(), apts.values()))
    kernels: dict[str, Path] = {}
    for release in KERNEL_RELEASES:
        name = apts[release].resolve_kernel()
        kernels[release] = apts[release].download([name], debs / release)[name]
        log(f"{release} kernel: {kernels[release].name}")
    userland = apts[USERLAND_RELEASE].download([*USERLAND_PACKAGES, *HEADER_PACKAGES], debs / USERLAND_RELEASE)
    return kernels, userland


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def extract_kernels(kernel_debs: dict[str, Path]) -> tuple[dict[str, Path], dict[str, str]]:
    images: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for release, deb in kernel_debs.items():
        out = WORK / "kernels" / release
        stamp = out / "source"
        image = out / "Image"
        if not (_stamp_ok(stamp, deb.name) and image.exists()):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            with tempfile.TemporaryDirectory(dir=WORK) as tmp:
                tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
                run(["tar", "-x", "-C", tmp, "--wildcards", "./boot/vmlinuz-*"], input_bytes=tar.stdout.read())
                tar.wait()
                found = sorted(Path(tmp, "boot").glob("vmlinuz-*"))
                if len(found) != 1:
                    raise BuildError(f"{deb.name}: expected one /boot/vmlinuz-*, found {found}")
                shutil.move(found[0], image)
                (out / "version").write_text(found[0].name[len("vmlinuz-") :])
            stamp.write_text(deb.name)
        images[release] = image
        versions[release] = (out / "version").read_text()
    return images, versions


def unpack_userland(userland: dict[str, Path]) -> tuple[Path, Path]:
    """Unpack runtime debs into a pruned root, and header debs into a sysroot; both cached."""
    base = WORK / "rootfs-base"
    sysroot = WORK / "sysroot"
    runtime = [userland[p] for p in USERLAND_PACKAGES]
    headers = [userland[p] for p in HEADER_PACKAGES]
    for target, debs, prune in ((base, runtime, True), (sysroot, headers, False)):
        pruned = (*PRUNE, *PRUNE_GLOBS, *ALTERNATIVE_LINKS) if prune else ()
        key = "\n".join(sorted(d.name for d in debs)) + "\nprune=" + ",".join(pruned)
        stamp = WORK / f"{target.name}.stamp"
        if _stamp_ok(stamp, key) and target.exists():
            continue
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for deb in debs:
            run(["dpkg-deb", "-x", deb, target])
        if prune:
            for rel in PRUNE:
                path = target / rel
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
            for pattern in PRUNE_GLOBS:
                for path in list(target.glob(pattern)):
                    shutil.rmtree(path, ignore_errors=True)
            for cache in target.rglob("__pycache__"):
                shutil.rmtree(cache, ignore_errors=True)
            for link, points_to in ALTERNATIVE_LINKS.items():
                if not (target / link).exists():
                    os.symlink(points_to, target / link)
        stamp.write_text(key)
    return base, sysroot


# ---------------------------------------------------------------- cffi extension


def _load_ffibuilders():
    build_file = REPO / "pmutop" / "_build.py"
    if not build_file.exists():
        raise BuildError(f"{build_file} does not exist yet: cannot build pmutop's cffi extensions")
    old_cwd = os.getcwd()
    os.chdir(REPO)
    try:
        spec = importlib.util.spec_from_file_location("_pmutop_build_arm64", build_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.chdir(old_cwd)
    return module.BUILDERS


def cross_build_extensions(sysroot: Path) -> list[tuple[Path, str]]:
    """Each of pmutop's cffi extensions for aarch64: (the .so, the package directory it goes in)."""
    return [_cross_build(ffibuilder, sysroot) for ffibuilder in _load_ffibuilders()]


def _cross_build(ffibuilder, sysroot: Path) -> tuple[Path, str]:
    module_name, _source, _ext, kwds = ffibuilder._assigned_source
    package, leaf = module_name.rsplit(".", 1)
    outdir = WORK / "ext"
    outdir.mkdir(parents=True, exist_ok=True)
    c_file = outdir / f"{leaf}.c"
    old_cwd = os.getcwd()
    os.chdir(REPO)
    try:
        ffibuilder.emit_c_code(str(c_file))
    finally:
        os.chdir(old_cwd)
    sources = [REPO / s for s in kwds.get("sources", [])]
    include_dirs = [REPO / d for d in kwds.get("include_dirs", [])]
    py_inc = sysroot / "usr/include/python3.11"
    arch_inc = sysroot / "usr/include/aarch64-linux-gnu/python3.11"
    if not (py_inc / "Python.h").exists():
        raise BuildError(f"no Python.h in {py_inc}")
    cmd = ["aarch64-linux-gnu-gcc", "-shared", "-fPIC", "-O2", "-fno-strict-aliasing", "-DNDEBUG"]
    cmd += [f"-I{py_inc}", f"-I{arch_inc}", "-idirafter", str(sysroot / "usr/include")]
    cmd += [f"-I{d}" for d in include_dirs]
    for macro in kwds.get("define_macros", []):
        name, value = macro if isinstance(macro, tuple) else (macro, None)
        cmd.append(f"-D{name}" if value is None else f"-D{name}={value}")
    cmd += list(kwds.get("extra_compile_args", []))
    out = outdir / f"{leaf}.{PY_TAG}.so"
    # Key: the emitted C, every extra source and header it may include, the flags.
    digest = hashlib.sha256(" ".join(map(str, cmd)).encode())
    digest.update(c_file.read_bytes())
    for path in sorted({*sources, *(p for d in include_dirs for p in Path(d).glob("*.h"))}):
        digest.update(path.name.encode() + path.read_bytes())
    key = digest.hexdigest()
    stamp = outdir / f"{leaf}.stamp"
    if _stamp_ok(stamp, key) and out.exists():
        return out, package.replace(".", "/")
    run([*cmd, c_file, *sources, "-o", out, *[f"-l{lib}" for lib in kwds.get("libraries", [])]])
    stamp.write_text(key)
    return out, package.replace(".", "/")


# ---------------------------------------------------------------- initramfs


def _pmutop_files() -> list[Path]:
    root = REPO / "pmutop"
    files = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix in (".so", ".o", ".pyc") or path.name in ("_perf.c", "_rates.c"):
            continue
        files.append(path)
    return files


def _tree_hash(files: list[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _find_rich() -> Path | None:
    try:
        import rich
    except ImportError:
        return None
    return Path(rich.__file__).parent


def build_initramfs(base: Path, extensions: list[tuple[Path, str]]) -> Path:
    guest_files = sorted(p for p in GUEST_DIR.iterdir() if p.is_file())
    rich_dir = _find_rich()
    digest = hashlib.sha256()
    digest.update((WORK / "rootfs-base.stamp").read_bytes())
    digest.update(_tree_hash(_pmutop_files(), REPO).encode())
    digest.update(_tree_hash(guest_files, HERE).encode())
    for extension, _ in extensions:
        digest.update(extension.read_bytes())
    digest.update(str(rich_dir).encode())
    key = digest.hexdigest()
    # Uncompressed: the emulated CPU would spend about a second of every boot inflating a gzip.
    image = WORK / "initramfs.cpio"
    stamp = WORK / "initramfs.stamp"
    if _stamp_ok(stamp, key) and image.exists():
        return image

    stage = WORK / "initramfs-stage"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(base, stage, symlinks=True)
    for rel in ("proc", "sys", "dev", "tmp", "run", "root", "usr/sbin", "sbin", "bin", "usr/bin"):
        (stage / rel).mkdir(parents=True, exist_ok=True)
    # /bin/sh and python3 before the guest's `busybox --install -s` runs.
    if not (stage / "bin/sh").exists():
        os.symlink("busybox", stage / "bin/sh")
    os.symlink("python3.11", stage / "usr/bin/python3")
    # pmutop: the package source plus the cross-built extensions.
    opt = stage / "opt/pmutop"
    for src in _pmutop_files():
        dst = opt / src.relative_to(REPO)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    styles = REPO / "styles"
    if styles.is_dir():
        shutil.copytree(styles, opt / "pmutop/styles", dirs_exist_ok=True)
    for extension, package_dir in extensions:
        shutil.copy2(extension, opt / package_dir / extension.name)
    if rich_dir is not None:
        shutil.copytree(rich_dir, opt / "rich", ignore=shutil.ignore_patterns("__pycache__"))
    for src in guest_files:
        if src.suffix == ".c":
            run(["aarch64-linux-gnu-gcc", "-static", "-O2", "-o", opt / src.stem, src])
            continue
        dst = stage / "init" if src.name == "init" else opt / src.name
        shutil.copy2(src, dst)
        os.chmod(dst, 0o755)
    # Compile bytecode on the host (same 3.11 magic) so the slow emulated CPU does not.
    run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "unchecked-hash",
            stage / "usr/lib/python3.11",
            opt,
        ],
        check=False,
    )
    listing = run(["sh", "-c", "find . -mindepth 1 | LC_ALL=C sort"], cwd=stage).stdout
    cpio = run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=stage, input_bytes=listing).stdout
    tmp = image.with_suffix(".tmp")
    tmp.write_bytes(cpio)
    tmp.replace(image)
    stamp.write_text(key)
    shutil.rmtree(stage, ignore_errors=True)
    return image


# ---------------------------------------------------------------- device tree


def _replace_pmu_node(dts: str) -> str:
    cpu_phandles = {}
    for m in re.finditer(r"cpu@(\d+) \{(.*?)\};", dts, re.S):
        ph = re.search(r"phandle = <(0x[0-9a-f]+)>;", m.group(2))
        if not ph:
            raise BuildError(f"cpu@{m.group(1)} has no phandle in the dumped device tree")
        cpu_phandles[int(m.group(1))] = ph.group(1)
    if sorted(cpu_phandles) != [0, 1]:
        raise BuildError(f"expected cpu@0 and cpu@1 in the dumped device tree, found {sorted(cpu_phandles)}")
    pmu = re.search(r"\n(\s*)pmu \{[^{}]*?compatible = \"arm,armv8-pmuv3\";[^{}]*?\};\n", dts)
    if not pmu:
        raise BuildError("no `pmu` node with arm,armv8-pmuv3 in the dumped device tree")
    ind = pmu.group(1)
    nodes = ""
    for idx, (core, spi) in enumerate((("a53", "0x60"), ("a72", "0x61"))):
        nodes += (
            f"\n{ind}pmu-{core} {{\n"
            f'{ind}\tcompatible = "arm,cortex-{core}-pmu";\n'
            f"{ind}\tinterrupts = <0x00 {spi} 0x04>;\n"
            f"{ind}\tinterrupt-affinity = <{cpu_phandles[idx]}>;\n"
            f"{ind}}};\n"
        )
    dts = dts[: pmu.start()] + nodes + dts[pmu.end() :]
    for idx, core in enumerate(("a53", "a72")):
        dts, n = re.subn(
            rf"(cpu@{idx} \{{[^{{}}]*?compatible = )\"arm,cortex-a57\";",
            rf'\1"arm,cortex-{core}";',
            dts,
            flags=re.S,
        )
        if n != 1:
            raise BuildError(f"could not set cpu@{idx}'s compatible")
    return dts


def build_dtb() -> Path:
    qemu_version = run([QEMU, "--version"]).stdout.decode().splitlines()[0]
    key = qemu_version + " " + " ".join(MACHINE_ARGS) + " " + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    out = WORK / "dtb"
    dtb = out / "virt-two-pmu.dtb"
    stamp = out / "stamp"
    if _stamp_ok(stamp, key) and dtb.exists():
        return dtb
    out.mkdir(parents=True, exist_ok=True)
    stock = out / "virt.dtb"
    run([QEMU, *MACHINE_ARGS[:1], f"virt,dumpdtb={stock}", *MACHINE_ARGS[2:], "-nographic", "-nic", "none"])
    dts = run(["dtc", "-q", "-I", "dtb", "-O", "dts", stock]).stdout.decode()
    (out / "virt.dts").write_text(dts)
    edited = _replace_pmu_node(dts)
    (out / "virt-two-pmu.dts").write_text(edited)
    run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb, out / "virt-two-pmu.dts"])
    stamp.write_text(key)
    return dtb


# ---------------------------------------------------------------- all of it


def build_all() -> Artifacts:
    check_host()
    WORK.mkdir(parents=True, exist_ok=True)
    t = Timings()
    t.run("host-tools", ensure_host_tools)
    kernel_debs, userland = t.run("fetch-debs", fetch_debs)
    kernels, versions = t.run("kernels", extract_kernels, kernel_debs)
    base, sysroot = t.run("userland", unpack_userland, userland)
    extensions = t.run("cross-cffi", cross_build_extensions, sysroot)
    initramfs = t.run("initramfs", build_initramfs, base, extensions)
    dtb = t.run("dtb", build_dtb)
    return Artifacts(kernels, versions, initramfs, dtb, t)


# ---------------------------------------------------------------- booting


@dataclass
class BootResult:
    name: str
    release: str
    layout: str
    console: str
    returncode: int | None
    elapsed_s: float
    stopped: str | None  # why the host killed the guest (hung or looping); None when it powered off
    sections: dict[str, tuple[str, int | None]]  # name -> (body, rc); rc None when END is missing
    marks: list[tuple[float, str]]  # host seconds since QEMU started -> each `===...===` marker line

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.console.splitlines()[-lines:])

    def phase_report(self) -> str:
        """Host seconds spent in each guest phase: the kernel's boot up to /init, then each section, so a
        slow run shows where it was slow (and a timed-out one, how far it got)."""
        parts: list[str] = []
        begun: dict[str, float] = {}
        for at, mark in self.marks:
            words = mark.strip("=").split()
            if words[0] == "PMUTOP-GUEST-UP":
                parts.append(f"kernel-boot {at:.1f}")
            elif words[0] == "PMUTOP-BEGIN" and len(words) > 1:
                begun[words[1]] = at
            elif words[0] == "PMUTOP-END" and len(words) > 1 and words[1] in begun:
                parts.append(f"{words[1]} {at - begun.pop(words[1]):.1f}")
        parts += [f"{section} unfinished after {self.elapsed_s - at:.1f}" for section, at in begun.items()]
        state = f"stopped, {self.stopped}" if self.stopped else f"rc={self.returncode}"
        return f"{self.name}: {self.elapsed_s:.1f} s host, {state}; phases (host s): {', '.join(parts) or 'none'}"


SECTION_RE = re.compile(r"^===PMUTOP-BEGIN (\S+)===$(.*?)^===PMUTOP-END \1 (-?\d+)===$", re.S | re.M)
BEGIN_RE = re.compile(r"^===PMUTOP-BEGIN (\S+)===$", re.M)


def parse_sections(console: str) -> dict[str, tuple[str, int | None]]:
    sections: dict[str, tuple[str, int | None]] = {}
    for m in SECTION_RE.finditer(console):
        sections[m.group(1)] = (m.group(2).strip("\n"), int(m.group(3)))
    for m in BEGIN_RE.finditer(console):
        if m.group(1) not in sections:
            sections[m.group(1)] = (console[m.end() :].strip("\n"), None)
    return sections


# Every boot's phase report in this process, for the test session's closing summary (conftest.py).
PHASE_REPORTS: list[str] = []


def _copy_console(stream, log_file, start: float, marks: list[tuple[float, str]], heard: list[float]) -> None:
    for line in stream:
        heard[0] = time.monotonic()
        log_file.write(line)
        if line.startswith(b"==="):
            marks.append((time.monotonic() - start, line.decode(errors="replace").strip()))
    log_file.flush()


def run_guest(name: str, cmd: list, log_path: Path, stall_s: float, ceiling_s: float) -> BootResult:
    """Run a guest to its end, its console copied to log_path; kill it when it has printed nothing for
    stall_s (hung) or is still running at ceiling_s (looping)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    stopped = None
    marks: list[tuple[float, str]] = []
    heard = [start]  # when the console last printed anything
    with open(log_path, "wb") as console:
        proc = subprocess.Popen(
            [str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        copier = threading.Thread(target=_copy_console, args=(proc.stdout, console, start, marks, heard), daemon=True)
        copier.start()
        while stopped is None:
            try:
                rc = proc.wait(timeout=min(1.0, stall_s / 4))
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if now - heard[0] > stall_s:
                    stopped = f"console silent for {stall_s:g} s"
                elif now - start > ceiling_s:
                    stopped = f"still running after {ceiling_s:g} s"
        if stopped:
            proc.kill()
            proc.wait()
            rc = None
        copier.join()
    elapsed = time.monotonic() - start
    text = log_path.read_bytes().decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    release, _, layout = name.partition("-")
    result = BootResult(name, release, layout, text, rc, elapsed, stopped, parse_sections(text), marks)
    log(result.phase_report())
    return result


def boot(artifacts: Artifacts, release: str, layout: str) -> BootResult:
    name = f"{release}-{layout}"
    cmd = [QEMU, *QEMU_ARGS, "-kernel", artifacts.kernels[release], "-initrd", artifacts.initramfs]
    cmd += ["-append", f"{KERNEL_CMDLINE} pmutop.layout={layout} pmutop.release={release}"]
    if layout == "two-pmu":
        cmd += ["-dtb", artifacts.dtb_two_pmu]
    result = run_guest(name, cmd, WORK / "logs" / f"{name}.log", BOOT_STALL_S, BOOT_CEILING_S)
    PHASE_REPORTS.append(result.phase_report())
    return result


CONFIGURATIONS = tuple((release, layout) for release in KERNEL_RELEASES for layout in ("stock", "two-pmu"))


def boot_all(artifacts: Artifacts, parallel: int = 2) -> dict[tuple[str, str], BootResult]:
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {cfg: pool.submit(boot, artifacts, *cfg) for cfg in CONFIGURATIONS}
        results = {cfg: fut.result() for cfg, fut in futures.items()}
    elapsed = time.monotonic() - start
    artifacts.timings.phases.append(("boots", elapsed))
    log(f"phase boots: {elapsed:.1f} s")
    return results


_background: concurrent.futures.Future | None = None


def _build_and_boot() -> tuple[Artifacts, dict[tuple[str, str], BootResult]]:
    artifacts = build_all()
    return artifacts, boot_all(artifacts)


def start_in_background() -> None:
    """Build and boot on a thread of its own (once), so that it overlaps whatever runs meanwhile."""
    global _background
    if _background is None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="arm64-guests")
        _background = pool.submit(_build_and_boot)
        pool.shutdown(wait=False)


def background_results() -> tuple[Artifacts, dict[tuple[str, str], BootResult]]:
    """What start_in_background() built and booted (starting it if nobody did); raises what it raised."""
    start_in_background()
    assert _background is not None
    return _background.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boot", action="store_true", help="also boot the four guests and print their sections")
    parser.add_argument("--only", help="boot only RELEASE-LAYOUT, e.g. trixie-two-pmu")
    args = parser.parse_args(argv)
    try:
        artifacts = build_all()
    except (ArchiveUnreachable, UnsupportedHost) as exc:
        log(f"SKIP: {exc}")
        return 77
    log(f"kernels: {artifacts.kernel_versions}")
    log(f"initramfs: {artifacts.initramfs} ({artifacts.initramfs.stat().st_size / 1e6:.1f} MB)")
    if args.boot or args.only:
        if args.only:
            release, layout = args.only.split("-", 1)
            results = {(release, layout): boot(artifacts, release, layout)}
        else:
            results = boot_all(artifacts)
        for result in results.values():
            print(f"##### {result.name}: rc={result.returncode} {result.elapsed_s:.1f} s")
            for sec, (body, rc) in result.sections.items():
                print(f"--- {sec} rc={rc}\n{body}")
            if not result.sections:
                print(result.tail())
    print(json.dumps({name: round(sec, 1) for name, sec in artifacts.timings.phases}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
