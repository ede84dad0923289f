"""Reading a machine's topology: the kernel-side sysfs reader feeding the pure topology model."""

import os

from pmutop.kernel.sysfs import SysfsRead, read_sysfs_any
from pmutop.model.topology import Topology, build_topology


def topology_of(read: SysfsRead, source: str | None = None) -> Topology:
    """The topology that raw sysfs text describes (a live read, a snapshot, a recording's header)."""
    return build_topology(read.files, read.errors, read.pmu_names, read.cpu_names, source=source or read.source)


def load_topology(root: str | os.PathLike[str] = "/") -> Topology:
    """The topology under `root`: "/" for this machine, a copied tree, or a `pmutop snapshot` tarball."""
    return topology_of(read_sysfs_any(root))
