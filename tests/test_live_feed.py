"""The live feed on this machine: the state it hands on, the exit code it leaves for pmutop, and the
process list it makes for the picker."""

import subprocess
import sys
import threading

import pytest
from waiting import HANG_S, wait_until

from pmutop.live.feed import FeedCapability, FeedSource
from pmutop.live.live_feed import LiveFeed
from pmutop.live.process_list import PROCESS_REFRESH_S
from pmutop.model.processes import busiest_first


def started(feed: LiveFeed, until) -> tuple[list, threading.Event]:
    """Start `feed`; the event is set on the first snapshot for which `until(snapshot)` holds."""
    states: list = []
    reached = threading.Event()

    def on_snapshot(snapshot):
        if until(snapshot):
            reached.set()

    feed.start(on_snapshot, lambda reason: None, states.append)
    return states, reached


def test_a_live_feed_hands_on_its_state_and_can_only_pause():
    feed = LiveFeed.create(0.1)
    assert not isinstance(feed, str), feed
    before = feed.state()
    assert before.source is FeedSource.LIVE and before.capabilities == {FeedCapability.PAUSE}
    assert before.playback is None and not before.paused and before.interval_s == 0.1
    states, first = started(feed, lambda snapshot: True)
    try:
        assert first.wait(HANG_S)
        paused = feed.set_paused(True)
        assert paused.paused and states[-1] == paused
        longer = feed.set_interval(2.0)
        assert longer.interval_s == 2.0 and longer.paused and states[-1] == longer
        # Clamped as the feed applies it, and the state says what it applied.
        assert feed.set_interval(1000.0).interval_s == 60.0
    finally:
        feed.stop()
    assert feed.exit_code() == 0


@pytest.mark.needs_root
@pytest.mark.parametrize(
    ("code", "ready", "interrupted", "exit_code"),
    [
        # Ended by itself: its status is pmutop's.
        ("raise SystemExit(3)", lambda task: not task.alive, False, 3),
        # Still running when pmutop stops: pmutop ends it, and exits 0.
        ("import time; time.sleep(600)", lambda task: task.alive, True, 0),
    ],
)
def test_the_exit_code_is_the_commands_when_it_ended_by_itself(code, ready, interrupted, exit_code):
    feed = LiveFeed.create(0.1, command=[sys.executable, "-c", code])
    assert not isinstance(feed, str), feed
    _, reached = started(feed, lambda snapshot: any(ready(task) for task in snapshot.tasks))
    try:
        assert reached.wait(HANG_S)
    finally:
        feed.stop()
    assert feed.command_interrupted == interrupted and feed.exit_code() == exit_code


def test_a_live_feed_lists_processes_on_its_own_thread_while_the_picker_watches():
    """The picker's list is the feed thread's work, not the UI's: handed on from that thread every
    PROCESS_REFRESH_S while watched, paused too (and then without a tick), never once unwatched, and
    watched again, with CPU% measured afresh."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass", "picker-marker"])
    feed = LiveFeed.create(0.1)
    assert not isinstance(feed, str), feed
    snapshots: list = []
    lists: list = []
    arrived = threading.Semaphore(0)

    def on_processes(listing):
        lists.append((threading.current_thread().name, len(snapshots), listing))
        arrived.release()

    _, first = started(feed, lambda snapshot: snapshots.append(snapshot) or True)
    try:
        assert first.wait(HANG_S)
        feed.set_paused(True)
        feed.watch_processes(on_processes)
        assert arrived.acquire(timeout=HANG_S) and arrived.acquire(timeout=HANG_S)
        (thread, ticks_before, _), (_, ticks_after, later) = lists
        assert thread == "pmutop-sampler" and {name for name, _, _ in lists} == {"pmutop-sampler"}
        assert ticks_after == ticks_before, "a list wakes the paused feed, but makes no tick"
        assert later.cpu_window_s >= PROCESS_REFRESH_S and not later.recorded
        (marked,) = [process for process in later.processes if process.pid == spinner.pid]
        assert marked.command.endswith("while True: pass picker-marker")
        assert list(later.processes) == busiest_first(later.processes)
        feed.watch_processes(None)
        listed = len(lists)
        feed.set_paused(False)
        # Ticks spanning two refreshes after the feed went on, and no list came with them.
        start = len(snapshots)
        wait_until(lambda: len(snapshots) > start, "a tick after the pause")
        wait_until(
            lambda: snapshots[-1].time_s - snapshots[start].time_s > 2 * PROCESS_REFRESH_S, "ticks after the picker"
        )
        assert len(lists) == listed
        # Opened again, the picker's CPU% is over the last moment, not over the time it was closed.
        closed_s = snapshots[-1].time_s - snapshots[start].time_s
        feed.watch_processes(on_processes)
        assert arrived.acquire(timeout=HANG_S)
        assert lists[-1][2].cpu_window_s < closed_s
    finally:
        feed.stop()
        spinner.kill()
        spinner.wait()
