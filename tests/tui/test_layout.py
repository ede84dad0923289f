"""Layout by width and the keys added for it: pilot tests on deterministic replays, at the three sizes."""

import dataclasses

import pytest
from rich.cells import cell_len
from textual.widgets import Input
from tui_support import SHOWN_TICK, following_feed, paused_replay, run_until, snapshots_of, wait_for_tick

from pmutop.model.snapshot import event_metric
from pmutop.tui.app import TOPOLOGY_MIN_WIDTH, PmutopApp
from pmutop.tui.footer import FittingFooter
from pmutop.tui.live_model import COLUMNS, DROP_ORDER, fit_columns, pmu_key
from pmutop.tui.task_pane import TaskPane
from pmutop.tui.topology_pane import TopologyTree

SIZES = [(80, 24), (120, 40), (200, 60)]
# How the help screen writes the keys whose binding names differ.
HELP_NAMES = {"question_mark,f1": "?", "full_stop": ".", "slash": "/", "plus": "+", "minus": "-", "left": "←"}
HELP_NAMES |= {"right": "→"}


def test_columns_leave_in_the_documented_order():
    keys = [key for key, _, _ in COLUMNS]
    every = fit_columns(COLUMNS, 10_000, 12)
    assert every == tuple(range(len(COLUMNS)))
    previous = set(every)
    for width in range(200, 20, -1):
        shown = set(fit_columns(COLUMNS, width, 12))
        gone = [keys[index] for index in previous - shown]
        # What leaves as the table narrows is always the next in DROP_ORDER.
        for key in gone:
            assert DROP_ORDER.index(key) == min(DROP_ORDER.index(keys[i]) for i in previous if keys[i] in DROP_ORDER)
            previous.discard(keys.index(key))
    assert {keys[index] for index in fit_columns(COLUMNS, 1, 12)} == {"util_pct"}
    assert keys.index("migrations_per_s") in fit_columns(COLUMNS, 1, 12, keep="migrations_per_s")


def test_columns_fit_within_the_chosen_ones_and_events_leave_first():
    events = tuple((event_metric(label), label, 8) for label in ("branch-misses", "cs"))
    chosen = (*(column for column in COLUMNS if column[0] not in ("cycles", "ghz")), *events)
    keys = [key for key, _, _ in chosen]
    assert fit_columns(chosen, 10_000, 12) == tuple(range(len(chosen)))
    # Room for all but one column: the last event goes, pmutop's own stay.
    all_but_one = 2 + 12 + sum(2 + width for _, _, width in chosen) - 1
    assert {keys[index] for index in fit_columns(chosen, all_but_one, 12)} == set(keys) - {event_metric("cs")}
    # Narrower still: both events go before instr, the first in DROP_ORDER.
    narrower = all_but_one - 10
    left = {keys[index] for index in fit_columns(chosen, narrower, 12)}
    assert left == set(keys) - {event_metric("cs"), event_metric("branch-misses")}
    # A sorted event column stays in sight.
    assert keys.index(event_metric("cs")) in fit_columns(chosen, 1, 12, keep=event_metric("cs"))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_nothing_runs_past_the_edge(alder_lake, size):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.pause()
        # The table fits its pane: no sideways scrolling, so no row is cut at the edge.
        assert app.live.virtual_size.width <= app.live.styling.content_size.width
        # The header is one line, whatever the width.
        assert app.header.size.height == 1
        assert cell_len(app.header.content.plain) <= size[0] - 2
        # The footer's keys fit beside the palette key.
        footer = app.query_one(FittingFooter)
        assert sum(key.outer_size.width for key in footer.children) <= size[0]
        assert app.query_one("#topology").display == (size[0] >= TOPOLOGY_MIN_WIDTH)


async def test_t_folds_the_tree_out_below_100_columns_and_labels_end_in_an_ellipsis(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        tree = app.query_one(TopologyTree)
        assert not tree.display
        await pilot.press("t")
        assert tree.display
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in tree.render_lines(tree.region.reset_offset)]
        pmu_lines = [line for line in lines if "type 4" in line or "type 8" in line]
        assert len(pmu_lines) == 2, lines
        # A CPU list is there whole or ends in an ellipsis, never cut into a shorter, true-looking one.
        for line in pmu_lines:
            assert line.rstrip("│ ").endswith(("0-15", "16-23", "…")), line


