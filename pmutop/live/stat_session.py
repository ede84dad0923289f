"""One counting session: the sampler, optional task following and command, and the rate model.

`pmutop stat`, `pmutop record` and the TUI's live feed all drive this, so they open, follow and
compute the same way.
"""

import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pmutop.live.sampler import Sampler
from pmutop.live.tasks import TaskFollower
from pmutop.live.topology_loader import load_topology
from pmutop.model.rates import RateModel, whole_run_summary
from pmutop.model.samples import RawTick
from pmutop.model.snapshot import Snapshot
from pmutop.model.task_summary import TaskSummary
from pmutop.model.tasks import TaskTick
from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.live.task_counters import TaskCounters
    from pmutop.model.event_resolve import EventGroupPlan

# The child waits on this pipe until its counters are open, then execs the command: nothing it
# does is missed, as with perf stat's workload start. (A wrapper interpreter instead of
# preexec_fn, which is unsafe when the process has threads, as the TUI does.) Just before the exec it
# reports the time and its own CPU time on a second pipe: the command's elapsed, user and sys start
# there, not at pmutop's release, and the wrapper's start-up is not the command's.
_WAIT_THEN_EXEC = (
    "import os, sys, time\n"
    "os.read(int(sys.argv[1]), 1)\n"
    "times = os.times()\n"
    "os.write(int(sys.argv[2]), f'{time.monotonic()} {times.user} {times.system}'.encode())\n"
    "os.close(int(sys.argv[2]))\n"
    "try:\n"
    "    os.execvp(sys.argv[3], sys.argv[3:])\n"
    "except OSError as exc:\n"
    "    sys.stderr.write(f'pmutop: cannot run {sys.argv[3]!r}: {exc.strerror}\\n')\n"
    "    sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)\n"
)

# How long a followed command gets to exit after pmutop passes it a stop signal, before SIGKILL.
COMMAND_GRACE_S = 2.0


