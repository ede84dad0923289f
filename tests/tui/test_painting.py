"""The per-tick paint path: a tick draws only its changed lines, in one write, and the fast styling of
the live table and history line gives exactly the lines Textual's own StylesCache would."""

import pytest
from rich.control import Control
from rich.segment import ControlType
from textual.geometry import Region
from tui_support import SHOWN_TICK, paused_replay, run_until, settle, snapshots_of, wait_for_tick

from pmutop.tui.app import PmutopApp
from pmutop.tui.inbox import SnapshotReady
from pmutop.tui.live_model import cpu_key, line_pieces
from pmutop.tui.live_pane import HEADING_LINES
from pmutop.tui.paint import STOCK_REASON, paint_fast

# What the fast paint path does, compared with Textual's own rendering; the stock path is Textual's.
fast_path_only = pytest.mark.skipif(paint_fast is None, reason=f"stock paint path: {STOCK_REASON}")


def textual_lines(widget) -> list[list]:
    """The widget's whole outer area as Textual's generic path renders it, from a fresh cache."""
    width, height = widget.outer_size
    return [list(strip) for strip in paint_fast.StylesCache().render_widget(widget, Region(0, 0, width, height))]


def our_lines(widget) -> list[list]:
    width, height = widget.outer_size
    return [list(strip) for strip in widget.render_lines(Region(0, 0, width, height))]


@fast_path_only
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
        # An ancestor's background shows through the history line's translucent one: Textual tells the
        # widgets below by refreshing them whole, not through notify_style_update.
        before = our_lines(app.history)
        app.query_one("#main").styles.background = "darkred"
        await pilot.pause()
        assert our_lines(app.history) != before
        for widget in widgets:
            assert our_lines(widget) == textual_lines(widget)


@fast_path_only
async def test_a_whole_widget_repaint_is_not_narrowed_by_a_later_line(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        screen = app.main_screen
        with screen.painting():
            screen.repaint_lines(app.history)
            screen.repaint_lines(app.history, Region(0, 0, 3, 1))
            screen.repaint_lines(app.live, Region(0, 1, 10, 1))
            screen.repaint_lines(app.live, Region(0, 1, 10, 1))
            assert screen._changed_lines == {app.history: None, app.live: {Region(0, 1, 10, 1)}}


@fast_path_only
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
        spans = [(y, x, x + strip.cell_length) for x, y, strip in updates[0].pieces]
        assert {y for y, _, _ in spans} == expected_lines
        for y, x1, x2 in spans:
            pane = app.history.region if y == app.history.region.y else live.region
            assert pane.x <= x1 < x2 <= pane.right


async def test_live_table_lines_crop_as_textual_does(this_vm):
    """A row is cropped to the visible columns piece by piece; Textual's crop_extend is the reference."""
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        live = app.live
        styling = live.styling
        pieces = line_pieces(live._cells_of(cpu_key(0)), live.model.label_width, live.model.columns, live.shown)
        whole = live._strip(pieces, "", styling, 0, live._row_width)
        assert whole.cell_length == live._row_width
        for width in (1, 7, 40, live._row_width, live._row_width + 9):
            for scroll_x in range(0, live._row_width + 3):
                ours = live._strip(pieces, "", styling, scroll_x, width)
                reference = whole.crop_extend(scroll_x, scroll_x + width, styling.rich_style)
                assert ours.cell_length == width
                assert list(ours.simplify()) == list(reference.simplify()), (width, scroll_x)


def cells_written(update, console) -> dict[tuple[int, int], tuple[str, object]]:
    """What an update writes, cell by cell: (x, y) -> (character, style)."""
    x = y = 0
    cells = {}
    for segment in update.__rich_console__(console, console.options):
        if segment.control:
            for control in segment.control:
                if control[0] == ControlType.CURSOR_MOVE_TO:
                    x, y = control[1], control[2]
            continue
        if segment.text == "\n":
            continue
        for character in segment.text:
            cells[(x, y)] = (character, segment.style)
            x += 1
    return cells


async def compare_with_textuals_partial_update(app: PmutopApp) -> None:
    """Every line of the live table and the history line, drawn by lines_update and by the compositor's
    own partial update (cuts and chops: widgets in front win): the same cells, but for those of the
    widgets in front, which the compositor writes again and lines_update leaves as they are."""
    await app.workers.wait_for_complete()
    compositor = app.main_screen._compositor
    live, history = app.live, app.history
    changed = {live: [Region(0, y, live.outer_size.width, 1) for y in range(live.outer_size.height)], history: None}
    update = compositor.lines_update(changed)
    ours = cells_written(update, app.console)
    # What is written is what the pieces say: Rich's cursor moves, then each strip.
    written = "".join(Control.move_to(x, y).segment.text + strip.render(app.console) for x, y, strip in update.pieces)
    assert update.render_segments(app.console) == written
    for widget, regions in changed.items():
        widget._set_dirty(*(regions or ()))
    compositor.update_widgets(set(changed))
    textuals = cells_written(compositor.render_partial_update(), app.console)
    assert ours and ours.items() <= textuals.items()
    for x, y in textuals.keys() - ours.keys():
        front, _ = compositor.get_widget_at(x, y)
        assert front not in changed, (x, y, front)


@fast_path_only
async def test_lines_update_writes_what_the_compositor_would(this_vm, alder_lake):
    for recording, size in ((this_vm, (80, 24)), (alder_lake, (80, 24)), (alder_lake, (160, 48))):
        app = PmutopApp(paused_replay(recording))
        # run_test leaves notifications out unless asked: this test is about one in front of the table.
        async with app.run_test(size=size, notifications=True) as pilot:
            await wait_for_tick(pilot, app)
            await compare_with_textuals_partial_update(app)
            # A notification in front of the table and the history line cuts their lines.
            app.notify("a notification wide enough to cover the end of several lines " * 2, timeout=60)
            await run_until(pilot, lambda app=app: app.screen.query("Toast"), "the notification to show")
            await settle(pilot, app)
            await compare_with_textuals_partial_update(app)
