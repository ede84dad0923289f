"""The column chooser (c, palette), -e events as columns, and the remembered interval, sort, theme and columns."""

import json
from pathlib import Path

import pytest
from textual.widgets import SelectionList
from tui_support import alder_lake_recording, paused_replay, wait_for_tick

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import event_metric
from pmutop.recording.format import read_recording
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.app import PmutopApp, current_config
from pmutop.tui.columns import ColumnChooser, available_columns, chosen_columns
from pmutop.tui.config import TuiConfig, config_path, load_config, save_config
from pmutop.tui.live_model import COLUMNS, TableColumn, cpu_key, pmu_key

SIZE = (140, 40)


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@pytest.fixture(scope="module")
def events_recording(tmp_path_factory):
    return alder_lake_recording(tmp_path_factory.mktemp("adl-events"), events=("branch-misses,cs",))


async def test_events_are_columns_and_the_chooser_hides_one_and_remembers(events_recording, config_home):
    app = PmutopApp(paused_replay(events_recording), config=load_config())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        keys = [key for key, _, _ in app.live.model.columns]
        assert keys[-2:] == [event_metric("branch-misses"), event_metric("cs")]
        assert app.live.model.cell(cpu_key(0), event_metric("cs")) not in ("", "n/a")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ColumnChooser)
        chooser = app.screen.query_one(SelectionList)
        chooser.deselect("ghz")
        await pilot.press("enter")
        await pilot.pause()
        assert "ghz" not in [key for key, _, _ in app.live.model.columns]
        with pytest.raises(ValueError):
            app.live.model.cell(cpu_key(0), "ghz")
        await pilot.press("s")
        await pilot.press("q")
    saved = json.loads(config_path().read_text())
    assert "ghz" not in saved["columns"] and event_metric("cs") in saved["columns"]
    assert saved["sort"] == "util%" and saved["theme"] == app.theme
    # A replay has no interval of its own to remember.
    assert saved["interval_ms"] is None


async def test_taking_away_the_sorted_column_says_so_in_the_header_at_once(events_recording):
    app = PmutopApp(paused_replay(events_recording))
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for_tick(pilot, app)
        while app.live.model.sort_name != "GHz":
            await pilot.press("s")
        await pilot.pause()
        assert "sort GHz" in app.header.content.plain
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one(SelectionList).deselect("ghz")
        await pilot.press("enter")
        await pilot.pause()
        # The replay is paused: no snapshot comes to bring the header up to date.
        assert app.live.model.sort_name == "CPU"
        assert "sort CPU" in app.header.content.plain and "GHz" not in app.header.content.plain


async def test_remembered_sort_theme_and_columns_apply_at_start(events_recording, config_home):
    save_config(TuiConfig(interval_ms=500, sort="IPC", theme="textual-light", columns=("ipc", "util_pct")))
    app = PmutopApp(paused_replay(events_recording), config=load_config())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert app.live.model.sort_name == "IPC" and app.theme == "textual-light"
        # The -e events were not hidden last time (they were not given then): they show after the chosen columns.
        assert [key for key, _, _ in app.live.model.columns] == [
            "ipc",
            "util_pct",
            event_metric("branch-misses"),
            event_metric("cs"),
        ]
        assert current_config(app).interval_ms == 500


async def test_palette_offers_the_chooser(events_recording):
    app = PmutopApp(paused_replay(events_recording))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Choose columns" in titles
        app.action_choose_columns()
        await pilot.pause()
        assert isinstance(app.screen, ColumnChooser)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ColumnChooser)


def test_without_a_config_the_app_writes_nothing(events_recording, config_home):
    app = PmutopApp(paused_replay(events_recording))
    app._save_config()
    assert not config_path().exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"interval_ms": "fast", "sort": 3, "theme": null, "columns": "ipc"}',
        b'{"interval_ms": 5}',
        b'{"columns": [1, 2]}',
        b"[" * 100000,
        b'{"sort": "' + b"x" * 70000 + b'"}',
    ],
)
def test_a_bad_config_file_gives_the_defaults(config_home, content):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert load_config() == TuiConfig()


