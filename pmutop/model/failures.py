"""One-line explanations, with the fix, for counters the kernel refused.

The wording follows what perf's evsel__open_strerror says for the same errno, made specific to
what pmutop was opening (which event, which PMU, which CPU) and to the machine's privilege state.
"""

import errno as errno_module
from dataclasses import dataclass

from pmutop.model.notices import FD_LIMIT_FIX, NO_CORE_PMU_WHY, PRIVILEGE_FIX, VPMU_FIX
from pmutop.model.samples import CounterFailure

# What each perf_event_paranoid level blocks for a process without CAP_PERFMON/CAP_SYS_ADMIN
# (Documentation/admin-guide/perf-security.rst).
PARANOID_BLOCKS = {
    -1: "nothing",
    0: "raw tracepoint and ftrace function access",
    1: "CPU-wide (system-wide) events",
    2: "CPU-wide events and kernel profiling",
    3: "all perf events (a distribution patch)",
    4: "all perf events (a distribution patch)",
}


@dataclass(frozen=True, slots=True)
class Privileges:
    """What decides whether system-wide counting is allowed."""

    is_root: bool
    has_cap_perfmon: bool
    paranoid: int | None

    @property
    def privileged(self) -> bool:
        return self.is_root or self.has_cap_perfmon

    def describe(self) -> str:
        if self.is_root:
            return "root"
        if self.has_cap_perfmon:
            return "CAP_PERFMON"
        return f"paranoid {self.paranoid}" if self.paranoid is not None else "unprivileged"


@dataclass(frozen=True, slots=True)
class OpenContext:
    """What was being opened, so the explanation can name it."""

    event: str
    pmu: str | None = None
    cpu: int | None = None
    fds_needed: int | None = None
    fd_limit: int | None = None


def _privilege_text(privileges: Privileges) -> str:
    level = privileges.paranoid
    blocks = PARANOID_BLOCKS.get(level, "some events") if level is not None else "some events"
    return f"perf_event_paranoid is {level} (blocks {blocks} for unprivileged users); fix: {PRIVILEGE_FIX}"


def _where(context: OpenContext) -> str:
    where = context.event
    if context.pmu:
        where += f" on {context.pmu}"
    if context.cpu is not None:
        where += f", cpu{context.cpu}"
    return where


def explain(error: int, context: OpenContext, privileges: Privileges) -> str:
    where = _where(context)
    if error == errno_module.ENOENT:
        if context.pmu is None:
            return f"{where}: no core PMU (ENOENT): {NO_CORE_PMU_WHY}; fix: {VPMU_FIX}"
        return f"{where}: not supported (ENOENT): the PMU has no such event or does not cover this CPU"
    if error in (errno_module.EACCES, errno_module.EPERM):
        return f"{where}: permission denied: {_privilege_text(privileges)}"
    if error == errno_module.EOPNOTSUPP:
        return (
            f"{where}: not supported in this mode (EOPNOTSUPP): the PMU refuses a filter or sampling "
            "(Apple PMUs need exclude_guest; some PMUs cannot sample, only count)"
        )
    if error == errno_module.ENODEV:
        return f"{where}: CPU offline or absent (ENODEV); counting resumes when it comes back online"
    if error in (errno_module.EMFILE, errno_module.ENFILE):
        need = f"pmutop needs {context.fds_needed} descriptors" if context.fds_needed else "pmutop needs more"
        limit = f" but the limit is {context.fd_limit}" if context.fd_limit else ""
        return f"{where}: too many open files ({errno_module.errorcode[error]}): {need}{limit}; fix: {FD_LIMIT_FIX}"
    if error == errno_module.EBUSY:
        return (
            f"{where}: counter busy (EBUSY): another user holds it exclusively, often the NMI watchdog; "
            "fix: `sysctl kernel.nmi_watchdog=0` or stop the other profiler"
        )
    if error == errno_module.EINVAL:
        return f"{where}: invalid attributes for this kernel or PMU (EINVAL): the event encoding is not accepted"
    if error == errno_module.E2BIG:
        return f"{where}: this kernel's perf_event_attr is older than pmutop's (E2BIG)"
    if error == errno_module.ESRCH:
        return f"{where}: the task has exited (ESRCH)"
    if error == errno_module.ENOSPC:
        return f"{where}: no free counter or breakpoint slot (ENOSPC)"
    name = errno_module.errorcode.get(error, str(error))
    return f"{where}: refused by the kernel ({name})"


def hidden_in_kernel(context: OpenContext, privileges: Privileges) -> CounterFailure:
    """A count the kernel makes in its own context, under the user-space-only fallback: it would read 0."""
    where = context.event + (f", cpu{context.cpu}" if context.cpu is not None else "")
    return CounterFailure(
        errno=errno_module.EACCES,
        errno_name="EACCES",
        explanation=(
            f"{where}: counted inside the kernel, which the user-space-only fallback (exclude_kernel) cannot see, "
            f"so there is no value rather than a 0: {_privilege_text(privileges)}"
        ),
    )


def malformed_read(context: OpenContext, words: int, claimed: int) -> CounterFailure:
    """A group read shorter than its header claims (the kernel never should): no values that tick."""
    return CounterFailure(
        errno=errno_module.EIO,
        errno_name="EIO",
        explanation=(
            f"{_where(context)}: the kernel's read held {words} words where its header claims {claimed} (EIO), "
            "so this interval has no values rather than ones read past its end; the next read is tried as usual"
        ),
    )


def reopened(context: OpenContext, unseen_offline: bool) -> CounterFailure:
    """The interval in which a group was reopened because its CPU came back: no delta spans the gap."""
    how = (
        "went offline and came back between two reads (its counters stopped, so they were found detached)"
        if unseen_offline
        else "came back online"
    )
    return CounterFailure(
        errno=errno_module.ENODEV,
        errno_name="ENODEV",
        explanation=(
            f"{_where(context)}: the CPU {how}; the counters were reopened, so this interval has no value "
            "(what the CPU counted while they were gone was never counted); counting resumes with the next"
        ),
    )


def failure(error: int, context: OpenContext, privileges: Privileges) -> CounterFailure:
    return CounterFailure(
        errno=error,
        errno_name=errno_module.errorcode.get(error, str(error)),
        explanation=explain(error, context, privileges),
    )
