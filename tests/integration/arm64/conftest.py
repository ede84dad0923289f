"""The arm64 guests start as soon as collection knows they will be needed, on a thread of their own, so
that their build and boots (QEMU, CPU-bound) overlap the rest of the suite (mostly waiting on counting
intervals) instead of running after it; their tests wait for the results (build.background_results)."""

from . import build


def pytest_collection_modifyitems(session, config, items):
    """The guests' tests last (by path they would come first), so the suite runs while they boot."""
    items.sort(key=lambda item: item.get_closest_marker("arm64_guest") is not None)


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("arm64_guest") for item in session.items):
        build.start_in_background()


def pytest_terminal_summary(terminalreporter):
    """Each guest's host time per phase, passing or not, so a CI log shows a slowing boot before it
    reaches the limit."""
    if build.PHASE_REPORTS:
        limits = f"stopped after {build.BOOT_STALL_S:.0f} s of silence or at {build.BOOT_CEILING_S:.0f} s"
        terminalreporter.section(f"arm64 guests ({limits})")
        for report in build.PHASE_REPORTS:
            terminalreporter.write_line(report)
