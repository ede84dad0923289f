"""`pmutop topology` and `pmutop snapshot`: headless views of the PMU/CPU topology."""

import argparse
import json
import os
import platform
import sys
import textwrap
from collections.abc import Iterable

from pmutop.cli.errors import UserError, claim_output
from pmutop.kernel.sysfs import read_sysfs_any, write_snapshot
from pmutop.live.topology_loader import load_topology
from pmutop.model.cpulist import format_cpulist
from pmutop.model.notices import NO_CORE_PMU
from pmutop.model.text import plural
from pmutop.model.topology import Pmu, Topology


def _cpus_text(cpus: Iterable[int]) -> str:
    text = format_cpulist(cpus)
    return text if text else "none"


def _pmu_line(pmu: Pmu) -> str:
    details = [f"type {pmu.type}"]
    if pmu.cpus or pmu.cpus_source != "none":
        details.append(f"cpus {_cpus_text(pmu.cpus)}")
    if pmu.events:
        details.append(plural(len(pmu.events), "event"))
    if pmu.formats:
        details.append("format " + " ".join(sorted(pmu.formats)))
    return f"  {pmu.name:<24} " + ", ".join(details)


def render_topology(topology: Topology) -> str:
    """The readable report: core PMUs first, the rest by kind, CPUs grouped by core type."""
    lines = []
    machine = topology.machine
    header = "pmutop topology"
    if machine.hostname or machine.kernel:
        header += f" of {machine.hostname or '?'} (Linux {machine.kernel or '?'})"
    if topology.source != "/":
        header += f", read from {topology.source}"
    lines.append(header)
    online = topology.online_cpus
    lines.append(f"{plural(len(topology.cpus), 'CPU')}, {len(online)} online ({_cpus_text(online)})")
    lines.append("")
    if topology.core_pmus:
        title = "Core PMUs (heterogeneous: one per core type)" if topology.is_heterogeneous else "Core PMU"
        lines.append(title)
        for core_type, pmu in zip(topology.core_types, topology.core_pmus, strict=True):
            lines.append(f"{_pmu_line(pmu)}; {core_type.label}")
            if pmu.caps:
                lines.append("      caps " + ", ".join(f"{k}={v}" for k, v in sorted(pmu.caps.items())))
    else:
        lines.extend(textwrap.wrap(NO_CORE_PMU, 100))
    groups = topology.instance_groups()
    shown_groups: set[str] = set()
    current_kind = None
    for pmu in topology.pmus:
        if pmu.is_core:
            continue
        if pmu.kind != current_kind:
            current_kind = pmu.kind
            lines.append("")
            lines.append(f"{str(pmu.kind).capitalize()} PMUs")
        if pmu.base_name in groups:
            if pmu.base_name in shown_groups:
                continue
            shown_groups.add(pmu.base_name)
            instances = [topology.pmu(name) for name in groups[pmu.base_name]]
            # Types as a list of ranges (uncore instances get consecutive dynamic types): 20-59, not 40 numbers.
            types = format_cpulist(p.type for p in instances if p)
            lines.append(f"  {pmu.base_name:<24} {len(instances)} instances, types {types}")
            continue
        lines.append(_pmu_line(pmu))
    lines.append("")
    lines.append("CPUs by core type")
    for core_type in topology.core_types:
        members = [c for c in topology.cpus if c.core_pmu == core_type.pmu]
        lines.append(_cpu_group_line(f"{core_type.label} ({core_type.pmu})", members))
    unowned = [c for c in topology.cpus if c.core_pmu is None]
    if unowned:
        lines.append(_cpu_group_line("no core PMU", unowned))
    if topology.problems:
        lines.append("")
        lines.append(f"Problems ({len(topology.problems)})")
        for problem in topology.problems:
            lines.append(f"  {problem.path}: {problem.reason}")
    return "\n".join(lines)


def _cpu_group_line(title: str, members: list) -> str:
    online = [c.cpu for c in members if c.online]
    offline = [c.cpu for c in members if not c.online]
    text = f"  {title:<36} {_cpus_text(c.cpu for c in members)}"
    if offline:
        text += f" (offline {_cpus_text(offline)}; online {_cpus_text(online)})"
    return text


def run_topology(args: argparse.Namespace) -> int:
    topology = load_topology(args.sysfs_root)
    if args.json:
        json.dump(topology.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(render_topology(topology))
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    claim_output(args.output)
    read = read_sysfs_any(args.sysfs_root)
    uname = os.uname()
    try:
        write_snapshot(read, args.output, machine=f"{uname.nodename} {uname.release} {platform.machine()}")
    except OSError as exc:
        raise UserError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(
        f"wrote {args.output}: {plural(len(read.pmu_names), 'PMU')}, {plural(len(read.cpu_names), 'CPU')}, "
        f"{plural(len(read.files), 'file')}, {len(read.errors)} unreadable"
    )
    return 0
