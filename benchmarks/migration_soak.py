"""Soak: `pmutop stat -- CHURNER` against `perf record -e sched:sched_migrate_task -a` on the same run.

The churner keeps making short-lived threads for `--seconds`: each moves itself between CPU 0 and CPU 1
`--moves` times and exits, four at a time, with `--pause-ms` between batches; it writes every worker's
tid to a file. perf is enabled (control fifo, acknowledged) before pmutop starts. The script reports
how many of the workers' moves perf saw, how many pmutop logged, how many pmutop says it lost (ring
records, threads seen late), and pmutop's own CPU time and ring memory. Run by hand, as root:

    .venv/bin/python benchmarks/migration_soak.py --seconds 300
"""

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.migration_oracle import WORKLOAD_COMM, PerfMigrations  # noqa: E402 (the tests' oracle, reused)

CHURNER = (
    f"open('/proc/self/comm', 'w').write({WORKLOAD_COMM!r})\n"
    + """
import os, sys, threading, time
tids_path, seconds, moves, pause = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000
tids, lock = [], threading.Lock()
def mover():
    with lock:
        tids.append(threading.get_native_id())
    for i in range(moves):
        try:
            os.sched_setaffinity(0, {i % 2})
        except OSError:  # CPU 1 offline (another user's hotplug): that move does not happen
            pass
end = time.monotonic() + seconds
while time.monotonic() < end:
    batch = [threading.Thread(target=mover) for _ in range(4)]
    for t in batch: t.start()
    for t in batch: t.join()
    time.sleep(pause)
open(tids_path, "w").write(" ".join(map(str, tids)))
"""
)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far, its exited children included (from /proc/PID/stat, in ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[index]) for index in (11, 12)) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--interval", type=int, default=1000, help="pmutop's -I, ms")
    parser.add_argument("--moves", type=int, default=6)
    parser.add_argument("--pause-ms", type=float, default=2.0)
    parser.add_argument("--perf-pages", type=int, default=4096, help="perf record -m (its ring per CPU, pages)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pmutop-soak-") as scratch:
        directory = Path(scratch)
        tids_file = directory / "tids"
        command = [sys.executable, "-m", "pmutop", "stat", "--json", "-I", str(options.interval), "--"]
        command += [sys.executable, "-c", CHURNER, str(tids_file), str(options.seconds), str(options.moves)]
        command += [str(options.pause_ms)]
        with PerfMigrations(directory, mmap_pages=options.perf_pages) as oracle:
            started = time.monotonic()
            run = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
            logged: collections.Counter = collections.Counter()
            last = None
            cpu = 0.0
            for line in run.stdout:
                record = json.loads(line)
                if not record.get("summary"):
                    for move in record.get("migrations", ()):
                        if move["comm"] == WORKLOAD_COMM:
                            logged[(move["tid"], move["from_cpu"], move["to_cpu"])] += 1
                    with contextlib.suppress(OSError):
                        cpu = cpu_seconds(run.pid)
                last = record
            run.wait()
            wall = time.monotonic() - started
        tids = {int(part) for part in tids_file.read_text().split()}
        seen = oracle.moves(tids)
    logged = collections.Counter({key: count for key, count in logged.items() if key[0] in tids})
    perf_total, pmutop_total = sum(seen.values()), sum(logged.values())
    missing = sum((seen - logged).values())
    extra = sum((logged - seen).values())
    pages = os.sysconf("SC_PAGESIZE")
    from pmutop.live.tasks import ring_pages

    ring_kib = ring_pages(os.cpu_count() or 1, options.interval / 1000) * pages * (os.cpu_count() or 1) // 1024
    print(f"run: {wall:.0f} s, -I {options.interval} ms, {len(tids)} worker threads, {options.moves} moves each")
    share = 100 * pmutop_total / perf_total if perf_total else 0.0
    print(f"perf saw {perf_total} moves of the workers; pmutop logged {pmutop_total} ({share:.3f}%)")
    print(f"missing from pmutop: {missing}; in pmutop only: {extra}")
    print(f"perf's own losses: {oracle.losses or 'none reported'}")
    print(
        f"pmutop reported lost: {last['lost_migrations']} ring records, {last['threads_seen_late']} threads seen late"
    )
    reopened = [notice for notice in last["notices"] if "came back" in notice]
    print(f"pmutop reopened a ring {len(reopened)} times" + (f": {reopened[0]}" if reopened else ""))
    print(f"pmutop CPU (its own process, children excluded): {cpu:.2f} s = {100 * cpu / wall:.2f}% of one CPU")
    print(f"migration rings: {ring_kib} KiB over {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
