"""The heat map: every CPU of a big machine in view as one cell, grouped under its core PMU with the PMU's
aggregate line, each line of cells numbered by its first CPU; the table's filter and CPUs, a cursor whose
row the detail area describes; `m` switches between it and the table."""

import re

import pytest
from sysfs_trees import build_hybrid_many, build_server_448
from tui_support import (
    SHOWN_TICK,
    ScriptedFeed,
    paused_replay,
    recording_for,
    run_until,
    settle,
    snapshots_of,
    wait_for_tick,
)

from pmutop.live.topology_loader import topology_of
from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import CpuRow, Metric
from pmutop.tui.app import PmutopApp
from pmutop.tui.heat_map import (
    ELLIPSIS,
    IPC_GLYPHS,
    LEGENDS,
    OFFLINE,
    UNKNOWN,
    CellLine,
    GroupLine,
    cpu_cell,
    fit_pieces,
    legend,
    title_pieces,
)
from pmutop.tui.live_model import cpu_key, pmu_key
from pmutop.tui.text import metric_cell

CPUS = 128
GLYPHS = (*IPC_GLYPHS, "■", "?", "·")
# A line of cells: its first CPU's number, then the cells.
CELL_LINE = re.compile(r"^ *(\d+) ([" + "".join(GLYPHS) + " ]*)$")
SIZES = pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])


@pytest.fixture(scope="module")
def hybrid_128(tmp_path_factory):
    return recording_for(lambda root: build_hybrid_many(root, cpus=CPUS), tmp_path_factory.mktemp("hybrid"))


@pytest.fixture(scope="module")
def server_448(tmp_path_factory):
    return recording_for(build_server_448, tmp_path_factory.mktemp("server"), ticks=SHOWN_TICK + 3)


@pytest.fixture(scope="module", params=["hybrid_128", "server_448"])
def big_machine(request):
    return request.getfixturevalue(request.param)


def row(util: float | None, ipc: float | None, online: bool = True) -> CpuRow:
    return CpuRow(0, "cpu_core", "performance", online, {"util_pct": Metric(util), "ipc": Metric(ipc)})


def test_a_cell_is_coloured_by_utilisation_and_drawn_by_ipc():
    assert cpu_cell(row(10.0, 0.1)) == (IPC_GLYPHS[0], "green")
    assert cpu_cell(row(95.0, 3.99)) == (IPC_GLYPHS[-1], "red")
    assert cpu_cell(row(60.0, 2.0)) == (IPC_GLYPHS[4], "yellow")
    assert cpu_cell(row(60.0, None)) == ("■", "yellow")
    assert cpu_cell(row(None, None)) == UNKNOWN
    assert cpu_cell(row(50.0, 1.0, online=False)) == OFFLINE
    assert cpu_cell(None) == OFFLINE


def screen_lines(app) -> list[str]:
    widget = app.heat_map
    return ["".join(segment.text for segment in widget.render_line(y)) for y in range(widget.size.height)]


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_every_cpu_of_a_big_machine_is_on_screen(hybrid_128, size):
    app = PmutopApp(paused_replay(hybrid_128))
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app)
        assert app.heat_map.display and not app.live.display, "more CPUs than lines: the heat map first"
        lines = screen_lines(app)
        titles = [y for y, line in enumerate(lines) if line.startswith("Σ ")]
        assert [lines[y].split()[1] for y in titles] == ["cpu_core", "cpu_atom"]
        assert all("util%" in lines[y] and "IPC" in lines[y] for y in titles)
        grid = [line for line in lines[titles[0] :] if not line.startswith("Σ ")]
        cells = sum(sum(line.count(glyph) for glyph in (*IPC_GLYPHS, "■", "?", "·")) for line in grid)
        assert cells == CPUS
        await pilot.press("m")
        assert app.live.display and not app.heat_map.display
        assert app.live.model.row_order()[0] == pmu_key("cpu_core") and len(app.live.model.row_order()) == CPUS + 2


