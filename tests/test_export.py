"""`pmutop export`: totals that never go backwards, HTTP negotiation, bind safety, textfile, exit codes, linting.

Everything here runs the real exporter on this machine's kernel (or the fold on raw ticks as the sampler makes
them); the real Prometheus tests are in test_export_prometheus.py.
"""

import errno
import gzip
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from export_support import (
    OPENMETRICS,
    PMUTOP,
    REPO,
    free_port,
    http_get,
    listening_addresses,
    parse_exposition,
    poll,
    sample_value,
    start_exporter,
)
from synthetic_recordings import synthetic_recording
from sysfs_trees import build_alder_lake, build_this_vm

from pmutop.export.server import is_loopback, parse_listen
from pmutop.export.totals import ExportTotals
from pmutop.kernel.sysfs import read_sysfs
from pmutop.live.topology_loader import topology_of
from pmutop.model.failures import OpenContext, Privileges, failure
from pmutop.model.samples import CpuTimes, Encoding, GroupLayout, GroupRead, GroupRole, RawTick
from pmutop.recording.format import RecordingWriter

SOFTWARE = GroupLayout("cpu1/software/software", 1, GroupRole.SOFTWARE, "software", Encoding.PMU_TYPE,
                       ("context-switches", "cpu-migrations"))  # fmt: skip
CORE = GroupLayout("cpu1/core/cpu", 1, GroupRole.CORE, "cpu", Encoding.HARDWARE, ("cycles", "instructions"))
OFFLINE = failure(errno.ENODEV, OpenContext("context-switches", cpu=1), Privileges(True, False, 2))


def _tick(index, reads, times, online=frozenset({0, 1}), lost=None, layouts=None):
    return RawTick(index, index * 10**9, 1.7e9 + index, reads, times, online, lost or {}, layouts)


def _value(exposition, family_name, **labels):
    for family, series in exposition.series:
        if family.name == family_name:
            for label_values, slot in series:
                if all(dict(zip(family.labels, label_values, strict=True))[k] == v for k, v in labels.items()):
                    return exposition.values[slot] / family.scale
    return None


@pytest.fixture(scope="module")
def vm_topology(tmp_path_factory):
    return topology_of(read_sysfs(build_this_vm(tmp_path_factory.mktemp("vm"))))


def test_totals_continue_across_offline_and_reopen(vm_topology):
    """A CPU that leaves keeps its series flat; its reopened group (generation 2, counting from 0) adds on."""
    totals = ExportTotals(vm_topology, (SOFTWARE, CORE))
    times = {1: CpuTimes(50, 100)}
    first = totals.fold(_tick(0, {SOFTWARE.key: GroupRead(1, 1, (100, 7), 1)}, times), None)
    assert _value(first, "pmutop_context_switches", cpu="1") == 100
    later = totals.fold(_tick(1, {SOFTWARE.key: GroupRead(2, 2, (150, 9), 1)}, {1: CpuTimes(80, 200)}), None)
    assert _value(later, "pmutop_context_switches", cpu="1") == 150
    assert _value(later, "pmutop_cpu_busy_seconds", cpu="1") == pytest.approx(0.3)
    gone = totals.fold(_tick(2, {}, {}, online=frozenset({0}), lost={SOFTWARE.key: OFFLINE}), None)
    assert _value(gone, "pmutop_context_switches", cpu="1") == 150
    state = next(s for s in gone.groups if s.cpu == 1 and s.group == "software")
    assert state.errno == "ENODEV"
    assert 1 not in gone.online
    back = totals.fold(_tick(3, {SOFTWARE.key: GroupRead(1, 1, (30, 1), 2)}, {1: CpuTimes(79, 260)}), None)
    assert _value(back, "pmutop_context_switches", cpu="1") == 180
    assert _value(back, "pmutop_cpu_migrations", cpu="1") == 10
    # /proc/stat's busy stepping back by a tick is not subtracted.
    assert _value(back, "pmutop_cpu_busy_seconds", cpu="1") == pytest.approx(0.3)
    assert _value(back, "pmutop_cpu_seconds", cpu="1") == pytest.approx(1.6)
    assert next(s for s in back.groups if s.cpu == 1 and s.group == "software").errno == ""


