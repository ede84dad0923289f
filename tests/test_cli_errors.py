"""The CLI's one error path: a user error is one line on stderr with exit 1 (bad input) or 2 (bad usage),
the same limits hold for every command, an unwritable output is said before any sampling, and an
unexpected exception (the TUI's included) leaves one line naming a crash log and exit code 70."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pmutop_runs import run_pmutop, this_vm_recording_file
from terminal import run_in_terminal


def assert_one_line(result: subprocess.CompletedProcess, code: int, prefix: str, *words: str) -> None:
    assert result.returncode == code, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(prefix + ": "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


LIMITS = [
    ("-n", "0"),
    ("-n", "-1"),
    ("-n", "many"),
    ("-I", "0"),
    ("-I", "-100"),
    ("-I", "5"),
    ("-I", "99999999"),
    ("-I", "1.5"),
]


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        (command, option, value)
        for command in ("stat", "record", "tui")
        for option, value in LIMITS
        if (command, option) != ("tui", "-n")
    ],
)
def test_the_same_limits_everywhere(tmp_path, command, option, value):
    out = tmp_path / "rec.jsonl"
    args = {"stat": ["stat"], "record": ["record", "-o", str(out)], "tui": []}[command]
    result = run_pmutop(*args, option, value)
    assert_one_line(result, 2, "pmutop" if command == "tui" else f"pmutop {command}", option)
    assert not out.exists()  # refused before anything was opened


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_record_duration_must_be_positive_and_finite(tmp_path, value):
    result = run_pmutop("record", "-o", str(tmp_path / "x.jsonl"), "--duration", value)
    assert_one_line(result, 2, "pmutop record", "--duration")


@pytest.mark.parametrize(
    "args",
    [
        ["snapshot", "{dir}"],
        ["snapshot", "/no/such/dir/x.tar.gz"],
        ["record", "-o", "{dir}"],
        ["record", "-o", "/no/such/x.jsonl"],
    ],
)
def test_an_unwritable_output_is_one_line_before_sampling(tmp_path, args):
    args = [arg.format(dir=tmp_path) for arg in args]
    result = run_pmutop(*args, *(["-n", "1"] if args[0] == "record" else []))
    assert_one_line(result, 1, f"pmutop {args[0]}", "cannot write")
    assert "wrote" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["stat", "-p", "abc"],
        ["stat", "-p", "0"],
        ["stat", "-C", "3-1"],
        ["stat", "--bogus"],
        ["stat", "not-after-dashes"],
        ["replay", "--speed", "0", "x"],
        ["frobnicate"],
        ["--sysfs-root", "/tmp"],
    ],
)
def test_usage_errors_exit_2(args):
    result = run_pmutop(*args)
    prefix = f"pmutop {args[0]}" if args[0] in ("stat", "replay") else "pmutop"
    assert_one_line(result, 2, prefix)


def test_bad_input_exits_1(tmp_path):
    assert_one_line(run_pmutop("replay", str(tmp_path / "none.jsonl")), 1, "pmutop replay", "none.jsonl")
    assert_one_line(run_pmutop("stat", "--input", str(tmp_path / "none.jsonl")), 1, "pmutop stat", "none.jsonl")
    assert_one_line(run_pmutop("topology", "--sysfs-root", str(tmp_path / "none")), 1, "pmutop topology")


CRASHING = textwrap.dedent(
    """
    import sys
    import pmutop.cli.topology_command as topology_command
    from pmutop.cli.main import main

    def broken(*args, **kwargs):
        raise RuntimeError("an injected bug")

    topology_command.render_topology = broken
    sys.exit(main(["topology"]))
    """
)


def crash_log(stderr: str) -> Path:
    return Path(stderr.rsplit("the traceback is in ", 1)[1].strip())


def test_an_unexpected_exception_is_one_line_naming_a_crash_log():
    result = subprocess.run([sys.executable, "-c", CRASHING], capture_output=True, text=True, timeout=60)
    assert_one_line(result, 70, "pmutop topology", "RuntimeError", "an injected bug")
    log = crash_log(result.stderr)
    try:
        text = log.read_text()
        assert "Traceback" in text and "RuntimeError: an injected bug" in text and "render_topology" in text
    finally:
        log.unlink()


TUI_CRASHING = textwrap.dedent(
    """
    import sys
    import pmutop.tui.app as app
    from pmutop.cli.main import main

    def broken(self):
        raise RuntimeError("an injected TUI bug")

    app.PmutopApp.action_help = broken
    sys.exit(main(["replay", "--speed", "1000", sys.argv[1]]))
    """
)


def test_a_tui_crash_restores_the_terminal_and_names_a_crash_log(tmp_path):
    code, screen = run_in_terminal(["-c", TUI_CRASHING, str(this_vm_recording_file(tmp_path))], b"?")
    assert code == 70, screen[-2000:]
    assert "Traceback" not in screen
    # The alternate screen was left before the one line was printed: the terminal is the user's again.
    assert screen.rindex("\x1b[?1049l") < screen.index("internal error in the TUI")
    log = crash_log(screen)
    try:
        assert "an injected TUI bug" in log.read_text()
    finally:
        log.unlink()