async def test_a_tick_repaints_the_lines_that_changed_and_nothing_else(hybrid_128):
    app = PmutopApp(paused_replay(hybrid_128))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        before = screen_lines(app)
        screen = app.main_screen
        repainted = []
        real = screen.repaint_lines

        def repaint_lines(widget, *regions):
            if widget is app.heat_map:
                repainted.append(regions)
            real(widget, *regions)

        screen.repaint_lines = repaint_lines
        app.action_step()
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        after = screen_lines(app)
        changed = {y for y, (old, new) in enumerate(zip(before, after, strict=True)) if old != new}
        assert changed and len(repainted) == 1
        assert {region.y for region in repainted[0]} == changed, "each changed line, once; no whole repaint"


async def test_the_table_of_a_big_machine_formats_only_the_rows_on_screen(hybrid_128):
    app = PmutopApp(paused_replay(hybrid_128))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("m")
        live = app.live
        app.action_step()
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        assert 0 < len(live._cells) <= live._page_rows() < CPUS
        # Scrolled to the end, the last CPU's row shows this tick's figures.
        await pilot.press("ctrl+end")  # in a replay, end seeks to its last tick
        await pilot.pause()
        last = app.snapshot.cpus[-1]
        assert live.selected_key == cpu_key(last.cpu)
        util = MetricKey.UTIL_PCT
        assert live.model.cell(live.selected_key, util) == metric_cell(util, last.metric(util))[0]


def text_of(pieces) -> str:
    return "".join(text for text, _ in pieces)


def cpus_said(lines: list[str]) -> list[list[int]]:
    """Per group (a Σ line), the CPUs its lines of cells say they hold: from each line's number, one CPU a
    cell (a line holds consecutive CPUs)."""
    groups: list[list[int]] = []
    for line in lines[1:]:
        if line.startswith("Σ "):
            groups.append([])
            continue
        found = CELL_LINE.match(line.rstrip())
        if found:
            cells = sum(found[2].count(glyph) for glyph in GLYPHS)
            groups[-1].extend(range(int(found[1]), int(found[1]) + cells))
    return groups


@SIZES
async def test_each_line_of_cells_says_which_cpus_it_holds(big_machine, size):
    app = PmutopApp(paused_replay(big_machine))
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app)
        lines = screen_lines(app)
        expected = [[cpu for cpu in pmu.cpus] for pmu in app.topology.core_pmus]
        assert cpus_said(lines) == expected, "every CPU on screen, where its line's number says"
        assert len(app.heat_map.grid.lines) < len(lines), "no scrolling needed at this size"


async def test_the_map_shows_the_cpus_the_filter_lets_through(server_448):
    app = PmutopApp(paused_replay(server_448))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("slash", *"100-140,300", "enter")
        await pilot.pause()
        lines = screen_lines(app)
        assert cpus_said(lines) == [[*range(100, 141), 300]]
        # The Σ line's figures are the whole PMU's, not those of the CPUs shown: it says so.
        assert "Σ cpu 42 CPUs shown" in lines[1] and " · all 448: util% " in lines[1]
        # A line holds consecutive CPUs: the jump from 140 to 300 starts a line.
        assert [line.split()[0] for line in lines if CELL_LINE.match(line.rstrip())][-1] == "300"
        await pilot.press("slash", "escape", "slash", *"nothing", "enter")
        await pilot.pause()
        lines = screen_lines(app)
        assert "no CPU or PMU matches 'nothing'" in lines[1] and not cpus_said(lines)
        await pilot.press("slash", "escape")
        await pilot.pause()
        lines = screen_lines(app)
        assert cpus_said(lines) == [list(range(448))]
        assert "Σ cpu 448 CPUs (0-447) · util% " in lines[1] and "all" not in lines[1]


async def test_the_map_shows_only_the_counted_cpus(hybrid_128):
    """`-C`: the feed counts some CPUs, and the map (as the table) shows those alone; so few fit the table,
    which comes first."""
    topology = topology_of(hybrid_128.header.sysfs)
    feed = ScriptedFeed(topology, snapshots_of(hybrid_128)[:3])
    feed.cpus = (*range(0, 8), *range(64, 80))
    app = PmutopApp(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: app.snapshot is not None, "a snapshot")
        assert app.live.display and not app.heat_map.display
        await pilot.press("m")
        await pilot.pause()
        assert app.heat_map.display
        assert cpus_said(screen_lines(app)) == [list(range(8)), list(range(64, 80))]


