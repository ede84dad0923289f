"""`pmutop export`: sample on the main thread, serve the newest tick's totals over HTTP and/or a textfile.

The main thread is the sampler: it reads a tick, folds it into the exporter's totals and publishes the
resulting immutable Exposition by replacing one reference. The HTTP threads only ever read that
reference, so they need no lock and a scrape never waits for the kernel. (Reading the counters at scrape
time instead would make concurrent scrapes race for one sampler and give each a different, partly
overlapping interval; the price of the newest-tick design is that figures are up to one interval old,
which `pmutop_last_tick_timestamp_seconds` shows.)
"""

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pmutop.export.server import ListenAddress, MetricsServer
from pmutop.export.textfile import TextfileWriter
from pmutop.export.totals import ExportTotals, Exposition
from pmutop.model.samples import GroupLayout, RawTick
from pmutop.model.snapshot import Snapshot
from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.live.topology_loader import LiveSelection

COMMAND = "pmutop export"


@dataclass
class TickSource:
    """Where ticks come from: the live sampler, or a recording replayed at its own pace."""

    topology: Topology
    layouts: tuple[GroupLayout, ...]
    notices: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    # Each tick with its snapshot (None for a baseline) and the seconds it took to read, sleep excluded.
    ticks: Iterator[tuple[RawTick, Snapshot | None, float]]
    close: Callable[[], object]


def live_source(
    args: argparse.Namespace, pids: tuple[int, ...], interval_s: float, selection: "LiveSelection"
) -> TickSource | str:
    from pmutop.live.stat_session import StatSession

    session = StatSession.create(
        cpus=selection.cpus,
        pids=pids,
        comm=args.comm,
        user_only=args.user,
        events=selection.events,
        topology=selection.topology,
    )
    if isinstance(session, str):
        return session

    def newest() -> RawTick:
        raw = session.last_raw
        assert raw is not None, "a tick was read just before"
        return raw

    def ticks() -> Iterator[tuple[RawTick, Snapshot | None, float]]:
        started = time.perf_counter()
        session.start()
        yield newest(), None, time.perf_counter() - started
        deadline = time.monotonic()
        while True:
            deadline += interval_s
            session.wait_until(deadline)
            started = time.perf_counter()
            snapshot = session.tick()
            yield newest(), snapshot, time.perf_counter() - started

    sampler = session.sampler
    facts = (
        ("source", "live"),
        ("scope", sampler.scope),
        ("counting", "user" if args.user else "all"),
        ("interval_seconds", f"{interval_s:g}"),
    )
    return TickSource(session.topology, sampler.layouts, sampler.notices, facts, ticks(), session.finish)


def replay_source(path: str) -> TickSource | str:
    from pmutop.live.topology_loader import topology_of
    from pmutop.model.rates import RateModel
    from pmutop.recording.format import RecordingError, read_recording

    try:
        recording = read_recording(path)
    except RecordingError as exc:
        return str(exc)
    header = recording.header
    topology = topology_of(header.sysfs, source=path)
    model = RateModel(topology, header.layouts, header.notices)

    def ticks() -> Iterator[tuple[RawTick, Snapshot | None, float]]:
        started = time.monotonic()
        first_ns = recording.ticks[0].monotonic_ns if recording.ticks else 0
        for tick in recording.ticks:
            delay = started + (tick.monotonic_ns - first_ns) / 1e9 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            computed = time.perf_counter()
            snapshot = model.update(tick)
            yield tick, snapshot, time.perf_counter() - computed

    facts = (
        ("source", f"replay of {Path(path).name}"),
        ("scope", "recorded"),
        ("counting", "recorded"),
        ("interval_seconds", f"{header.interval_s:g}"),
    )
    return TickSource(topology, header.layouts, header.notices, facts, ticks(), lambda: None)


# Stopped the way stat and record are (pmutop.cli.signals): these end the exporter with 128+N.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    """A stop signal (Ctrl-C, systemd's stop, a closed terminal) unwinds the exporter through its finally:
    the server closed, the textfile removed, the counters closed."""
    raise _Stopped(signum)


def run_export(
    args: argparse.Namespace,
    address: ListenAddress | None,
    pids: tuple[int, ...] = (),
    selection: "LiveSelection | None" = None,
) -> int:
    """Serve on `address` (checked by the CLI; None: --textfile only) until a stop signal: exit 128+N.
    Live, `selection` is the CPUs and -e groups the CLI resolved; None with --input."""
    interval_s = (args.interval or 1000) / 1000
    writer = TextfileWriter(args.textfile) if args.textfile else None
    if writer is not None and (problem := writer.check()):
        raise SystemExit(f"{COMMAND}: --textfile: {problem}")
    latest: list[Exposition] = []
    server = None
    if address is not None:
        # Bound before any counter opens, so a taken port is one line and nothing else happened.
        try:
            server = MetricsServer(address, lambda: latest[0])
        except OSError as exc:
            raise SystemExit(f"{COMMAND}: cannot listen on {address.host}:{address.port}: {exc.strerror}") from None
    source = replay_source(args.input) if selection is None else live_source(args, pids, interval_s, selection)
    if isinstance(source, str):
        print(f"{COMMAND}: {source}", file=sys.stderr)
        if server is not None:
            server.close()
        return 1
    for notice in source.notices:
        print(f"{COMMAND}: {notice}", file=sys.stderr)
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    totals = ExportTotals(source.topology, source.layouts, source.facts)
    try:
        for raw, snapshot, read_s in source.ticks:
            exposition = totals.fold(raw, snapshot, read_s)
            # One reference replaced per tick: what the HTTP threads read.
            latest[:] = [exposition]
            if writer is not None:
                try:
                    writer.write(exposition)
                except OSError as exc:
                    print(f"{COMMAND}: --textfile: {exc}", file=sys.stderr)
                    return 1
            if exposition.ticks == 1:
                if server is not None:
                    server.start()
                    print(f"{COMMAND}: serving {server.address.url(server.port)}", flush=True)
                if writer is not None:
                    print(f"{COMMAND}: writing {writer.path} every {interval_s:g} s", flush=True)
        print(f"{COMMAND}: the recording ended; its last tick stays exported until interrupted", file=sys.stderr)
        while True:
            time.sleep(3600)
    except _Stopped as stopped:
        return 128 + stopped.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.close()
        if writer is not None:
            writer.remove()
        source.close()
