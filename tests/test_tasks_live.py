"""Following tasks on the real kernel: migrations, residency, threads, exits, commands, hostile names."""

import json
import os
import pwd
import signal
import subprocess
import sys
import time

import pytest
from cpus import TWO_CPUS
from waiting import HANG_S, hang_guard, wait_until

from pmutop.live.stat_session import StatSession
from pmutop.live.topology_loader import load_topology
from tests import sysfs_trees

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs"),
    pytest.mark.usefixtures("two_cpus_online"),
]

SPINNER = "print('spinning', flush=True)\nwhile True:\n    pass\n"
# Three threads started when the test says so (a line on stdin), once it follows the process. Each spins
# 0.2 s of its own CPU time (not of the clock, which a loaded machine stretches), says so, and stays alive
# until a second line: the test sees them by waiting for them, not by guessing how long they live.
THREADS_LATER = """
import sys, threading, time
spun = threading.Barrier(4)
end = threading.Event()
def spin():
    until = time.thread_time() + 0.2
    while time.thread_time() < until:
        pass
    spun.wait()
    end.wait()
sys.stdin.readline()
workers = [threading.Thread(target=spin) for _ in range(3)]
for w in workers: w.start()
spun.wait()
print("spun", flush=True)
sys.stdin.readline()
end.set()
for w in workers: w.join()
"""


@pytest.fixture
def spinning_child():
    child = subprocess.Popen([sys.executable, "-c", SPINNER], stdout=subprocess.PIPE, text=True)
    # Only a running task migrates at once when its affinity changes: wait until start-up is over.
    assert child.stdout.readline().strip() == "spinning"
    os.sched_setaffinity(child.pid, {0})
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def tick_after(session: StatSession, seconds: float):
    """A tick `seconds` after now. The sleep sets how long an interval is, it orders nothing: a move made
    by sched_setaffinity is done when the call returns (the kernel moves a running task through its CPU's
    stopper first), and residency is a share of the task's own time, the same on a loaded machine."""
    time.sleep(seconds)
    return session.tick()


def test_affinity_moves_are_logged_with_residency_per_phase(spinning_child):
    session = StatSession.create(pids=(spinning_child.pid,))
    assert not isinstance(session, str), session
    moves = []
    try:
        session.start()
        tick_after(session, 0.3)
        target = 0
        for _ in range(3):
            for target in (1, 0):
                os.sched_setaffinity(spinning_child.pid, {target})
                moves.append(target)
                # Let the move land, close the interval that contains it, then measure a clean phase.
                tick_after(session, 0.05)
                phase = tick_after(session, 0.4)
                task = phase.tasks[0]
                assert task.cpu_now == target
                assert task.residency.get(f"cpu{target}", 0) >= 0.95, task.residency
        final = tick_after(session, 0.05)
    finally:
        session.finish()
    task = final.tasks[0]
    assert task.migrations == len(moves), [e for e in task.recent_migrations]
    assert final.lost_migrations == 0
    logged = [(e.from_cpu, e.to_cpu) for e in task.recent_migrations]
    expected = list(zip([0, *moves[:-1]], moves, strict=True))
    assert logged == expected
    assert all(not e.cross_type for e in task.recent_migrations)


def test_cross_core_type_flagging_on_a_two_pmu_topology(spinning_child, tmp_path):
    """The model maps CPU 0 and CPU 1 to different core PMUs; the kernel part is this machine's."""
    topology = load_topology(sysfs_trees.build_qemu_two_pmu(tmp_path))
    assert topology.cpu(0).core_pmu != topology.cpu(1).core_pmu
    session = StatSession.create(pids=(spinning_child.pid,), topology=topology)
    assert not isinstance(session, str), session
    try:
        session.start()
        tick_after(session, 0.2)
        os.sched_setaffinity(spinning_child.pid, {1})
        tick_after(session, 0.05)
        phase = tick_after(session, 0.4)
    finally:
        session.finish()
    task = phase.tasks[0]
    pmu0, pmu1 = topology.cpu(0).core_pmu, topology.cpu(1).core_pmu
    assert task.pmu_now == pmu1
    assert task.residency.get(pmu1, 0) >= 0.95, task.residency
    assert task.cross_type_migrations == 1
    crossing = task.recent_migrations[-1]
    assert (crossing.from_pmu, crossing.to_pmu, crossing.cross_type) == (pmu0, pmu1, True)


