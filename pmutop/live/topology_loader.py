"""Reading a machine's topology: the kernel-side sysfs reader feeding the pure topology model."""

import os
from dataclasses import dataclass

from pmutop.kernel.sysfs import SysfsRead, read_sysfs_any
from pmutop.model.event_resolve import EventGroupPlan
from pmutop.model.topology import Topology, build_topology


@dataclass(frozen=True)
class LiveSelection:
    """What a live command counts on this machine: its -C and -e resolved once, before anything opens."""

    sysfs: SysfsRead  # what was read, for a recording's header
    topology: Topology
    cpus: tuple[int, ...] | None  # None: every CPU
    events: tuple[EventGroupPlan, ...]


def topology_of(read: SysfsRead, source: str | None = None) -> Topology:
    """The topology that raw sysfs text describes (a live read, a snapshot, a recording's header)."""
    return build_topology(read.files, read.errors, read.pmu_names, read.cpu_names, source=source or read.source)


def load_topology(root: str | os.PathLike[str] = "/") -> Topology:
    """The topology under `root`: "/" for this machine, a copied tree, or a `pmutop snapshot` tarball."""
    return topology_of(read_sysfs_any(root))
