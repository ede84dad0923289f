"""`pmutop stat` against the real kernel of the machine running the tests (CI runs as root)."""

import json
import os
import pwd
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cpus import CPU1_ONLINE, TWO_CPUS

from pmutop.model.notices import NO_CORE_PMU

DEVICES = Path("/sys/bus/event_source/devices")
HAS_CORE_PMU = any((p / "cpus").exists() or p.name in ("cpu", "cpum_cf") for p in DEVICES.iterdir())


def stat_json(command: list[str], *args: str, **kwargs) -> list[dict]:
    result = subprocess.run([*command, "stat", "--json", *args], capture_output=True, text=True, timeout=60, **kwargs)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Every line is a complete JSON object.
    return [json.loads(line) for line in lines]


def cpu_record(interval: dict, cpu: int) -> dict:
    return next(c for c in interval["cpus"] if c["cpu"] == cpu)


def cpu_idle_ticks(cpu: int) -> int:
    """Idle, iowait and steal ticks of `cpu` so far, from /proc/stat: the time it did not run a task."""
    line = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith(f"cpu{cpu} "))
    _user, _nice, _system, idle, iowait, _irq, _softirq, steal = map(int, line.split()[1:9])
    return idle + iowait + steal


def spinner(cpu: int, seconds: float) -> subprocess.Popen:
    """A busy loop pinned to `cpu`, returned once it runs there (it says so), however slow the start."""
    code = (
        f"import os, time\nos.sched_setaffinity(0, {{{cpu}}})\nprint('pinned', flush=True)\n"
        f"end = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    )
    busy = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert busy.stdout is not None and busy.stdout.readline() == "pinned\n"
    return busy


@pytest.mark.needs_root
def test_json_lines_per_interval_with_software_metrics(pmutop_command):
    records = stat_json(pmutop_command, "-I", "200", "-n", "3")
    intervals = [r for r in records if not r.get("summary")]
    assert len(intervals) == 3 and records[-1]["summary"] is True
    online = set(os.sched_getaffinity(0))
    for record in intervals:
        assert {c["cpu"] for c in record["cpus"] if c["online"]} >= online
        for cpu in record["cpus"]:
            if not cpu["online"]:
                continue
            metrics = cpu["metrics"]
            assert metrics["context_switches_per_s"]["value"] is not None
            assert metrics["context_switches_per_s"]["coverage"] == 1.0
            assert 0 <= metrics["util_pct"]["value"] <= 100


@pytest.mark.needs_root
def test_comm_already_running_is_followed_without_a_not_yet_notice(pmutop_command):
    """`--comm NAME` for a process running now: followed from the first line, no "not yet" notice, and
    each notice in one JSON line only (later lines list new ones)."""
    waiter = subprocess.Popen(["sleep", "60"])
    try:
        records = stat_json(pmutop_command, "-I", "200", "-n", "3", "--comm", "sleep")
    finally:
        waiter.kill()
        waiter.wait()
    intervals = [r for r in records if not r.get("summary")]
    assert all("yet" not in notice for record in records for notice in record["notices"])
    assert any(task["pid"] == waiter.pid for task in intervals[0]["tasks"])
    printed = [notice for record in intervals for notice in record["notices"]]
    assert len(printed) == len(set(printed)), "a notice repeated in a later line"
    assert intervals[0]["notices"] and all(record["notices"] == [] for record in intervals[1:])


@pytest.mark.needs_root
@pytest.mark.skipif(HAS_CORE_PMU, reason="this machine has a hardware PMU: cycles count here")
def test_missing_hardware_pmu_is_explained_in_json_and_text(pmutop_command):
    record = stat_json(pmutop_command, "-I", "100", "-n", "1")[0]
    for cpu in record["cpus"]:
        for name in ("cycles", "instructions", "ipc", "ghz"):
            metric = cpu["metrics"][name]
            assert metric["value"] is None and metric["error"] == "ENOENT"
            assert "no core PMU (ENOENT)" in metric["reason"]
    text = subprocess.run([*pmutop_command, "stat", "-I", "100", "-n", "1"], capture_output=True, text=True).stdout
    assert "n/a: no core PMU (ENOENT)" in text and text.count("ENOENT") == 1 and "# No core PMU: this kernel" in text
    assert record["notices"] == [NO_CORE_PMU]


@pytest.mark.needs_root
@pytest.mark.skipif(not HAS_CORE_PMU, reason="no hardware PMU on this machine")
def test_cycles_count_where_there_is_a_core_pmu(pmutop_command):
    record = stat_json(pmutop_command, "-I", "200", "-n", "1")[0]
    assert any((c["metrics"]["cycles"]["value"] or 0) > 0 for c in record["cpus"])
    assert record["pmus"] and all(p["encoding"] for p in record["pmus"])


@pytest.mark.needs_root
@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs")
@pytest.mark.usefixtures("two_cpus_online")
def test_busy_loop_on_cpu1_shows_on_cpu1(pmutop_command):
    busy = spinner(1, 600.0)  # killed below, once stat has finished
    try:
        idle_before = cpu_idle_ticks(1)
        records = stat_json(pmutop_command, "-I", "500", "-n", "3", "-p", str(busy.pid))
        idle_during = cpu_idle_ticks(1) - idle_before
        # An offline CPU 1 (another run's hotplug test, on a shared machine) makes the kernel unpin the spinner.
        assert os.sched_getaffinity(busy.pid) == {1}, "CPU 1 went offline meanwhile: the spinner was unpinned"
    finally:
        busy.kill()
        busy.wait()
    intervals = [r for r in records if not r.get("summary")]
    # A CPU with a runnable spinner on it is never idle, however loaded the machine: only the host can take
    # time from it (steal). Each interval's idle, iowait and steal ticks are among those of the whole run,
    # read around it, so they bound how far below 100% its util can be (2 ticks: the kernel's idle count
    # can step back a little, and an interval's length in ticks is rounded).
    tick_hz = os.sysconf("SC_CLK_TCK")
    for record in intervals:
        util = cpu_record(record, 1)["metrics"]["util_pct"]["value"]
        assert (100 - util) / 100 * (record["elapsed_s"] * tick_hz - 2) <= idle_during + 2, (util, idle_during)
    task = intervals[-1]["tasks"][0]
    assert task["pid"] == busy.pid and task["cpu"] == 1
    # The spinner is the one landing on CPU 1 and not on CPU 0, by its own per-CPU task-clock.
    assert task["residency"].get("cpu1", 0) >= 0.95, task["residency"]


@pytest.mark.needs_root
def test_tsc_rate_matches_the_tsc_frequency(pmutop_command):
    if not (DEVICES / "msr" / "events" / "tsc").exists():
        pytest.skip("no msr PMU with a tsc event on this machine")
    cpuinfo = Path("/proc/cpuinfo").read_text()
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    if not flags or "constant_tsc" not in flags.group(1).split():
        pytest.skip("TSC rate is not constant on this CPU")
    # The rate is the TSC's count over the interval by the clock read next to it: a sampler preempted
    # between the two (a loaded machine) skews it by that delay over the interval. 1 s keeps a 30 ms
    # delay, far past a scheduler's latency under load, inside the 3% below.
    record = stat_json(pmutop_command, "-I", "1000", "-n", "1")[0]
    rates = [c["metrics"]["tsc_ghz"]["value"] for c in record["cpus"] if c["online"]]
    # Under a hypervisor (and with constant_tsc generally), "cpu MHz" is the TSC frequency.
    if "hypervisor" in flags.group(1).split():
        mhz = float(re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.M).group(1))
        for rate in rates:
            assert rate == pytest.approx(mhz / 1000, rel=0.03)
    else:
        assert all(0.5 < rate < 10 for rate in rates)


