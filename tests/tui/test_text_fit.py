"""Text that fits or says it was cut, and the keys around it: the detail area's whole story, -e headings,
the header after a resize, the help screen's scrolling, the footer's keys, ctrl+c."""

import dataclasses
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.binding import Binding
from textual.widgets import Input
from tui_support import alder_lake_recording, cut_words, paused_replay, settle, this_vm_recording, wait_for_tick

from pmutop.recording.format import read_recording
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp
from pmutop.tui.columns import EVENT_HEADING_WIDTH, event_column
from pmutop.tui.footer import FittingFooter
from pmutop.tui.live_model import CpuKey
from pmutop.tui.screens import HelpScreen

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def footer_keys(app: PmutopApp) -> list[str]:
    """The footer's keys (their descriptions), less the palette key."""
    keys = app.query_one(FittingFooter).query("FooterKey")
    return [key.description for key in keys if not key.has_class("-command-palette")]


def recorded_events() -> ReplayFeed:
    """The real Alder Lake recording with -e events, one of them n/a on the cpu_core CPUs."""
    path = RECORDINGS / "alder-lake-events.jsonl"
    recording = read_recording(path)
    return ReplayFeed(recording, paused=True, start_at=len(recording.ticks) - 1, name=path.name)


@pytest.mark.parametrize("which", ["this_vm", "alder_lake", "alder_lake_events"])
async def test_the_detail_area_shows_the_longest_story_whole_at_80x24(which, tmp_path):
    """The row with the most to say (n/a reasons and their fixes) is said whole in the detail area at
    80×24: nothing below its last line, nothing cut at its edge (this VM's took 7 lines, one past the
    area's old limit)."""
    feeds = {
        "this_vm": lambda: paused_replay(this_vm_recording(tmp_path)),
        "alder_lake": lambda: paused_replay(alder_lake_recording(tmp_path)),
        "alder_lake_events": recorded_events,
    }
    app = PmutopApp(feeds[which]())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app, 0)
        detail, order = app.detail, app.live.model.row_order()
        console = Console(width=detail.content_region.width)

        def lines(key) -> int:
            return len(console.render_lines(app.live.model.describe(key), pad=False))

        longest = max(range(len(order)), key=lambda row: lines(order[row]))
        app.live.move_cursor(longest)
        await settle(pilot, app)
        assert detail.content == app.live.model.describe(order[longest])
        assert app.query_one("#detail-area").max_scroll_y == 0
        assert detail.content_region.height == lines(order[longest])
        assert cut_words(app) == []


def test_an_events_heading_is_whole_or_ends_in_an_ellipsis():
    assert event_column("branch-misses")[1:] == ("branch-misses", len("branch-misses"))
    assert event_column("cs")[1:] == ("cs", 8)
    _, heading, width = event_column("cpu_atom/cache-misses/")
    assert width == EVENT_HEADING_WIDTH and heading == "cpu_atom/cach…" and cell_len(heading) == width
    # A control byte in a label is shown escaped, and the escaped heading still fits.
    assert cell_len(event_column("a\x1bb" * 5)[1]) <= EVENT_HEADING_WIDTH


async def test_the_live_tables_event_headings_are_whole_or_end_in_an_ellipsis():
    app = PmutopApp(recorded_events())
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_tick(pilot, app, 0)
        await pilot.press("t")  # the tree away: room for every column
        await settle(pilot, app)
        heading = app.live.render_line(0).text
        assert "branch-misses" in heading and "cpu_atom/cach…" in heading
        assert cut_words(app) == []
        # cpu0 is a cpu_core CPU: the detail says why cpu_atom's event is n/a there, naming it whole.
        reasons = [line for line in str(app.live.model.describe(CpuKey(0))).splitlines() if " n/a: " in line]
        assert any(line.startswith("cpu_atom/cache-misses/") for line in reasons), reasons
        assert not any("…" in line.split(" n/a: ")[0] for line in reasons), reasons