def detail_text(app) -> str:
    return str(app.detail.render())


async def test_the_cursor_selects_a_cpu_and_the_detail_area_describes_it(server_448):
    app = PmutopApp(paused_replay(server_448))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        heat_map = app.heat_map
        assert app.focused is heat_map and heat_map.selected_key == pmu_key("cpu")
        await pilot.press("down", "shift+right", "shift+right", "shift+right")
        assert heat_map.selected_key == cpu_key(3)
        assert detail_text(app) == app.live.model.describe(cpu_key(3)).plain
        assert detail_text(app).startswith("cpu3 · cpu")
        per_line = len(heat_map.grid.lines[1].cpus)
        await pilot.press("down")
        assert heat_map.selected_key == cpu_key(3 + per_line), "down keeps the column"
        await pilot.press("up", "up")
        assert heat_map.selected_key == pmu_key("cpu")
        await pilot.press("down")
        assert heat_map.selected_key == cpu_key(3), "and comes back to it past the Σ line"
        # In a replay ← and → seek (shift+← and → move the cursor); the cursor stays on its CPU.
        position = app.feed_state.playback.position
        await pilot.press("right")
        await run_until(pilot, lambda: app.feed_state.playback.position != position, "the seek")
        assert heat_map.selected_key == cpu_key(3)
        await pilot.press("ctrl+end")
        assert heat_map.selected_key == cpu_key(447)
        await pilot.pause()
        last = screen_lines(app)[heat_map._cursor_line() - heat_map.top + 1]
        assert last.split()[0] == str(447 - 447 % per_line)
        # The cell drawn in reverse is the last CPU's.
        strip = heat_map.render_line(heat_map._cursor_line() - heat_map.top + 1)
        reversed_at = [
            len("".join(segment.text for segment in list(strip)[:index]))
            for index, segment in enumerate(strip)
            if segment.style and segment.style.reverse
        ]
        assert reversed_at == [len(last.rstrip()) - 1]


async def test_arrows_move_the_cursor_where_nothing_seeks(hybrid_128):
    topology = topology_of(hybrid_128.header.sysfs)
    app = PmutopApp(ScriptedFeed(topology, snapshots_of(hybrid_128)[:3]))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: app.snapshot is not None, "a snapshot")
        await pilot.press("down", "right", "right", "left")
        await pilot.pause()
        assert app.heat_map.selected_key == cpu_key(1)
        await pilot.press("end")
        assert app.heat_map.selected_key == cpu_key(CPUS - 1)
        await pilot.press("home")
        assert app.heat_map.selected_key == pmu_key("cpu_core")


async def test_every_cpu_can_be_reached_where_the_map_does_not_fit(server_448):
    """A terminal too small for the grid: it scrolls to keep the cursor in view, and the cursor walks every
    CPU and PMU line in order."""
    app = PmutopApp(paused_replay(server_448))
    async with app.run_test(size=(40, 16)) as pilot:
        await wait_for_tick(pilot, app)
        heat_map = app.heat_map
        height = heat_map.styling.content_size.height - 1
        assert len(heat_map.grid.lines) > height, "the grid is taller than the map: it scrolls"
        visited = [heat_map.selected_key]
        for _ in range(448):
            heat_map.action_cursor_right()
            visited.append(heat_map.selected_key)
            assert heat_map.top <= heat_map._cursor_line() < heat_map.top + height
        assert visited == [pmu_key("cpu"), *(cpu_key(cpu) for cpu in range(448))]
        await pilot.pause()
        assert screen_lines(app)[-1].split()[0] == str(heat_map.grid.lines[-1].cpus[0])
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert heat_map.top == 0 and screen_lines(app)[1].startswith("Σ cpu")


async def test_a_click_selects_the_cpu_under_it(hybrid_128):
    app = PmutopApp(paused_replay(hybrid_128))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        heat_map = app.heat_map
        grid = heat_map.grid
        line = next(y for y, shown in enumerate(grid.lines) if isinstance(shown, CellLine) and shown.cpus[0] == 64)
        x = heat_map.gutter.left + grid.label_width + 1 + 5 * grid.cell_width
        await pilot.click(heat_map, offset=(x, line - heat_map.top + 1))
        assert heat_map.selected_key == cpu_key(69)
        assert detail_text(app).startswith("cpu69 · cpu_atom")


