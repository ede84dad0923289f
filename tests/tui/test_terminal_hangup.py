"""The TUI ends when its terminal goes away (a terminal emulator closed, a tmux server killed, an ssh link
dropped), on a real pty whose master side is closed: never left running, parent 1, deaf to signals.

The kernel hangs the terminal up: the session leader gets SIGHUP and SIGCONT, and reads and writes on
the terminal fail. pmutop ends as on SIGHUP (exit 128+1) whether it is the session leader or a process
no signal reaches. Each case runs RUNS times: the hang these guard against came from races (Textual's
SIGCONT handler starting a second input thread; the screen writer dying on EIO) and showed in about
one run in two.
"""

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from pmutop_runs import this_vm_recording_file
from terminal import hang_up_terminal, run_in_terminal
from waiting import wait_until

from pmutop.tui.paint import STOCK_REASON, paint_fast

RUNS = 8
HUNG_UP = 128 + signal.SIGHUP
# The session leader stays and ignores SIGHUP, so pmutop (its child, in the foreground group) gets no
# signal at all when the terminal hangs up: only EOF on reads and EIO on writes tell it.
NO_SIGNAL_LEADER = textwrap.dedent(
    """
    import os, signal, sys
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "pmutop", *sys.argv[1:]])
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)
    """
)


@pytest.fixture(scope="module")
def replay_file(tmp_path_factory) -> Path:
    return this_vm_recording_file(tmp_path_factory.mktemp("hangup"), ticks=50)


@pytest.mark.parametrize("run", range(RUNS))
def test_the_tui_as_session_leader_ends_when_its_terminal_hangs_up(replay_file, run):
    # SIGHUP and SIGCONT from the kernel, after a key (the heat map) that makes it draw.
    assert hang_up_terminal(["-m", "pmutop", "replay", str(replay_file)], b"m") == HUNG_UP


@pytest.mark.parametrize("run", range(RUNS))
def test_the_tui_ends_when_its_terminal_hangs_up_without_a_signal(replay_file, run):
    assert hang_up_terminal(["-c", NO_SIGNAL_LEADER, "replay", str(replay_file)], b"m") == HUNG_UP


def test_live_tui_ends_on_hangup_and_ends_the_command_it_follows(tmp_path):
    said = tmp_path / "command-pid"
    # The followed command writes its pid, then waits far longer than any run here.
    script = f"import os, time; open({str(said)!r}, 'w').write(str(os.getpid())); time.sleep(3600)"
    command = [sys.executable, "-c", script]
    code = hang_up_terminal(
        ["-m", "pmutop", "-I", "100", "--", *command],
        b"m",
        before=lambda: wait_until(lambda: said.exists() and said.read_text(), "the followed command to start"),
    )
    assert code == HUNG_UP
    pid = int(said.read_text())
    # Told to end (SIGINT) when pmutop stopped, it is gone, or a zombie until init reaps it.
    wait_until(lambda: _ended(pid), f"the followed command {pid} to end")


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(
    paint_fast is None,
    reason=f"stock paint path ({STOCK_REASON}): Textual's own driver starts application mode again on any SIGCONT; "
    "a hangup there ends pmutop through run_app's forced exit",
)
def test_sigcont_to_a_running_tui_does_not_start_it_again(replay_file):
    # The kernel sends SIGCONT with the hangup's SIGHUP; to a TUI that was never suspended it must change
    # nothing. Textual's driver answered it by starting application mode (and its threads) again.
    def continue_then_stop(pid: int) -> None:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)

    code, screen = run_in_terminal(["-m", "pmutop", "replay", str(replay_file)], then=continue_then_stop)
    assert code == 128 + signal.SIGTERM, screen[-2000:]
    assert screen.count("\x1b[?1049h") == 1  # the alternate screen entered once: application mode began once
    assert screen.rindex("\x1b[?1049l") > screen.rindex("\x1b[?1049h")