async def test_a_resize_fits_the_header_tree_and_footer_to_the_new_width(alder_lake):
    """After 200→80 columns the header is fitted to 80 (it was fitted to the old width and cut at the
    edge), the tree folds away and the footer is compact; and back."""
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        assert cell_len(app.header.content.plain) <= 78 and "PAUSED" in app.header.content.plain
        assert not app.query_one("#topology").display
        assert app.query_one(FittingFooter).compact
        assert cut_words(app) == []
        await pilot.resize_terminal(200, 60)
        await settle(pilot, app)
        assert "Linux 6.18.0-test" in app.header.content.plain
        assert app.query_one("#topology").display and not app.query_one(FittingFooter).compact


async def test_the_help_screen_scrolls_at_80x24_without_tab_first(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("question_mark")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)
        dialog = app.screen.query_one("#help-dialog")
        assert dialog.has_focus and dialog.max_scroll_y > 0
        await pilot.press("down")
        assert dialog.scroll_target_y == 1
        await pilot.press("pagedown")
        assert dialog.scroll_target_y > 1
        await pilot.press("end")
        assert dialog.scroll_target_y == dialog.max_scroll_y
        await pilot.press("home")
        assert dialog.scroll_target_y == 0
        # The keys went to the help screen, not to the paused replay behind it.
        assert app.feed_state.playback.position == app.snapshot.index + 1


async def test_the_footer_offers_map_columns_and_hide_notice_at_200_columns(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_tick(pilot, app)
        shown = footer_keys(app)
        assert {"Map", "Columns", "Hide notice"} <= set(shown)
        # Every key the app offers now and marks for the footer is there, in its priority (binding) order.
        offered = [
            binding.description
            for binding in PmutopApp.BINDINGS
            if isinstance(binding, Binding) and binding.show and app.check_action(binding.action, ())
        ]
        assert shown == offered
        await pilot.press("x")
        await pilot.pause()
        assert not app.banner.display and "Hide notice" not in footer_keys(app)


async def test_the_footer_keeps_its_first_keys_at_80_columns(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        shown = footer_keys(app)
        offered = [
            binding.description
            for binding in PmutopApp.BINDINGS
            if isinstance(binding, Binding) and binding.show and app.check_action(binding.action, ())
        ]
        assert shown == offered[: len(shown)] and {"Quit", "Help", "Pause", "Map"} <= set(shown)


@pytest.mark.parametrize("where", ["table", "filter", "help", "picker"])
async def test_ctrl_c_quits_like_q(alder_lake, where):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        if where == "filter":
            await pilot.press("slash", *"16")
            assert isinstance(app.focused, Input)
        elif where == "help":
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
        elif where == "picker":
            await pilot.press("p")
            assert isinstance(app.focused, Input)
        await pilot.press("ctrl+c")
        await pilot.pause()
        # Quitting, not Textual's "press ctrl+q to quit" toast.
        assert app.return_code == 0


async def test_ctrl_c_copies_selected_text_in_the_filter_box(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"16-19", "shift+home")
        assert app.focused.selected_text == "16-19"
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code is None and app.clipboard == "16-19"


async def test_a_banner_with_more_notices_than_it_holds_scrolls(alder_lake):
    """Five lines of notices at most; more show a scrollbar, never a silent cut."""
    notices = tuple(f"notice {index}: something the user must know" for index in range(7))
    header = dataclasses.replace(alder_lake.header, notices=alder_lake.header.notices + notices)
    app = PmutopApp(paused_replay(dataclasses.replace(alder_lake, header=header)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        area = app.query_one("#banner-area")
        assert area.outer_size.height == 5
        assert area.max_scroll_y > 0 and area.show_vertical_scrollbar
        assert cut_words(app) == []
        area.scroll_end(animate=False)
        await settle(pilot, app)
        assert "notice 6" in "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_sort_fits_the_table_beside_its_scrollbar(size):
    """Whatever column is sorted by (it stays in sight), the row fits the width left beside the vertical
    scrollbar's gutter: the newcomer trial saw `▼c` and `n/` at 80x24 when sorted by an -e event."""
    app = PmutopApp(recorded_events())
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app, 0)
        live = app.live
        seen = set()
        while live.model.sort_key not in seen:
            seen.add(live.model.sort_key)
            await settle(pilot, app)
            assert live._row_width <= live.scrollable_content_region.width, live.model.sort_key
            assert cut_words(app) == [], live.model.sort_key
            await pilot.press("s")
        assert len(seen) > 5