@pytest.mark.needs_root
@pytest.mark.changes_machine
@pytest.mark.skipif(not CPU1_ONLINE.exists(), reason="cpu1 cannot be hotplugged")
def test_cpu1_offline_then_back_during_stat(pmutop_command):
    """Counting, then offline (ENODEV), then counting again, each step taken when stat has shown the one
    before it: no sleeps, so a slow start or a loaded machine changes nothing."""
    online_file = CPU1_ONLINE
    run = subprocess.Popen([*pmutop_command, "stat", "--json", "-I", "200"], stdout=subprocess.PIPE, text=True)
    states: list[str] = []
    try:
        for line in run.stdout:
            record = json.loads(line)
            cpu1 = cpu_record(record, 1)
            counted = cpu1["metrics"].get("context_switches_per_s", {}).get("value") is not None
            state = "counting" if cpu1["online"] and counted else "offline" if not cpu1["online"] else "other"
            if not cpu1["online"]:
                assert cpu1["metrics"]["context_switches_per_s"].get("error") == "ENODEV"
            if state == "other" and "offline" in states:
                # The interval in which the counters were reopened has no delta, and says why.
                assert "came back online" in cpu1["metrics"]["context_switches_per_s"].get("reason", "")
            states.append(state)
            if state == "counting" and "offline" not in states:
                online_file.write_text("0")
            elif state == "offline" and online_file.read_text().strip() == "0":
                online_file.write_text("1")
            elif state == "counting" and "offline" in states:
                break
            assert len(states) < 300, states  # a broken run fails instead of running on
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=60)
    finally:
        if online_file.read_text().strip() != "1":
            online_file.write_text("1")
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 128 + signal.SIGINT
    first_off = states.index("offline")
    assert "counting" in states[:first_off]
    assert states[-1] == "counting", states
    assert "other" in states[first_off:], states  # the reopen interval


