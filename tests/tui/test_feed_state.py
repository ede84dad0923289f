"""The app offers what the feed's state says it can do and draws the header from the states handed on,
whatever the feed's class, and never from the feed's own attributes."""

import dataclasses
import threading

from tui_support import SHOWN_TICK, ScriptedFeed, run_until, snapshots_of, wait_for_tick

from pmutop.live.feed import FeedCapability
from pmutop.live.topology_loader import topology_of
from pmutop.tui.app import PmutopApp

SIZE = (120, 30)


def scripted(recording, capabilities=frozenset({FeedCapability.PAUSE})) -> ScriptedFeed:
    return ScriptedFeed(
        topology_of(recording.header.sysfs), snapshots_of(recording)[:SHOWN_TICK], capabilities=capabilities
    )


async def test_a_feed_that_can_step_and_seek_gets_those_keys_whatever_its_class(alder_lake):
    feed = scripted(alder_lake, frozenset(FeedCapability))
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app, SHOWN_TICK - 1)
        assert app.check_action("seek_back", ()) and app.check_action("step", ())
        await pilot.press("right", "left")
        await pilot.press("full_stop")
        assert feed.calls[-4:] == [("seek_by", 10), ("seek_by", -10), ("set_paused", True), ("step",)]
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Step" in titles and "Seek back" in titles


async def test_a_feed_that_cannot_seek_is_never_asked_to(alder_lake):
    feed = scripted(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app, SHOWN_TICK - 1)
        assert not app.check_action("seek_back", ()) and not app.check_action("step", ())
        await pilot.press("right", "left", "full_stop", "home", "end")
        assert not [call for call in feed.calls if call[0] in ("seek", "seek_by", "step", "set_paused")]


async def test_the_header_shows_the_state_handed_on_not_the_feeds_attributes(alder_lake):
    feed = scripted(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app, SHOWN_TICK - 1)
        # Changed behind the app's back, on the feed and not handed on: the header does not look.
        feed._paused = True
        app._update_header()
        assert "PAUSED" not in app.header.content.plain
        # Handed on from another thread, as a feed's thread does: the header shows it.
        paused = dataclasses.replace(feed.state(), paused=True, interval_s=2.0)
        handing = threading.Thread(target=app.inbox.deliver_state, args=(paused,))
        handing.start()
        handing.join()
        await run_until(pilot, lambda: app.feed_state == paused, "the paused state to reach the app")
        plain = app.header.content.plain
        assert "PAUSED" in plain and "every 2s" in plain
