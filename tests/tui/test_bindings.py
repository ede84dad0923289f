"""Pilot tests: every key binding, the process picker and the command palette, on deterministic feeds."""

import dataclasses
from pathlib import Path

import pytest
from sysfs_trees import build_alder_lake
from textual.widgets import Input, OptionList, Static
from tui_support import (
    MALICIOUS_COMM,
    SHOWN_TICK,
    ScriptedFeed,
    following_feed,
    paused_replay,
    recording_for,
    run_until,
    snapshots_of,
    wait_for_tick,
)

from pmutop.live.topology_loader import topology_of
from pmutop.model.processes import ProcessInfo
from pmutop.model.rates import TOO_IDLE
from pmutop.model.snapshot import Metric
from pmutop.tui.app import PmutopApp
from pmutop.tui.live_model import SORT_ORDER, SORTS, TITLES, CpuKey, cpu_key, pmu_key
from pmutop.tui.screens import HelpScreen, ProcessPicker
from pmutop.tui.task_pane import TaskPane

SIZE = (100, 30)


def cpu_keys(order: list[str]) -> list[str]:
    return [key for key in order if isinstance(key, CpuKey)]


async def test_q_quits(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_q_quits_from_the_help_too(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_space_pauses_and_resumes(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert feed.state().paused
        await pilot.press("space")
        assert not feed.state().paused
        await pilot.press("space")
        assert feed.state().paused


async def test_plus_and_minus_change_the_replay_speed(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert feed.state().playback.speed == pytest.approx(1.0)
        await pilot.press("plus")
        # Plain speeds, and the header's interval is the recording's, not the playback's.
        assert feed.state().playback.speed == 0.5
        header = str(app.header.content)
        assert "×0.5 " in header and "recorded every 1s" in header
        await pilot.press("minus", "minus")
        assert feed.state().playback.speed == 2.0
        assert "×2 " in str(app.header.content)


async def test_plus_and_minus_change_a_live_interval(alder_lake):
    feed = ScriptedFeed(topology_of(alder_lake.header.sysfs), snapshots_of(alder_lake)[:3])
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        assert ("set_interval", 2.0) in feed.calls
        assert "every 2s" in str(app.header.content)
        await pilot.press("minus", "minus")
        assert feed.state().interval_s == 0.5


async def test_full_stop_steps_a_paused_replay(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("full_stop")
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert app.snapshot.index == SHOWN_TICK + 1
        assert feed.state().paused


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_the_keys(alder_lake, key):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-body").content
        listed = {str(cell) for cell in body.columns[0].cells}
        assert {"q / ctrl+c", "space", "+ / -", "? / F1", "/", "p", "f", "s", "t", "g"} <= listed
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_slash_filters_cpus_and_escape_clears(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"16-19")
        assert app.live.model.row_order() == [pmu_key("cpu_atom"), cpu_key(16), cpu_key(17), cpu_key(18), cpu_key(19)]
        await pilot.press("enter")
        assert not app.query_one("#filter").display
        assert app.live.model.filter_text == "16-19"
        await pilot.press("slash")
        await pilot.press("escape")
        assert app.live.model.filter_text == ""
        assert len(cpu_keys(app.live.model.row_order())) == 24


async def test_filter_by_core_type_name(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"efficiency", "enter")
        assert cpu_keys(app.live.model.row_order()) == [cpu_key(n) for n in range(16, 24)]


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
        assert app.live.model.cell(cpu_key(0), "util_pct") == ""


async def test_s_cycles_the_sort(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("s")
        assert app.live.model.sort_name == "util%"
        # Within each core PMU, CPUs by utilisation, busiest first.
        utils = [app.snapshot.cpu(k.cpu).metric("util_pct").value for k in cpu_keys(app.live.model.row_order())[:16]]
        assert utils == sorted(utils, reverse=True)
        assert app.live._order == app.live.model.row_order()
        # Every figure column is a sort, shown while sorted by even where the width had dropped it, and
        # the cycle comes back to CPU numbers.
        names = []
        while app.live.model.sort_name != "CPU":
            names.append(app.live.model.sort_name)
            assert TITLES[SORTS[app.live.model.sort_index][1]] == app.live.model.sort_name
            assert SORTS[app.live.model.sort_index][1] in app.live.shown_column_keys
            await pilot.press("s")
        assert names == [TITLES[key] for key in SORT_ORDER] and "migr/s" in names


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
        grouped = app.live.model.row_order()
        assert grouped.index(pmu_key("cpu_atom")) == 17
        await pilot.press("g")
        flat = app.live.model.row_order()
        assert flat[:2] == [pmu_key("cpu_core"), pmu_key("cpu_atom")]
        assert cpu_keys(flat) == [cpu_key(n) for n in range(24)]
        await pilot.press("g")
        assert app.live.model.row_order() == grouped


async def test_cursor_survives_updates(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.live.focus()
        await pilot.press("down", "down", "down")
        assert app.live.selected_key == cpu_key(2)
        await pilot.press("full_stop")
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert app.live.selected_key == cpu_key(2)


async def test_tree_selection_highlights_cpus(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_tick(pilot, app)
        tree = app.query_one("#topology")
        node = next(n for n in tree._tree_nodes.values() if n.data == ("pmu", "cpu_atom"))
        tree.move_cursor(node)
        await pilot.pause()
        assert app.live.model.marks.highlighted == frozenset(range(16, 24))
        assert app.live.model.cell(cpu_key(16), "label").startswith("● ")


async def test_x_hides_the_banner(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        banner = app.query_one("#banner")
        assert banner.display
        # The recording's notice is the one the Sampler makes on a machine without a core PMU.
        assert this_vm.header.notices[0].split(":")[0] in str(banner.content)
        await pilot.press("x")
        assert not banner.display


async def test_n_a_cells_explain_themselves(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert app.live.model.cell(cpu_key(0), "ipc") == "n/a"
        detail = str(app.query_one("#detail").content)
        assert "ENOENT" in detail and "vPMU" in detail


async def test_detail_line_follows_the_selected_row(this_vm, alder_lake):
    """The description is rebuilt only when something it says changed: it must still change then."""
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        app.live.move_cursor(app.live._order.index(cpu_key(1)))
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
        app.live.move_cursor(app.live._order.index(pmu_key("cpu_core")))
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
        app.live.move_cursor(app.live._order.index(cpu_key(busy)))
        await pilot.pause()
        assert TOO_IDLE not in str(app.detail.content)
        idle = Metric(None, note=TOO_IDLE)
        cpus = tuple(dataclasses.replace(row, metrics={**row.metrics, "ghz": idle}) for row in snapshot.cpus)
        app.inbox.deliver(dataclasses.replace(snapshot, cpus=cpus))
        await pilot.pause()
        assert app.live.model.cell(cpu_key(busy), "ghz") == "n/a"
        assert f"GHz n/a: {TOO_IDLE}" in str(app.detail.content)


async def test_p_picks_a_process_and_f_stops_following(alder_lake):
    feed = following_feed(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("p")
        picker = app.screen
        assert isinstance(picker, ProcessPicker)
        await run_until(pilot, lambda: picker.listing is not None, "the feed's process list")
        await pilot.pause()
        assert ("watch_processes", True) in feed.calls, "the feed makes the list, the picker only shows it"
        options = picker.query_one(OptionList)
        assert options.option_count == 6, "kernel threads hidden"
        await pilot.press(*"stress")
        assert options.option_count == 1
        await pilot.press("enter")
        assert not isinstance(app.screen, ProcessPicker)
        assert ("follow", (4242,), None) in feed.calls
        assert feed.calls[-2:] == [("watch_processes", False), ("follow", (4242,), None)], "closed, it stops the list"
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
        assert feed.calls[-1] == ("watch_processes", False)


async def test_picker_shows_names_literally(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("p")
        await run_until(pilot, lambda: app.screen.listing is not None, "the feed's process list")
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        labels = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
        assert "   4343 bob        12.5  [bold]x\\x1b[31m" in labels


async def open_picker(pilot, app: PmutopApp) -> ProcessPicker:
    """`p` once the feed has delivered, and the picker once the feed has handed it a process list."""
    await wait_for_tick(pilot, app)
    await pilot.press("p")
    assert isinstance(app.screen, ProcessPicker)
    picker = app.screen
    await run_until(pilot, lambda: picker.listing is not None, "the feed's process list")
    await pilot.pause()
    return picker


def picker_pids(picker: ProcessPicker) -> list[int]:
    options = picker.query_one(OptionList)
    return [int(options.get_option_at_index(i).id) for i in range(options.option_count)]


async def test_picker_lists_busiest_first_with_user_and_command_line(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=(120, 40)) as pilot:
        picker = await open_picker(pilot, app)
        # CPU% high first, the one without a figure last; kernel threads (2, 57) hidden.
        assert picker_pids(picker) == [4242, 5002, 4343, 5001, 1, 5003]
        options = picker.query_one(OptionList)
        # The program without its directory: the arguments fit.
        assert options.get_option_at_index(1).prompt.plain == "   5002 carol      97.0  python3 train.py --epochs 90"
        # Three pythons told apart by part of their command lines, the program's directory too.
        await pilot.press(*"epochs")
        assert picker_pids(picker) == [5002]
        await pilot.press(*(["backspace"] * 6), *".venv/bin")
        assert picker_pids(picker) == [5002]
        await pilot.press(*(["backspace"] * 9), *"python3 http")
        assert picker_pids(picker) == [5001]
        await pilot.press("enter")
        assert ("follow", (5001,), None) in app.feed.calls


async def test_picker_shows_kernel_threads_on_ctrl_t(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=(120, 40)) as pilot:
        picker = await open_picker(pilot, app)
        assert 57 not in picker_pids(picker)
        assert "2 kernel threads hidden (^t)" in str(picker.query_one("#picker-status").content)
        await pilot.press("ctrl+t")
        assert picker_pids(picker)[:3] == [4242, 5002, 4343] and {2, 57} <= set(picker_pids(picker))
        labels = [picker.query_one(OptionList).get_option_at_index(i).prompt.plain for i in range(8)]
        assert any(label.endswith("[kworker/0:1]") for label in labels)
        await pilot.press(*"nothing-like-this")
        assert picker_pids(picker) == []
        assert "nothing matches" in str(picker.query_one("#picker-status").content)


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
        assert app.live.model.marks.followed == frozenset({17})
        assert app.live.model.cell(cpu_key(17), "label").startswith("▶ ")
        text = app.query_one(TaskPane).content
        assert "cpu3→cpu17" in text.plain and "3.507 ⇄    4343" in text.plain
        assert "62.0% overall" in text.plain
        # Newest first: a short pane still shows the latest migration.
        assert text.plain.index("cpu3→cpu17") < text.plain.index("cpu2→cpu3")


async def test_command_palette_offers_every_action_once(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles)), titles
        actions = [command.callback for command in app.get_system_commands(app.screen)]
        assert len(actions) == len(set(actions)), "two entries for one action"
        for title in (
            "Pause or resume",
            "Filter CPUs",
            "Follow a process",
            "Cycle sort",
            "Reverse sort",
            "Toggle topology pane",
            "Toggle grouping",
            "Hide notice",
            "Help",
            "Save snapshot",
            "Theme",
            "Quit",
            "Step",
            "Seek back",
            "Seek forward",
            "Restart",
            "Go to the end",
        ):
            assert title in titles
        # Textual's Keys panel and Screenshot would be Help and Save snapshot a second time.
        assert "Keys" not in titles and "Screenshot" not in titles
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Stop following" in titles and "Step" not in titles and "Longer interval" in titles


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
        assert cpu_keys(app.live.model.row_order()) == [cpu_key(2), cpu_key(17)]


async def test_a_replays_picker_offers_the_recorded_processes_only(tmp_path):
    """A replay follows no new process: its picker says so and lists what the recording followed, by pid;
    Enter narrows the task pane to that one."""
    recording = recording_for(build_alder_lake, tmp_path, processes=((1, "systemd"),), follow=(4242, "stress-ng"))
    app = PmutopApp(paused_replay(recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)
        assert [task.pid for task in app.snapshot.tasks] == [4242]
        picker = await open_picker(pilot, app)
        assert picker_pids(picker) == [1, 4242]
        assert "A replay can show only processes it recorded" in str(picker.query_one("#picker-help").content)
        status = str(picker.query_one("#picker-status").content)
        assert status == "2 of 2 · no CPU% in a recording · ^s sort ^r reverse", "and no kernel threads"
        await pilot.press(*"systemd", "enter")
        assert not isinstance(app.screen, ProcessPicker)
        await pilot.press("full_stop")
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert app.snapshot.tasks == (), "the recorded task not picked is no longer shown"


async def test_a_replay_that_followed_nothing_says_there_is_nothing_to_pick(tmp_path):
    app = PmutopApp(paused_replay(recording_for(build_alder_lake, tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        picker = await open_picker(pilot, app)
        assert picker_pids(picker) == []
        assert "this recording followed no process" in str(picker.query_one("#picker-status").content)


async def test_the_pickers_status_stays_one_line_on_a_busy_machine(alder_lake):
    """Thousands of processes make a status longer than an 80-column dialog: it ends with `…`, on one line."""
    many = [ProcessInfo(pid, "worker", f"worker --id {pid}", "alice", 1.0) for pid in range(10_000, 12_000)]
    kernel = [ProcessInfo(pid, "kworker", "", "root", 0.0, kernel_thread=True) for pid in range(3, 3000)]
    feed = ScriptedFeed(following_feed(alder_lake).topology, snapshots_of(alder_lake)[:SHOWN_TICK], many + kernel)
    app = PmutopApp(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = await open_picker(pilot, app)
        status = picker.query_one("#picker-status", Static)
        assert len(str(status.content)) > status.content_region.width, "the status is longer than the dialog"
        assert status.region.height == 1
        line = "".join(segment.text for segment in status.render_line(0))
        assert line.rstrip().endswith("…")


async def test_the_picker_sorts_by_each_column_and_reverses(alder_lake):
    """ctrl+s (or F6) cycles CPU% ▼, PID, USER, COMMAND (low first, ▲), ctrl+r turns the order round; the
    filter box keeps what was typed, and the order holds over what it matches."""
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=(120, 40)) as pilot:
        picker = await open_picker(pilot, app)
        heading = picker.query_one("#picker-heading", Static)
        assert str(heading.content) == "    PID USER      CPU%▼  COMMAND"
        await pilot.press("ctrl+s")
        assert picker_pids(picker) == [1, 4242, 4343, 5001, 5002, 5003]
        assert str(heading.content) == "   PID▲ USER       CPU%  COMMAND"
        await pilot.press("ctrl+r")
        assert picker_pids(picker) == [5003, 5002, 5001, 4343, 4242, 1]
        assert str(heading.content) == "   PID▼ USER       CPU%  COMMAND"
        await pilot.press("ctrl+s")
        assert picker_pids(picker) == [4242, 5001, 4343, 5002, 1, 5003], "alice, bob, carol, root; then by pid"
        await pilot.press("f6")
        # init, python3 -m http.server, python3 /usr/bin/unattended-upgrade, python3 train.py, stress-ng, [bold]…
        assert picker_pids(picker) == [4343, 1, 5001, 5003, 5002, 4242]
        await pilot.press(*"python3", "ctrl+r")
        assert picker_pids(picker) == [5002, 5003, 5001]
        assert picker.query_one(Input).value == "python3"
        await pilot.press("f6")
        # Back to CPU% high first; the one without a figure last.
        assert picker_pids(picker) == [5002, 5001, 5003]
        await pilot.press("ctrl+r")
        assert picker_pids(picker) == [5001, 5002, 5003], "low first, the unknown still last"
