"""CPU used by the pmutop TUI at a 1 s refresh against htop at a 1 s refresh (`htop -d 10`), each drawn
in its own detached tmux at the same size, measured from /proc/PID/task/*/schedstat after a warm-up.
Run by hand (root, so pmutop counts CPU-wide as a user of it would), not in tests:

    .venv/bin/python benchmarks/tui_cpu.py [--seconds 30] [--warmup 3] [--rounds 2] [--size 120x40]
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup_and_stat import process_cpu  # a sibling script, not a package

REPO = Path(__file__).resolve().parent.parent
TOOLS = {
    "pmutop": [sys.executable, "-m", "pmutop", "-I", "1000"],
    "htop": ["htop", "-d", "10"],
}


def steady_cpu_in_tmux(
    command: list[str], size: tuple[int, int], seconds: float, warmup: float, measure=process_cpu, keys=()
):
    """Seconds of CPU the command used over `seconds`, drawn in a detached tmux of `size` (`measure(pid)`:
    CPU seconds so far, a number or an array of them; `keys` are typed into it a second after it starts)."""
    # A fresh server name per run: reusing one races with the previous server still shutting down.
    socket = f"pmutop-bench-{os.getpid()}-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", socket]
    # One argument: tmux runs it with sh -c, and `exec` makes the pane's process the tool itself.
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), f"exec {shlex.join(command)}"],
        check=True,
        cwd=REPO,
    )
    try:
        pid = int(
            subprocess.run(
                [*tmux, "display-message", "-p", "#{pane_pid}"], capture_output=True, text=True, check=True
            ).stdout
        )
        if keys:
            time.sleep(1.0)
            subprocess.run([*tmux, "send-keys", *keys], check=True)
        time.sleep(warmup)
        before = measure(pid)
        time.sleep(seconds)
        return measure(pid) - before
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main() -> None:
    missing = [tool for tool in ("tmux", "htop") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"tui_cpu.py needs {' and '.join(missing)} (Debian/Ubuntu: apt-get install {' '.join(missing)})")
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the tools this many times")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS (default 120x40)")
    args = parser.parse_args()
    size = tuple(int(part) for part in args.size.split("x"))
    used: dict[str, list[float]] = {name: [] for name in TOOLS}
    for _ in range(args.rounds):
        for name, command in TOOLS.items():
            used[name].append(steady_cpu_in_tmux(command, size, args.seconds, args.warmup))
    per_second = {name: 1000 * sum(values) / (args.seconds * len(values)) for name, values in used.items()}
    for name, command in TOOLS.items():
        runs = ", ".join(f"{1000 * value / args.seconds:.2f}" for value in used[name])
        print(
            f"{shlex.join(command[1:] if name == 'pmutop' else command)}: {per_second[name]:.2f} ms CPU per second"
            f" (rounds: {runs})"
        )
    print(f"ratio pmutop/htop: {per_second['pmutop'] / per_second['htop']:.2f}")


if __name__ == "__main__":
    main()
