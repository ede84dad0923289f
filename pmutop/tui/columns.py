"""The live table's columns: pmutop's own and one per -e event, and the chooser that picks them.

A column is (metric key, heading, width), as in pmutop.tui.live_model.COLUMNS; an event's metric key is
pmutop.model.snapshot.event_metric(label).
"""

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from pmutop.model.snapshot import EVENT_METRIC_PREFIX, Snapshot, event_label, event_metric
from pmutop.tui.live_model import COLUMNS, Column, ColumnKey, fit_text
from pmutop.tui.text import literal

EVENT_COLUMN_WIDTH = 8
# The widest an event's column grows for its heading: room for perf's common names (branch-misses,
# cpu-migrations); a longer label ends in an ellipsis (the chooser, c, shows it whole).
EVENT_HEADING_WIDTH = 14


def event_column(label: str) -> Column:
    """The column of the -e event `label`: as wide as its heading up to EVENT_HEADING_WIDTH."""
    width = max(EVENT_COLUMN_WIDTH, min(len(label), EVENT_HEADING_WIDTH))
    return (event_metric(label), fit_text(label, width).rstrip(), width)


def event_columns(snapshot: Snapshot | None) -> tuple[Column, ...]:
    """A column per -e event the snapshot carries, in the order given (counts per interval, SI-suffixed)."""
    if snapshot is None:
        return ()
    return tuple(event_column(label) for label in dict.fromkeys(total.label for total in snapshot.events))


def available_columns(snapshot: Snapshot | None) -> tuple[Column, ...]:
    return COLUMNS + event_columns(snapshot)


def chosen_columns(keys: tuple[str, ...] | None, available: tuple[Column, ...]) -> tuple[Column, ...]:
    """The columns named by `keys` (from the config file or the chooser) that exist, in their order;
    events the user named with -e and never hid are shown too. None: every column."""
    if keys is None:
        return available
    # By the key as the config file spells it: a ColumnKey is a str equal to its spelling.
    by_key: dict[str, Column] = {column[0]: column for column in available}
    shown = [by_key[key] for key in keys if key in by_key]
    known = set(keys)
    shown += [column for column in available if column[0].startswith(EVENT_METRIC_PREFIX) and column[0] not in known]
    return tuple(shown)


def _choice(key: ColumnKey, heading: str) -> Text:
    """A column as the chooser lists it: a -e event by its whole label (its heading may end in …), one of
    pmutop's by its heading and key."""
    event = event_label(key)
    return literal(f"{event}  (-e event)") if event is not None else literal(f"{heading}  ({key})")


class ColumnChooser(ModalScreen[tuple[ColumnKey, ...] | None]):
    """Tick the columns to show; Enter applies, Esc cancels. Order follows the table's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        # Before the list's own enter (which toggles): space toggles, enter applies.
        Binding("enter", "apply", "Apply", priority=True),
    ]

    def __init__(self, available: tuple[Column, ...], shown: tuple[Column, ...]) -> None:
        super().__init__()
        self.available = available
        self.shown = {column[0] for column in shown}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Columns: space toggles, Enter applies, Esc cancels")
            yield SelectionList[ColumnKey](
                *(Selection(_choice(key, heading), key, key in self.shown) for key, heading, _ in self.available),
                id="columns",
            )

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        selected = set(self.query_one(SelectionList).selected)
        self.dismiss(tuple(key for key, _, _ in self.available if key in selected))

    def action_cancel(self) -> None:
        self.dismiss(None)