def test_enabled_and_running_accumulate_per_core_group(vm_topology):
    totals = ExportTotals(vm_topology, (CORE,))
    totals.fold(_tick(0, {CORE.key: GroupRead(10**9, 5 * 10**8, (1000, 2000), 1)}, {}), None)
    exposition = totals.fold(_tick(1, {CORE.key: GroupRead(3 * 10**9, 10**9, (3000, 5000), 1)}, {}), None)
    assert _value(exposition, "pmutop_core_enabled_seconds", cpu="1", pmu="cpu") == 3.0
    assert _value(exposition, "pmutop_core_running_seconds", cpu="1", pmu="cpu") == 1.0
    assert _value(exposition, "pmutop_cycles", cpu="1") == 3000


def test_a_group_that_never_opened_is_a_labelled_zero(vm_topology):
    cause = failure(errno.ENOENT, OpenContext("cycles", cpu=0), Privileges(True, False, 2))
    layout = GroupLayout("cpu0/core/", 0, GroupRole.CORE, "", Encoding.HARDWARE, (), (("cycles", cause),))
    exposition = ExportTotals(vm_topology, (layout,)).fold(_tick(0, {}, {}), None)
    (state,) = exposition.groups
    assert (state.errno, state.events) == ("ENOENT", (("cycles", "ENOENT"),))
    assert _value(exposition, "pmutop_cycles", cpu="0") is None


@pytest.fixture(scope="module")
def alder_lake_recording(tmp_path_factory) -> Path:
    scratch = tmp_path_factory.mktemp("adl")
    recording = synthetic_recording(
        read_sysfs(build_alder_lake(scratch / "tree")), ticks=8, interval_s=0.2, host="adl", follow=(4242, "x264")
    )
    path = scratch / "adl.jsonl"
    with RecordingWriter(path, recording.header) as writer:
        for tick in recording.ticks:
            writer.write_tick(tick)
    return path


@pytest.mark.needs_root
def test_curl_shows_labelled_series_at_once_and_ctrl_c_exits_130():
    exporter = start_exporter("--listen", "127.0.0.1:0")
    try:
        status, headers, body = http_get(exporter.url)
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse_exposition(body.decode())
        for cpu in os.sched_getaffinity(0):
            # The first tick was read as soon as the counters opened: there, possibly still 0.
            assert sample_value(samples, "pmutop_context_switches_total", cpu=str(cpu)) is not None
            assert sample_value(samples, "pmutop_cpu_info", cpu=str(cpu)) == 1
            assert sample_value(samples, "pmutop_group_up", cpu=str(cpu), group="software") == 1
        assert sample_value(samples, "pmutop_exporter_info", scope="cpu") == 1

        def counted():
            later = parse_exposition(exporter.metrics())
            return sample_value(later, "pmutop_context_switches_total", cpu="0") > 0

        poll(counted, "context switches to be counted")
    finally:
        assert exporter.interrupt() == 130


