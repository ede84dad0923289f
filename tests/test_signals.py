"""Signals as perf stat takes them, with real processes: SIGINT/SIGTERM stop sampling at once, reach the
command pmutop started, leave the partial last interval, the summary and a whole .gz, and give 128+N."""

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pmutop_runs import this_vm_recording_file
from terminal import run_in_terminal
from waiting import HANG_S

from pmutop.recording.format import read_recording

# The followed command: says it is running, then waits; tells which signal reached it, and dies of it.
COMMAND = textwrap.dedent(
    """
    import os, signal, sys
    fifo = os.open(sys.argv[1], os.O_WRONLY)
    def passed_on(signum, frame):
        # os.write: a buffered write here could be re-entered if the signal came during the first one.
        os.write(fifo, f"got {signal.Signals(signum).name}\\n".encode())
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    signal.signal(signal.SIGTERM, passed_on)
    signal.signal(signal.SIGINT, passed_on)
    os.write(fifo, b"running\\n")
    while True:
        signal.pause()
    """
)
# An interval no run here lasts: any interval printed is the partial one a signal cut short.
LONG_INTERVAL_MS = "600000"


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, object]:
    """pmutop ARGS -- COMMAND, once COMMAND runs; the FIFO's read end, for what COMMAND says next."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pmutop = subprocess.Popen(
        [sys.executable, "-m", "pmutop", *args, "--", sys.executable, "-c", COMMAND, str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said = open(fifo)  # noqa: SIM115 (the caller reads on)  blocks until the command opens it: an event, not a sleep
    assert said.readline() == "running\n"
    return pmutop, said


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stat_stops_at_once_passes_the_signal_on_and_exits_128_plus_n(tmp_path, signum):
    pmutop, said = start(tmp_path, "stat", "--json", "-I", LONG_INTERVAL_MS)
    pmutop.send_signal(signum)
    got = said.readline()
    out, err = pmutop.communicate(timeout=HANG_S)
    assert got == f"got {signum.name}\n", (pmutop.returncode, err, out)
    assert pmutop.returncode == 128 + signum, err
    assert "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]
    partial, summary = records
    assert partial["interval"] == 1 and partial["elapsed_s"] < int(LONG_INTERVAL_MS) / 1000
    assert summary["summary"] is True and summary["ended"] == f"interrupted by {signum.name}"
    assert summary["elapsed_s"] >= partial["elapsed_s"]


def test_record_on_sigterm_ends_the_gzip_and_keeps_the_last_tick(tmp_path):
    path = tmp_path / "rec.jsonl.gz"
    pmutop, said = start(tmp_path, "record", "-o", str(path), "-I", LONG_INTERVAL_MS)
    pmutop.send_signal(signal.SIGTERM)
    assert said.readline() == "got SIGTERM\n"
    _, err = pmutop.communicate(timeout=HANG_S)
    assert pmutop.returncode == 128 + signal.SIGTERM, err
    assert "wrote 2 ticks" in err and "interrupted by SIGTERM" in err
    gzip.decompress(path.read_bytes())  # raises EOFError without the gzip end
    recording = read_recording(path)
    assert recording.errors == () and len(recording.ticks) == 2


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV])
def test_a_command_killed_by_a_signal_gives_128_plus_n(signum):
    code = f"import os; os.kill(os.getpid(), {int(signum)})"
    result = subprocess.run(
        [sys.executable, "-m", "pmutop", "stat", "--", sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 128 + signum, result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_s_own_exit_status_is_passed_through():
    result = subprocess.run(
        [sys.executable, "-m", "pmutop", "stat", "--", sys.executable, "-c", "raise SystemExit(3)"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize("command", ["stat", "record"])
def test_following_pids_ends_when_every_one_has_exited(tmp_path, command):
    waiting = [
        subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
        for _ in range(2)
    ]
    pids = ",".join(str(child.pid) for child in waiting)
    if command == "stat":
        args = ["stat", "--json", "-I", "100"]
    else:
        # Recorded into a FIFO the test holds open both ways, so that its lines are events to wait on.
        out = tmp_path / "rec.fifo"
        os.mkfifo(out)
        args = ["record", "-o", str(out), "-I", "100"]
        recorded = os.fdopen(os.open(out, os.O_RDWR), "rb")
    pmutop = subprocess.Popen(
        [sys.executable, "-m", "pmutop", *args, "-p", pids], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if command == "stat":
            assert json.loads(pmutop.stdout.readline())["interval"] == 1  # following has begun
        else:
            assert json.loads(recorded.readline())["format"] == "pmutop-recording"
            assert "tasks" in json.loads(recorded.readline())  # the first tick: following has begun
        for child in waiting:
            child.stdin.close()
            child.wait()  # reaped: gone from /proc, not a zombie
        stdout, stderr = pmutop.communicate(timeout=HANG_S)  # a safety net, not a speed target
    finally:
        if pmutop.poll() is None:
            pmutop.kill()
    assert pmutop.returncode == 0, stderr
    if command == "stat":
        summary = json.loads(stdout.splitlines()[-1])
        assert summary["summary"] is True and summary["ended"] == "every followed process exited"
    else:
        recorded.close()
        assert "every followed process exited" in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_the_tui_restores_the_terminal_and_exits_128_plus_n(tmp_path, signum):
    code, screen = run_in_terminal(
        ["-m", "pmutop", "replay", "--speed", "1000", str(this_vm_recording_file(tmp_path))],
        then=lambda pid: os.kill(pid, signum),
    )
    assert code == 128 + signum, screen[-2000:]
    assert screen.rindex("\x1b[?1049l") > screen.rindex("\x1b[?1049h")  # left the alternate screen
    assert "Traceback" not in screen


# An app whose event loop blocks for good once it is on screen, as Textual's did joining an input thread
# blocked in read(2): the signal's way out through the loop is shut, and only the fallback can end it.
# "from outside": the signal is sent to the process. "to another thread": the main thread blocks with
# the stop signals masked, and the signal goes to a thread blocked in a wait. Python runs a handler in
# the main thread only, between bytecodes, so it never runs here: as when Textual's stock driver waits
# for good on the full queue of a writer thread that died on a hung-up terminal, and the kernel's
# SIGHUP went to another thread.
BLOCKED_APP = textwrap.dedent(
    """
    import os, signal, sys, threading
    from textual.app import App
    from pmutop.cli.errors import run_app

    STOP = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}

    def take_signals(ready):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP)  # masked as the main thread was when it started it
        ready.set()
        threading.Event().wait()

    class Blocked(App):
        def on_ready(self):
            os.write(2, b"BLOCKED")
            if sys.argv[2] == "to another thread":
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
                ready = threading.Event()
                taker = threading.Thread(target=take_signals, args=(ready,), daemon=True)
                taker.start()
                ready.wait()
                signal.pthread_kill(taker.ident, int(sys.argv[3]))
            threading.Event().wait()

    stopped = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
    sys.exit(run_app(Blocked(), "blocked", stop=lambda: os.write(stopped, b"stopped")) or 0)
    """
)


@pytest.mark.parametrize("sent", ["from outside", "to another thread"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_tui_even_when_its_event_loop_is_blocked(tmp_path, signum, sent):
    stopped = tmp_path / "stopped"

    def send(pid: int) -> None:
        if sent == "from outside":
            os.kill(pid, signum)

    code, screen = run_in_terminal(["-c", BLOCKED_APP, str(stopped), sent, str(signum)], ready=b"BLOCKED", then=send)
    assert code == 128 + signum, screen[-2000:]
    assert stopped.read_text() == "stopped"  # the feed stopped: a followed command is told
    assert screen.rindex("\x1b[?1049l") > screen.rindex("\x1b[?1049h")  # left the alternate screen
    assert screen.rindex("\x1b[?25h") > screen.rindex("\x1b[?25l")  # the cursor shown again