@dataclass
class StatSession:
    topology: Topology
    sampler: Sampler
    model: RateModel
    follower: TaskFollower | None = None
    child: subprocess.Popen | None = None
    _release_fd: int | None = None
    _first: RawTick | None = None
    _last: RawTick | None = None
    _last_snapshot: Snapshot | None = None
    # Session-level messages, e.g. why a follow request from the UI could not be honoured.
    notices: list[str] = field(default_factory=list)
    # perf's end-of-run counters on the command or -p processes, and their block once finished.
    task_counters: "TaskCounters | None" = None
    task_summary: TaskSummary | None = None
    # CLOCK_MONOTONIC when the command was first seen to have exited (perf's "time elapsed" ends there).
    exited_at: float | None = None
    _exit_poll: "select.poll | None" = None
    _pidfd: int | None = None
    # Where the wrapper says when it exec'd the command and what CPU time it had used by then.
    _exec_report_fd: int | None = None
    # The tick interval the caller means to keep, which sizes the migration rings.
    interval_s: float = 1.0

    @classmethod
    def create(
        cls,
        cpus: tuple[int, ...] | None = None,
        pids: tuple[int, ...] = (),
        comm: str | None = None,
        command: list[str] | None = None,
        topology: Topology | None = None,
        user_only: bool = False,
        events: "tuple[EventGroupPlan, ...]" = (),
        task_summary: bool = False,
        interval_s: float = 1.0,
    ) -> "StatSession | str":
        """A ready session, or a one-line reason why it cannot start (no such command, no process)."""
        topology = topology or load_topology("/")
        if command and shutil.which(command[0]) is None:
            return f"cannot run {command[0]!r}: command not found"
        sampler = Sampler(topology, cpus=cpus, user_only=user_only, events=events)
        sampler.open()
        session = cls(topology, sampler, RateModel(topology, sampler.layouts, sampler.notices), interval_s=interval_s)
        child_pid = session._spawn(command) if command else None
        if pids or comm or child_pid:
            problem = session.follow((*pids, *((child_pid,) if child_pid else ())), comm, child_pid is not None)
            if problem:
                sampler.close()
                return problem
        if task_summary and (child_pid or pids):
            from pmutop.live.task_counters import TaskCounters, task_specs

            target = f"'{' '.join(command)}'" if command else "process id '" + ",".join(map(str, pids)) + "'"
            specs = task_specs(topology, sampler.core_plans(), events)
            session.task_counters = TaskCounters.open(
                topology, sampler.privileges, specs, target, command_pid=child_pid, pids=() if child_pid else pids
            )
        return session

    def follow(self, pids: tuple[int, ...], comm: str | None = None, include_children: bool = False) -> str | None:
        """Follow these processes from the next tick on, replacing what was followed; a reason on failure."""
        follower = TaskFollower(
            self.topology,
            self.sampler.privileges,
            self.sampler.core_plans(),
            pids=pids,
            comm=comm,
            include_children=include_children,
            fd_limit=self.sampler.fd_limit,
            fds_in_use=self.sampler.fds_needed,
            interval_s=self.interval_s,
        )
        problem = follower.start()
        if problem:
            follower.close()
            return problem
        self.unfollow()
        self.follower = follower
        return None

    def unfollow(self) -> None:
        if self.follower is not None:
            self.follower.close()
            self.follower = None

    @property
    def last_raw(self) -> RawTick | None:
        """The newest raw tick, for recordings."""
        return self._last

    def require_last_raw(self) -> RawTick:
        """The newest raw tick once start() has read one."""
        if self._last is None:
            raise RuntimeError("no tick read yet: start() first")
        return self._last

    def _spawn(self, command: list[str]) -> int:
        read_end, write_end = os.pipe()
        report_read, report_write = os.pipe()
        self.child = subprocess.Popen(
            [sys.executable, "-c", _WAIT_THEN_EXEC, str(read_end), str(report_write), *command],
            pass_fds=(read_end, report_write),
        )
        os.close(read_end)
        os.close(report_write)
        self._release_fd = write_end
        self._exec_report_fd = report_read
        try:
            pidfd = os.pidfd_open(self.child.pid)
        except OSError:
            return self.child.pid  # kernels before 5.3: wait_until polls instead
        self._exit_poll = select.poll()
        self._exit_poll.register(pidfd, select.POLLIN)
        self._pidfd = pidfd
        return self.child.pid

    def start(self) -> None:
        """Take the baseline tick, then let a held command run."""
        self.tick()
        if self.task_counters is not None:
            self.task_counters.started()
        if self._release_fd is not None:
            os.write(self._release_fd, b"x")
            os.close(self._release_fd)
            self._release_fd = None

    def wait_until(self, deadline: float) -> str | None:
        """Sleep to the deadline (CLOCK_MONOTONIC); returns early with a reason when the command exits."""
        while True:
            remaining = deadline - time.monotonic()
            if self.child is not None and self.child_has_exited():
                return "command exited"
            if remaining <= 0:
                return None
            if self.follower is not None:
                # The follower keeps its rings drained meanwhile; a command's exit is seen within 50 ms.
                self.follower.wait(min(remaining, 0.05) if self.child is not None else remaining)
            elif self._exit_poll is not None:
                # Woken the moment the command exits, so its elapsed time is not rounded up to a poll period.
                self._exit_poll.poll(max(1, int(remaining * 1000)))
            else:
                time.sleep(min(remaining, 0.05) if self.child is not None else remaining)

    def child_has_exited(self) -> bool:
        """Whether the command ended, without reaping it: a zombie still shows its name and threads."""
        if self.child is None:
            return True
        if self.child.returncode is not None:
            exited = True
        else:
            try:
                exited = os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:
                exited = True
        if exited and self.exited_at is None:
            self.exited_at = time.monotonic()
        return exited

    def service(self) -> None:
        """Between ticks: keep a follower's migration rings drained and its CPUs traced."""
        if self.follower is not None:
            self.follower.service()

    def tick(self) -> Snapshot | None:
        raw = self.sampler.read_tick()
        if self.follower is not None:
            if self.child is not None and self.child.returncode is None and self.child_has_exited():
                self.follower.refresh_comm(self.child.pid)
                self.child.wait()
            if self.child is not None and self.child.returncode is not None:
                self.follower.mark_exited(self.child.pid, self.child.returncode)
            raw = replace(raw, tasks=self.follower.tick(raw.online))
        self._first = self._first or raw
        self._last = raw
        snapshot = self.model.update(raw)
        if snapshot is not None:
            extra = (*self.notices, *self.sampler.reopen_notices, *(self.follower.notices if self.follower else ()))
            if extra:
                snapshot = replace(snapshot, notices=snapshot.notices + extra)
            self._last_snapshot = snapshot
        return snapshot

    def finish(self) -> Snapshot | None:
        """Close everything; the whole run as one interval (first tick to last), for a summary."""
        if self.child is not None:
            if self._release_fd is not None:
                os.close(self._release_fd)
            if self.child.poll() is None:
                self.child.wait()
        exec_report = self._read_exec_report()
        if self.task_counters is not None:
            self.task_summary = self.task_counters.summary(self.exited_at, exec_report)
            self.task_counters.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = self._exit_poll = None
        summary = None
        if self._first is not None and self._last is not None:
            summary = whole_run_summary(self.model, self._first, self._last, self._last_snapshot)
        self.sampler.close()
        if self.follower is not None:
            self.follower.close()
        return summary

    def _read_exec_report(self) -> tuple[float, float, float] | None:
        """(monotonic time of the exec, wrapper user s, wrapper sys s); None if it never got that far."""
        if self._exec_report_fd is None:
            return None
        try:
            text = os.read(self._exec_report_fd, 256).decode()
            started, user, system = (float(part) for part in text.split())
        except (OSError, ValueError):
            return None
        finally:
            os.close(self._exec_report_fd)
            self._exec_report_fd = None
        return started, user, system

    def followed_ended(self) -> str | None:
        """Why the run is over when it follows only given processes (-p) and every one has exited."""
        tasks = self._last.tasks if self._last is not None else None
        if self.child is not None or self.follower is None or self.follower.comm or not isinstance(tasks, TaskTick):
            return None
        if tasks.processes and not any(process.alive for process in tasks.processes):
            return "every followed process exited"
        return None

    def stop_command(self, grace_s: float) -> None:
        """After a stop signal was passed on to the command: let it end, or kill it after `grace_s`."""
        if self.child is None or self.child.poll() is not None:
            return
        try:
            self.child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()

    def exit_code(self) -> int:
        """The command's status as a shell gives it, when pmutop ran one; else 0."""
        if self.child is not None and self.child.returncode is not None:
            return shell_status(self.child.returncode)
        return 0


def shell_status(returncode: int) -> int:
    """A shell's view of a child's status (Popen's returncode): 128+N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode
