"""The topology of the machine the tests run on, checked against the kernel's own files."""

import json
import subprocess
from pathlib import Path

from pmutop.model.cpulist import parse_cpulist

DEVICES = Path("/sys/bus/event_source/devices")


def run_json(command: list[str], *args: str) -> dict:
    result = subprocess.run([*command, "topology", "--json", *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_types_match_sysfs(pmutop_command):
    report = run_json(pmutop_command)
    reported = {pmu["name"]: pmu["type"] for pmu in report["pmus"]}
    expected = {entry.name: int((entry / "type").read_text()) for entry in DEVICES.iterdir()}
    assert reported == expected


def test_online_cpus_match_sysfs(pmutop_command):
    report = run_json(pmutop_command)
    online = parse_cpulist(Path("/sys/devices/system/cpu/online").read_text())
    assert [c["cpu"] for c in report["cpus"] if c["online"]] == list(online)
    possible = parse_cpulist(Path("/sys/devices/system/cpu/possible").read_text())
    assert {c["cpu"] for c in report["cpus"]} >= set(possible)


def test_core_pmus_follow_perf_rule(pmutop_command):
    report = run_json(pmutop_command)
    expected_core = sorted(e.name for e in DEVICES.iterdir() if e.name in ("cpu", "cpum_cf") or (e / "cpus").exists())
    assert sorted(report["core_pmus"]) == expected_core
    if not expected_core:
        text = subprocess.run([*pmutop_command, "topology"], capture_output=True, text=True, check=True).stdout
        assert "No core PMU" in text
        assert all(c["core_pmu"] is None for c in report["cpus"])


def test_software_pmus_have_fixed_abi_types(pmutop_command):
    report = {p["name"]: p for p in run_json(pmutop_command)["pmus"]}
    assert report["software"]["type"] == 1 and report["software"]["kind"] == "software"
    assert report["tracepoint"]["type"] == 2
    assert report["breakpoint"]["type"] == 5


def test_snapshot_rereads_identically(pmutop_command, tmp_path):
    archive = tmp_path / "machine.tar.gz"
    out = subprocess.run([*pmutop_command, "snapshot", str(archive)], capture_output=True, text=True, check=True)
    assert "wrote" in out.stdout
    live = run_json(pmutop_command)
    replayed = run_json(pmutop_command, "--sysfs-root", str(archive))
    assert replayed == live
    # An unpacked copy of the snapshot reads the same too.
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(tmp_path)], check=True)
    assert run_json(pmutop_command, "--sysfs-root", str(tmp_path))["pmus"] == live["pmus"]
