"""The TUI's input thread waits in poll(2), so it runs in a process that already holds more than 1024
descriptors, as pmutop does on a machine with 128 CPUs or more (select(2) cannot watch fd 1024)."""

import resource
import textwrap

from pmutop_runs import write_recording
from terminal import run_in_terminal

MANY_FDS = textwrap.dedent(
    """
    import os, resource, sys
    from pmutop.cli.main import main

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    assert max(held) >= 1024
    sys.exit(main(["replay", "--speed", "1000", sys.argv[1]]))
    """
)


def test_the_tui_runs_and_quits_with_more_than_1024_fds_open(this_vm, tmp_path):
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 2048, "the hard fd limit is too low for this test"
    path = write_recording(this_vm, tmp_path / "rec.jsonl")
    code, screen = run_in_terminal(["-c", MANY_FDS, str(path)], b"q")
    assert code == 0, screen[-2000:]
    assert "Traceback" not in screen and "internal error" not in screen