@pytest.fixture
def unprivileged_user():
    """A real unprivileged user, created for the test and removed after."""
    name = "pmutop-test"
    created = subprocess.run(["useradd", "--system", "--no-create-home", name], capture_output=True).returncode == 0
    try:
        yield pwd.getpwnam(name)
    finally:
        if created:
            subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def paranoid_2():
    path = Path("/proc/sys/kernel/perf_event_paranoid")
    before = path.read_text().strip()
    path.write_text("2")
    try:
        yield
    finally:
        path.write_text(before)


# The interpreter may live where another user cannot read it (pyenv under /root), so the run drops
# privilege after start-up instead of being exec'd as the user: everything it needs is imported first.
UNPRIVILEGED_RUN = """
import os, sys
import pmutop.cli.main, pmutop.cli.stat_command, pmutop.cli.stat_output
uid, gid = int(sys.argv[1]), int(sys.argv[2])
os.setgroups([]); os.setgid(gid); os.setuid(uid)
assert os.geteuid() == uid
sys.exit(pmutop.cli.main.main(["stat", "--json", "-I", "200", "-n", "2"]))
"""


@pytest.mark.needs_root
@pytest.mark.changes_machine
def test_unprivileged_user_gets_explanation_and_own_process_fallback(unprivileged_user, paranoid_2):
    result = subprocess.run(
        [sys.executable, "-c", UNPRIVILEGED_RUN, str(unprivileged_user.pw_uid), str(unprivileged_user.pw_gid)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    notices = " ".join(record["notices"])
    assert "CPU-wide counting denied" in notices and "paranoid 2" in notices
    assert "CAP_PERFMON" in notices and "perf_event_paranoid" in notices
    assert "own process tree" in notices
    # Kernel-side counts are hidden by exclude_kernel: n/a with the reason on every CPU, never a measured 0.
    for record in map(json.loads, result.stdout.splitlines()):
        for cpu in record["cpus"]:
            for name in ("context_switches_per_s", "migrations_per_s"):
                metric = cpu["metrics"][name]
                assert metric["value"] is None and metric["error"] == "EACCES", (cpu["cpu"], name, metric)
                assert "exclude_kernel" in metric["reason"] and "perf_event_paranoid is 2" in metric["reason"]
        for pmu in record["pmus"]:
            assert pmu["metrics"]["context_switches_per_s"]["value"] is None


EMFILE_RUN = """
import os, resource, sys
import pmutop.cli.main, pmutop.cli.stat_command, pmutop.cli.stat_output
# Just enough descriptors for pmutop itself, too few for every counter.
limit = len(os.listdir("/proc/self/fd")) + 20
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
sys.exit(pmutop.cli.main.main(["stat", "--json", "-I", "100", "-n", "1"]))
"""


@pytest.mark.needs_root
def test_low_fd_limit_gives_emfile_explanation_not_a_crash():
    result = subprocess.run([sys.executable, "-c", EMFILE_RUN], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    reasons = [m.get("reason", "") for c in record["cpus"] for m in c["metrics"].values()]
    emfile = [r for r in reasons if "EMFILE" in r]
    assert emfile and "needs" in emfile[0] and "ulimit" in emfile[0]
    assert any("RLIMIT_NOFILE" in n for n in record["notices"])


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs")
@pytest.mark.usefixtures("two_cpus_online")
def test_cpu_selection_is_exact_live_and_in_a_replay(pmutop_command, tmp_path):
    live = subprocess.run(
        [*pmutop_command, "stat", "--json", "-C", "1", "-I", "100", "-n", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert live.returncode == 0, live.stderr
    for record in map(json.loads, live.stdout.splitlines()):
        assert [cpu["cpu"] for cpu in record["cpus"]] == [1]
    text = subprocess.run([*pmutop_command, "stat", "-C", "1", "-I", "100", "-n", "1"], capture_output=True, text=True)
    rows = [line.split()[1] for line in text.stdout.splitlines() if not line.startswith("#")]
    assert set(rows) == {"1"}, text.stdout  # the interval and the summary
    recording = tmp_path / "one-cpu.jsonl"
    made = subprocess.run(
        [*pmutop_command, "record", "-C", "1", "-I", "100", "-n", "2", "-o", str(recording)], capture_output=True
    )
    assert made.returncode == 0, made.stderr
    replayed = subprocess.run(
        [*pmutop_command, "stat", "--json", "--input", str(recording)], capture_output=True, text=True
    )
    assert replayed.returncode == 0, replayed.stderr
    for record in map(json.loads, replayed.stdout.splitlines()):
        assert [cpu["cpu"] for cpu in record["cpus"]] == [1]
    from pmutop.recording.replay import ReplayFeed

    assert ReplayFeed.from_file(str(recording)).cpus == (1,)  # the TUI's replay shows the same rows


@pytest.mark.parametrize("command", [("stat", "-n", "1"), ("record", "-o", "/dev/null", "-n", "1"), ()])
def test_a_cpu_that_does_not_exist_is_a_one_line_usage_error(pmutop_command, command):
    result = subprocess.run([*pmutop_command, *command, "-C", "0,99"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no CPU 99 on this machine" in result.stderr, result.stderr
    assert result.stdout == ""
