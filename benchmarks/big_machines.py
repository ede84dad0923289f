"""pmutop at 2, 224 and 448 CPUs, side by side with its anchors, in one run. Run by hand (root), not in tests:

    .venv/bin/python benchmarks/big_machines.py [--seconds 20] [--warmup 12] [--size 200x60] [--skip-tui]
        [--skip-model] [--views first,m] [--before TREE]

Recordings are synthetic (tests/synthetic_recordings.py: the real Sampler over a scripted kernel) over
fixture trees from tests/sysfs_trees.py: this VM (2 CPUs), a hybrid-style machine with two core PMUs
(224 CPUs: cpu_core and cpu_atom) and a 2-socket server with 80 uncore instances (448 CPUs).
For each it measures:

- model update: RateModel.update per tick, in this process (median and 90th percentile);
- `pmutop stat --input`: CPU per tick of the whole command (a short recording's CPU subtracted: start-up);
- with --before TREE, the model update and `pmutop stat --input` of another pmutop source tree (e.g.
  `git archive main | tar -x -C TREE`, the built extension copied into TREE/pmutop/kernel) on the same
  recordings, in the same run;
- the TUI replaying it at 1 s a tick in a detached tmux of --size: CPU per second of the process and of its
  UI (main) thread, on Textual's stock paint path and on pmutop's fast one, in the view it starts in and
  after `m` (--views), and `htop -d 10` in the same tmux size in the same run; with --before TREE, that
  tree's TUI too, each beside this one's.
"""

import argparse
import inspect
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from startup_and_stat import process_cpu  # noqa: E402  (sibling scripts, not a package)
from synthetic_recordings import synthetic_recording  # noqa: E402
from tui_cpu import steady_cpu_in_tmux  # noqa: E402

from pmutop.kernel.sysfs import read_sysfs  # noqa: E402
from pmutop.live.topology_loader import topology_of  # noqa: E402
from pmutop.model.rates import RateModel  # noqa: E402
from pmutop.model.samples import CpuTimes  # noqa: E402
from pmutop.recording.format import Recording, RecordingWriter, read_recording  # noqa: E402
from tests import sysfs_trees  # noqa: E402

MACHINES = {
    "2 CPUs (this VM)": sysfs_trees.build_this_vm,
    "224 CPUs (hybrid, 2 core PMUs)": sysfs_trees.build_hybrid_224,
    "448 CPUs (2 sockets, 80 uncore)": sysfs_trees.build_server_448,
}
PMUTOP = [sys.executable, "-m", "pmutop"]


def write_recording(recording: Recording, path: Path, ticks: int | None = None) -> Path:
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks[:ticks]:
            writer.write_tick(tick)
    return path


def _busy_within_total(recording: Recording) -> Recording:
    """tests/scripted_kernel.py starts CPU N's busy ticks at 5000 + 37 N of 20000, past its total from CPU
    406 on, which the recording reader rejects: start them at 5000 + 37 (N mod 128) instead (every
    interval's busy and total ticks stay as they were)."""
    ticks = [
        replace(
            tick,
            cpu_times={
                cpu: CpuTimes(times.busy - 37 * (cpu - cpu % 128), times.total) for cpu, times in tick.cpu_times.items()
            },
        )
        for tick in recording.ticks
    ]
    return replace(recording, ticks=ticks)


def recordings(directory: Path, ticks: int) -> dict[str, tuple[Recording, Path, Path]]:
    """Per machine: the recording, its file, and a 3-tick prefix of it (what start-up costs)."""
    made = {}
    for index, (name, builder) in enumerate(MACHINES.items()):
        root = directory / f"tree{index}"
        builder(root)
        recording = _busy_within_total(
            synthetic_recording(read_sysfs(root), ticks=ticks, host="bench", kernel="6.18.0-bench")
        )
        whole = write_recording(recording, directory / f"machine{index}.jsonl")
        short = write_recording(recording, directory / f"machine{index}-short.jsonl", ticks=3)
        made[name] = (read_recording(whole), whole, short)
    return made


