"""End to end: the real `pmutop` in a detached tmux at 80×24 on this machine's kernel.

Deselect with `-m "not tmux_e2e"`. Each test runs its own tmux server (-L) and kills it in finally.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import HANG_S, wait_until

pytestmark = [
    pytest.mark.tmux_e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 80, 24
NUMBER = re.compile(r"^\d+(\.\d+)?[kMGT]?~?$")
# A CPU row of the live table: an optional mark, the padded label, then the cells (GHz IPC instr/s util% cs/s ...);
# the detail lines under the table also start with "cpuN", but not with a cell after two spaces.
CPU_ROW = re.compile(r"^\s*[▶●]?\s*cpu(\d+)\s{2,}((?:n/a|offline|\d)\S*\s.*)$")
CS_PER_S = 4  # index of cs/s among the cells after the label


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"pmutop-e2e-{os.getpid()}-{time.monotonic_ns()}"
        self.exit_file = tmp_path / "exit"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=HANG_S
        ).stdout

    def start(self, pmutop_args: list[str]) -> None:
        pmutop = shlex.join([sys.executable, "-m", "pmutop", *pmutop_args])
        script = (
            f"cd {shlex.quote(str(REPO))}; echo BEFORE-PMUTOP; {pmutop}; "
            f"echo EXIT=$? > {shlex.quote(str(self.exit_file))}; echo AFTER-PMUTOP; exec sleep 600"
        )
        self.run("new-session", "-d", "-s", "e2e", "-x", str(WIDTH), "-y", str(HEIGHT), "sh", "-c", script)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "e2e")

    def wait_for(self, predicate, what: str) -> str:
        """The screen once `predicate` holds for it. How soon it does is a benchmark's question
        (benchmarks/), not this test's: the limit only keeps a broken run from hanging."""
        screens = [""]

        def shown() -> bool:
            screens[0] = self.screen()
            return predicate(screens[0])

        try:
            wait_until(shown, what)
        except AssertionError as error:
            raise AssertionError(f"{error}; screen:\n{screens[0]}") from None
        return screens[0]

    def quit_and_check_restored(self) -> None:
        self.run("send-keys", "-t", "e2e", "q")
        self.wait_for(lambda _: self.exit_file.exists() and self.exit_file.read_text().strip(), "pmutop to quit on q")
        assert self.exit_file.read_text().strip() == "EXIT=0"
        screen = self.wait_for(lambda s: "AFTER-PMUTOP" in s, "the shell after pmutop")
        # The TUI ran on the alternate screen and gave it back: the shell's own lines are there, the TUI's are not.
        assert "BEFORE-PMUTOP" in screen
        assert "pmutop " not in screen and "cs/s" not in screen
        assert self.run("display-message", "-p", "-t", "e2e", "#{alternate_on}").strip() == "0"

    def kill(self) -> None:
        # tmux (3.3a) leaves its socket file behind on kill-server: one per test run would pile up.
        path = subprocess.run(
            ["tmux", "-L", self.socket, "display-message", "-p", "#{socket_path}"],
            capture_output=True,
            text=True,
            timeout=HANG_S,
        ).stdout.strip()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=HANG_S)
        if path:
            Path(path).unlink(missing_ok=True)


@pytest.fixture
def tmux(tmp_path):
    session = Tmux(tmp_path)
    try:
        yield session
    finally:
        session.kill()


def cpu_rows(screen: str) -> dict[int, list[str]]:
    rows = {}
    for line in screen.splitlines():
        match = CPU_ROW.match(line)
        if match:
            rows[int(match.group(1))] = match.group(2).split()
    return rows


def live_software_metrics(screen: str) -> bool:
    rows = cpu_rows(screen)
    return bool(rows) and all(len(cells) > CS_PER_S and NUMBER.match(cells[CS_PER_S]) for cells in rows.values())


def test_starts_shows_live_software_metrics_and_quits_cleanly(tmux):
    tmux.start([])
    tmux.wait_for(lambda s: "pmutop " in s and "cs/s" in s, "the first frame")
    screen = tmux.wait_for(live_software_metrics, "a cs/s figure on every CPU row")
    online = sorted(os.sched_getaffinity(0))
    assert set(online) <= set(cpu_rows(screen))
    tmux.quit_and_check_restored()


def test_follows_a_task_to_the_cpu_it_is_moved_to(tmux):
    cpus = sorted(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(busy.pid, {cpus[0]})
        tmux.start(["-p", str(busy.pid)])
        shown = tmux.wait_for(lambda s: f"{busy.pid} python" in s and f"on cpu{cpus[0]}" in s, "the task on cpu")
        assert f"▶ cpu{cpus[0]}" in shown
        if len(cpus) > 1:
            os.sched_setaffinity(busy.pid, {cpus[-1]})
            moved = tmux.wait_for(
                lambda s: f"on cpu{cpus[-1]}" in s and f"▶ cpu{cpus[-1]}" in s, "the task on its new CPU"
            )
            assert f"▶ cpu{cpus[0]} " not in moved
        tmux.quit_and_check_restored()
    finally:
        busy.kill()
        busy.wait()


def test_machine_rows_keep_updating_after_the_followed_command_ends(tmux):
    """`pmutop -- CMD`: once CMD exits its task is shown as final, and the CPU rows go on changing."""
    tmux.start(["-I", "200", "--", sys.executable, "-c", "pass"])
    tmux.wait_for(lambda s: "final figures" in s, "the exited command's final figures")
    ended = tmux.wait_for(live_software_metrics, "CPU rows after the command ended")
    # The rows keep changing: new figures, not the ones frozen at the command's end (the header and a
    # notification change either way, so only the rows are compared).
    tmux.wait_for(lambda s: live_software_metrics(s) and cpu_rows(s) != cpu_rows(ended), "CPU rows with new figures")
    tmux.quit_and_check_restored()
