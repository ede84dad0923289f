"""Start-up time of `pmutop topology`, and steady-state CPU per interval of `pmutop stat -I 1000`
against `perf stat -I 1000 -a -A` on the same events. Run by hand (root), not in tests:

    .venv/bin/python benchmarks/startup_and_stat.py [--runs 20] [--seconds 20] [--rounds 3] [--before TREE]

With --before, a second pmutop from another source tree (e.g. `git archive main | tar -x -C TREE`, with the
built extension copied into TREE/pmutop/kernel) is measured in the same rounds: pmutop, the other pmutop and
perf take turns, so all three see the same machine.
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


def steady_cpu_seconds(command: list[str], seconds: float, warmup: float = 3.0, tree: str | None = None) -> float:
    """CPU used by `command` over `seconds` of steady state, after a warm-up that absorbs start-up. With
    `tree`, `python -m pmutop` runs that source tree's pmutop (its directory comes first on sys.path)."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree)
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
    parser.add_argument("--rounds", type=int, default=1, help="stat measurements of each tool, taking turns")
    parser.add_argument("--before", help="source tree of another pmutop to measure in the same rounds")
    args = parser.parse_args()
    startup = topology_startup(args.runs)
    print(f"pmutop topology: median {1000 * statistics.median(startup):.1f} ms, max {1000 * max(startup):.1f} ms")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tools = {"pmutop stat -I 1000": ([*PMUTOP, "stat", "-I", "1000"], here)}
    if args.before:
        tools["pmutop stat -I 1000 (--before)"] = ([*PMUTOP, "stat", "-I", "1000"], os.path.abspath(args.before))
    if shutil.which("perf"):
        tools["perf stat -I 1000 -a -A"] = (["perf", "stat", "-I", "1000", "-a", "-A", "-e", PERF_EVENTS], None)
    per_interval: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(args.rounds):
        for name, (command, tree) in tools.items():
            per_interval[name].append(1000 * steady_cpu_seconds(command, args.seconds, tree=tree) / args.seconds)
    for name, values in per_interval.items():
        rounds = ", ".join(f"{value:.2f}" for value in values)
        print(f"{name}: {statistics.median(values):.2f} ms CPU per interval (rounds: {rounds})")
    perf = per_interval.get("perf stat -I 1000 -a -A")
    if perf:
        for name, values in per_interval.items():
            if not name.startswith("perf"):
                print(f"ratio {name} / perf: {statistics.median(values) / statistics.median(perf):.2f}")


if __name__ == "__main__":
    main()
