"""`-e` options to counter groups on this machine (or a recorded one): the call every face makes.

`pmutop stat`, `record`, the TUI and the exporter all take perf's event syntax; they parse and
resolve it here, so an event means the same in each and a mistake reads the same everywhere.
"""

from collections.abc import Mapping, Sequence

from pmutop.kernel.tracefs import TracepointIds, find_tracefs
from pmutop.model.event_resolve import EventError, EventGroupPlan, resolve_events
from pmutop.model.event_syntax import EventSyntaxError, parse_event_lists
from pmutop.model.topology import Topology

# Both are ValueErrors with a one-line message fit for `pmutop: -e: <message>`.
EVENT_ERRORS = (EventSyntaxError, EventError)


def event_groups(
    texts: Sequence[str], topology: Topology, tracepoints: Mapping[str, int] | None = None
) -> tuple[EventGroupPlan, ...]:
    """Parse and resolve `-e` arguments (each a comma-separated list); raises one of EVENT_ERRORS.

    Tracepoint ids come from this machine's tracefs unless `tracepoints` is given.
    """
    if not texts:
        return ()
    groups = parse_event_lists(tuple(texts))
    return resolve_events(groups, topology, tracepoints if tracepoints is not None else TracepointIds(find_tracefs()))