def model_update_ms(recording: Recording) -> tuple[float, float]:
    model = RateModel(topology_of(recording.header.sysfs), recording.header.layouts, recording.header.notices)
    times = []
    for tick in recording.ticks:
        # CPU time of this thread: other load on the machine does not count.
        start = time.thread_time()
        model.update(tick)
        times.append(time.thread_time() - start)
    times = sorted(times[1:])
    return 1000 * statistics.median(times), 1000 * times[int(0.9 * (len(times) - 1))]


def _model_in_tree() -> str:
    """model_update_ms as a program for another tree's pmutop: its own imports, the same function."""
    return (
        "import statistics, sys, time\n"
        "from pmutop.live.topology_loader import topology_of\n"
        "from pmutop.model.rates import RateModel\n"
        "from pmutop.recording.format import Recording, read_recording\n"
        + inspect.getsource(model_update_ms)
        + "print(*model_update_ms(read_recording(sys.argv[1])))\n"
    )


def model_update_ms_in(tree: Path, recording: Path) -> tuple[float, float]:
    """model_update_ms for the pmutop of source tree `tree` (its directory first on sys.path)."""
    result = subprocess.run(
        [sys.executable, "-c", _model_in_tree(), str(recording)], cwd=tree, capture_output=True, text=True, check=True
    )
    median, p90 = result.stdout.split()
    return float(median), float(p90)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stat_input_ms_per_tick(whole: Path, short: Path, ticks: int, runs: int = 3, tree: Path = REPO) -> float:
    """The median over `runs` of (CPU of the whole recording - CPU of its 3-tick prefix) / ticks past 3,
    for the pmutop of source tree `tree`."""
    per_tick = []
    for _ in range(runs):
        used = []
        for path in (whole, short):
            before = children_cpu()
            subprocess.run([*PMUTOP, "stat", "--input", str(path)], check=True, stdout=subprocess.DEVNULL, cwd=tree)
            used.append(children_cpu() - before)
        per_tick.append(1000 * (used[0] - used[1]) / (ticks - 3))
    return statistics.median(per_tick)


