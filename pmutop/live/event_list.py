"""`-e` options to counter groups on this machine (or a recorded one): the call every face makes.

`pmutop stat`, `record`, the TUI and the exporter all take perf's event syntax; they parse and
resolve it here, so an event means the same in each and a mistake reads the same everywhere. The
grammar and the resolver are imported only when there are events: start-up without -e stays as fast.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.model.event_resolve import EventGroupPlan


class EventListError(ValueError):
    """A -e list that is not perf's syntax or names nothing countable here; the message is one line."""


def event_groups(
    texts: Sequence[str], topology: Topology, tracepoints: Mapping[str, int] | None = None
) -> "tuple[EventGroupPlan, ...]":
    """Parse and resolve `-e` arguments (each a comma-separated list); EventListError says what is wrong.

    Tracepoint ids come from this machine's tracefs unless `tracepoints` is given.
    """
    if not texts:
        return ()
    from pmutop.kernel.tracefs import TracepointIds, find_tracefs
    from pmutop.model.event_resolve import EventError, resolve_events
    from pmutop.model.event_syntax import EventSyntaxError, parse_event_lists

    try:
        groups = parse_event_lists(tuple(texts))
        ids = tracepoints if tracepoints is not None else TracepointIds(find_tracefs())
        return resolve_events(groups, topology, ids)
    except (EventSyntaxError, EventError) as exc:
        raise EventListError(str(exc)) from None
