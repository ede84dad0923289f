"""Seeking a replay while an earlier seek still folds its way: a relative seek counts from where the
replay is going, a new seek takes over at once, and the face draws the target once, not every tick on
the way (the newcomer trial on 448 CPUs: ← ← half a second apart went back to tick 1, and an `end` drew
39 ticks one after another)."""

import threading

from tui_support import SHOWN_TICK, paused_replay, run_until, wait_for_tick
from waiting import HANG_S

from pmutop.live.feed import FeedState
from pmutop.model.snapshot import Snapshot
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp


class SeekDuringSeek:
    """Runs a replay feed, and once while a seek to the end folds past `at`, asks for `then` from the
    feed's own thread: as a key pressed in the middle of the seek would."""

    def __init__(self, feed: ReplayFeed, at: int, then) -> None:
        self.feed, self.at, self.then = feed, at, then
        self.states: list[FeedState] = []
        self.asked = False
        self.settled = threading.Event()
        self.target: int | None = None

    def on_snapshot(self, snapshot: Snapshot) -> None:
        playback = self.feed.state().playback
        if not self.asked and playback.seeking_to is not None and playback.position == self.at:
            self.asked = True
            self.then(self.feed)
        if self.asked and playback.position == self.target and playback.seeking_to is None:
            self.settled.set()

    def on_state(self, state: FeedState) -> None:
        # The states from the second seek on.
        if self.asked:
            self.states.append(state)

    def run(self, first_seek: int, target: int) -> None:
        self.target = target
        self.feed.start(self.on_snapshot, lambda _reason: None, self.on_state)
        try:
            self.feed.seek(first_seek)
            assert self.settled.wait(HANG_S), f"the replay never settled at {target}: {self.feed.state().playback}"
            assert self.asked, "the second seek was never asked during the first"
        finally:
            self.feed.stop()


def test_a_relative_seek_during_a_seek_counts_from_its_target(alder_lake):
    total = len(alder_lake.ticks)
    run = SeekDuringSeek(paused_replay(alder_lake), SHOWN_TICK + 5, lambda feed: feed.seek_by(-10))
    # From SHOWN_TICK + 1 to the end, and, half way, ten back: from the end, not from where it had got to.
    run.run(total, total - 10)
    playback = run.feed.state().playback
    assert playback.position == total - 10 and playback.seeking_to is None


def test_a_new_seek_takes_over_from_one_under_way(alder_lake):
    total = len(alder_lake.ticks)
    run = SeekDuringSeek(paused_replay(alder_lake), SHOWN_TICK + 4, lambda feed: feed.seek(SHOWN_TICK - 3))
    run.run(total, SHOWN_TICK - 3)
    seen = [state.playback for state in run.states]
    # The first seek stopped where the second was asked, and never reached the end.
    assert seen and all(playback.position <= SHOWN_TICK + 5 for playback in seen)
    # On the way back the replay says where it is going: never a bare "tick 0".
    assert all(playback.seeking_to is not None for playback in seen if playback.position < SHOWN_TICK - 3)


async def test_the_screen_is_drawn_at_the_seek_target_only(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)
        drawn: list[int] = []
        show = app.live.show

        def counting_show(snapshot: Snapshot) -> None:
            drawn.append(snapshot.index)
            show(snapshot)

        app.live.show = counting_show
        total = len(alder_lake.ticks)
        await pilot.press("end")
        await run_until(
            pilot,
            lambda: app.feed_state.playback.position == total and app.snapshot.index == total - 1,
            "the seek to the end",
        )
        await pilot.pause()
        # Every snapshot on the way reached the inbox's history; the table drew the last one alone.
        assert drawn == [total - 1]
        assert f"tick {total - 1}/{total - 1} " in app.header.content.plain
