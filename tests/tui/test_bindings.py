"""Pilot tests: every key binding, the process picker and the command palette, on deterministic feeds."""

import dataclasses
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList
from tui_support import (
    MALICIOUS_COMM,
    SHOWN_TICK,
    ScriptedFeed,
    following_feed,
    paused_replay,
    snapshots_of,
    wait_for_tick,
)

from pmutop.live.topology_loader import topology_of
from pmutop.model.rates import TOO_IDLE
from pmutop.model.snapshot import Metric
from pmutop.tui.app import PmutopApp
from pmutop.tui.screens import HelpScreen, ProcessPicker
from pmutop.tui.task_pane import TaskPane

SIZE = (100, 30)


def cpu_keys(order: list[str]) -> list[str]:
    return [key for key in order if key.startswith("cpu:")]


async def test_q_quits(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_space_pauses_and_resumes(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert feed.paused
        await pilot.press("space")
        assert not feed.paused
        await pilot.press("space")
        assert feed.paused


async def test_plus_and_minus_change_the_interval(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert feed.interval_s == pytest.approx(1.0)
        await pilot.press("plus")
        assert feed.interval_s == pytest.approx(2.0)
        assert "every 2s" in str(app.query_one("#header").content)
        await pilot.press("minus", "minus")
        assert feed.interval_s == pytest.approx(0.5)
        # On a replay the interval is the playback speed.
        assert feed.speed == pytest.approx(2.0)


async def test_full_stop_steps_a_paused_replay(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("full_stop")
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert app.snapshot.index == SHOWN_TICK + 1
        assert feed.paused


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_the_keys(alder_lake, key):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-body").content
        listed = {str(cell) for cell in body.columns[0].cells}
        assert {"q", "space", "+ / -", "? / F1", "/", "p", "f", "s", "t", "g"} <= listed
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_slash_filters_cpus_and_escape_clears(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"16-19")
        assert app.live.row_order() == ["pmu:cpu_atom", "cpu:16", "cpu:17", "cpu:18", "cpu:19"]
        await pilot.press("enter")
        assert not app.query_one("#filter").display
        assert app.live.filter_text == "16-19"
        await pilot.press("slash")
        await pilot.press("escape")
        assert app.live.filter_text == ""
        assert len(cpu_keys(app.live.row_order())) == 24


async def test_filter_by_core_type_name(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"efficiency", "enter")
        assert cpu_keys(app.live.row_order()) == [f"cpu:{n}" for n in range(16, 24)]


async def test_keys_work_before_the_first_snapshot(alder_lake):
    """Rates need two reads, so the first snapshot comes an interval after start: the table is there
    already, with placeholder rows, and sorting or grouping it then must not fail."""
    feed = ScriptedFeed(topology_of(alder_lake.header.sysfs), [])
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(6):
            await pilot.press("s")
        await pilot.press("g", "g")
        await pilot.pause()
        assert app.is_running and app.snapshot is None
        assert app.live.cell("cpu:0", "util_pct") == ""


async def test_s_cycles_the_sort(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("s")
        assert app.live.sort_name == "util%"
        # Within each core PMU, CPUs by utilisation, busiest first.
        utils = [app.snapshot.cpu(int(k[4:])).metric("util_pct").value for k in cpu_keys(app.live.row_order())[:16]]
        assert utils == sorted(utils, reverse=True)
        assert app.live._order == app.live.row_order()
        for _ in range(5):
            await pilot.press("s")
        assert app.live.sort_name == "CPU"


async def test_t_toggles_the_topology_pane(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_tick(pilot, app)
        tree = app.query_one("#topology")
        assert tree.display
        await pilot.press("t")
        assert not tree.display
        await pilot.press("t")
        assert tree.display


async def test_g_toggles_grouping(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        grouped = app.live.row_order()
        assert grouped.index("pmu:cpu_atom") == 17
        await pilot.press("g")
        flat = app.live.row_order()
        assert flat[:2] == ["pmu:cpu_core", "pmu:cpu_atom"]
        assert cpu_keys(flat) == [f"cpu:{n}" for n in range(24)]
        await pilot.press("g")
        assert app.live.row_order() == grouped


async def test_cursor_survives_updates(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.live.focus()
        await pilot.press("down", "down", "down")
        assert app.live.selected_key == "cpu:2"
        await pilot.press("full_stop")
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert app.live.selected_key == "cpu:2"


async def test_tree_selection_highlights_cpus(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_tick(pilot, app)
        tree = app.query_one("#topology")
        node = next(n for n in tree._tree_nodes.values() if n.data == ("pmu", "cpu_atom"))
        tree.move_cursor(node)
        await pilot.pause()
        assert app.live.marks.highlighted == frozenset(range(16, 24))
        assert app.live.cell("cpu:16", "label").startswith("● ")


async def test_x_hides_the_banner(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        banner = app.query_one("#banner")
        assert banner.display
        assert "No core PMU" in str(banner.content)
        await pilot.press("x")
        assert not banner.display


async def test_n_a_cells_explain_themselves(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert app.live.cell("cpu:0", "ipc") == "n/a"
        detail = str(app.query_one("#detail").content)
        assert "ENOENT" in detail and "vPMU" in detail


async def test_detail_line_follows_the_selected_row(this_vm, alder_lake):
    """The description is rebuilt only when something it says changed: it must still change then."""
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.live.move_cursor(app.live._order.index("cpu:1"))
        await pilot.pause()
        snapshot = snapshots_of(this_vm)[SHOWN_TICK]
        cpus = tuple(dataclasses.replace(row, online=row.cpu != 1) for row in snapshot.cpus)
        app.inbox.deliver(dataclasses.replace(snapshot, cpus=cpus))
        await pilot.pause()
        assert "cpu1" in str(app.detail.content) and "offline" in str(app.detail.content)
        app.inbox.deliver(snapshot)
        await pilot.pause()
        assert "offline" not in str(app.detail.content)
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.live.move_cursor(app.live._order.index("pmu:cpu_core"))
        await pilot.pause()
        share = "12.5% of cycles+instructions extrapolated"
        assert share not in str(app.detail.content)
        snapshot = snapshots_of(alder_lake)[SHOWN_TICK]
        pmus = tuple(dataclasses.replace(row, extrapolated_share=0.125) for row in snapshot.pmus)
        app.inbox.deliver(dataclasses.replace(snapshot, pmus=pmus))
        await pilot.pause()
        assert share in str(app.detail.content)


async def test_detail_line_says_why_a_clock_is_not_shown(alder_lake):
    """An n/a that no counter failure explains (a CPU too idle to time its clock) says so too."""
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        snapshot = snapshots_of(alder_lake)[SHOWN_TICK]
        busy = next(row.cpu for row in snapshot.cpus if row.metric("ghz").value is not None)
        app.live.move_cursor(app.live._order.index(f"cpu:{busy}"))
        await pilot.pause()
        assert TOO_IDLE not in str(app.detail.content)
        idle = Metric(None, note=TOO_IDLE)
        cpus = tuple(dataclasses.replace(row, metrics={**row.metrics, "ghz": idle}) for row in snapshot.cpus)
        app.inbox.deliver(dataclasses.replace(snapshot, cpus=cpus))
        await pilot.pause()
        assert app.live.cell(f"cpu:{busy}", "ghz") == "n/a"
        assert f"GHz n/a: {TOO_IDLE}" in str(app.detail.content)


async def test_p_picks_a_process_and_f_stops_following(alder_lake):
    feed = following_feed(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("p")
        picker = app.screen
        assert isinstance(picker, ProcessPicker)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert ("processes", False) in feed.calls, "the process list is read off the UI thread"
        options = picker.query_one(OptionList)
        assert options.option_count == 3
        await pilot.press(*"stress")
        assert options.option_count == 1
        await pilot.press("enter")
        assert not isinstance(app.screen, ProcessPicker)
        assert ("follow", (4242,), None) in feed.calls
        await pilot.press("f")
        assert ("unfollow",) in feed.calls


async def test_picker_escape_cancels(alder_lake):
    feed = following_feed(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("p", "escape")
        assert not isinstance(app.screen, ProcessPicker)
        assert not [call for call in feed.calls if call[0] == "follow"]


async def test_picker_shows_names_literally(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        labels = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
        assert "   4343  [bold]x\\x1b[31m" in labels


async def test_task_name_is_shown_literally(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        pane = app.query_one(TaskPane)
        assert pane.display
        text = pane.content
        assert "[bold]x\\x1b[31m" in text.plain
        assert "\x1b" not in text.plain
        # No span of the name is styled by markup inside it.
        assert MALICIOUS_COMM not in text.plain


async def test_followed_cpu_is_marked_and_cross_type_migrations_stand_out(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert app.live.marks.followed == frozenset({17})
        assert app.live.cell("cpu:17", "label").startswith("▶ ")
        text = app.query_one(TaskPane).content
        assert "cpu3→cpu17" in text.plain and "⇄ core type" in text.plain
        assert "62.0% overall" in text.plain
        # Newest first: a short pane still shows the latest migration.
        assert text.plain.index("cpu3→cpu17") < text.plain.index("cpu2→cpu3")


async def test_command_palette_offers_the_actions(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in (
            "Pause or resume",
            "Filter CPUs",
            "Follow a process",
            "Stop following",
            "Cycle sort",
            "Toggle topology pane",
            "Toggle grouping",
            "Help",
            "Save snapshot",
            "Theme",
            "Step",
        ):
            assert title in titles


async def test_save_snapshot_writes_an_svg(alder_lake, tmp_path: Path):
    app = PmutopApp(paused_replay(alder_lake), screenshot_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.action_save_snapshot()
        saved = list(tmp_path.glob("*.svg"))
        assert [p.name for p in saved] == [f"pmutop-testhost-tick{SHOWN_TICK}.svg"]
        assert "<svg" in saved[0].read_text()


async def test_only_the_counted_cpus_get_rows(alder_lake):
    """A run with -C 2,17 (a P-core and an E-core): the table has exactly those CPU rows."""
    feed = paused_replay(alder_lake)
    feed.cpus = (2, 17)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert cpu_keys(app.live.row_order()) == ["cpu:2", "cpu:17"]