def test_config_round_trip(config_home):
    config = TuiConfig(interval_ms=2000, sort="GHz", theme="nord", columns=("ghz", "event:cs"))
    assert save_config(config) is None
    assert load_config() == config


async def test_at_80_columns_the_events_leave_first_and_a_sorted_event_stays(events_recording):
    app = PmutopApp(paused_replay(events_recording))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.pause()
        cs = event_metric("cs")
        shown = app.live.shown_column_keys
        assert cs in [key for key, _, _ in app.live.model.columns] and cs not in shown
        assert event_metric("branch-misses") not in shown and "util_pct" in shown
        # The sorts run over the chosen columns, events last: sorted by cs, its column comes into sight.
        assert app.live.model.sorts[-1] == ("cs", cs)
        while app.live.model.sort_key != cs:
            await pilot.press("s")
        await pilot.pause()
        assert cs in app.live.shown_column_keys
        assert app.live.virtual_size.width <= app.live.styling.content_size.width


async def test_hiding_the_sorted_column_sorts_by_cpu_and_drops_it_from_the_sorts(events_recording):
    app = PmutopApp(paused_replay(events_recording))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        await pilot.press("s", "s")
        await pilot.pause()
        assert app.live.model.sort_key == "ipc"
        keys = tuple(key for key, _, _ in app.live.model.columns if key != "ipc")
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one(SelectionList).deselect("ipc")
        await pilot.press("enter")
        await pilot.pause()
        assert tuple(key for key, _, _ in app.live.model.columns) == keys
        assert app.live.model.sort_key is None and "ipc" not in [key for _, key in app.live.model.sorts]


def test_column_keys_are_typed_and_the_config_spellings_find_them():
    """Every column is keyed by a MetricKey or a TableColumn (an event's by its EventKey), and the
    config file's spellings of the table's own columns give the typed ones, whose cells they fill."""
    assert all(isinstance(key, (MetricKey, TableColumn)) for key, _, _ in COLUMNS)
    chosen = chosen_columns(("core_type", "coverage", "no such column"), COLUMNS)
    assert [key for key, _, _ in chosen] == [TableColumn.CORE_TYPE, TableColumn.COVERAGE]
    assert all(type(key) is TableColumn for key, _, _ in chosen)


async def test_the_tables_own_columns_chosen_by_config_fill_their_cells(events_recording, config_home):
    save_config(TuiConfig(columns=("core_type", "coverage")))
    app = PmutopApp(paused_replay(events_recording), config=load_config())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_tick(pilot, app)
        assert app.live.model.cell(cpu_key(0), TableColumn.CORE_TYPE) == "performance"
        assert app.live.model.cell(pmu_key("cpu_core"), TableColumn.COVERAGE).endswith("%")
        assert [key for key, _, _ in available_columns(app.snapshot)][-1] == event_metric("cs")


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_the_chooser_shows_an_events_whole_label(size):
    """A heading may end in …; the chooser (c) names the event whole, on screen (newcomer trial: it read
    `cpu_atom/cach…  (event:cpu_atom/cache-m…`)."""
    path = Path(__file__).parent.parent / "fixtures" / "recordings" / "alder-lake-events.jsonl"
    recording = read_recording(path)
    app = PmutopApp(ReplayFeed(recording, paused=True, start_at=len(recording.ticks) - 1, name=path.name))
    async with app.run_test(size=size) as pilot:
        await wait_for_tick(pilot, app, 0)
        await pilot.press("c")
        await pilot.pause()
        chooser = app.screen.query_one(SelectionList)
        await pilot.pause()
        lines = [chooser.render_line(y).text for y in range(chooser.size.height)]
        assert any("cpu_atom/cache-misses/  (-e event)" in line for line in lines), lines
