"""The topology pane: PMUs by kind (core first) and CPUs grouped by core PMU, as a tree.

Every name and alias here comes from sysfs, so labels are built with `literal`. Moving the cursor
onto a PMU or a CPU tells the app which CPUs to highlight in the live pane.
"""

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from pmutop.model.cpulist import format_cpulist
from pmutop.model.topology import Cpu, Pmu, PmuKind, Topology
from pmutop.tui.text import literal


class TopologyTree(Tree[tuple[str, str] | None]):
    class CpusHighlighted(Message):
        """The tree's cursor is on something that covers these CPUs (empty: nothing in particular)."""

        def __init__(self, cpus: frozenset[int]) -> None:
            super().__init__()
            self.cpus = cpus

    def __init__(self, topology: Topology, **kwargs) -> None:
        super().__init__(Text("PMUs and CPUs"), **kwargs)
        self.topology = topology
        self._populate()

    def on_mount(self) -> None:
        self.show_root = False
        self.guide_depth = 2

    def _populate(self) -> None:
        topology = self.topology
        pmus_node = self.root.add(Text(f"PMUs ({len(topology.pmus)})", style="bold"), expand=True)
        core_types = {t.pmu: t for t in topology.core_types}
        if not topology.core_pmus:
            pmus_node.add_leaf(Text("no core PMU: no hardware CPU counters", style="yellow"))
        groups = topology.instance_groups()
        kind_node: TreeNode | None = None
        current_kind: PmuKind | None = None
        shown_groups: set[str] = set()
        for pmu in topology.pmus:
            if pmu.kind != current_kind:
                current_kind = pmu.kind
                kind_node = pmus_node.add(Text(str(pmu.kind), style="bold"), expand=pmu.is_core)
            assert kind_node is not None
            if pmu.base_name in groups:
                if pmu.base_name in shown_groups:
                    continue
                shown_groups.add(pmu.base_name)
                names = groups[pmu.base_name]
                label = literal(pmu.base_name, "bold")
                label.append(f"  {len(names)} instances")
                group_node = kind_node.add(label)
                for name in names:
                    instance = topology.pmu(name)
                    if instance is not None:
                        self._add_pmu(group_node, instance, None)
                continue
            core_type = core_types.get(pmu.name)
            self._add_pmu(kind_node, pmu, core_type.label if core_type else None)
        cpus_node = self.root.add(Text(f"CPUs ({len(topology.cpus)})", style="bold"), expand=True)
        for core_type in topology.core_types:
            members = [cpu for cpu in topology.cpus if cpu.core_pmu == core_type.pmu]
            label = literal(core_type.pmu, "bold")
            label.append(f"  {core_type.label} · {format_cpulist(c.cpu for c in members) or 'none'}")
            group = cpus_node.add(label, data=("pmu", core_type.pmu), expand=True)
            for cpu in members:
                self._add_cpu(group, cpu)
        unowned = [cpu for cpu in topology.cpus if cpu.core_pmu is None]
        if unowned:
            group = cpus_node.add(Text("no core PMU", style="bold"), expand=True)
            for cpu in unowned:
                self._add_cpu(group, cpu)

    def _add_pmu(self, parent: TreeNode, pmu: Pmu, core_type: str | None) -> None:
        label = literal(pmu.name, "bold" if pmu.is_core else "")
        label.append(f"  type {pmu.type}", style="cyan")
        if core_type:
            label.append(f"  {core_type}")
        if pmu.cpus or pmu.cpus_source != "none":
            label.append(f"  cpus {format_cpulist(pmu.cpus) or 'none'}")
        node = parent.add(label, data=("pmu", pmu.name))
        if pmu.caps:
            caps = node.add(Text(f"caps ({len(pmu.caps)})"))
            for name, value in sorted(pmu.caps.items()):
                leaf = literal(name)
                leaf.append(" = ")
                leaf.append_text(literal(value, "green"))
                caps.add_leaf(leaf)
        if pmu.events:
            events = node.add(Text(f"events ({len(pmu.events)})"))
            for alias in pmu.events.values():
                leaf = literal(alias.name)
                leaf.append("  ")
                leaf.append_text(literal(alias.terms, "green"))
                words = alias.config_words()
                if words:
                    leaf.append("  → " + " ".join(f"{word}={value:#x}" for word, value in words.items()), style="cyan")
                elif alias.encode_error:
                    leaf.append("  ")
                    leaf.append_text(literal(alias.encode_error, "yellow"))
                if alias.unit:
                    leaf.append("  ")
                    leaf.append_text(literal(alias.unit, "dim"))
                events.add_leaf(leaf)
        if pmu.formats:
            formats = node.add(Text(f"format ({len(pmu.formats)})"))
            for name, field in sorted(pmu.formats.items()):
                leaf = literal(name)
                leaf.append("  " + field.describe(), style="green")
                formats.add_leaf(leaf)

    def _add_cpu(self, parent: TreeNode, cpu: Cpu) -> None:
        label = Text(f"cpu{cpu.cpu}", style="" if cpu.online else "dim")
        ids = [(name, value) for name, value in (("pkg", cpu.package), ("core", cpu.core)) if value is not None]
        details = " ".join(f"{name} {value}" for name, value in ids)
        if cpu.thread_siblings:
            details += f" thr {format_cpulist(cpu.thread_siblings)}"
        if cpu.capacity is not None:
            details += f" cap {cpu.capacity}"
        if not cpu.online:
            details += " offline"
        label.append("  " + details.strip(), style="dim")
        parent.add_leaf(label, data=("cpu", str(cpu.cpu)))

    def render_label(self, node: TreeNode, base_style: Style, style: Style) -> Text:
        """A label that does not fit ends in an ellipsis: Textual's Tree crops it at the edge, which
        turns `cpus 0-15` into `cpus 0-1`, a list that reads as true."""
        label = super().render_label(node, base_style, style)
        depth = 0
        parent = node.parent
        while parent is not None and parent is not self.root:
            depth += 1
            parent = parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if label.cell_len > room > 0:
            label.truncate(room, overflow="ellipsis")
        return label

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        self.post_message(self.CpusHighlighted(self._cpus_of(event.node.data)))

    def _cpus_of(self, data: tuple[str, str] | None) -> frozenset[int]:
        if data is None:
            return frozenset()
        kind, name = data
        if kind == "cpu":
            return frozenset((int(name),))
        pmu = self.topology.pmu(name)
        if pmu is None or pmu.kind in (PmuKind.SOFTWARE, PmuKind.TRACEPOINT, PmuKind.OTHER):
            return frozenset()
        return frozenset(pmu.cpus)
