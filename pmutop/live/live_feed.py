"""The live SnapshotFeed: a thread that owns the tick deadline and a StatSession, for the TUI."""

import os
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from pmutop.live.feed import (
    EndCallback,
    FeedCapability,
    FeedSource,
    FeedState,
    ProcessListCallback,
    SnapshotCallback,
    StateCallback,
    StateHandOver,
)
from pmutop.live.process_list import ProcessLister
from pmutop.live.stat_session import COMMAND_GRACE_S, StatSession
from pmutop.live.tasks import SERVICE_INTERVAL_S
from pmutop.model.topology import Topology

if TYPE_CHECKING:
    from pmutop.model.event_resolve import EventGroupPlan

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 60.0


class LiveFeed:
    """Ticks a StatSession on its own thread and hands each snapshot to the UI.

    Requests from the UI (follow, interval, pause) only set state here; the feed thread acts on them
    at its next wake-up, so the session and every fd are touched by one thread only. It cannot step or
    seek (its state's capabilities say so): those requests change nothing. While the picker watches, the
    same thread reads /proc for the process list between ticks and hands it on.
    """

    def __init__(self, session: StatSession, interval_s: float = 1.0) -> None:
        self.session = session
        self.topology = session.topology
        self.cpus = tuple(session.sampler.selected_cpus())
        uname = os.uname()
        self.description = {
            "host": uname.nodename,
            "kernel": uname.release,
            "privileges": session.sampler.privileges.describe(),
        }
        self._interval_s = min(max(interval_s, MIN_INTERVAL_S), MAX_INTERVAL_S)
        self._paused = False
        self._stopping = False
        self._stopped = False
        # Whether stop() had to end the followed command (rather than it ending by itself).
        self.command_interrupted = False
        self._requests: list[tuple] = []
        # The picker's list, read by the feed thread only. The lock guards who watches and when the next
        # list is due; each watch_processes() starts a new watch, and a list read for an earlier one is
        # dropped.
        self._process_lister = ProcessLister()
        self._on_processes: ProcessListCallback | None = None
        self._processes_watch = 0
        self._processes_lister_watch = 0
        self._processes_due = 0.0
        self._wake = threading.Condition()
        self._states = StateHandOver(self._wake, self._state)
        self._thread: threading.Thread | None = None

    @classmethod
    def create(
        cls,
        interval_s: float = 1.0,
        cpus: tuple[int, ...] | None = None,
        pids: tuple[int, ...] = (),
        comm: str | None = None,
        command: list[str] | None = None,
        topology: Topology | None = None,
        events: "tuple[EventGroupPlan, ...]" = (),
    ) -> "LiveFeed | str":
        session = StatSession.create(
            cpus=cpus, pids=pids, comm=comm, command=command, topology=topology, interval_s=interval_s, events=events
        )
        if isinstance(session, str):
            return session
        return cls(session, interval_s)

    def state(self) -> FeedState:
        return self._states.now()

    def _state(self) -> FeedState:
        return FeedState(FeedSource.LIVE, frozenset({FeedCapability.PAUSE}), self._paused, self._interval_s)

    def start(self, on_snapshot: SnapshotCallback, on_end: EndCallback, on_state: StateCallback) -> None:
        self._states.on_state = on_state
        self._thread = threading.Thread(
            target=self._run, args=(on_snapshot, on_end), name="pmutop-sampler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and close everything; a followed command still running is ended (SIGINT, then
        SIGKILL after COMMAND_GRACE_S), as Ctrl-C ends it under perf stat. Safe to call twice."""
        with self._wake:
            if self._stopped:
                return
            self._stopped = self._stopping = True
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        child = self.session.child
        if child is not None and child.poll() is None:
            self.command_interrupted = True
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=COMMAND_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
        if self._thread is None or not self._thread.is_alive():
            self.session.finish()

    def exit_code(self) -> int:
        """After stop(): what pmutop exits with, the followed command's shell status when it ended by
        itself (a command stop() had to end, or none followed: 0)."""
        return 0 if self.command_interrupted else self.session.exit_code()

    def set_interval(self, seconds: float) -> FeedState:
        with self._wake:
            self._interval_s = min(max(seconds, MIN_INTERVAL_S), MAX_INTERVAL_S)
            return self._states.changed()

    def set_paused(self, paused: bool) -> FeedState:
        with self._wake:
            self._paused = paused
            return self._states.changed()

    # No playback, no STEP or SEEK: a face never asks, and these change nothing.
    def set_speed(self, speed: float) -> FeedState:
        return self.state()

    def step(self) -> None:
        pass

    def seek(self, position: int) -> None:
        pass

    def seek_by(self, ticks: int) -> None:
        pass

    def follow(self, pids: tuple[int, ...], comm: str | None = None) -> None:
        with self._wake:
            self._requests.append(("follow", pids, comm))
            self._wake.notify_all()

    def unfollow(self) -> None:
        with self._wake:
            self._requests.append(("unfollow",))
            self._wake.notify_all()

    def watch_processes(self, on_processes: ProcessListCallback | None) -> None:
        with self._wake:
            self._on_processes = on_processes
            self._processes_watch += 1
            self._processes_due = time.monotonic()
            self._wake.notify_all()

    def _processes_wanted(self, now: float) -> bool:
        """With the lock held: whether a process list is due."""
        return self._on_processes is not None and now >= self._processes_due

    def _list_processes(self) -> None:
        """On the feed thread, without the lock (a busy machine's /proc takes a while to read): read the
        next step of the process list, and hand a finished list to the watch it was read for, if it
        still watches."""
        with self._wake:
            watch = self._processes_watch
        if watch != self._processes_lister_watch:
            self._process_lister.forget()
            self._processes_lister_watch = watch
        listing = self._process_lister.step()
        with self._wake:
            if watch != self._processes_watch or self._on_processes is None:
                return
            self._processes_due = time.monotonic() + self._process_lister.next_step_s
            if listing is not None:
                self._on_processes(listing)

    def _run(self, on_snapshot: SnapshotCallback, on_end: EndCallback) -> None:
        session = self.session
        try:
            session.start()
            command_ended = False
            deadline = time.monotonic()
            while True:
                with self._wake:
                    deadline += self._interval_s
                    # A late wake-up (a slow tick, a suspended laptop) restarts the schedule rather
                    # than firing a burst of catch-up ticks.
                    deadline = max(deadline, time.monotonic())
                    while (
                        not self._stopping
                        and (self._paused or time.monotonic() < deadline)
                        and not self._requests
                        and not self._processes_wanted(time.monotonic())
                    ):
                        # Woken at least every SERVICE_INTERVAL_S to keep the migration rings drained.
                        timeout = SERVICE_INTERVAL_S
                        if not self._paused:
                            timeout = min(timeout, deadline - time.monotonic())
                        if self._on_processes is not None:
                            timeout = min(timeout, self._processes_due - time.monotonic())
                        self._wake.wait(timeout=max(timeout, 0.0))
                        session.service()
                    if self._stopping:
                        return
                    requests, self._requests = self._requests, []
                    listing_due = self._processes_wanted(time.monotonic())
                for request in requests:
                    self._apply(request)
                if listing_due:
                    self._list_processes()
                    if not requests:
                        # Woken for the list alone: back to waiting for the tick, when it is not due yet (or
                        # the feed is paused).
                        with self._wake:
                            held = self._paused or time.monotonic() < deadline
                        if held:
                            deadline -= self._interval_s
                            continue
                if requests and time.monotonic() < deadline:
                    deadline -= self._interval_s
                    continue
                # The machine is still worth watching after the command ends: the session goes on ticking,
                # and its task row (exited, with final figures) stays in every snapshot.
                ended = session.child is not None and not command_ended and session.child_has_exited()
                snapshot = session.tick()
                if ended:
                    command_ended = True
                    status = session.child.returncode if session.child is not None else None
                    session.notices.append(
                        f"command exited ({'status ' + str(status) if status is not None else 'no status'}): "
                        "its figures are final; the CPU rows go on"
                    )
                if snapshot is not None:
                    on_snapshot(snapshot)
        except Exception as exc:  # the UI shows why sampling stopped instead of freezing silently
            on_end(f"sampling stopped: {type(exc).__name__}: {exc}")

    def _apply(self, request: tuple) -> None:
        if request[0] == "follow":
            problem = self.session.follow(request[1], request[2])
            if problem:
                self.session.notices[:] = [f"cannot follow: {problem}"]
        else:
            self.session.unfollow()
