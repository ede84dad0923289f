"""`perf record -e sched:sched_migrate_task -a` as the oracle for pmutop's migration log.

PerfMigrations starts perf disabled, enables it through its control fifo and waits for the
acknowledgement, so the window is open before the workload starts: no sleeps. Workloads write the
tids of the threads whose moves are compared, all made after both tracers were on.
"""

import collections
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

_TRACE = re.compile(r"\bcomm=(.*) pid=(\d+) .*\borig_cpu=(\d+) dest_cpu=(\d+)")
# Every workload renames itself first, so its threads carry this name: with tids reused (pid_max
# is 32768 here), a tid alone could also match another process's moves.
WORKLOAD_COMM = "pmutop-moves"
_RENAME = f"open('/proc/self/comm', 'w').write({WORKLOAD_COMM!r})\n"

# Threads that each move between CPU 0 and CPU 1 and exit within a few milliseconds (well inside one
# tick), several at a time, while the main thread makes more; every tid is written to argv[1]. With
# argv[2], a fifo, the 40 batches run in 5 phases and each phase first waits for a line there, so a
# caller that writes one line per tick sees the work spread over at least 5 ticks, however fast.
THREAD_CHURN = (
    _RENAME
    + """
import os, sys, threading
tids = []
lock = threading.Lock()
gate = open(sys.argv[2]) if len(sys.argv) > 2 else None
def mover():
    with lock:
        tids.append(threading.get_native_id())
    for i in range(6):
        os.sched_setaffinity(0, {i % 2})
for n in range(40):
    if gate and n % 8 == 0:
        gate.readline()
    batch = [threading.Thread(target=mover) for _ in range(4)]
    for t in batch: t.start()
    for t in batch: t.join()
open(sys.argv[1], "w").write(" ".join(map(str, tids)))
"""
)

# A thread makes a burst of argv[2] moves and the process exits the moment it is done; with argv[3],
# a fifo, it first waits for a line there.
BURST_THEN_EXIT = (
    _RENAME
    + """
import os, sys, threading
if len(sys.argv) > 3:
    open(sys.argv[3]).readline()
def burst():
    open(sys.argv[1], "w").write(str(threading.get_native_id()))
    for i in range(int(sys.argv[2])):
        os.sched_setaffinity(0, {i % 2})
    os._exit(0)
threading.Thread(target=burst).start()
threading.Event().wait()
"""
)


class _EnabledPerf:
    """A perf started with its events disabled (-D -1), enabled through its control fifo, acknowledged."""

    def _start(self, command: list[str], directory: Path, name: str, **popen) -> None:
        control, ack = directory / f"{name}-ctl", directory / f"{name}-ack"
        os.mkfifo(control)
        os.mkfifo(ack)
        self.process = subprocess.Popen([*command, "-D", "-1", "--control", f"fifo:{control},{ack}"], **popen)
        # O_RDWR: opening a fifo this way never blocks, whichever side comes first.
        self._control = os.open(control, os.O_RDWR)
        self._ack = os.open(ack, os.O_RDWR)
        os.write(self._control, b"enable\n")
        assert os.read(self._ack, 16).startswith(b"ack"), "perf did not acknowledge enable"

    def _finish(self) -> None:
        self.process.wait(timeout=120)
        os.close(self._control)
        os.close(self._ack)


class PerfMigrations(_EnabledPerf):
    """perf record of every sched_migrate_task on the machine, enabled before __enter__ returns."""

    def __init__(self, directory: Path, mmap_pages: int | None = None) -> None:
        self.directory = directory
        self.data = directory / "perf.data"
        # perf record's own ring size (-m), for long or busy runs where its default would overflow.
        self.mmap_pages = mmap_pages
        # What perf script said about events perf itself lost (empty when none).
        self.losses = ""

    def __enter__(self) -> "PerfMigrations":
        command = ["perf", "record", "-q", "-e", "sched:sched_migrate_task", "-a", "-o", str(self.data)]
        if self.mmap_pages:
            command += ["-m", str(self.mmap_pages)]
        self._start(command, self.directory, "record", stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.send_signal(signal.SIGINT)
        self._finish()

    def moves(self, tids: set[int]) -> collections.Counter:
        """(tid, from_cpu, to_cpu) → how many times perf saw it, for these tids."""
        script = subprocess.run(
            ["perf", "script", "-i", str(self.data), "-F", "trace"], capture_output=True, text=True, check=True
        )
        self.losses = " ".join(line.strip() for line in script.stderr.splitlines() if "lost" in line.lower())
        found: collections.Counter = collections.Counter()
        for line in script.stdout.splitlines():
            match = _TRACE.search(line)
            if match and match[1] == WORKLOAD_COMM and int(match[2]) in tids:
                found[(int(match[2]), int(match[3]), int(match[4]))] += 1
        return found


def pmutop_moves(records: list[dict], tids: set[int]) -> collections.Counter:
    """The same multiset from `pmutop stat --json` interval lines."""
    found: collections.Counter = collections.Counter()
    for record in records:
        if record.get("summary"):
            continue
        for move in record.get("migrations", ()):
            if move["tid"] in tids and move["comm"] == WORKLOAD_COMM:
                found[(move["tid"], move["from_cpu"], move["to_cpu"])] += 1
    return found


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def read_tids(path: Path) -> set[int]:
    return {int(part) for part in path.read_text().split()}


def python_command(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


# Waits for a line on stdin, then runs 60 threads, two at a time, each burning 20 ms of CPU: every
# thread lives well under one tick.
SPIN_CHURN = (
    _RENAME
    + """
import sys, threading, time
sys.stdin.readline()
def spin():
    end = time.thread_time() + 0.02
    while time.thread_time() < end:
        pass
for _ in range(30):
    pair = [threading.Thread(target=spin) for _ in range(2)]
    for t in pair: t.start()
    for t in pair: t.join()
"""
)


class PerfStatTaskClock(_EnabledPerf):
    """`perf stat -e task-clock -p PID`, enabled before __enter__ returns; `.msec` once the process ended."""

    def __init__(self, directory: Path, pid: int) -> None:
        self.directory = directory
        self.pid = pid
        self.output = directory / "perf-stat.csv"

    def __enter__(self) -> "PerfStatTaskClock":
        command = ["perf", "stat", "-e", "task-clock", "-x,", "-o", str(self.output), "-p", str(self.pid)]
        self._start(command, self.directory, "stat")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finish()  # perf stat -p ends by itself when the process has exited

    @property
    def msec(self) -> float:
        for line in self.output.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] == "task-clock":
                return float(fields[0])
        raise AssertionError(f"no task-clock line in {self.output.read_text()!r}")
