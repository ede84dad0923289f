"""The per-tick paint path: a tick draws only its changed lines, in one write, and the fast styling of
the live table and history line gives exactly the lines Textual's own StylesCache would."""

from textual._styles_cache import StylesCache
from textual.geometry import Region
from tui_support import SHOWN_TICK, paused_replay, snapshots_of, wait_for_tick

from pmutop.tui.app import PmutopApp
from pmutop.tui.inbox import SnapshotReady
from pmutop.tui.live_pane import HEADING_LINES


def textual_lines(widget) -> list[list]:
    """The widget's whole outer area as Textual's generic path renders it, from a fresh cache."""
    width, height = widget.outer_size
    return [list(strip) for strip in StylesCache().render_widget(widget, Region(0, 0, width, height))]


def our_lines(widget) -> list[list]:
    width, height = widget.outer_size
    return [list(strip) for strip in widget.render_lines(Region(0, 0, width, height))]


async def test_live_table_and_history_lines_match_textuals_rendering(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        widgets = (app.live, app.history)
        for widget in widgets:
            assert our_lines(widget) == textual_lines(widget)
        # A narrower table scrolls sideways; focus moves away; the theme changes: each restyles the lines.
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        app.live.scroll_to(x=5, animate=False)
        await pilot.press("down")
        await pilot.pause()
        before = our_lines(app.live)
        for widget in widgets:
            assert our_lines(widget) == textual_lines(widget)
        app.theme = "textual-light"
        await pilot.pause()
        assert our_lines(app.live) != before
        for widget in widgets:
            assert our_lines(widget) == textual_lines(widget)
        app.set_focus(None)
        await pilot.pause()
        for widget in widgets:
            assert our_lines(widget) == textual_lines(widget)


async def test_a_tick_writes_only_the_lines_it_changed(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.pause()
        live = app.live
        cells_before = dict(live._cells)
        updates = []
        display = app._display

        def record(screen, update) -> None:
            updates.append(update)
            display(screen, update)

        app._display = record
        # The next tick of the recording, as the feed thread delivers it (the header stays as it is), and
        # its message handled at once: the lines are written before the handler returns, not at a later
        # screen update.
        app.inbox.deliver(snapshots_of(this_vm)[SHOWN_TICK])
        app.on_snapshot_ready(SnapshotReady())
        assert len(updates) == 1, "one write for the whole tick, from its own handler"
        await pilot.pause()
        assert len(updates) == 1
        changed_rows = [row for row, key in enumerate(live._order) if live._cells[key] != cells_before[key]]
        assert changed_rows, "the next tick should change some row"
        expected_lines = {live.region.y + HEADING_LINES + row for row in changed_rows} | {app.history.region.y}
        spans = updates[0].spans
        assert {y for y, _, _ in spans} == expected_lines
        for y, x1, x2 in spans:
            pane = app.history.region if y == app.history.region.y else live.region
            assert pane.x <= x1 < x2 <= pane.right
