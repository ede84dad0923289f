"""Modal screens: the help screen and the process picker."""

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from pmutop.tui.text import literal

# (keys, what they do): the help screen's list, in the order a new user needs them.
KEYS_HELP = (
    ("q", "quit"),
    ("space", "pause / resume sampling (a replay: pause the playback)"),
    ("+ / -", "longer / shorter refresh interval (a replay: slower / faster playback)"),
    (".", "step one tick while a replay is paused"),
    ("? / F1", "this help"),
    ("/", "filter CPUs: a cpulist (0-3,8) or part of a name (cpu_atom, efficiency); Esc clears"),
    ("p", "pick a process to follow"),
    ("f", "stop following"),
    ("s", "cycle the sort: CPU, util%, IPC, GHz, instr/s, cs/s"),
    ("t", "show / hide the topology pane"),
    ("g", "group CPUs under their core PMU on / off"),
    ("m", "a heat map of every CPU (colour util%, bar IPC) / a row per CPU"),
    ("c", "choose the columns (pmutop's and one per -e event); kept with interval, sort and theme"),
    ("x", "hide the notice banner"),
    ("ctrl+p", "command palette: the same actions, theme, save snapshot (SVG)"),
    ("↑ ↓ PgUp PgDn", "move in the focused pane; Tab switches panes"),
)
COLUMNS_HELP = (
    ("GHz", "cycles / busy time: the clock while not idle"),
    ("IPC", "instructions / cycles"),
    ("util%", "busy share from /proc/stat"),
    ("cs/s, migr/s", "context switches and migrations per second"),
    ("cov", "share of the interval the counters were on the PMU; below 100% values are scaled (marked ~)"),
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
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(Text("pmutop help", style="bold"), id="help-title")
            yield Static(help_table(), id="help-body")
            yield Static(Text("Esc closes", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class ProcessPicker(ModalScreen[int | None]):
    """A filterable list of (pid, comm); dismisses with the chosen pid, or None.

    The list comes from `list_processes`, called on a worker thread: on a live feed it reads /proc,
    which the UI thread never does (a busy machine has thousands of processes).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, list_processes: Callable[[], list[tuple[int, str]]]) -> None:
        super().__init__()
        self._list_processes = list_processes
        self._lister: Worker | None = None
        self._listed = False
        self.processes: list[tuple[int, str]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(Text("Follow a process: type to filter, Enter to follow, Esc to cancel"))
            yield Input(placeholder="pid or name", id="picker-filter")
            yield OptionList(Option("reading the process list…", disabled=True), id="picker-list")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._lister = self.run_worker(self._list_processes, thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._lister:
            return
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self.processes = sorted(event.worker.result)
        elif event.state is WorkerState.ERROR:
            self.notify(f"cannot list processes: {event.worker.error}", severity="error")
        else:
            return
        self._listed = True
        self._fill(self.query_one(Input).value)

    def _fill(self, query: str) -> None:
        if not self._listed:
            return  # typed before the list came: it is filtered by what was typed once it comes
        options = self.query_one(OptionList)
        options.clear_options()
        needle = query.strip().lower()
        for pid, comm in self.processes:
            if needle and needle not in str(pid) and needle not in comm.lower():
                continue
            label = Text(f"{pid:>7}  ")
            label.append_text(literal(comm))
            options.add_option(Option(label, id=str(pid)))
        if options.option_count:
            options.highlighted = 0

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
        if event.key in ("up", "down") and self.focused is self.query_one(Input):
            options = self.query_one(OptionList)
            if event.key == "down":
                options.action_cursor_down()
            else:
                options.action_cursor_up()
            event.stop()

    def action_cancel(self) -> None:
        self.dismiss(None)
