"""The live feed on this machine: the state it hands on, and the exit code it leaves for pmutop."""

import sys
import threading

import pytest
from waiting import HANG_S

from pmutop.live.feed import FeedCapability, FeedSource
from pmutop.live.live_feed import LiveFeed


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
