"""Reading a machine's topology: the kernel-side sysfs reader feeding the pure topology model."""

import os

from pmutop.kernel.sysfs import read_sysfs_any
from pmutop.model.topology import Topology, build_topology


def load_topology(root: str | os.PathLike[str] = "/") -> Topology:
    """The topology under `root`: "/" for this machine, a copied tree, or a `pmutop snapshot` tarball."""
    read = read_sysfs_any(root)
    return build_topology(read.files, read.errors, read.pmu_names, read.cpu_names, source=read.source)
