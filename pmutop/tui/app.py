"""The pmutop Textual app: header, notice banner, topology pane, live pane, task pane, footer.

The app never calls the kernel. A feed (live sampler or replay) runs on its own thread and hands
snapshots to a SnapshotInbox; the app draws the newest one when it gets to it.
"""

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from pmutop.live.feed import SnapshotFeed
from pmutop.model.snapshot import Snapshot
from pmutop.recording.replay import ReplayFeed
from pmutop.tui.columns import ColumnChooser, available_columns, chosen_columns
from pmutop.tui.config import TuiConfig, save_config
from pmutop.tui.heat_map import CpuHeatMap
from pmutop.tui.history import HistoryBar
from pmutop.tui.inbox import FeedEnded, SnapshotInbox, SnapshotReady
from pmutop.tui.live_pane import SORTS, LiveTable, RowMarks
from pmutop.tui.paint import PmutopScreen, driver_class, update_in_place
from pmutop.tui.screens import HelpScreen, ProcessPicker
from pmutop.tui.task_pane import TaskPane
from pmutop.tui.text import literal
from pmutop.tui.topology_pane import TopologyTree

# Refresh intervals offered by +/-, in seconds.
INTERVALS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# Below this width the topology pane starts hidden, leaving the live table the whole screen.
TOPOLOGY_MIN_WIDTH = 120
COMPACT_FOOTER_WIDTH = 140
# From this many CPUs, when their rows do not fit the screen, the live pane starts as the heat map.
HEAT_MAP_MIN_CPUS = 64
SPARKLINE_LABELS = {"ipc": "IPC", "ghz": "GHz", "util_pct": "util%"}
STYLES = resources.files("pmutop.styles").joinpath("pmutop.tcss")


def _privilege_style(privileges: str) -> str:
    return "green" if privileges in ("root", "CAP_PERFMON") else "yellow"


class PmutopApp(App):
    CSS_PATH = str(STYLES)
    TITLE = "pmutop"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Footer order is what a newcomer needs first; at 80 columns the tail is cut off (help lists all).
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("space", "toggle_pause", "Pause"),
        Binding("full_stop", "step", "Step", key_display="."),
        Binding("plus", "slower", "Interval", key_display="+/-"),
        Binding("minus", "faster", "Shorter interval", show=False),
        Binding("p", "pick_process", "Follow"),
        Binding("f", "unfollow", "Unfollow"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("t", "toggle_topology", "Tree"),
        Binding("g", "toggle_grouping", "Group"),
        Binding("m", "toggle_heat_map", "Map", show=False),
        Binding("c", "choose_columns", "Columns", show=False),
        Binding("x", "hide_banner", "Hide notice", show=False),
    ]

    def get_default_screen(self) -> Screen:
        return self.main_screen

    def get_driver_class(self) -> type[Driver]:
        return driver_class(super().get_driver_class())

    def __init__(
        self, feed: SnapshotFeed, *, screenshot_dir: str | Path = ".", config: TuiConfig | None = None
    ) -> None:
        super().__init__()
        # What the user chose last time (interval, sort, theme, columns), and saves this session's choices
        # on quit; None (tests, screenshots) reads and writes no file.
        self.config = config
        self._columns_chosen = False
        self.feed = feed
        self.topology = feed.topology
        self.inbox = SnapshotInbox(self.post_message)
        self.main_screen = PmutopScreen(id="_default")
        self.snapshot: Snapshot | None = None
        self.ended: str | None = None
        self.screenshot_dir = Path(screenshot_dir)
        self._hidden_notices: frozenset[str] = frozenset()
        self._tree_cpus: frozenset[int] = frozenset()
        self._topology_choice: bool | None = None
        self._texts: dict[Static, Text] = {}
        self._header_key: tuple | None = None
        self._banner_notices: list[str] = []

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: the per-tick code would otherwise look each of them up in the DOM every tick.
        self.live = LiveTable(self.topology, self.feed.cpus, id="live")
        self.heat_map = CpuHeatMap(self.topology, self.feed.cpus, id="heat-map")
        self.header = Static(id="header")
        self.banner = Static(id="banner")
        self.detail = Static(id="detail")
        self.history = HistoryBar(id="history")
        self.task_pane = TaskPane(tuple(t.pmu for t in self.topology.core_types), id="tasks")
        self.filter_box = Input(placeholder="filter CPUs: 0-3,8 or cpu_atom; Enter keeps, Esc clears", id="filter")
        yield self.header
        yield self.banner
        with Horizontal(id="body"):
            yield TopologyTree(self.topology, id="topology")
            with Vertical(id="main"):
                yield self.live
                yield self.heat_map
                yield self.detail
                yield self.history
                yield self.task_pane
        yield self.filter_box
        yield Footer()

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.task_pane.display = False
        cpus = len(self.topology.cpus)
        self.heat_map.display = cpus >= HEAT_MAP_MIN_CPUS and cpus > self.size.height
        self.live.display = not self.heat_map.display
        self._apply_topology_visibility()
        self.live.focus()
        if self.config is not None:
            apply_config(self, self.config)
        self._update_header()
        self._update_banner()
        self._update_detail()

    def on_ready(self) -> None:
        # Only once the first frame is on screen: a snapshot drawn before the first layout could grow a
        # Static (the detail line) whose layout request is then lost, leaving it a line short for good.
        self.feed.start(self.inbox.deliver, self.inbox.end)

    def on_unmount(self) -> None:
        self.feed.stop()

    def on_resize(self) -> None:
        self._apply_topology_visibility()
        # Spaced out, the footer's keys run past the edge of an 80-column terminal.
        self.query_one(Footer).compact = self.size.width < COMPACT_FOOTER_WIDTH

    def _apply_topology_visibility(self) -> None:
        shown = self._topology_choice
        if shown is None:
            shown = self.size.width >= TOPOLOGY_MIN_WIDTH
        self.query_one("#topology").display = shown

    # -- snapshots -------------------------------------------------------------------------

    def on_snapshot_ready(self, _message: SnapshotReady) -> None:
        snapshot = self.inbox.take()
        if snapshot is None:
            return
        self.snapshot = snapshot
        if not self._columns_chosen:
            # The -e events are known from the first snapshot: each is a column unless the config hid it.
            self._columns_chosen = True
            keys = self.config.columns if self.config is not None else None
            self.live.set_columns(chosen_columns(keys, available_columns(snapshot)))
        with self.main_screen.painting():
            self.live.show(snapshot)
            self.heat_map.show(snapshot)
            self._update_marks()
            self._update_tasks()
            self._update_header()
            self._update_banner()
            self._update_detail()

    def on_feed_ended(self, message: FeedEnded) -> None:
        self.ended = message.reason or "ended"
        if message.reason:
            self.notify(message.reason, severity="warning", timeout=10)
        self._update_header()

    def _followed_cpus(self) -> frozenset[int]:
        if self.snapshot is None:
            return frozenset()
        return frozenset(t.cpu_now for t in self.snapshot.tasks if t.alive and t.cpu_now is not None)

    def _update_marks(self) -> None:
        self.live.set_marks(RowMarks(followed=self._followed_cpus(), highlighted=self._tree_cpus))

    @property
    def _following(self) -> bool:
        return bool(self.snapshot and self.snapshot.tasks)

    def _update_tasks(self) -> None:
        pane = self.task_pane
        tasks = self.snapshot.tasks if self.snapshot else ()
        if pane.display != bool(tasks):
            pane.display = bool(tasks)
            # `f` appears in the footer only while something is followed.
            self.refresh_bindings()
        if tasks:
            pane.show(tasks, self.inbox.migration_log(), self.inbox.lost_migrations, self.inbox.threads_seen_late)

    def _set_text(self, widget: Static, text: Text) -> None:
        """Update a Static only when its text changed, and lay out the screen only when its height did."""
        if self._texts.get(widget) != text:
            self._texts[widget] = text
            update_in_place(widget, text)

    def _update_header(self) -> None:
        # What the header shows, in short: most ticks change none of it, and then no Text is built.
        feed, live = self.feed, self.live
        replay = (feed.position, feed.total_ticks, feed.speed) if isinstance(feed, ReplayFeed) else ()
        key = (feed.interval_s, replay, self.ended, feed.paused, live.sort_name, live.grouped, live.filter_text)
        if key == self._header_key:
            return
        self._header_key = key
        description = self.feed.description
        topology = self.topology
        text = Text()
        text.append("pmutop ", style="bold")
        text.append_text(literal(description.get("host", "?"), "bold"))
        text.append(" · Linux ")
        text.append_text(literal(description.get("kernel", "?")))
        online = len(topology.online_cpus)
        text.append(f" · {len(topology.cpus)} CPUs" + (f" ({online} online)" if online != len(topology.cpus) else ""))
        text.append(" · ")
        if topology.core_pmus:
            text.append_text(literal(" ".join(f"{pmu.name}:{pmu.type}" for pmu in topology.core_pmus), "bold cyan"))
        else:
            text.append("no core PMU", style="yellow")
        privileges = description.get("privileges", "?")
        text.append(" · ")
        text.append_text(literal(privileges, _privilege_style(privileges)))
        # A recording's interval is the measured one (0.20051 s); three digits say it.
        text.append(f" · every {self.feed.interval_s:.3g}s")
        if isinstance(self.feed, ReplayFeed):
            text.append(" · replay ")
            text.append_text(literal(self.feed.description.get("replay", "")))
            text.append(f" {self.feed.position}/{self.feed.total_ticks} ×{self.feed.speed:g}")
        if self.ended is not None:
            text.append(" · ENDED", style="bold red")
        elif self.feed.paused:
            text.append(" · PAUSED", style="bold reverse yellow")
        text.append(f" · sort {self.live.sort_name}")
        if not self.live.grouped:
            text.append(" · ungrouped")
        if self.live.filter_text:
            text.append(" · filter ")
            text.append_text(literal(self.live.filter_text, "bold"))
        self._set_text(self.header, text)

    def _notices(self) -> list[str]:
        notices = list(self.snapshot.notices) if self.snapshot else []
        problems = self.topology.problems
        if problems:
            notices.append(f"{len(problems)} sysfs problems while reading the topology (see `pmutop topology`)")
        return [notice for notice in dict.fromkeys(notices) if notice not in self._hidden_notices]

    def _update_banner(self) -> None:
        banner = self.banner
        notices = self._notices()
        if banner.display != bool(notices):
            banner.display = bool(notices)
        if notices and notices != self._banner_notices:
            self._banner_notices = notices
            text = Text()
            for index, notice in enumerate(notices):
                if index:
                    text.append("\n")
                text.append("⚠ ", style="bold")
                text.append_text(literal(notice))
            text.append("  (x hides)", style="dim")
            self._set_text(banner, text)

    def _update_detail(self) -> None:
        live = self.live
        key = live.selected_key
        self._set_text(self.detail, live.describe(key))
        history = self.history
        if key is None:
            history.show("", "", [], None)
            return
        kind, _, name = key.partition(":")
        row_name = f"cpu{name}" if kind == "cpu" else name
        for metric, metric_label in SPARKLINE_LABELS.items():
            series = self.inbox.history(key, metric)
            if series:
                history.show(f"{row_name} {metric_label} {series[-1]:.2f}", "", series, metric)
                return
        history.show(f"{row_name}: no history yet", "dim", [], None)

    def on_live_table_row_highlighted(self, _event: LiveTable.RowHighlighted) -> None:
        self._update_detail()

    def on_topology_tree_cpus_highlighted(self, message: TopologyTree.CpusHighlighted) -> None:
        self._tree_cpus = message.cpus
        self._update_marks()

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":
            return isinstance(self.feed, ReplayFeed)
        if action == "unfollow":
            return self._following
        return True

    def action_toggle_pause(self) -> None:
        self.feed.set_paused(not self.feed.paused)
        self._update_header()

    def _change_interval(self, direction: int) -> None:
        current = self.feed.interval_s
        if direction > 0:
            choice = next((value for value in INTERVALS if value > current * 1.001), INTERVALS[-1])
        else:
            choice = next((value for value in reversed(INTERVALS) if value < current * 0.999), INTERVALS[0])
        self.feed.set_interval(choice)
        self._update_header()

    def action_slower(self) -> None:
        self._change_interval(+1)

    def action_faster(self) -> None:
        self._change_interval(-1)

    def action_step(self) -> None:
        if isinstance(self.feed, ReplayFeed):
            if not self.feed.paused:
                self.feed.set_paused(True)
            self.feed.step()
            self._update_header()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.value = self.live.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.live.set_filter(event.value)
            self._update_header()
            self._update_detail()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def on_key(self, event) -> None:
        box = self.filter_box
        if event.key == "escape" and box.display and self.focused is box:
            box.value = ""
            self._close_filter()
            event.stop()

    def _close_filter(self) -> None:
        self.filter_box.display = False
        self.live.focus()

    def action_pick_process(self) -> None:
        def follow(pid: int | None) -> None:
            if pid is not None:
                self.feed.follow((pid,))
                self.notify(f"following pid {pid}", timeout=3)

        self.push_screen(ProcessPicker(self.feed.processes), follow)

    def action_unfollow(self) -> None:
        self.feed.unfollow()

    def action_cycle_sort(self) -> None:
        self.live.cycle_sort()
        self._update_header()

    def action_toggle_topology(self) -> None:
        tree = self.query_one("#topology")
        self._topology_choice = not tree.display
        self._apply_topology_visibility()
        if not tree.display and self.focused is tree:
            self.live.focus()

    def action_toggle_grouping(self) -> None:
        self.live.set_grouped(not self.live.grouped)
        self._update_header()

    def action_toggle_heat_map(self) -> None:
        shown = not self.heat_map.display
        self.heat_map.display = shown
        self.live.display = not shown
        self.heat_map.show(self.snapshot)

    def action_choose_columns(self) -> None:
        def chosen(keys: tuple[str, ...] | None) -> None:
            if keys is None:
                return
            self.live.set_columns(chosen_columns(keys, available_columns(self.snapshot)))
            self._save_config()

        self.push_screen(ColumnChooser(available_columns(self.snapshot), self.live.columns), chosen)

    async def action_quit(self) -> None:
        self._save_config()
        await super().action_quit()

    def _save_config(self) -> None:
        if self.config is None:
            return
        self.config = current_config(self)
        problem = save_config(self.config)
        if problem:
            self.notify(problem, severity="warning")

    def action_hide_banner(self) -> None:
        self._hidden_notices = self._hidden_notices | frozenset(self._notices())
        self._update_banner()

    def action_save_snapshot(self) -> None:
        index = self.snapshot.index if self.snapshot else 0
        host = self.feed.description.get("host", "host").replace("/", "_")
        path = self.save_screenshot(filename=f"pmutop-{host}-tick{index}.svg", path=str(self.screenshot_dir))
        self.notify(f"saved {path}", timeout=5)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pause or resume", "Pause sampling, or resume it (space)", self.action_toggle_pause)
        yield SystemCommand("Longer interval", "Refresh less often (+)", self.action_slower)
        yield SystemCommand("Shorter interval", "Refresh more often (-)", self.action_faster)
        yield SystemCommand("Filter CPUs", "Show only some CPUs (/)", self.action_filter)
        yield SystemCommand("Follow a process", "Pick a process to follow (p)", self.action_pick_process)
        yield SystemCommand("Stop following", "Stop following processes (f)", self.action_unfollow)
        yield SystemCommand("Cycle sort", "Sort CPUs by the next column (s)", self.action_cycle_sort)
        yield SystemCommand("Toggle topology pane", "Show or hide the PMU tree (t)", self.action_toggle_topology)
        yield SystemCommand("Toggle grouping", "Group CPUs by core PMU on or off (g)", self.action_toggle_grouping)
        yield SystemCommand("Toggle heat map", "One cell per CPU, or one row per CPU (m)", self.action_toggle_heat_map)
        yield SystemCommand(
            "Choose columns", "Pick the live table's columns, -e events too (c)", self.action_choose_columns
        )
        yield SystemCommand("Help", "Keys and columns (?)", self.action_help)
        yield SystemCommand("Save snapshot", "Save the screen as an SVG file", self.action_save_snapshot)
        if isinstance(self.feed, ReplayFeed):
            yield SystemCommand("Step", "Advance the replay one tick (.)", self.action_step)


def apply_config(app: PmutopApp, config: TuiConfig) -> None:
    """Last session's sort and theme (the interval is the command line's business: `pmutop -I`)."""
    if config.theme is not None and config.theme in app.available_themes:
        app.theme = config.theme
    names = [name for name, _ in SORTS]
    if config.sort in names:
        app.live.sort_index = names.index(config.sort)
        app.live.refresh_rows()


def current_config(app: PmutopApp) -> TuiConfig:
    live_interval = None if isinstance(app.feed, ReplayFeed) else round(app.feed.interval_s * 1000)
    previous = app.config or TuiConfig()
    return TuiConfig(
        interval_ms=live_interval if live_interval is not None else previous.interval_ms,
        sort=app.live.sort_name,
        theme=app.theme,
        columns=tuple(key for key, _, _ in app.live.columns),
    )