async def test_m_keeps_the_selected_row(hybrid_128):
    app = PmutopApp(paused_replay(hybrid_128))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("down", "shift+right", "shift+right", "m")
        await pilot.pause()
        assert app.live.display and app.focused is app.live and app.live.selected_key == cpu_key(2)
        assert detail_text(app).startswith("cpu2 ")
        await pilot.press("down", "m")
        await pilot.pause()
        assert app.focused is app.heat_map and app.heat_map.selected_key == cpu_key(3)


def cursor_in_view(table) -> bool:
    top = round(table.scroll_y)
    return top <= table.cursor_row < top + table._page_rows()


async def test_m_shows_the_selected_row_in_view_and_a_sort_keeps_it_there(server_448):
    app = PmutopApp(paused_replay(server_448))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        assert app.heat_map.display
        # The last CPU, then the table, which has never been drawn before.
        await pilot.press("ctrl+end", "m")
        await pilot.pause()
        assert app.live.selected_key == cpu_key(447) and cursor_in_view(app.live)
        await pilot.press("ctrl+home", "down", "down", "down")
        selected = app.live.selected_key
        for _ in range(3):
            await pilot.press("s")
            await pilot.pause()
            assert app.live.selected_key == selected and cursor_in_view(app.live), app.live.model.sort_name


def test_the_legend_fits_any_width_or_ends_in_an_ellipsis():
    for width in range(1, 160):
        pieces = legend(width)
        text = text_of(pieces)
        assert len(text) <= width
        assert pieces in LEGENDS or text.endswith(ELLIPSIS), f"cut at {width} without {ELLIPSIS}"
    assert legend(80) in LEGENDS, "at 80 columns a whole legend"
    assert text_of(legend(200)) == text_of(LEGENDS[0])


def test_a_line_too_long_ends_in_an_ellipsis():
    pieces = [("Σ cpu_core", "bold"), (" performance · 112 CPUs", ""), (" · util% ", ""), ("43.9", "bold")]
    assert fit_pieces(pieces, 200) == pieces
    for width in range(1, len(text_of(pieces))):
        text = text_of(fit_pieces(pieces, width))
        assert len(text) == width and text.endswith(ELLIPSIS) and text_of(pieces).startswith(text[:-1])


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60), (60, 20)])
async def test_no_line_of_the_map_is_cut_without_an_ellipsis(server_448, size):
    app = PmutopApp(paused_replay(server_448))
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app)
        width = app.heat_map.styling.content_size.width
        for pieces in app.heat_map._painted:
            text = text_of(pieces)
            assert len(text) <= width
            if len(text) == width and not CELL_LINE.match(text):
                assert text.endswith(ELLIPSIS), text


def test_a_title_too_long_drops_whole_pieces_before_it_cuts_one(hybrid_128):
    row = snapshots_of(hybrid_128)[SHOWN_TICK].pmus[0]
    line = GroupLine("cpu_core", "performance", tuple(range(64)))
    full = text_of(title_pieces(line, row, False, 200))
    assert full.startswith("Σ cpu_core performance · 64 CPUs (0-63) · util% ") and " · GHz " in full
    narrower = [text_of(title_pieces(line, row, False, width)) for width in range(len(full) - 1, 0, -1)]
    assert "Σ cpu_core performance · 64 CPUs · util% " in narrower[0] and " · GHz " in narrower[0]
    for width, text in zip(range(len(full) - 1, 0, -1), narrower, strict=True):
        assert len(text) <= width
        # Whole pieces, or cut with an ellipsis once only the name and count are left.
        assert text.endswith(ELLIPSIS) or re.fullmatch(r"Σ cpu_core performance · 64 CPUs( · \S+ [\d.~]+)*", text)


@SIZES
def test_heat_map_with_a_cpu_selected(snap_compare, hybrid_128, size):
    """The map of a 128-CPU hybrid machine, the cursor on cpu66 (on an E-core) and the detail area on it."""
    app = PmutopApp(paused_replay(hybrid_128))

    async def select_cpu66(pilot) -> None:
        await wait_for_tick(pilot, app)
        app.heat_map.select(cpu_key(66))
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=select_cpu66)
