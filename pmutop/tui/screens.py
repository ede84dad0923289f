"""Modal screens: the help screen and the process picker."""

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from pmutop.model.metrics import MetricKey
from pmutop.model.processes import ProcessInfo, ProcessList, ProcessSort, sorted_processes
from pmutop.model.text import plural
from pmutop.tui.text import literal


class FilterInput(Input):
    """A one-line filter box. Its cursor blinks in a terminal and holds still headless: a blink phase
    caught by a screenshot made snapshot tests of an open box fail one run in a few."""

    def on_mount(self) -> None:
        self.cursor_blink = not self.app.is_headless


# (keys, what they do): the help screen's list, in the order a new user needs them.
KEYS_HELP = (
    ("q / ctrl+c", "quit"),
    ("space", "pause / resume sampling (a replay: pause the playback)"),
    ("+ / -", "longer / shorter refresh interval (a replay: slower / faster playback)"),
    ("← / →", "a replay: back / forward 10 ticks"),
    ("home / end", "a replay: back to the start (it plays again) / the last tick"),
    (".", "step one tick while a replay is paused"),
    ("? / F1", "this help"),
    ("/", "filter CPUs: a cpulist (0-3,8) or part of a name (cpu_atom, efficiency); Esc clears"),
    (
        "p",
        "pick a process to follow: busiest first, type part of its command line; ctrl+t kernel threads, "
        "ctrl+s (F6) sort by CPU%, pid, user or command, ctrl+r reverse",
    ),
    ("f", "stop following"),
    ("s", "cycle the sort over the chosen figure columns (▼ high first, ▲ low first)"),
    ("r", "reverse the sort"),
    ("t", "show / hide the topology pane (folded away below 100 columns)"),
    ("g", "group CPUs under their core PMU on / off"),
    ("m", "a heat map of every CPU (colour util%, bar IPC) / a row per CPU"),
    ("c", "choose the columns (pmutop's and one per -e event); kept with interval, sort and theme"),
    ("x", "hide the notice banner"),
    ("ctrl+p", "command palette: the same actions, theme, save snapshot (SVG)"),
    ("↑ ↓ PgUp PgDn", "move in the focused pane (the heat map: ← → too, shift+← → in a replay); Tab switches panes"),
)
COLUMNS_HELP = (
    (MetricKey.GHZ.label, "cycles / busy time (from /proc/stat): the clock while not idle"),
    (MetricKey.IPC.label, "instructions / cycles"),
    (MetricKey.UTIL_PCT.label, "busy share from /proc/stat"),
    (
        f"{MetricKey.CONTEXT_SWITCHES_PER_S.label}, {MetricKey.MIGRATIONS_PER_S.label}",
        "context switches and migrations per second",
    ),
    ("cov", "share of the interval the counters were on the PMU; below 100% values are scaled (marked ~)"),
    (
        MetricKey.EFFECTIVE_GHZ.label,
        "TSC rate × APERF/MPERF from the msr PMU (turbostat's Bzy_MHz): the clock while not idle, with no"
        " core PMU needed; per CPU only, n/a where the msr PMU has no aperf and mperf (select the row for why)",
    ),
    ("n/a", "not countable here: select the row to see why and the fix"),
    ("Σ rows", "per core PMU: sums of what was counted on its CPUs"),
)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    table.add_row(Text("Keys", style="bold underline"), "")
    for keys, action in KEYS_HELP:
        table.add_row(keys, action)
    table.add_row("", "")
    table.add_row(Text("Columns", style="bold underline"), "")
    for column, meaning in COLUMNS_HELP:
        table.add_row(column, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1", "dismiss", "Close"),
        # q quits from here too, as the help says it does everywhere.
        Binding("q", "app.quit", "Quit"),
    ]
    # The scrolling dialog has focus from the start, so ↓, PgDn and End scroll it where it does not fit
    # (the app's AUTO_FOCUS names the live table, which this screen does not have: nothing had focus).
    AUTO_FOCUS = "#help-dialog"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(Text("pmutop help", style="bold"), id="help-title")
            yield Static(help_table(), id="help-body")
            yield Static(Text("Esc, ? or F1 close this help; q quits", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


# ctrl+s (or htop's F6) cycles the picker's sort in this order; the first is the default.
PICKER_SORTS = (ProcessSort.CPU, ProcessSort.PID, ProcessSort.USER, ProcessSort.COMMAND)


def picker_heading(sort: ProcessSort, reverse: bool) -> Text:
    """The column headings, the sorted one marked as the live table marks its own: ▼ high first, ▲ low
    first (CPU% is high first unless reversed, the others low first, A to Z)."""
    high_first = (sort is ProcessSort.CPU) != reverse
    names = {
        column: column.value + ("▼" if high_first else "▲") if column is sort else column.value
        for column in ProcessSort
    }
    pid, user, cpu, command = (
        names[column] for column in (ProcessSort.PID, ProcessSort.USER, ProcessSort.CPU, ProcessSort.COMMAND)
    )
    heading = f"{pid:>7} {user:<9} {cpu:>5}  {command}"
    return Text(heading, style="bold", no_wrap=True)


def process_label(process: ProcessInfo) -> Text:
    """One picker row: pid, user, CPU%, command line (the list's CSS ends it with an ellipsis at the edge)."""
    cpu = f"{process.cpu_pct:5.1f}" if process.cpu_pct is not None else "  n/a"
    user = process.user if len(process.user) <= 9 else process.user[:8] + "…"
    label = Text(f"{process.pid:>7} {user:<9} {cpu}  ", no_wrap=True, overflow="ellipsis", end="")
    label.append_text(literal(process.shown_command, "dim" if process.kernel_thread else ""))
    return label


LIVE_PICKER_HELP = "Follow a process: type part of its command line, Enter follows, Esc cancels"
RECORDED_PICKER_HELP = "A replay can show only processes it recorded: Enter picks one, Esc cancels"


class ProcessPicker(ModalScreen[int | None]):
    """The processes, busiest first as in htop, with user and command line; type to filter on any of
    them, Enter follows. Kernel threads are hidden until ctrl+t shows them.

    The list is a ProcessList the app hands to `show` whenever the feed makes one (a live feed reads
    /proc on its own thread while the picker is open; the UI never reads it); the picker only filters
    and draws it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+t", "toggle_kernel_threads", "Kernel threads", priority=True),
        Binding("ctrl+s,f6", "cycle_sort", "Sort", priority=True),
        Binding("ctrl+r", "reverse_sort", "Reverse", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listing: ProcessList | None = None
        self.show_kernel_threads = False
        self.sort = PICKER_SORTS[0]
        self.sort_reversed = False
        # A replay's list comes at once, maybe before the widgets it fills are there: on_mount fills them.
        self._mounted = False

    @property
    def processes(self) -> tuple[ProcessInfo, ...]:
        return self.listing.processes if self.listing is not None else ()

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(Text(LIVE_PICKER_HELP, no_wrap=True, overflow="ellipsis"), id="picker-help")
            yield FilterInput(placeholder="pid, user or command", id="picker-filter")
            yield Static(picker_heading(self.sort, self.sort_reversed), id="picker-heading")
            yield OptionList(Option("reading the process list…", disabled=True), id="picker-list")
            yield Static(id="picker-status")

    def on_mount(self) -> None:
        self._mounted = True
        self.query_one(Input).focus()
        if self.listing is not None:
            self._show_listing()

    def show(self, listing: ProcessList) -> None:
        """A new list from the feed (the app calls this on the UI thread)."""
        if listing == self.listing:
            return  # nothing changed: the list is not filled again (it would flicker, and lose its scroll)
        self.listing = listing
        if self._mounted:
            self._show_listing()

    def _show_listing(self) -> None:
        recorded = self.listing is not None and self.listing.recorded
        help_line = RECORDED_PICKER_HELP if recorded else LIVE_PICKER_HELP
        self.query_one("#picker-help", Static).update(Text(help_line, no_wrap=True, overflow="ellipsis"))
        self._fill(self.query_one(Input).value)

    def action_toggle_kernel_threads(self) -> None:
        self.show_kernel_threads = not self.show_kernel_threads
        self._fill(self.query_one(Input).value)

    def action_cycle_sort(self) -> None:
        self.sort = PICKER_SORTS[(PICKER_SORTS.index(self.sort) + 1) % len(PICKER_SORTS)]
        self.sort_reversed = False
        self._sorted()

    def action_reverse_sort(self) -> None:
        self.sort_reversed = not self.sort_reversed
        self._sorted()

    def _sorted(self) -> None:
        self.query_one("#picker-heading", Static).update(picker_heading(self.sort, self.sort_reversed))
        self._fill(self.query_one(Input).value)

    def _fill(self, query: str) -> None:
        listing = self.listing
        if listing is None:
            return  # typed before the list came: it is filtered by what was typed once it comes
        options = self.query_one(OptionList)
        chosen = options.highlighted_option.id if options.highlighted_option is not None else None
        shown = [
            process
            for process in self.processes
            if (self.show_kernel_threads or not process.kernel_thread) and process.matches(query)
        ]
        if self.sort is not ProcessSort.CPU or self.sort_reversed:
            # The list comes busiest first: another order is made here, over the processes shown only.
            shown = sorted_processes(shown, self.sort, self.sort_reversed)
        options.clear_options()
        options.add_options(Option(process_label(process), id=str(process.pid)) for process in shown)
        if options.option_count:
            # The highlight stays on the process it was on when the list is read again.
            ids = [str(process.pid) for process in shown]
            options.highlighted = ids.index(chosen) if chosen in ids else 0
        hidden = sum(process.kernel_thread for process in self.processes)
        status = Text(no_wrap=True, overflow="ellipsis")
        if listing.recorded and not self.processes:
            status.append("this recording followed no process: there is none to pick", style="yellow")
            self.query_one("#picker-status", Static).update(status)
            return
        window = "no CPU% in a recording" if listing.cpu_window_s is None else f"CPU% over {listing.cpu_window_s:.2g}s"
        status.append(f"{len(shown)} of {len(self.processes)} · {window}", style="dim")
        if not shown and self.processes:
            status.append(" · nothing matches: Backspace widens the search", style="yellow")
        if not listing.recorded:
            kernel = "shown" if self.show_kernel_threads else "hidden"
            status.append(f" · {plural(hidden, 'kernel thread')} {kernel} (^t)", style="dim")
        status.append(" · ^s sort ^r reverse", style="dim")
        self.query_one("#picker-status", Static).update(status)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        self.dismiss(int(option_id) if option_id is not None else None)

    def on_key(self, event) -> None:
        # Up/Down in the filter box move the list's highlight, as in a fuzzy finder.
        if event.key in ("up", "down", "pageup", "pagedown") and self.focused is self.query_one(Input):
            options = self.query_one(OptionList)
            {
                "down": options.action_cursor_down,
                "up": options.action_cursor_up,
                "pageup": options.action_page_up,
                "pagedown": options.action_page_down,
            }[event.key]()
            event.stop()

    def action_cancel(self) -> None:
        self.dismiss(None)
