"""How a followed task's residency (its share of running time per core type or per CPU) is measured.

The live side picks the method from what the kernel allows (see pmutop.model.tasks); the model, the
faces and recordings carry it as this enum. Its value is the code a recording stores (format
version 3); `label` is the wording faces show, and what versions 1 and 2 stored.
"""

import enum


class ResidencyMethod(enum.Enum):
    # A per-task {cycles, instructions} group on each core PMU: its time_running is the time there.
    CORE_PMU_CYCLES = "core-pmu-cycles"
    # A per-task task-clock on each CPU (works everywhere, VMs included).
    CPU_TASK_CLOCK = "cpu-task-clock"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ResidencyMethod.CORE_PMU_CYCLES: "cycles per core PMU",
    ResidencyMethod.CPU_TASK_CLOCK: "task-clock per CPU",
}
