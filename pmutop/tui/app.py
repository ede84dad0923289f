"""The pmutop Textual app: header, notice banner, topology pane, live pane, task pane, footer.

The app never calls the kernel. A feed (live sampler or replay) runs on its own thread and hands
snapshots to a SnapshotInbox; the app draws the newest one when it gets to it. What the feed can do and
where it is come as FeedState values (through the inbox, and back from each request): the app offers
keys by the state's capabilities and draws the header from it, never from the feed's class or attributes.
"""

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Input, Static

from pmutop.live.feed import FeedCapability, FeedSource, FeedState, SnapshotFeed
from pmutop.model.snapshot import Snapshot
from pmutop.model.text import plural
from pmutop.tui.columns import ColumnChooser, available_columns, chosen_columns
from pmutop.tui.config import TuiConfig, save_config
from pmutop.tui.footer import FittingFooter
from pmutop.tui.heat_map import CpuHeatMap
from pmutop.tui.history import HistoryBar
from pmutop.tui.inbox import (
    HISTORY_METRICS,
    FeedEnded,
    FeedStateChanged,
    ProcessesReady,
    SnapshotInbox,
    SnapshotReady,
)
from pmutop.tui.live_pane import LiveTable
from pmutop.tui.paint import PmutopScreen, driver_class, update_in_place
from pmutop.tui.screens import FilterInput, HelpScreen, ProcessPicker
from pmutop.tui.svg_export import spaces_as_positions
from pmutop.tui.task_pane import TaskPane
from pmutop.tui.text import literal
from pmutop.tui.topology_pane import TopologyTree

# Refresh intervals offered by +/-, in seconds.
INTERVALS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# Playback speeds offered by +/- (slower/faster), as plain numbers the header can show.
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
# Below this width the topology pane folds away (t shows it), leaving the live table the whole screen.
TOPOLOGY_MIN_WIDTH = 100
COMPACT_FOOTER_WIDTH = 140
# From this many CPUs, when their rows do not fit the screen, the live pane starts as the heat map.
HEAT_MAP_MIN_CPUS = 64
# How far ←/→ move a replay.
SEEK_TICKS = 10
# Actions a feed offers only with a capability (its state says which it has).
ACTION_CAPABILITIES = {
    "toggle_pause": FeedCapability.PAUSE,
    "step": FeedCapability.STEP,
    "seek_back": FeedCapability.SEEK,
    "seek_forward": FeedCapability.SEEK,
    "seek_start": FeedCapability.SEEK,
    "seek_end": FeedCapability.SEEK,
}
# Actions on keys a focused text box (the filter) or another screen (picker, help) needs for itself.
SHARED_KEY_ACTIONS = frozenset({"toggle_pause", "seek_back", "seek_forward", "seek_start", "seek_end"})
# Header pieces in the order they leave when the header does not fit one line (the first first); the
# host, the core PMUs, the replay position and the state (PAUSED, end, filter) always stay.
HEADER_DROP_ORDER = ("sort", "kernel", "privileges", "cpus", "recording", "interval")
STYLES = resources.files("pmutop.styles").joinpath("pmutop.tcss")


class OverflowScroll(VerticalScroll, can_focus=False):
    """Room for a text that can outgrow its max-height (the notices, the row's story, the task pane): past it a
    scrollbar shows and the wheel scrolls, where a Static alone would be cut without a sign. Not a pane
    Tab goes to."""


def _privilege_style(privileges: str) -> str:
    return "green" if privileges in ("root", "CAP_PERFMON") else "yellow"


