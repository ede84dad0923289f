"""Start-up time of `pmutop topology`, and steady-state CPU per interval of `pmutop stat -I 1000`
against `perf stat -I 1000 -a -A` on the same events. Run by hand (root), not in tests:

    .venv/bin/python benchmarks/startup_and_stat.py [--runs 20] [--seconds 20]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

PMUTOP = [sys.executable, "-m", "pmutop"]
# pmutop stat opens these per CPU (plus cycles/instructions where there is a PMU): count the same.
PERF_EVENTS = "context-switches,cpu-migrations,msr/tsc/,cycles,instructions"


def topology_startup(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*PMUTOP, "topology"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def process_cpu(pid: int) -> float:
    """Seconds on CPU of all threads of a process, in nanosecond resolution (/proc/PID/task/*/schedstat);
    utime/stime tick at 10 ms, too coarse for a process that wakes once a second."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
            total += int(handle.read().split()[0])
    return total / 1e9


def steady_cpu_seconds(command: list[str], seconds: float, warmup: float = 3.0) -> float:
    """CPU used by `command` over `seconds` of steady state, after a warm-up that absorbs start-up."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        before = process_cpu(child.pid)
        time.sleep(seconds)
        return process_cpu(child.pid) - before
    finally:
        child.terminate()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    startup = topology_startup(args.runs)
    print(f"pmutop topology: median {1000 * statistics.median(startup):.1f} ms, max {1000 * max(startup):.1f} ms")
    intervals = args.seconds
    ours = steady_cpu_seconds([*PMUTOP, "stat", "-I", "1000"], args.seconds)
    print(f"pmutop stat -I 1000: {1000 * ours / intervals:.2f} ms CPU per interval")
    if shutil.which("perf"):
        theirs = steady_cpu_seconds(["perf", "stat", "-I", "1000", "-a", "-A", "-e", PERF_EVENTS], args.seconds)
        print(f"perf stat -I 1000 -a -A: {1000 * theirs / intervals:.2f} ms CPU per interval")
        print(f"ratio pmutop/perf: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
