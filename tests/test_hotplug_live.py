"""CPU 1 offline and back between two ticks, on the real kernel: every face counts on cpu1 again.

The kernel detaches a CPU's events when it goes offline and leaves them so when it comes back: a
sampler that only looks at which CPUs are online at each tick never sees such a bounce, and cpu1's
figures stayed n/a, with no reason, for the rest of the run. Run these under the machine lock.
"""

import json
import queue
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cpus import CPU1_ONLINE
from export_support import parse_exposition, poll, sample_value, start_exporter
from waiting import hang_guard

from pmutop.live.live_feed import LiveFeed
from pmutop.live.sampler import Sampler
from pmutop.live.topology_loader import load_topology
from pmutop.model.samples import GroupRole

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.changes_machine,
    pytest.mark.skipif(not CPU1_ONLINE.exists(), reason="cpu1 cannot be hotplugged here"),
]
INTERVAL_MS = 200
INTERVAL_S = INTERVAL_MS / 1000
# Ticks after a bounce by which cpu1 counts again: the one that finds its groups detached (by the
# leader reading alone, or, at the latest one tick later, by time_enabled that stopped) reopens them,
# and the next has a delta. One more for a bounce that ends just as a tick reads.
TICKS_TO_COUNT_AGAIN = 4
BOUNCES = 20


def cpu1_of(record: dict) -> dict:
    return next(cpu for cpu in record["cpus"] if cpu["cpu"] == 1)


def counted(record: dict) -> frozenset[str]:
    """cpu1's figures that have a value in this interval."""
    return frozenset(name for name, figure in cpu1_of(record)["metrics"].items() if figure.get("value") is not None)


def bounce_cpu1() -> float:
    """CPU 1 offline and at once back online; returns the wall time it started (as snapshots stamp ticks)."""
    started = time.time()
    try:
        CPU1_ONLINE.write_text("0")
    finally:
        CPU1_ONLINE.write_text("1")
    return started


def assert_counts_again_after_a_bounce_within_one_tick(records: Iterator[dict]) -> None:
    """Bounce cpu1 until one bounce falls between two ticks (no tick saw cpu1 offline); then cpu1 counts
    again within TICKS_TO_COUNT_AGAIN ticks, every figure it had before, and the interval in between says
    why it has none."""
    wanted = next(
        counted(record) for record in records if {"context_switches_per_s", "migrations_per_s"} <= counted(record)
    )
    for _ in range(BOUNCES):
        started = bounce_cpu1()
        after = []
        for record in records:
            if record["timestamp"] < started:
                continue  # read before the bounce began
            after.append(record)
            if not cpu1_of(record)["online"] or wanted <= counted(record) or len(after) > TICKS_TO_COUNT_AGAIN:
                break
        if any(not cpu1_of(record)["online"] for record in after):
            # A tick read between the offline and the online: the case every sampler sees. Once cpu1
            # counts again, bounce again.
            next(record for record in records if wanted <= counted(record))
            continue
        assert wanted <= counted(after[-1]), [sorted(wanted - counted(record)) for record in after]
        reasons = [
            figure.get("reason", "")
            for record in after
            for name, figure in cpu1_of(record)["metrics"].items()
            if name in wanted and figure.get("value") is None
        ]
        assert reasons and all("went offline and came back between two reads" in reason for reason in reasons), reasons
        # Said once, when it happens (stat's JSON lines list a notice in the line where it is new).
        notices = [notice for record in after for notice in record["notices"]]
        assert any("cpu1 went offline and came back between two ticks" in notice for notice in notices), notices
        return
    pytest.fail(f"each of {BOUNCES} bounces of cpu1 was seen offline by a tick")


@contextmanager
def restoring_cpu1() -> Iterator[None]:
    try:
        yield
    finally:
        CPU1_ONLINE.write_text("1")


def test_stat_counts_on_cpu1_again_after_it_went_offline_and_back_within_a_tick(pmutop_command):
    run = subprocess.Popen(
        [*pmutop_command, "stat", "--json", "-I", str(INTERVAL_MS)], stdout=subprocess.PIPE, text=True
    )
    with restoring_cpu1(), hang_guard(run):
        try:
            assert run.stdout is not None
            assert_counts_again_after_a_bounce_within_one_tick(json.loads(line) for line in run.stdout)
        finally:
            run.kill()
            run.communicate()


def test_the_tui_feed_counts_on_cpu1_again_after_it_went_offline_and_back_within_a_tick():
    """The TUI's feed: its snapshots carry the same figures and reasons the table and detail area show."""
    feed = LiveFeed.create(interval_s=INTERVAL_S)
    assert isinstance(feed, LiveFeed), feed
    snapshots: queue.Queue = queue.Queue()
    ended: list[str] = []
    feed.start(lambda snapshot: snapshots.put(snapshot.to_json()), ended.append, lambda state: None)

    def records() -> Iterator[dict]:
        while not ended:
            # The hang guard of a feed that stopped ticking; it normally waits one tick.
            yield snapshots.get(timeout=120)

    with restoring_cpu1():
        try:
            assert_counts_again_after_a_bounce_within_one_tick(records())
        finally:
            feed.stop()
    assert not ended, ended


def test_the_exporter_counts_on_cpu1_again_after_it_went_offline_and_back():
    """Its cpu1 totals grow again after a bounce, and never went backwards."""
    exporter = start_exporter("--listen", "127.0.0.1:0", "-I", str(INTERVAL_MS))
    history: list[float] = []

    def cpu1_total() -> float:
        total = sample_value(parse_exposition(exporter.metrics()), "pmutop_context_switches_total", cpu="1")
        assert total is not None
        history.append(total)
        return total

    def grown_since(total: float) -> Callable[[], bool]:
        return lambda: cpu1_total() > total

    with restoring_cpu1():
        try:
            poll(grown_since(cpu1_total()), "cpu1's context switches to be counted")
            bounce_cpu1()
            # Both past the bounce: what the old groups held, and what the reopened ones count since.
            poll(grown_since(cpu1_total()), "cpu1's total to grow after the bounce")
            poll(grown_since(history[-1]), "cpu1's total to grow again")
        finally:
            exporter.stop()
    assert history == sorted(history)


def test_the_first_read_after_a_bounce_finds_a_group_the_kernel_detached():
    """However soon after the bounce the sampler reads: the kernel detached the software group's members
    (its leader now reads alone), so that read finds it, whatever time_enabled says yet."""
    sampler = Sampler(load_topology())
    sampler.open()
    with restoring_cpu1():
        try:
            sampler.read_tick()
            bounce_cpu1()
            tick = sampler.read_tick()
        finally:
            sampler.close()
    software = next(layout.key for layout in sampler.layouts if layout.cpu == 1 and layout.role is GroupRole.SOFTWARE)
    assert 1 in tick.online
    assert "went offline and came back between two reads" in tick.lost[software].explanation
    # Read at once after the reopen: the next tick's baseline.
    assert tick.reads[software].generation == 2