def test_threads_started_later_are_followed_and_exit_is_reported():
    child = subprocess.Popen(
        [sys.executable, "-c", THREADS_LATER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    session = StatSession.create(pids=(child.pid,))
    assert not isinstance(session, str), session
    try:
        session.start()
        child.stdin.write("start threads\n")
        child.stdin.flush()
        with hang_guard(child):
            assert child.stdout.readline() == "spun\n"
        # The three are alive until told otherwise: however many ticks it takes, they are shown.
        wait_until(lambda: session.tick().tasks[0].threads >= 4, "the three late threads to be followed")
        child.stdin.write("end threads\n")
        child.stdin.flush()
        assert child.wait(timeout=HANG_S) == 0
        snapshot = wait_until(lambda: (tick := session.tick()) and not tick.tasks[0].alive and tick, "the exit")
    finally:
        session.finish()
        child.kill()
        child.wait()
    # The late threads' running time was counted: 0.2 s of CPU time each, by their own clocks (task-clock
    # and thread_time count the same time; the margin is for the read-outs' rounding, not for load).
    assert snapshot.tasks[0].running_s > 0.95 * 3 * 0.2


def test_stat_command_follows_and_returns_exit_code(pmutop_command):
    script = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 3"
    result = subprocess.run(
        [*pmutop_command, "stat", "--json", "--", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["summary"] is True and summary["ended"] == "command exited"
    task = summary["tasks"][0]
    assert task["comm"] == "sh" and task["exit_status"] == 3 and task["alive"] is False
    assert sum(task["residency"].values()) == pytest.approx(1.0, abs=0.01)


# Pinned to CPU 0, then to CPU 1, spinning in each phase until a byte arrives on the fifo argv[1]: the test
# ends a phase once stat has shown the task there, so each phase spans as many intervals as that takes.
PINNED_PHASES = """
import os, select, sys
gate = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
for cpu in (0, 1):
    os.sched_setaffinity(0, {cpu})
    while not select.select([gate], [], [], 0)[0]:
        pass
    os.read(gate, 1)
"""


def test_acceptance_pinned_phases_under_stat_command(pmutop_command, tmp_path):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    gate_fd = os.open(gate, os.O_RDWR)  # never blocks; closed, it ends the workload's phases (EOF is readable)
    run = subprocess.Popen(
        [*pmutop_command, "stat", "-I", "200", "--json", "--", sys.executable, "-c", PINNED_PHASES, str(gate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    records = []
    try:
        with hang_guard(run):
            for cpu in (0, 1):
                for line in run.stdout:
                    records.append(json.loads(line))
                    task = records[-1]["tasks"][0]
                    if not records[-1].get("summary") and task["alive"] and task["cpu"] == cpu:
                        break
                os.write(gate_fd, b"x")
            out, _ = run.communicate()
    finally:
        os.close(gate_fd)
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0
    records += [json.loads(line) for line in out.splitlines()]
    cpus_seen = [r["tasks"][0]["cpu"] for r in records if not r.get("summary") and r["tasks"][0]["alive"]]
    assert 0 in cpus_seen and 1 in cpus_seen and cpus_seen.index(0) < len(cpus_seen) - cpus_seen[::-1].index(1)
    moves = [m for r in records for m in r.get("migrations", []) if (m["from_cpu"], m["to_cpu"]) == (0, 1)]
    assert moves, "the move from CPU 0 to CPU 1 is in the log"
    assert {"time", "pid", "tid", "comm", "from_cpu", "to_cpu", "from_pmu", "to_pmu", "cross_type"} <= set(moves[0])


def test_hostile_task_names_are_printed_literally(pmutop_command):
    name = "[bold]x\x1b[31m"
    # Renamed, then alive until killed below: it is there however long stat takes to start.
    code = f"import sys\nopen('/proc/self/comm', 'w').write({name!r})\nprint('named', flush=True)\nsys.stdin.read()\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "named\n"
        result = subprocess.run(
            [*pmutop_command, "stat", "-I", "100", "-n", "1", "-p", str(child.pid)],
            capture_output=True,
            text=True,
            timeout=HANG_S,
        )
    finally:
        child.kill()
        child.wait()
    assert "\x1b" not in result.stdout
    assert "[bold]x\\x1b[31m" in result.stdout


def test_unknown_pid_and_missing_command_are_messages(pmutop_command):
    gone = subprocess.run([*pmutop_command, "stat", "-n", "1", "-p", "999999999"], capture_output=True, text=True)
    assert gone.returncode == 1 and "999999999" in gone.stderr and "Traceback" not in gone.stderr
    missing = subprocess.run(
        [*pmutop_command, "stat", "--", "no-such-command-pmutop"], capture_output=True, text=True, timeout=30
    )
    assert missing.returncode == 127 and "command not found" in missing.stderr


def test_comm_that_matches_nothing_yet_is_followed_when_it_starts(pmutop_command):
    """The "not yet" notice is on the first line, while nothing of that name runs; the process is followed
    once it starts, and the notice, no longer true, is not printed again."""
    run = subprocess.Popen(
        [*pmutop_command, "stat", "--json", "-I", "200", "--comm", "pmutop-late"], stdout=subprocess.PIPE, text=True
    )
    late = None
    try:
        with hang_guard(run):
            records = [json.loads(run.stdout.readline())]
            # Renamed, then alive until killed below; stat runs on until it has shown it, then is stopped.
            late = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys\nopen('/proc/self/comm','w').write('pmutop-late')\nsys.stdin.read()",
                ],
                stdin=subprocess.PIPE,
            )
            for line in run.stdout:
                records.append(json.loads(line))
                if any(task["pid"] == late.pid for task in records[-1].get("tasks", [])):
                    break
            run.send_signal(signal.SIGINT)
            out, _ = run.communicate()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if late is not None:
            late.kill()
            late.wait()
    first = records[0]
    records += [json.loads(line) for line in out.splitlines()]
    assert any("no process named" in n for n in first["notices"])
    assert any(t["pid"] == late.pid for r in records for t in r.get("tasks", []))
    assert not any("no process named" in n for r in records[1:] if not r.get("summary") for n in r["notices"])


MANY_THREADS = """
import threading
stop = threading.Event()
threads = [threading.Thread(target=stop.wait) for _ in range(200)]
for t in threads: t.start()
print("ready", flush=True)
stop.wait()
"""


def test_fd_budget_is_said_not_exceeded():
    from pmutop.live.sampler import current_privileges
    from pmutop.live.tasks import FD_RESERVE, TaskFollower

    child = subprocess.Popen([sys.executable, "-c", MANY_THREADS], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        topology = load_topology("/")
        follower = TaskFollower(topology, current_privileges(), {}, pids=(child.pid,), fd_limit=FD_RESERVE + 100)
        assert follower.start() is None
        try:
            tick = follower.tick()
            assert follower.fds_in_use <= 100
        finally:
            follower.close()
    finally:
        child.kill()
        child.wait()
    (process,) = tick.processes
    assert len(process.threads) == 201  # every thread is shown...
    assert any("fd budget reached" in notice for notice in follower.notices)  # ...and the limit is said


def test_ring_overflow_is_counted_as_lost(spinning_child):
    from pmutop.live.tasks import Migration, MigrationTracer

    tracer = MigrationTracer(data_pages=1)
    # As root (this module needs it) the tracepoint always opens: tracefs is mounted if it is not.
    problem = tracer.start(tuple(sorted(os.sched_getaffinity(0))))
    assert problem is None, problem
    try:
        # Far more migrations than one page of ring holds, with no drain in between.
        for round_trip in range(400):
            os.sched_setaffinity(spinning_child.pid, {round_trip % 2})
        logged = [r for r in tracer.take() if isinstance(r, Migration) and r.tid == spinning_child.pid]
        # The kernel writes its PERF_RECORD_LOST once there is room again, before the next sample.
        os.sched_setaffinity(spinning_child.pid, {0, 1})
        os.sched_setaffinity(spinning_child.pid, {0})
        os.sched_setaffinity(spinning_child.pid, {1})
        logged += [r for r in tracer.take() if isinstance(r, Migration) and r.tid == spinning_child.pid]
        lost = tracer.lost
    finally:
        tracer.close()
    assert lost > 0
    assert 0 < len(logged) < 400


def test_process_samples_give_user_command_line_kernel_threads_and_cpu():
    """The picker's list, from this machine's /proc, read a few processes a step: a spinner is busier
    than a sleeper, kthreadd is a kernel thread with no command line, and a process shows its owner and
    whole command line."""
    from pmutop.live.process_list import ProcessLister
    from pmutop.model.processes import busiest_first

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass", "spin-marker"])
    sleeper = subprocess.Popen(["sleep", "60"])
    per_step = 16
    try:
        lister = ProcessLister(per_step)

        def swept():
            """Step until a list comes; the list and how many steps it took."""
            steps = 1
            while (listing := lister.step()) is None:
                steps += 1
            return listing, steps

        # The first list needs two sweeps, each of a step per `per_step` processes (not one step each).
        listing, steps = swept()
        assert steps >= 2 * (len(listing.processes) // per_step)

        # Sweeps a little apart, as the feed takes them; the spinner's ticks grow, the sleeper's do not.
        def spinner_busier():
            rows = {row.pid: row for row in swept()[0].processes}
            spinning = rows[spinner.pid].cpu_pct
            return rows if spinning and spinning > rows[sleeper.pid].cpu_pct else None

        rows = wait_until(spinner_busier, "the spinner to show more CPU than the sleeper")
    finally:
        spinner.kill()
        sleeper.kill()
        spinner.wait()
        sleeper.wait()
    assert rows[spinner.pid].command.endswith("-c while True: pass spin-marker")
    assert rows[spinner.pid].user == pwd.getpwuid(os.getuid()).pw_name
    assert rows[2].kernel_thread and rows[2].command == "" and rows[2].shown_command == "[kthreadd]"
    assert not rows[spinner.pid].kernel_thread
    assert busiest_first(rows.values()).index(rows[spinner.pid]) < busiest_first(rows.values()).index(rows[sleeper.pid])
