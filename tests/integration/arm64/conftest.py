from . import build


def pytest_terminal_summary(terminalreporter):
    """Each guest's host time per phase, passing or not, so a CI log shows a slowing boot before it
    reaches the limit."""
    if build.PHASE_REPORTS:
        limits = f"stopped after {build.BOOT_STALL_S:.0f} s of silence or at {build.BOOT_CEILING_S:.0f} s"
        terminalreporter.section(f"arm64 guests ({limits})")
        for report in build.PHASE_REPORTS:
            terminalreporter.write_line(report)
