"""The heat map: every CPU of a big machine in view as one cell, grouped under its core PMU with the PMU's
aggregate line; `m` switches between it and the table."""

import pytest
from sysfs_trees import build_hybrid_many
from tui_support import SHOWN_TICK, paused_replay, recording_for, wait_for_tick

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import CpuRow, Metric
from pmutop.tui.app import PmutopApp
from pmutop.tui.heat_map import IPC_GLYPHS, OFFLINE, UNKNOWN, cpu_cell
from pmutop.tui.live_model import cpu_key, pmu_key
from pmutop.tui.text import metric_cell

CPUS = 128


@pytest.fixture(scope="module")
def hybrid_128(tmp_path_factory):
    return recording_for(lambda root: build_hybrid_many(root, cpus=CPUS), tmp_path_factory.mktemp("hybrid"))


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
