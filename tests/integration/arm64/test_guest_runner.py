"""The host side of the harness without QEMU: how a guest is stopped and how its phases are timed."""

import sys

from . import build


def _fake_guest(script: str) -> list[str]:
    """A stand-in for QEMU: a process that prints a console the way guest_run.py does."""
    return [sys.executable, "-c", script]


def test_a_silent_guest_is_stopped_and_says_how_far_it_got(tmp_path):
    script = (
        "import time\n"
        "print('===PMUTOP-GUEST-UP===', flush=True)\n"
        "print('===PMUTOP-BEGIN probe===', flush=True)\n"
        "time.sleep(60)\n"
    )
    result = build.run_guest("bookworm-stock", _fake_guest(script), tmp_path / "g.log", stall_s=0.5, ceiling_s=60)
    assert result.stopped == "console silent for 0.5 s"
    assert result.returncode is None
    report = result.phase_report()
    assert "kernel-boot" in report and "probe unfinished after" in report and "stopped" in report
    assert result.sections["probe"][1] is None


def test_a_guest_that_keeps_talking_is_stopped_at_the_ceiling(tmp_path):
    script = "import time\nwhile True:\n    print('still here', flush=True)\n    time.sleep(0.05)\n"
    result = build.run_guest("trixie-two-pmu", _fake_guest(script), tmp_path / "g.log", stall_s=5, ceiling_s=0.5)
    assert result.stopped == "still running after 0.5 s"
    assert "still here" in result.console


def test_a_guest_that_finishes_is_not_stopped_and_its_sections_are_timed(tmp_path):
    script = (
        "print('===PMUTOP-GUEST-UP===')\n"
        "print('===PMUTOP-BEGIN sysfs===')\nprint('{}')\nprint('===PMUTOP-END sysfs 0===')\n"
        "print('===PMUTOP-GUEST-DONE 0===')\n"
    )
    result = build.run_guest("trixie-stock", _fake_guest(script), tmp_path / "g.log", stall_s=30, ceiling_s=60)
    assert result.stopped is None and result.returncode == 0
    assert result.sections == {"sysfs": ("{}", 0)}
    assert result.marks[0][1] == "===PMUTOP-GUEST-UP==="
    assert "sysfs " in result.phase_report() and "rc=0" in result.phase_report()
