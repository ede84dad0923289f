"""Small procfs readers: per-CPU times, capabilities, the paranoid level, and processes/threads."""

import errno
import os

from pmutop.kernel._perf import ffi, lib

CAP_PERFMON = 38
CAP_SYS_ADMIN = 21


class CpuTimesReader:
    """Per-CPU (busy, total) ticks from /proc/stat, read every tick through one fd kept open.

    pread at offset 0 makes the kernel generate the file afresh, as a new open would, without the
    open/close and Python file-object overhead on a path that runs once per tick; the shim parses the
    cpuN lines in the same foreign call.
    """

    def __init__(self, path: str = "/proc/stat", buffer_bytes: int = 1 << 16, max_cpus: int | None = None) -> None:
        """The buffer and the CPU table grow when a read finds them too small."""
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._buffer = ffi.new("char[]", buffer_bytes)
        self._cpus = ffi.new("int64_t[]", 3 * (max_cpus or os.cpu_count() or 1))

    def read(self) -> dict[int, tuple[int, int]]:
        """Cumulative (busy, total) ticks per online CPU: offline CPUs have no line in /proc/stat."""
        while True:
            count = lib.pmt_cpu_times(self._fd, self._buffer, len(self._buffer), self._cpus, len(self._cpus) // 3)
            if count == -errno.ENOSPC:
                self._buffer = ffi.new("char[]", 2 * len(self._buffer))
            elif count == -errno.E2BIG:
                self._cpus = ffi.new("int64_t[]", 2 * len(self._cpus))
            elif count < 0:
                raise OSError(-count, os.strerror(-count), "/proc/stat")
            else:
                break
        values = ffi.unpack(self._cpus, 3 * count)
        return {values[i]: (values[i + 1], values[i + 2]) for i in range(0, 3 * count, 3)}

    def close(self) -> None:
        os.close(self._fd)


def read_cpu_times() -> dict[int, tuple[int, int]]:
    """One-off read of per-CPU (busy, total) ticks."""
    reader = CpuTimesReader()
    try:
        return reader.read()
    finally:
        reader.close()


def effective_capabilities(pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def has_capability(bit: int) -> bool:
    return bool(effective_capabilities() >> bit & 1)


def perf_event_paranoid() -> int | None:
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def read_comm(pid: int, tid: int | None = None) -> str | None:
    path = f"/proc/{pid}/comm" if tid is None else f"/proc/{pid}/task/{tid}/comm"
    try:
        with open(path, "rb") as handle:
            return handle.read().rstrip(b"\n").decode("utf-8", errors="backslashreplace")
    except OSError:
        return None


def list_threads(pid: int) -> list[int] | None:
    """Thread ids of a process, or None when it has gone."""
    try:
        return sorted(int(name) for name in os.listdir(f"/proc/{pid}/task"))
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    except PermissionError:
        return [pid]


def thread_cpu(pid: int, tid: int) -> int | None:
    """The CPU a thread last ran on: field 39 of /proc/PID/task/TID/stat."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    after_comm = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(after_comm[36])
    except (IndexError, ValueError):
        return None


def list_processes() -> list[tuple[int, str]]:
    """(pid, comm) of every visible process."""
    result = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            comm = read_comm(int(name))
            if comm is not None:
                result.append((int(name), comm))
    return sorted(result)


# /proc/PID/stat's flags field: the task is a kernel thread.
PF_KTHREAD = 0x00200000
# A command line longer than this is cut: the picker shows one line of it.
CMDLINE_BYTES = 4096


# (pid, comm, command line, uid, utime+stime ticks, kernel thread): pmutop.model.processes.ProcessSample's fields.
RawProcess = tuple[int, str, str, int, int, bool]


def sample_process(pid: int) -> RawProcess | None:
    """Name, command line, owner, CPU ticks and kernel-thread flag of one process (None: it has gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read(CMDLINE_BYTES)
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read(CMDLINE_BYTES)
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: it ends at the last ')'.
    comm = raw[raw.find(b"(") + 1 : raw.rfind(b")")].decode("utf-8", errors="backslashreplace")
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        flags, utime, stime = int(fields[6]), int(fields[11]), int(fields[12])
    except (IndexError, ValueError):
        return None
    command = " ".join(part.decode("utf-8", errors="backslashreplace") for part in cmdline.split(b"\0") if part)
    return (pid, comm, command, uid, utime + stime, bool(flags & PF_KTHREAD))


def process_ids() -> list[int]:
    """Every visible process's id."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def clock_ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


def list_children(pid: int) -> list[int]:
    """Child processes of every thread of `pid` (/proc/PID/task/TID/children, CONFIG_PROC_CHILDREN)."""
    children: list[int] = []
    for tid in list_threads(pid) or ():
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                children.extend(int(part) for part in handle.read().split())
        except OSError:
            continue
    return children


def thread_group(tid: int) -> int | None:
    """The process (thread group) a thread id belongs to, from /proc/TID/status; None if it is gone."""
    try:
        with open(f"/proc/{tid}/status", "rb") as handle:
            for line in handle.read(8192).splitlines():
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def numa_node_cpulists() -> dict[int, str]:
    """NUMA node → the text of /sys/devices/system/node/nodeN/cpulist; empty without NUMA sysfs."""
    base = "/sys/devices/system/node"
    try:
        names = [name for name in os.listdir(base) if name.startswith("node") and name[4:].isdigit()]
    except OSError:
        return {}
    lists = {}
    for name in names:
        try:
            with open(f"{base}/{name}/cpulist") as handle:
                lists[int(name[4:])] = handle.read(65536).strip()
        except OSError:
            continue
    return lists


def process_times(pid: int) -> tuple[int, int] | None:
    """(utime, stime) of a process in clock ticks, from /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read(4096)
    except OSError:
        return None
    # comm may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return int(fields[11]), int(fields[12])
    except (IndexError, ValueError):
        return None
