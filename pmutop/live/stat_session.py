"""One counting session: the sampler, optional task following and command, and the rate model.

`pmutop stat`, `pmutop record` and the TUI's live feed all drive this, so they open, follow and
compute the same way.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace

from pmutop.live.sampler import Sampler
from pmutop.live.tasks import TaskFollower
from pmutop.live.topology_loader import load_topology
from pmutop.model.rates import RateModel, whole_run_summary
from pmutop.model.samples import RawTick
from pmutop.model.snapshot import Snapshot
from pmutop.model.tasks import TaskTick
from pmutop.model.topology import Topology

# The child waits on this pipe until its counters are open, then execs the command: nothing it
# does is missed, as with perf stat's workload start. (A wrapper interpreter instead of
# preexec_fn, which is unsafe when the process has threads, as the TUI does.) It first closes
# its end of a second pipe to say its own start-up is over, so that is not counted as the command's.
_WAIT_THEN_EXEC = (
    "import os, sys\n"
    "os.close(int(sys.argv[2]))\n"
    "os.read(int(sys.argv[1]), 1)\n"
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
        interval_s: float = 1.0,
    ) -> "StatSession | str":
        """A ready session, or a one-line reason why it cannot start (no such command, no process)."""
        topology = topology or load_topology("/")
        if command and shutil.which(command[0]) is None:
            return f"cannot run {command[0]!r}: command not found"
        sampler = Sampler(topology, cpus=cpus, user_only=user_only)
        sampler.open()
        session = cls(topology, sampler, RateModel(topology, sampler.layouts, sampler.notices), interval_s=interval_s)
        child_pid = session._spawn(command) if command else None
        if pids or comm or child_pid:
            problem = session.follow((*pids, *((child_pid,) if child_pid else ())), comm, child_pid is not None)
            if problem:
                sampler.close()
                return problem
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
        ready_read, ready_write = os.pipe()
        self.child = subprocess.Popen(
            [sys.executable, "-c", _WAIT_THEN_EXEC, str(read_end), str(ready_write), *command],
            pass_fds=(read_end, ready_write),
        )
        os.close(read_end)
        os.close(ready_write)
        # End of file once the wrapper is waiting (or has died): its start-up is not the command's.
        os.read(ready_read, 1)
        os.close(ready_read)
        self._release_fd = write_end
        return self.child.pid

    def start(self) -> None:
        """Take the baseline tick, then let a held command run."""
        self.tick()
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
            step = min(remaining, 0.05) if self.child is not None else remaining
            if self.follower is not None:
                self.follower.wait(step)
            else:
                time.sleep(step)

    def child_has_exited(self) -> bool:
        """Whether the command ended, without reaping it: a zombie still shows its name and threads."""
        if self.child is None or self.child.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

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
            extra = (*self.notices, *(self.follower.notices if self.follower else ()))
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
        summary = None
        if self._first is not None and self._last is not None:
            summary = whole_run_summary(self.model, self._first, self._last, self._last_snapshot)
        self.sampler.close()
        if self.follower is not None:
            self.follower.close()
        return summary

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