class PmutopApp(App):
    CSS_PATH = str(STYLES)
    TITLE = "pmutop"
    # The table has focus from the start; the tree never has it for a moment first (its guides would be
    # drawn in the focused style and kept so, cached, in a screenshot).
    AUTO_FOCUS = "#live"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Footer order is footer priority: what a newcomer needs first; the footer shows those that fit, in
        # this order (help lists them all).
        Binding("q", "quit", "Quit"),
        # ctrl+c quits as in any terminal program (Textual would only say "press ctrl+q"), from any screen
        # (priority: a modal screen hides the app's other bindings); selected text it copies instead.
        Binding("ctrl+c", "copy_or_quit", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        # Priority: space pauses whatever pane has focus (the tree would toggle a node); check_action
        # leaves it to a text box that has focus.
        Binding("space", "toggle_pause", "Pause", priority=True),
        Binding("p", "pick_process", "Follow"),
        Binding("f", "unfollow", "Unfollow"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("t", "toggle_topology", "Tree"),
        Binding("m", "toggle_heat_map", "Map"),
        Binding("c", "choose_columns", "Columns"),
        Binding("left", "seek_back", "Seek", key_display="←/→", priority=True),
        Binding("right", "seek_forward", "Seek forward", show=False, priority=True),
        Binding("full_stop", "step", "Step", key_display="."),
        Binding("home", "seek_start", "Start", show=False, priority=True),
        Binding("end", "seek_end", "End", show=False, priority=True),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("plus", "slower", "Interval", key_display="+/-"),
        Binding("minus", "faster", "Shorter interval", show=False),
        Binding("g", "toggle_grouping", "Group"),
        Binding("x", "hide_banner", "Hide notice"),
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
        # The feed's state as last handed on: before its thread starts, as it is now.
        self.feed_state: FeedState = feed.state()
        self.topology = feed.topology
        self.inbox = SnapshotInbox(self.post_message)
        self.main_screen = PmutopScreen(id="_default")
        self.snapshot: Snapshot | None = None
        self.ended: str | None = None
        self.screenshot_dir = Path(screenshot_dir)
        self._hidden_notices: frozenset[str] = frozenset()
        self._topology_choice: bool | None = None
        self._texts: dict[Static, Text] = {}
        self._header_key: tuple | None = None
        self._banner_notices: list[str] = []

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: the per-tick code would otherwise look each of them up in the DOM every tick.
        self.live = LiveTable(self.topology, self.feed.cpus, id="live")
        self.heat_map = CpuHeatMap(self.live.model, id="heat-map")
        self.header = Static(id="header")
        self.banner = Static(id="banner")
        self.detail = Static(id="detail")
        self.history = HistoryBar(id="history")
        self.task_pane = TaskPane(tuple(t.pmu for t in self.topology.core_types), id="tasks")
        # Not selected on focus: `/` opens the filter as it was, to be changed, not typed over.
        self.filter_box = FilterInput(
            placeholder="filter CPUs: 0-3,8 or cpu_atom; Enter keeps, Esc clears", id="filter", select_on_focus=False
        )
        yield self.header
        with OverflowScroll(id="banner-area"):
            yield self.banner
        with Horizontal(id="body"):
            yield TopologyTree(self.topology, id="topology")
            with Vertical(id="main"):
                yield self.live
                yield self.heat_map
                with OverflowScroll(id="detail-area"):
                    yield self.detail
                yield self.history
                with OverflowScroll(id="tasks-area"):
                    yield self.task_pane
        yield self.filter_box
        yield FittingFooter()

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.task_pane.display = False
        # The CPUs counted (`-C`), not the machine's: those are the table's rows.
        cpus = len(self.feed.cpus)
        self.heat_map.display = cpus >= HEAT_MAP_MIN_CPUS and cpus > self.size.height
        self.live.display = not self.heat_map.display
        self._apply_topology_visibility()
        self._main_view().focus()
        if self.config is not None:
            apply_config(self, self.config)
        self._update_header()
        self._update_banner()
        self._update_detail()

    def on_ready(self) -> None:
        # Only once the first frame is on screen: a snapshot drawn before the first layout could grow a
        # Static (the detail line) whose layout request is then lost, leaving it a line short for good.
        self.feed.start(self.inbox.deliver, self.inbox.end, self.inbox.deliver_state)

    def on_unmount(self) -> None:
        self.feed.stop()

    def on_resize(self, event: events.Resize) -> None:
        # The new size is the event's: this handler runs before App's, which is what sets `self.size`
        # (fitted to the old width, the header was cut at the edge without its ellipsis).
        width = event.size.width
        self._apply_topology_visibility(width)
        # Spaced out, fewer of the footer's keys fit.
        self.query_one(FittingFooter).compact = width < COMPACT_FOOTER_WIDTH
        self._update_header(width)

    def _apply_topology_visibility(self, width: int | None = None) -> None:
        shown = self._topology_choice
        if shown is None:
            shown = (self.size.width if width is None else width) >= TOPOLOGY_MIN_WIDTH
        self.query_one("#topology").display = shown

    # -- snapshots -------------------------------------------------------------------------

    def on_snapshot_ready(self, _message: SnapshotReady) -> None:
        snapshot = self.inbox.take()
        if snapshot is None:
            return
        # A feed hands on its state before the snapshot it belongs to: the header goes with the rows.
        self._take_feed_state()
        playback = self.feed_state.playback
        if playback is not None and playback.seeking_to is not None:
            # A seek folds its way to its target: the snapshots on the way are history (the inbox keeps
            # it), and the screen is drawn once, at the target, instead of for each of them.
            self._update_header()
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
            self._update_tasks()
            self._update_header()
            self._update_banner()
            self._update_detail()

    def on_feed_state_changed(self, _message: FeedStateChanged) -> None:
        self._take_feed_state()
        self._update_header()

    def _take_feed_state(self) -> None:
        state = self.inbox.take_state()
        if state is not None:
            self.feed_state = state

    def on_feed_ended(self, message: FeedEnded) -> None:
        # A feed that can seek waits at its end for a seek (the header says "end"); another stopped for good.
        if not self.feed_state.can(FeedCapability.SEEK):
            self.ended = message.reason or "ended"
        if message.reason:
            self.notify(message.reason, severity="warning", timeout=10)
        self._update_header()

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
            pane.show(
                tasks,
                self.inbox.migration_log(),
                self.inbox.lost_migrations,
                self.inbox.threads_seen_late,
                self.inbox.cpu_shares(),
            )

    def _set_text(self, widget: Static, text: Text) -> None:
        """Update a Static only when its text changed, and lay out the screen only when its height did."""
        if self._texts.get(widget) != text:
            self._texts[widget] = text
            update_in_place(widget, text)

    def _update_header(self, width: int | None = None) -> None:
        """Fit the header to `width` columns (the screen's now unless given: a resize gives the new one)."""
        # What the header shows, in short: most ticks change none of it, and then no Text is built.
        live = self.live
        width = self.size.width if width is None else width
        key = (
            width,
            self.feed_state,
            self.ended,
            live.model.sort_name,
            live.model.sort_arrow,
            live.model.grouped,
            live.model.filter_text,
        )
        if key == self._header_key:
            return
        self._header_key = key
        self._set_text(self.header, fit_header(self._header_pieces(), width - 2))

    def _header_pieces(self) -> list[tuple[str, Text]]:
        """(name, text) of each piece of the header, in order; HEADER_DROP_ORDER names those that can go."""
        description = self.feed.description
        topology = self.topology
        pieces: list[tuple[str, Text]] = []

        def piece(name: str, *parts: Text | str | tuple[str, str]) -> None:
            text = Text(" · " if pieces else "", no_wrap=True)
            for part in parts:
                if isinstance(part, Text):
                    text.append_text(part)
                elif isinstance(part, tuple):
                    text.append(*part)
                else:
                    text.append(part)
            pieces.append((name, text))

        piece("host", ("pmutop ", "bold"), literal(description.get("host", "?"), "bold"))
        piece("kernel", "Linux ", literal(description.get("kernel", "?")))
        online = len(topology.online_cpus)
        cpus = plural(len(topology.cpus), "CPU")
        piece("cpus", cpus + (f" ({online} online)" if online != len(topology.cpus) else ""))
        if topology.core_pmus:
            piece("pmus", literal(" ".join(f"{pmu.name}:{pmu.type}" for pmu in topology.core_pmus), "bold cyan"))
        else:
            piece("pmus", ("no core PMU", "yellow"))
        privileges = description.get("privileges", "?")
        piece("privileges", literal(privileges, _privilege_style(privileges)))
        state = self.feed_state
        playback = state.playback
        if playback is not None:
            # The recording's own interval (the measured one, 0.20051 s: three digits say it), and the
            # playback speed apart from it.
            piece("interval", f"recorded every {playback.recorded_interval_s:.3g}s")
            piece("recording", "replay ", literal(description.get("replay", "")))
            if playback.seeking_to is not None:
                target = max(playback.seeking_to - 1, 0)
                piece("position", (f"seeking tick {target}/{playback.intervals}", "yellow"), f" ×{playback.speed:g}")
            else:
                piece("position", f"tick {playback.interval}/{playback.intervals} ×{playback.speed:g}")
            if playback.at_end and playback.seeking_to is None:
                piece("state", ("END", "bold yellow"))
        else:
            piece("interval", f"every {state.interval_s:.3g}s")
        if self.ended is not None:
            piece("state", ("ENDED", "bold red"))
        elif state.paused:
            piece("state", ("PAUSED", "bold reverse yellow"))
        view = self.live.model
        piece("sort", f"sort {view.sort_name}{view.sort_arrow}")
        if not view.grouped:
            piece("grouping", "ungrouped")
        if view.filter_text:
            piece("filter", "filter ", literal(view.filter_text, "bold"))
        return pieces

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
            # `x` is in the footer only while the banner shows.
            self.refresh_bindings()
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

    def _main_view(self) -> LiveTable | CpuHeatMap:
        """The view of the CPUs shown: the table or the heat map (`m`)."""
        return self.heat_map if self.heat_map.display else self.live

    def _update_detail(self) -> None:
        # The row selected in the view shown, described by the table's model (which both views show).
        key = self._main_view().selected_key
        self._set_text(self.detail, self.live.model.describe(key))
        history = self.history
        if key is None:
            history.show("", "", [], None)
            return
        row_name = key.name
        for metric in HISTORY_METRICS:
            series = self.inbox.history(key, metric)
            if series:
                history.show(f"{row_name} {metric.label} {series[-1]:.2f}", "", series, metric)
                return
        history.show(f"{row_name}: no history yet", "dim", [], None)

    def on_live_table_row_highlighted(self, _event: LiveTable.RowHighlighted) -> None:
        self._update_detail()

    def on_cpu_heat_map_cell_highlighted(self, _event: CpuHeatMap.CellHighlighted) -> None:
        self._update_detail()

    def on_topology_tree_cpus_highlighted(self, message: TopologyTree.CpusHighlighted) -> None:
        self.live.set_highlighted(message.cpus)

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        needs = ACTION_CAPABILITIES.get(action)
        if needs is not None and not self.feed_state.can(needs):
            return False
        if action in SHARED_KEY_ACTIONS and (self.screen is not self.main_screen or isinstance(self.focused, Input)):
            # False passes the key on: the filter box types a space, the table's home/end move its cursor.
            return False
        if action == "unfollow":
            return self._following
        if action == "hide_banner":
            # In the footer while there is a notice to hide.
            return self.banner.display
        return True

    def action_toggle_pause(self) -> None:
        self.feed_state = self.feed.set_paused(not self.feed_state.paused)
        self._update_header()

    def _change_interval(self, direction: int) -> None:
        """+ (direction 1) waits longer between ticks, - shorter; for a playback, + plays slower."""
        state = self.feed_state
        if state.playback is not None:
            current_speed = state.playback.speed
            if direction > 0:
                speed = next((value for value in reversed(SPEEDS) if value < current_speed * 0.999), SPEEDS[0])
            else:
                speed = next((value for value in SPEEDS if value > current_speed * 1.001), SPEEDS[-1])
            self.feed_state = self.feed.set_speed(speed)
            self._update_header()
            return
        current = state.interval_s
        if direction > 0:
            choice = next((value for value in INTERVALS if value > current * 1.001), INTERVALS[-1])
        else:
            choice = next((value for value in reversed(INTERVALS) if value < current * 0.999), INTERVALS[0])
        self.feed_state = self.feed.set_interval(choice)
        self._update_header()

    def action_slower(self) -> None:
        self._change_interval(+1)

    def action_faster(self) -> None:
        self._change_interval(-1)

    def action_step(self) -> None:
        if self.feed_state.can(FeedCapability.STEP):
            if not self.feed_state.paused:
                self.feed_state = self.feed.set_paused(True)
            self.feed.step()
            self._update_header()

    def _seek(self, to_start: bool = False, to_end: bool = False, by: int = 0) -> None:
        feed, state = self.feed, self.feed_state
        if not state.can(FeedCapability.SEEK):
            return
        if to_start:
            feed.seek(0)
        elif to_end and state.playback is not None:
            feed.seek(state.playback.total)
        else:
            feed.seek_by(by)

    def action_seek_back(self) -> None:
        self._seek(by=-SEEK_TICKS)

    def action_seek_forward(self) -> None:
        self._seek(by=SEEK_TICKS)

    def action_seek_start(self) -> None:
        """Back to the first tick: the replay starts again (paused, it waits there)."""
        self._seek(to_start=True)

    def action_seek_end(self) -> None:
        self._seek(to_end=True)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.value = self.live.model.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.live.set_filter(event.value)
            self.heat_map.refresh_groups()
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
        self._main_view().focus()

    def action_pick_process(self) -> None:
        def follow(pid: int | None) -> None:
            self.feed.watch_processes(None)
            self.inbox.forget_processes()
            if pid is not None:
                self.feed.follow((pid,))
                self.notify(f"following pid {pid}", timeout=3)

        self.push_screen(ProcessPicker(), follow)
        # The feed makes the list (a live one reads /proc on its thread) and the inbox hands it over.
        self.feed.watch_processes(self.inbox.deliver_processes)

    def on_processes_ready(self, _message: ProcessesReady) -> None:
        listing = self.inbox.take_processes()
        if listing is not None and isinstance(self.screen, ProcessPicker):
            self.screen.show(listing)

    def action_unfollow(self) -> None:
        self.feed.unfollow()

    def action_cycle_sort(self) -> None:
        self.live.cycle_sort()
        self._update_header()

    def action_reverse_sort(self) -> None:
        self.live.reverse_sort()
        self._update_header()

    def action_toggle_topology(self) -> None:
        tree = self.query_one("#topology")
        self._topology_choice = not tree.display
        self._apply_topology_visibility()
        if not tree.display and self.focused is tree:
            self._main_view().focus()

    def action_toggle_grouping(self) -> None:
        self.live.set_grouped(not self.live.model.grouped)
        self._update_header()

    def action_toggle_heat_map(self) -> None:
        """The other view, focused if the one it replaces was, its cursor on the row selected in that one."""
        before = self._main_view()
        shown = not self.heat_map.display
        self.heat_map.display = shown
        self.live.display = not shown
        after = self._main_view()
        self.heat_map.show(self.snapshot)
        after.select(before.selected_key)
        if self.focused is before:
            after.focus()
        self._update_detail()

    def action_choose_columns(self) -> None:
        def chosen(keys: tuple[str, ...] | None) -> None:
            if keys is None:
                return
            self.live.set_columns(chosen_columns(keys, available_columns(self.snapshot)))
            # A sort by a column taken away falls back to CPU order: the header says so now, not at the
            # next snapshot (none comes while a replay is paused).
            self._update_header()
            self._save_config()

        self.push_screen(ColumnChooser(available_columns(self.snapshot), self.live.model.columns), chosen)

    async def action_quit(self) -> None:
        self._save_config()
        await super().action_quit()

    async def action_copy_or_quit(self) -> None:
        """ctrl+c: copy the text selected (with the mouse, or in a text box), as Textual's ctrl+c does;
        with none selected, quit."""
        focused = self.focused
        selected = focused.selected_text if isinstance(focused, Input) else self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
        else:
            await self.action_quit()

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

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        """Textual's SVG, drawn the same by browsers and librsvg (see pmutop.tui.svg_export); the palette's
        Save snapshot, the README screenshots and the snapshot tests all come through here."""
        return spaces_as_positions(super().export_screenshot(title=title, simplify=simplify))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action once: Textual's own, less its Keys panel and Screenshot (Help and Save snapshot
        here do those), then pmutop's, each naming its key."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Screenshot"):
                yield command
        state = self.feed_state
        if state.can(FeedCapability.PAUSE):
            yield SystemCommand("Pause or resume", "Pause sampling, or resume it (space)", self.action_toggle_pause)
        if state.can(FeedCapability.STEP):
            yield SystemCommand("Step", "Advance the paused replay one tick (.)", self.action_step)
        if state.can(FeedCapability.SEEK):
            yield SystemCommand("Seek back", f"Go back {SEEK_TICKS} ticks (←)", self.action_seek_back)
            yield SystemCommand("Seek forward", f"Go forward {SEEK_TICKS} ticks (→)", self.action_seek_forward)
            yield SystemCommand("Restart", "Play the recording from its start (home)", self.action_seek_start)
            yield SystemCommand("Go to the end", "The last tick of the recording (end)", self.action_seek_end)
        if state.playback is not None:
            yield SystemCommand("Slower", "Play the recording slower (+)", self.action_slower)
            yield SystemCommand("Faster", "Play the recording faster (-)", self.action_faster)
        else:
            yield SystemCommand("Longer interval", "Refresh less often (+)", self.action_slower)
            yield SystemCommand("Shorter interval", "Refresh more often (-)", self.action_faster)
        yield SystemCommand("Filter CPUs", "Show only some CPUs (/)", self.action_filter)
        yield SystemCommand("Follow a process", "Pick a process to follow (p)", self.action_pick_process)
        if self._following:
            yield SystemCommand("Stop following", "Stop following processes (f)", self.action_unfollow)
        yield SystemCommand("Cycle sort", "Sort CPUs by the next column (s)", self.action_cycle_sort)
        yield SystemCommand("Reverse sort", "Sort the other way round (r)", self.action_reverse_sort)
        yield SystemCommand("Toggle topology pane", "Show or hide the PMU tree (t)", self.action_toggle_topology)
        yield SystemCommand("Toggle grouping", "Group CPUs by core PMU on or off (g)", self.action_toggle_grouping)
        yield SystemCommand("Toggle heat map", "One cell per CPU, or one row per CPU (m)", self.action_toggle_heat_map)
        yield SystemCommand(
            "Choose columns", "Pick the live table's columns, -e events too (c)", self.action_choose_columns
        )
        yield SystemCommand("Hide notice", "Hide the notice banner (x)", self.action_hide_banner)
        yield SystemCommand("Help", "Keys and columns (?)", self.action_help)
        yield SystemCommand("Save snapshot", "Save the screen as an SVG file", self.action_save_snapshot)


def apply_config(app: PmutopApp, config: TuiConfig) -> None:
    """Last session's sort and theme (the interval is the command line's business: `pmutop -I`)."""
    if config.theme is not None and config.theme in app.available_themes:
        app.theme = config.theme
    if config.sort is not None:
        app.live.sort_by(config.sort)


def current_config(app: PmutopApp) -> TuiConfig:
    # A recording's interval is the recording's, not a choice to keep.
    state = app.feed_state
    live_interval = round(state.interval_s * 1000) if state.source is FeedSource.LIVE else None
    previous = app.config or TuiConfig()
    return TuiConfig(
        interval_ms=live_interval if live_interval is not None else previous.interval_ms,
        sort=app.live.model.sort_name,
        theme=app.theme,
        columns=app.live.model.column_keys,
    )


def fit_header(pieces: list[tuple[str, Text]], width: int) -> Text:
    """The header's pieces on one line of `width` cells: pieces leave in HEADER_DROP_ORDER until the rest
    fit, and what still does not fit ends in an ellipsis (never a wrap onto a second line)."""
    kept = list(pieces)
    for name in HEADER_DROP_ORDER:
        if sum(text.cell_len for _, text in kept) <= width:
            break
        kept = [(piece, text) for piece, text in kept if piece != name]
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for _, text in kept:
        line.append_text(text)
    line.truncate(max(width, 1), overflow="ellipsis")
    return line
