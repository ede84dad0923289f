"""The sampler and the task follower decode each group read with perf_abi.parse_group_read, bounded by
what the kernel returned for that read: a read cut short is a counted failure, never values taken from
the words after it (another group's).

The kernel never cuts a group read short, so the reads here are real reads of real events, made short
afterwards by a wrapper around the real TickReader: the only way to hand the readers such a read."""

import errno
import subprocess
import time

import pytest
from scripted_kernel import sample_in_parts

from pmutop.live.sampler import Sampler, current_privileges
from pmutop.live.tasks import TaskFollower
from pmutop.live.topology_loader import load_topology

pytestmark = pytest.mark.needs_root


class CutShort:
    """A TickReader whose reads at `positions` come back one word shorter than the kernel made them
    (as lists, which the task follower reads, and as arrays, which the sampler decodes; its sample()
    is made of those parts, as the real one's single call cannot be cut into)."""

    def __init__(self, reader, positions: set[int]) -> None:
        self._reader = reader
        self.words_per_fd = reader.words_per_fd
        self.positions = positions

    def damage(self, status, words) -> None:
        for position in self.positions:
            status[position] -= 8

    def read(self):
        status, words = self._reader.read()
        self.damage(status, words)
        return status, words

    def read_arrays(self):
        status, words = self._reader.read_arrays()
        self.damage(status, words)
        self._last = status, words
        return status, words

    def sample(self, checks, watch_hangups, stop_check, slack_ns, present, meta, counts):
        return sample_in_parts(self, time.monotonic_ns, checks, stop_check, slack_ns, present, meta, counts)

    def last_read(self, index):
        status, words = self._last
        return int(status[index]), words[index * self.words_per_fd : (index + 1) * self.words_per_fd].tolist()


class Overclaiming(CutShort):
    """A TickReader whose reads at `positions` claim one more member than the kernel wrote."""

    def damage(self, status, words) -> None:
        for position in self.positions:
            words[position * self.words_per_fd] += 1


@pytest.fixture
def sampler():
    sampler = Sampler(load_topology("/"))
    sampler.open()
    try:
        yield sampler
    finally:
        sampler.close()


@pytest.mark.parametrize("damage", [CutShort, Overclaiming])
def test_a_malformed_group_read_is_a_failure_for_that_tick_only(sampler, damage):
    keys = [slot.layout.key for slot, _opened in sampler._targets.groups]
    assert len(keys) >= 2, "needs two open groups: one damaged, one read as usual"
    real = sampler._reader
    sampler._reader = damage(real, {0})
    tick = sampler.read_tick()
    assert keys[0] not in tick.reads
    assert tick.lost[keys[0]].errno == errno.EIO
    assert "header claims" in tick.lost[keys[0]].explanation
    assert all(key in tick.reads for key in keys[1:])
    assert all(
        len(tick.reads[key].values) == len(opened.fds)
        for (_s, opened), key in zip(sampler._targets.groups[1:], keys[1:], strict=True)
    )
    # The group stays open: the next whole read counts again.
    sampler._reader = real
    tick = sampler.read_tick()
    assert keys[0] in tick.reads and keys[0] not in tick.lost


@pytest.fixture
def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("damage", [CutShort, Overclaiming])
def test_a_malformed_task_counter_read_is_skipped_and_counted(sleeper, damage):
    follower = TaskFollower(load_topology("/"), current_privileges(), {}, pids=(sleeper.pid,))
    assert follower.start() is None
    try:
        whole = follower.tick().counters
        assert whole, "the sleeping task has counters"
        real = follower._reader
        follower._reader = damage(real, {0})
        damaged = follower.tick().counters
        assert len(damaged) == len(whole) - 1
        assert follower.malformed_reads == 1
        follower.tick()
        assert follower.malformed_reads == 2
        (notice,) = [n for n in follower.notices if "header claims" in n]
        assert notice.startswith("2 per-thread counter reads")
        follower._reader = real
        assert len(follower.tick().counters) == len(whole)
    finally:
        follower.close()