@pytest.mark.needs_root
def test_openmetrics_by_content_negotiation_and_404_elsewhere():
    exporter = start_exporter("--listen", "127.0.0.1:0")
    try:
        status, headers, body = http_get(exporter.url, OPENMETRICS)
        assert status == 200
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        text = body.decode()
        assert text.endswith("# EOF\n")
        assert "# TYPE pmutop_context_switches counter" in text
        assert "# TYPE pmutop_cpu info" in text
        assert http_get(exporter.url.replace("/metrics", "/other"))[0] == 404
        request = urllib.request.Request(exporter.url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert b"pmutop_cpu_info" in gzip.decompress(response.read())
    finally:
        exporter.stop()


@pytest.mark.needs_root
def test_default_bind_is_loopback_only():
    process = subprocess.Popen([*PMUTOP, "export"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.strip().endswith("http://127.0.0.1:9768/metrics"), line
        assert listening_addresses(process.pid) == {("127.0.0.1", 9768)}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130


@pytest.mark.parametrize("address", ["0.0.0.0:0", "[::]:0", "192.0.2.1:9768"])
def test_non_loopback_needs_allow_remote(address):
    result = subprocess.run([*PMUTOP, "export", "--listen", address], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2  # a usage error, said before anything opens
    assert "not a loopback address" in result.stderr and "--allow-remote" in result.stderr
    assert result.stderr.count("\n") == 1


def test_listen_addresses():
    assert parse_listen("[::1]:9768").host == "::1"
    assert parse_listen(":0").host == "127.0.0.1"
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")
    with pytest.raises(ValueError, match="port"):
        parse_listen("127.0.0.1:99999")


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_promtool_accepts_the_live_and_a_hybrid_exposition(alder_lake_recording):
    live = start_exporter("--listen", "127.0.0.1:0", "-p", str(os.getpid()))
    replay = start_exporter("--listen", "127.0.0.1:0", "--input", str(alder_lake_recording))
    try:
        for exporter in (live, replay):
            text = exporter.metrics()
            lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            assert lint.returncode == 0 and lint.stdout + lint.stderr == "", lint.stdout + lint.stderr

        def replayed_ticks():
            samples = parse_exposition(replay.metrics())
            return sample_value(samples, "pmutop_ticks_total") == 8 and samples

        # The recording's 8 ticks come at their recorded pace; after the last, it stays exported.
        hybrid = poll(replayed_ticks, "the replay to reach its last tick")
        assert sample_value(hybrid, "pmutop_pmu_info", pmu="cpu_atom", core_type="efficiency", pmu_type="8") == 1
        assert sample_value(hybrid, "pmutop_cycles_total", cpu="16", pmu="cpu_atom", core_type="efficiency") > 0
        assert sample_value(hybrid, "pmutop_task_seconds_total", comm="x264", core_type="performance") > 0
        own = parse_exposition(live.metrics())
        assert sample_value(own, "pmutop_task_alive", pid=str(os.getpid())) == 1
    finally:
        live.stop()
        replay.stop()


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("prometheus-node-exporter") is None, reason="prometheus-node-exporter not installed")
def test_textfile_is_replaced_whole_and_node_exporter_serves_it(tmp_path):
    port = free_port()
    node = subprocess.Popen(
        [
            "prometheus-node-exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={tmp_path}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    exporter = subprocess.Popen(
        [*PMUTOP, "export", "--textfile", str(tmp_path), "-I", "50"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert "writing" in exporter.stdout.readline()
        prom = tmp_path / "pmutop.prom"
        seen, inodes = set(), set()

        # Read while it is rewritten every 50 ms: every read is a whole exposition, never a torn one, and each
        # tick's file is a new one renamed over the old (a file written in place would keep its inode).
        def ten_ticks_read():
            inodes.add(prom.stat().st_ino)
            text = prom.read_text()
            assert text.startswith("# HELP ") and text.endswith("\n") and "\npmutop_tick_duration_seconds " in text
            seen.add(sample_value(parse_exposition(text), "pmutop_ticks_total"))
            return len(seen) >= 10

        poll(ten_ticks_read, "ten ticks' files", pause_s=0.001)
        assert len(inodes) > 1
        assert not [p for p in tmp_path.iterdir() if p.suffix == ".prom" and p != prom]
        assert listening_addresses(exporter.pid) == set()

        def node_serves_pmutop():
            try:
                status, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return None
            samples = parse_exposition(body.decode())
            return status == 200 and sample_value(samples, "pmutop_context_switches_total", cpu="0")

        assert poll(node_serves_pmutop, "node_exporter to serve pmutop.prom") > 0
    finally:
        exporter.send_signal(signal.SIGINT)
        assert exporter.wait(timeout=30) == 130
        node.terminate()
        node.wait()
    assert not (tmp_path / "pmutop.prom").exists()


@pytest.mark.needs_root
def test_sigterm_is_a_clean_stop():
    exporter = start_exporter("--listen", "127.0.0.1:0")
    exporter.process.send_signal(signal.SIGTERM)
    assert exporter.process.wait(timeout=30) == 128 + signal.SIGTERM
    assert "Traceback" not in exporter.process.stderr.read()


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_cap_perfmon_alone_counts_cpu_wide_and_without_it_pmutop_says_so():
    """What the systemd unit relies on: an unprivileged user with CAP_PERFMON counts every CPU."""
    if int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) < 1:
        pytest.skip("perf_event_paranoid < 1 lets every user count CPU-wide")
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    for prefix, scope in (((*nobody, "--inh-caps=+perfmon", "--ambient-caps=+perfmon"), "cpu"), (nobody, "self")):
        exporter = start_exporter("--listen", "127.0.0.1:0", prefix=prefix)
        try:
            samples = parse_exposition(exporter.metrics())
            assert sample_value(samples, "pmutop_exporter_info", scope=scope) == 1
        finally:
            exporter.stop()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path):
    unit = (REPO / "deploy/systemd/pmutop-export.service").read_text()
    assert "AmbientCapabilities=CAP_PERFMON" in unit and "User=root" not in unit
    local = tmp_path / "pmutop-export.service"
    local.write_text(unit.replace("/usr/local/bin/pmutop", shutil.which("true")))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.needs_root
@pytest.mark.changes_machine
def test_cpu_offline_and_back_keeps_its_series_and_never_goes_backwards():
    online = Path("/sys/devices/system/cpu/cpu1/online")
    if not online.exists():
        pytest.skip("CPU 1 cannot be hotplugged here")
    exporter = start_exporter("--listen", "127.0.0.1:0", "-I", "100")
    history = []

    def cpu1(**labels):
        """The newest scrape if cpu1's series match `labels`; every context-switch total read is kept."""
        samples = parse_exposition(exporter.metrics())
        history.append(sample_value(samples, "pmutop_context_switches_total", cpu="1"))
        matches = all(sample_value(samples, name, cpu="1", **extra) == value for name, extra, value in labels.values())
        return samples if matches else None

    try:
        cpu1()
        before = history[-1]
        online.write_text("0")
        try:
            offline = poll(lambda: cpu1(online=("pmutop_cpu_online", {}, 0)), "cpu1 to be seen offline")
            assert sample_value(offline, "pmutop_group_up", cpu="1", group="software", errno="ENODEV") == 0
            assert history[-1] >= before
        finally:
            online.write_text("1")
        up = ("pmutop_group_up", {"group": "software", "errno": ""}, 1)
        poll(lambda: cpu1(up=up), "cpu1 to count again")
        first_back = history[-1]
        poll(lambda: cpu1(up=up) and history[-1] > first_back, "cpu1's total to grow after the reopen")
        assert history == sorted(history)
    finally:
        online.write_text("1")
        exporter.stop()


def test_exporter_does_not_load_ui_libraries():
    probe = (
        "import sys, pmutop.export.run, pmutop.export.collector;"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([*PMUTOP[:1], "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scrapes_during_ticks_see_whole_ticks(vm_topology):
    """Concurrent readers hold an Exposition; folding the next tick does not change it."""
    totals = ExportTotals(vm_topology, (SOFTWARE,))
    held = totals.fold(_tick(0, {SOFTWARE.key: GroupRead(1, 1, (100, 7), 1)}, {}), None)
    totals.fold(_tick(1, {SOFTWARE.key: GroupRead(2, 2, (500, 9), 1)}, {}), None)
    assert _value(held, "pmutop_context_switches", cpu="1") == 100


@pytest.mark.needs_root
def test_a_taken_port_is_one_line_and_opens_nothing():
    exporter = start_exporter("--listen", "127.0.0.1:0")
    try:
        taken = exporter.url.split("//", 1)[1].split("/", 1)[0]
        result = subprocess.run([*PMUTOP, "export", "--listen", taken], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 1
        assert result.stderr == f"pmutop export: cannot listen on {taken}: Address already in use\n"
    finally:
        exporter.stop()


def test_input_takes_no_selection_flags(alder_lake_recording):
    result = subprocess.run(
        [*PMUTOP, "export", "--input", str(alder_lake_recording), "-C", "0"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2 and "do not apply" in result.stderr


@pytest.mark.needs_root
def test_cpu_selection_exports_only_those_cpus():
    exporter = start_exporter("--listen", "127.0.0.1:0", "-C", "0")
    try:
        samples = parse_exposition(exporter.metrics())
        assert {labels["cpu"] for labels, _ in samples["pmutop_context_switches_total"]} == {"0"}
        assert {labels["cpu"] for labels, _ in samples["pmutop_group_up"]} == {"0"}
    finally:
        exporter.stop()
    result = subprocess.run([*PMUTOP, "export", "-C", "0-x"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("pmutop export: -C 0-x: ")


@pytest.mark.needs_root
def test_events_named_with_e_are_exported_with_their_times():
    exporter = start_exporter("--listen", "127.0.0.1:0", "-e", "page-faults")
    try:

        def counted():
            samples = parse_exposition(exporter.metrics())
            return (sample_value(samples, "pmutop_event_total", cpu="0", pmu="software", event="page-faults") or 0) > 0

        poll(counted, "page faults to be counted")
        samples = parse_exposition(exporter.metrics())
        labels = {"cpu": "0", "pmu": "software", "event": "page-faults"}
        assert sample_value(samples, "pmutop_event_enabled_seconds_total", **labels) > 0
        assert sample_value(samples, "pmutop_event_running_seconds_total", **labels) > 0
    finally:
        exporter.stop()


def test_an_unknown_event_is_a_usage_error():
    result = subprocess.run([*PMUTOP, "export", "-e", "no-such-event"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("pmutop export: -e: ")