async def test_space_pauses_with_the_tree_focused(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_tick(pilot, app)
        app.query_one(TopologyTree).focus()
        await pilot.pause()
        await pilot.press("space")
        assert not feed.state().paused
        assert "Pause" in [key.description for key in app.query_one(FittingFooter).query("FooterKey")]


async def test_slash_prefills_the_filter_and_space_types_there(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"16-19", "enter")
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.value == "16-19" and box.has_focus
        await pilot.press("space")
        assert feed.state().paused, "a space typed in the filter does not resume the replay"
        assert box.value == "16-19 "


async def test_a_filter_matching_nothing_says_so(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"nothing", "enter")
        assert app.live.model.row_order() == []
        line = app.live.render_line(1).text
        assert "no CPU or PMU matches 'nothing'" in line


async def test_r_reverses_the_sort_and_the_heading_shows_it(alder_lake):
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_tick(pilot, app)
        assert "CPU▲" in app.live.render_line(0).text
        await pilot.press("s")
        heading = app.live.render_line(0).text
        assert "▼util%" in heading and "CPU▲" not in heading
        order = app.live.model.row_order()
        await pilot.press("r")
        assert "▲util%" in app.live.render_line(0).text
        reversed_order = app.live.model.row_order()
        assert reversed_order != order and set(reversed_order) == set(order)
        assert "sort util%▲" in app.header.content.plain


async def test_replay_seeks_with_arrows_home_and_end(alder_lake):
    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)

        async def settle(position: int) -> None:
            await run_until(
                pilot,
                lambda: app.feed_state.playback.position == position and app.snapshot.index == position - 1,
                "the seek",
            )
            await pilot.pause()

        await pilot.press("right")
        await settle(SHOWN_TICK + 11)
        await pilot.press("left", "left")
        await settle(SHOWN_TICK - 9)
        # The header counts intervals (snapshots) as stat does: the first is 1, the last the recording's ticks - 1.
        intervals = len(alder_lake.ticks) - 1
        assert f"tick {SHOWN_TICK - 9 - 1}/{intervals} " in app.header.content.plain
        await pilot.press("end")
        await settle(len(alder_lake.ticks))
        assert app.feed_state.playback.at_end and "END" in app.header.content.plain
        assert f"tick {intervals}/{intervals} " in app.header.content.plain
        await pilot.press("home")
        await settle(2)
        assert "END" not in app.header.content.plain and feed.state().paused
        assert f"tick 1/{intervals} " in app.header.content.plain and app.snapshot.index == 1
        # The history starts again with the replay.
        assert len(app.inbox.history(pmu_key("cpu_core"), "ipc")) == 1


async def test_an_exited_task_shows_final_figures_only(alder_lake):
    feed = following_feed(alder_lake)
    task = feed.snapshots[-1].tasks[0]
    exited = dataclasses.replace(task, alive=False, exit_status=0, threads=0, cpu_now=None)
    feed.snapshots[-1] = dataclasses.replace(feed.snapshots[-1], tasks=(exited,))
    app = PmutopApp(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app, feed.snapshots[-1].index)
        text = app.query_one(TaskPane).content.plain
        assert "exited (0) · final figures" in text
        assert "now" not in text and "CPU" not in text and "0 threads" not in text
        assert "62.0% overall" in text


async def test_a_sleeping_tasks_bar_is_empty(alder_lake):
    """The residency bar is CPU time: a task that ran 1% of the interval has a near-empty bar even
    though all of that 1% was on one core type."""
    snapshots = snapshots_of(alder_lake)[: SHOWN_TICK + 1]
    feed = following_feed(alder_lake)
    task = dataclasses.replace(feed.snapshots[-1].tasks[0], residency={"cpu_atom": 1.0})
    before = dataclasses.replace(task, running_s=10.0)
    after = dataclasses.replace(task, running_s=10.0 + 0.01 * snapshots[-1].interval_s)
    feed.snapshots[-2:] = [
        dataclasses.replace(snapshots[-2], tasks=(before,)),
        dataclasses.replace(snapshots[-1], tasks=(after,)),
    ]
    app = PmutopApp(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app, snapshots[-1].index)
        lines = [line for line in app.query_one(TaskPane).content.plain.splitlines() if "cpu_atom  " in line]
        assert "1.0% CPU" in lines[0] and "ran here 100% now" in lines[0]
        assert "█" not in lines[0]


async def test_every_bound_key_has_an_action_and_a_line_in_help(alder_lake):
    """What the footer offers works and the help screen explains it: every binding's action exists on the
    app, and every key is listed in the help."""
    from textual.binding import Binding

    from pmutop.tui.screens import KEYS_HELP

    listed = " ".join(keys for keys, _ in KEYS_HELP).split()
    app = PmutopApp(paused_replay(alder_lake))
    for binding in PmutopApp.BINDINGS:
        assert isinstance(binding, Binding)
        assert callable(getattr(app, f"action_{binding.action}", None)), binding.action
        assert HELP_NAMES.get(binding.key, binding.key) in listed, binding.key


async def test_ctrl_p_opens_the_palette_and_runs_an_action(alder_lake):
    from textual.command import CommandPalette

    feed = paused_replay(alder_lake)
    app = PmutopApp(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Reverse sort")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.live.model.sort_reversed
