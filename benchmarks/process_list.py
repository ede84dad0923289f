"""Cost of the process picker's list (ProcessLister: /proc read and CPU% worked out), read on the
sampler thread between ticks while the picker is open, a step of PROCESSES_PER_STEP processes at a time:
a tick due meanwhile waits for one step at most, so the longest step is how late a tick can be. Measured
with this machine's processes, then with N more (sleepers started here and ended after), and for
comparison with the whole sweep in one step (what reading it at once would hold a tick back).

    .venv/bin/python benchmarks/process_list.py [--extra 0,1000,4000] [--sweeps N]
"""

import argparse
import os
import platform
import resource
import signal
import statistics
import subprocess
import time

from pmutop.live.process_list import PROCESSES_PER_STEP, ProcessLister


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def measure(sweeps: int, per_step: int) -> tuple[int, float, float, float]:
    """(processes, median CPU ms of a sweep, median and worst wall ms of one step)."""
    lister = ProcessLister(per_step)
    while lister.step() is None:
        pass
    sweep_cpus, steps, count = [], [], 0
    for _ in range(sweeps):
        started = cpu_s()
        while True:
            wall = time.perf_counter()
            listing = lister.step()
            steps.append((time.perf_counter() - wall) * 1e3)
            if listing is not None:
                break
        sweep_cpus.append((cpu_s() - started) * 1e3)
        count = len(listing.processes)
    return count, statistics.median(sweep_cpus), statistics.median(steps), max(steps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra", default="0,1000,4000", help="extra sleeping processes, comma-separated")
    parser.add_argument("--sweeps", type=int, default=10)
    args = parser.parse_args()
    print(f"{platform.node()} {platform.release()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    print(f"{'processes':>9} {'per step':>8} {'sweep CPU ms':>12} {'step wall ms (median)':>21} {'(max)':>7}")
    for extra in (int(n) for n in args.extra.split(",")):
        # One shell holding `extra` sleeping children: a process group ended at once afterwards.
        holder = subprocess.Popen(
            ["sh", "-c", f"i=0; while [ $i -lt {extra} ]; do sleep 600 & i=$((i+1)); done; echo ready; wait"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            for per_step in (PROCESSES_PER_STEP, 1_000_000):
                count, sweep, median, worst = measure(args.sweeps, per_step)
                label = str(per_step) if per_step == PROCESSES_PER_STEP else "all"
                print(f"{count:>9} {label:>8} {sweep:>12.1f} {median:>21.1f} {worst:>7.1f}")
        finally:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()


if __name__ == "__main__":
    main()