def process_and_ui_thread_cpu(pid: int) -> np.ndarray:
    with open(f"/proc/{pid}/task/{pid}/schedstat") as handle:
        main_thread = int(handle.read().split()[0]) / 1e9
    return np.array([process_cpu(pid), main_thread])


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def tui_rss(directory: Path, minutes: float, size: tuple[int, int]) -> None:
    """RSS of the TUI replaying `minutes` of the 448-CPU machine at 1 s a tick (played at ×50), at its end,
    and of a process that only loads the same recording: the difference is what the TUI and its history
    hold (a live session keeps no recording)."""
    root = directory / "rss-tree"
    sysfs_trees.build_server_448(root)
    ticks = int(minutes * 60) + 1
    recording = synthetic_recording(read_sysfs(root), ticks=ticks, host="bench", kernel="6.18.0-bench")
    path = write_recording(recording, directory / "rss.jsonl")
    del recording
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pmutop.recording.format import read_recording as r; x = r({str(path)!r}); input()",
        ],
        stdin=subprocess.PIPE,
        cwd=REPO,
    )
    socket = f"pmutop-rss-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    command = " ".join([*PMUTOP, "replay", "--speed", "50", str(path)])
    subprocess.run([*tmux, "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), f"exec {command}"], check=True)
    try:
        pid = int(
            subprocess.run([*tmux, "display-message", "-p", "#{pane_pid}"], capture_output=True, text=True).stdout
        )
        time.sleep(ticks / 50 + 15)
        tui, loaded = rss_mib(pid), rss_mib(loader.pid)
        print(
            f"RSS after {minutes:g} min of 448-CPU history: TUI replay {tui:.0f} MiB,"
            f" the recording alone {loaded:.0f} MiB"
        )
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        loader.communicate(b"\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    # A 448-CPU replay takes about 6 s of CPU to load on a 2-vCPU VM: a shorter warm-up measures start-up.
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--size", default="200x60")
    parser.add_argument("--skip-tui", action="store_true")
    parser.add_argument("--skip-model", action="store_true", help="only the TUI part")
    parser.add_argument("--views", default="first,m", help="the TUI's views to measure (first: as it starts; m)")
    parser.add_argument("--rss-minutes", type=float, default=0, help="also measure the TUI's RSS after this long")
    parser.add_argument("--modes", default="stock,fast", help="Textual paint paths to measure (stock, fast)")
    parser.add_argument("--before", type=Path, help="source tree of another pmutop to measure beside this one")
    args = parser.parse_args()
    size = tuple(int(part) for part in args.size.split("x"))
    # Long enough for the replays, and for stat's per-tick cost to stand out of its start-up's.
    ticks = max(100, int(args.warmup + args.seconds) + 15)
    with tempfile.TemporaryDirectory(prefix="pmutop-bench-") as directory:
        if args.rss_minutes:
            tui_rss(Path(directory), args.rss_minutes, size)
            return
        made = recordings(Path(directory), ticks)
        if not args.skip_model:
            print(f"model update per tick, and `pmutop stat --input` CPU per tick ({ticks} ticks):")
            for name, (recording, whole, short) in made.items():
                median, p90 = model_update_ms(recording)
                stat = stat_input_ms_per_tick(whole, short, ticks)
                print(f"  {name}: model {median:.2f} ms (p90 {p90:.2f}); stat --input {stat:.2f} ms")
                if args.before:
                    median, p90 = model_update_ms_in(args.before.resolve(), whole)
                    stat = stat_input_ms_per_tick(whole, short, ticks, tree=args.before.resolve())
                    print(f"  {name}, --before: model {median:.2f} ms (p90 {p90:.2f}); stat --input {stat:.2f} ms")
        if args.skip_tui:
            return
        missing = [tool for tool in ("tmux", "htop") if shutil.which(tool) is None]
        if missing:
            sys.exit(f"the TUI part needs {' and '.join(missing)}")
        print(f"CPU per second at {args.size}, {args.seconds:g} s after {args.warmup:g} s (process / UI thread):")
        htop = steady_cpu_in_tmux(["htop", "-d", "10"], size, args.seconds, args.warmup)
        print(f"  htop -d 10: {1000 * htop / args.seconds:.2f} ms")
        views = {"first": ("first view", ()), "m": ("m", ("m",))}
        trees = {"": REPO, ", --before": args.before.resolve()} if args.before else {"": REPO}
        for name, (_, whole, _) in made.items():
            # The view it starts in (the heat map where the CPUs' rows do not fit), then the other (`m`).
            for view, keys in (views[choice] for choice in args.views.split(",")):
                for mode in args.modes.split(","):
                    for which, tree in trees.items():
                        environment = "env PMUTOP_TEXTUAL_STOCK=1 " if mode == "stock" else ""
                        # From the tree's directory, whose pmutop `python -m` imports first.
                        command = ["sh", "-c", f"cd {tree} && exec {environment}{shlex.join(PMUTOP)} replay {whole}"]
                        process, ui = steady_cpu_in_tmux(
                            command, size, args.seconds, args.warmup, process_and_ui_thread_cpu, keys
                        )
                        print(
                            f"  pmutop replay{which}, {name}, {view}, {mode} paint: {1000 * process / args.seconds:.2f}"
                            f" ms / UI {1000 * ui / args.seconds:.2f} ms ({ui / htop:.1f}× htop)"
                        )


if __name__ == "__main__":
    os.environ.pop("PMUTOP_TEXTUAL_STOCK", None)
    main()
