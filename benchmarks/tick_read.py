"""Cost of reading every counter group once (one pmutop tick), three ways.

  pmutop   TickReader.read(): one cffi call looping read() in C, plus conversion to Python lists
  python   a Python loop of os.read() over the same fds
  C        a plain C loop of read(), timed inside C (the floor: syscalls only), compiled here with cffi

Each group is cpu-clock + context-switches + cpu-migrations, read with PERF_FORMAT_GROUP |
TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING | ID (9 words); groups are spread round-robin over the online
CPUs, as pmutop does. Needs root (CPU-wide events) and gcc.

    sudo .venv/bin/python benchmarks/tick_read.py [--iterations N] [--split-groups 512]

With --decode, what a tick's reads cost up to the rate model's arrays (issue 12): the shim decoding
them into the model's columns (TickReader.sample: the reads and decode_group_reads in one call, as the
sampler does, less its poll for hangups) against the Python decoding before it (TickReader.read as
lists, parse_group_read and a GroupRead per group into a dict, which the model then turned into arrays
with rates.read_arrays), at 64 to 1344 groups (448 CPUs with three groups each).

With --split-groups N, whether splitting a tick's reads across reader threads pays (issue 12: by NUMA node
"if it pays"): N groups read by one TickReader in the calling thread, against the same groups cut by
their CPU into one TickReader per CPU set, each read by its own long-lived thread (woken per tick, the
caller waiting for all), unpinned and pinned to the CPUs it reads (a counter read on its own CPU needs no
IPI). On this 2-CPU VM the "node" split is CPU 0 | CPU 1. Wall and process CPU (all threads) per tick.
"""

import argparse
import importlib
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time

import numpy as np
from cffi import FFI

from pmutop.kernel import perf
from pmutop.model.perf_abi import (
    GROUP_READ_FORMAT,
    STOPPED_SLACK_NS,
    EventAttr,
    EventType,
    SoftwareEvent,
    group_read_words,
    parse_group_read,
)
from pmutop.model.rates import read_arrays
from pmutop.model.samples import GroupRead, GroupReads

GROUP_COUNTS = (64, 256, 512)
MEMBERS = (SoftwareEvent.CPU_CLOCK, SoftwareEvent.CONTEXT_SWITCHES, SoftwareEvent.CPU_MIGRATIONS)
WORDS = group_read_words(len(MEMBERS))
BATCH = 10

C_LOOP = r"""
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void c_tick_loop(const int *fds, size_t n, uint64_t *buf, size_t words, size_t iters, uint64_t *ns)
{
    for (size_t it = 0; it < iters; it++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            if (read(fds[i], buf + i * words, words * sizeof(uint64_t)) <= 0)
                buf[i * words] = 0;
        ns[it] = now_ns() - t0;
    }
}
"""


def build_c_loop(tmpdir: str):
    ffi = FFI()
    ffi.cdef("void c_tick_loop(const int *, size_t, uint64_t *, size_t, size_t, uint64_t *);")
    ffi.set_source("_tick_read_c", C_LOOP, extra_compile_args=["-O2"])
    ffi.compile(tmpdir=tmpdir)
    sys.path.insert(0, tmpdir)
    return importlib.import_module("_tick_read_c")


def online_cpus() -> list[int]:
    cpus = []
    with open("/sys/devices/system/cpu/online") as f:
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def open_groups(count: int, cpus: list[int]) -> tuple[list[int], list[int]]:
    """Returns (leaders, all fds)."""
    leaders, fds = [], []
    for g in range(count):
        cpu = cpus[g % len(cpus)]
        leader = -1
        for config in MEMBERS:
            attr = EventAttr(EventType.SOFTWARE, config, read_format=GROUP_READ_FORMAT)
            fd = perf.open_event(attr, cpu=cpu, group_fd=leader)
            if isinstance(fd, perf.OpenFailure):
                sys.exit(f"opening group {g} on CPU {cpu}: {fd.name}")
            fds.append(fd)
            if leader < 0:
                leader = fd
                leaders.append(fd)
    return leaders, fds


