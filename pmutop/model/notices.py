"""What pmutop tells the user about the machine, worded once: the notices every face shows, and the
remedies that both those notices and the n/a reasons of pmutop.model.failures give.

A notice is one line, shown once (the TUI's banner, `pmutop stat`'s `#` lines, JSON `notices`, the
topology command); each remedy reads the same wherever it is given.
"""

# The remedies, and why a machine has no core PMU: the notices below and the n/a reasons of
# pmutop.model.failures say them in these words.
PRIVILEGE_FIX = (
    "run as root, grant CAP_PERFMON (setcap cap_perfmon+ep on the interpreter), "
    "or `sysctl kernel.perf_event_paranoid=0` for CPU-wide counting (-1 for everything)"
)
FD_LIMIT_FIX = "raise the hard limit (`ulimit -Hn`, LimitNOFILE=, /etc/security/limits.conf) or count fewer CPUs (-C)"
VPMU_FIX = "enable the hypervisor's vPMU (e.g. QEMU -cpu host, a cloud instance type with PMU access)"
NO_CORE_PMU_WHY = "this kernel exposes no hardware CPU counters (typical of a VM without a virtual PMU)"

NO_CORE_PMU = (
    f"No core PMU: {NO_CORE_PMU_WHY}, so cycles, instructions, IPC and GHz are n/a; software, tracepoint and "
    f"msr counters still work. Fix: {VPMU_FIX}."
)


def own_tree_only(privileges: str) -> str:
    """CPU-wide counting was denied (`privileges`: "paranoid 2"), so pmutop counts its own process tree."""
    return (
        f"CPU-wide counting denied ({privileges}, not root or CAP_PERFMON): counting pmutop's own process tree "
        f"in user space only (exclude_kernel). Fix: {PRIVILEGE_FIX}."
    )


def fd_limit(needed: int, limit: int) -> str:
    """Some counters could not be opened for want of file descriptors."""
    return (
        f"pmutop needs {needed} file descriptors but RLIMIT_NOFILE is {limit}: some counters are n/a (EMFILE). "
        f"Fix: {FD_LIMIT_FIX}."
    )