def measure(leaders: list[int], c_mod, iterations: int) -> dict[str, float]:
    """Median µs per tick for each method, interleaving them in batches so drift hits all three alike."""
    reader = perf.TickReader(leaders, WORDS)
    n = len(leaders)
    c_fds = c_mod.ffi.new("int[]", leaders)
    c_buf = c_mod.ffi.new("uint64_t[]", n * WORDS)
    c_ns = c_mod.ffi.new("uint64_t[]", BATCH)
    nbytes = 8 * WORDS
    samples: dict[str, list[int]] = {"pmutop": [], "python": [], "C": []}
    clock = time.perf_counter_ns
    for _ in range(max(1, iterations // BATCH)):
        c_mod.lib.c_tick_loop(c_fds, n, c_buf, WORDS, BATCH, c_ns)
        samples["C"].extend(c_mod.ffi.unpack(c_ns, BATCH))
        for _ in range(BATCH):
            t0 = clock()
            reader.read()
            samples["pmutop"].append(clock() - t0)
        for _ in range(BATCH):
            t0 = clock()
            for fd in leaders:
                os.read(fd, nbytes)
            samples["python"].append(clock() - t0)
    return {name: statistics.median(ns) / 1000 for name, ns in samples.items()}


class SplitReaders:
    """One reader thread per part, each reading its groups with its own TickReader when woken."""

    def __init__(self, parts: list[tuple[list[int], set[int] | None]]) -> None:
        self._start = threading.Barrier(len(parts) + 1)
        self._done = threading.Barrier(len(parts) + 1)
        self._stop = False
        self._threads = [
            threading.Thread(target=self._run, args=(leaders, cpus), daemon=True) for leaders, cpus in parts
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, leaders: list[int], cpus: set[int] | None) -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)  # 0: the calling thread
        reader = perf.TickReader(leaders, WORDS)
        while True:
            self._start.wait()
            if self._stop:
                return
            reader.read()
            self._done.wait()

    def read(self) -> None:
        self._start.wait()
        self._done.wait()

    def close(self) -> None:
        self._stop = True
        self._start.wait()
        for thread in self._threads:
            thread.join()


def measure_split(leaders: list[int], cpu_of: list[int], iterations: int) -> dict[str, tuple[float, float]]:
    """(median wall µs, median process CPU µs of a batch) per tick: one reader, the split unpinned, the split pinned;
    interleaved in batches so drift hits all three alike."""
    cpus = sorted(set(cpu_of))
    by_cpu = [[fd for fd, cpu in zip(leaders, cpu_of, strict=True) if cpu == each] for each in cpus]
    split = SplitReaders([(part, None) for part in by_cpu])
    pinned = SplitReaders([(part, {cpu}) for part, cpu in zip(by_cpu, cpus, strict=True)])
    ways = {
        "1 thread": perf.TickReader(leaders, WORDS).read,
        f"{len(cpus)} threads": split.read,
        f"{len(cpus)} threads, pinned": pinned.read,
    }
    wall: dict[str, list[int]] = {name: [] for name in ways}
    cpu: dict[str, list[int]] = {name: [] for name in ways}
    try:
        for _ in range(max(1, iterations // BATCH)):
            for name, read in ways.items():
                cpu_start = time.process_time_ns()
                for _ in range(BATCH):
                    t0 = time.perf_counter_ns()
                    read()
                    wall[name].append(time.perf_counter_ns() - t0)
                cpu[name].append((time.process_time_ns() - cpu_start) // BATCH)
    finally:
        split.close()
        pinned.close()
    return {name: (statistics.median(wall[name]) / 1000, statistics.median(cpu[name]) / 1000) for name in ways}


def split(count: int, cpus: list[int], iterations: int) -> None:
    leaders, fds = open_groups(count, cpus)
    cpu_of = [cpus[g % len(cpus)] for g in range(count)]
    try:
        measure_split(leaders, cpu_of, BATCH)  # warm-up
        result = measure_split(leaders, cpu_of, iterations)
    finally:
        for fd in reversed(fds):
            perf.close(fd)
    print(f"{count} groups split by CPU: {'way':<20} {'wall µs':>9} {'CPU µs':>9}")
    for name, (wall, cpu) in result.items():
        print(f"{'':>24}{name:<20} {wall:>9.1f} {cpu:>9.1f}")


DECODE_GROUP_COUNTS = (64, 256, 512, 1344)


def python_decode(reader: perf.TickReader, keys: tuple[str, ...]) -> GroupReads:
    """The reads to the model's arrays as they were made before the shim decoded them."""
    status, words = reader.read()
    reads = {}
    for index, key in enumerate(keys):
        decoded = parse_group_read(words, index * WORDS, status[index] // 8)
        if isinstance(decoded, tuple):
            enabled, running, values = decoded
            reads[key] = GroupRead(enabled, running, values, 1)
    return read_arrays(keys, len(MEMBERS), reads)


def shim_decode(reader: perf.TickReader, keys: tuple[str, ...], checks: perf.GroupChecks) -> GroupReads:
    """The reads to the model's arrays as the sampler makes them now."""
    rows = len(keys) + 1
    present, meta = np.zeros(rows, bool), np.zeros((rows, 4), np.int64)
    counts = np.zeros((rows, len(MEMBERS)), np.uint64)
    # The reads and their decoding: one foreign call (perf.TickReader.sample). Without the poll for
    # hangups the sampler adds: these groups have no ring mapped, and the kernel says POLLHUP for them.
    reader.sample(checks, False, True, STOPPED_SLACK_NS, present, meta, counts)
    return GroupReads(keys, present, meta, counts)


def decode(iterations: int, cpus: list[int]) -> None:
    print(f"{'groups':>6} {'reads alone µs':>15} {'python decode µs':>17} {'shim decode µs':>15}  (median per tick)")
    for count in DECODE_GROUP_COUNTS:
        leaders, fds = open_groups(count, cpus)
        try:
            keys = tuple(f"group{index}" for index in range(count))
            reader = perf.TickReader(leaders, WORDS)
            now = time.monotonic_ns()
            checks = perf.GroupChecks.of(list(range(count)), [len(MEMBERS)] * count, [1] * count, [(0, now)] * count)
            # Both decode the same reads to the same arrays.
            old, new = python_decode(reader, keys), shim_decode(reader, keys, checks)
            assert old.present.tolist() == new.present.tolist() and old.meta[:, 3].tolist() == new.meta[:, 3].tolist()
            samples: dict[str, list[int]] = {"reads": [], "python": [], "shim": []}
            clock = time.perf_counter_ns
            for _ in range(max(1, iterations // BATCH)):
                for _ in range(BATCH):
                    t0 = clock()
                    reader.read_arrays()
                    samples["reads"].append(clock() - t0)
                for _ in range(BATCH):
                    t0 = clock()
                    python_decode(reader, keys)
                    samples["python"].append(clock() - t0)
                for _ in range(BATCH):
                    t0 = clock()
                    shim_decode(reader, keys, checks)
                    samples["shim"].append(clock() - t0)
        finally:
            for fd in reversed(fds):
                perf.close(fd)
        reads_us, python_us, shim_us = (statistics.median(samples[name]) / 1000 for name in samples)
        print(f"{count:>6} {reads_us:>15.1f} {python_us:>17.1f} {shim_us:>15.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500, help="ticks timed per method and size")
    parser.add_argument("--split-groups", type=int, help="measure only the reader-thread split at this many groups")
    parser.add_argument(
        "--decode", action="store_true", help="measure only the reads' decoding into the model's arrays"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: CPU-wide software events are refused to normal users")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    cpus = online_cpus()
    machine = f"{platform.machine()}, {len(cpus)} online CPUs, kernel {platform.release()}"
    print(f"{machine}, Python {platform.python_version()}")
    if args.split_groups:
        split(args.split_groups, cpus, args.iterations)
        return
    if args.decode:
        decode(args.iterations, cpus)
        return
    print(f"{'groups':>6} {'fds':>5} {'C µs':>9} {'pmutop µs':>10} {'python µs':>10} {'pmutop/C':>9} {'python/C':>9}")
    with tempfile.TemporaryDirectory() as tmpdir:
        c_mod = build_c_loop(tmpdir)
        for count in GROUP_COUNTS:
            leaders, fds = open_groups(count, cpus)
            try:
                measure(leaders, c_mod, BATCH)  # warm-up
                r = measure(leaders, c_mod, args.iterations)
            finally:
                for fd in reversed(fds):
                    perf.close(fd)
            print(
                f"{count:>6} {len(fds):>5} {r['C']:>9.1f} {r['pmutop']:>10.1f} {r['python']:>10.1f}"
                f" {r['pmutop'] / r['C']:>9.2f} {r['python'] / r['C']:>9.2f}"
            )


if __name__ == "__main__":
    main()
