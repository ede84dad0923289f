"""Runs inside the arm64 guest (python3.11, started by /init): pmutop's own commands and raw probes.

Every result is printed on the serial console between `===PMUTOP-BEGIN name===` and
`===PMUTOP-END name rc===` lines; the host parses and checks them. Nothing here asserts: a failure is
printed as data (an rc, an errno, a traceback) so the host reports it with context.
"""

import errno
import json
import os
import signal
import struct
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

PMU_ROOT = Path("/sys/bus/event_source/devices")
PMUTOP = [sys.executable, "-m", "pmutop"]
COMMAND_TIMEOUT_S = 90
# The followed task (guest/spin_task.c, built static by build.py): pinned to CPU 0 and idle 0.5 s, busy
# 0.5 s, then pinned to CPU 1 and busy 0.5 s.
SPIN_TASK = ["/opt/pmutop/spin_task", "0.5", "0.5"]
ARMV8_CPU_CYCLES = 0x11
ARMV8_INST_RETIRED = 0x08


@contextmanager
def section(name: str):
    print(f"===PMUTOP-BEGIN {name}===", flush=True)
    rc = 0
    start = time.monotonic()
    try:
        yield
    except Exception:
        traceback.print_exc(file=sys.stdout)
        rc = 99
    sys.stdout.flush()
    print(f"\n# guest-seconds {time.monotonic() - start:.2f}", flush=True)
    print(f"===PMUTOP-END {name} {rc}===", flush=True)


def _begin(name: str, args: list[str]) -> float:
    """Open a command's section before it runs, so the host's phase timings cover the run."""
    print(f"===PMUTOP-BEGIN {name}===", flush=True)
    print("# argv " + json.dumps([*PMUTOP, *args]), flush=True)
    return time.monotonic()


def _emit_command_output(name: str, out: str, rc: int, start: float) -> None:
    sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
    print(f"# guest-seconds {time.monotonic() - start:.2f}", flush=True)
    print(f"===PMUTOP-END {name} {rc}===", flush=True)


class ForkedPmutop:
    """`python -m pmutop ARGS` without a new interpreter: a child forked from this process, which has
    imported pmutop's command modules once, runs the same entry point (`pmutop.cli.main.main`) with its
    output on a pipe. Under TCG every interpreter start and import costs seconds of host time, and the
    guest runs a dozen commands; forking keeps the code path and drops that cost."""

    def __init__(self, args: list[str], cpu: int | None = None) -> None:
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 70
            try:
                os.close(read_end)
                os.dup2(write_end, 1)
                os.dup2(write_end, 2)
                os.close(write_end)
                if cpu is not None:
                    os.sched_setaffinity(0, {cpu})
                sys.argv = ["pmutop", *args]
                from pmutop.cli.main import main as pmutop_main

                code = pmutop_main(args)
            except SystemExit as exc:
                # As the interpreter does at exit: a message is printed and means status 1, None means 0.
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_end)
        self.stdout = os.fdopen(read_end, "rb")
        self.returncode: int | None = None

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            _pid, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            self.stdout.close()
        return self.returncode


def preload_pmutop() -> None:
    """Import what the commands import, once, before any fork."""
    import pmutop.cli.main
    import pmutop.cli.record_command
    import pmutop.cli.stat_command
    import pmutop.cli.topology_command  # noqa: F401


def run_forked(command: ForkedPmutop) -> tuple[str, int]:
    """Everything the command printed, and its exit code (124 after COMMAND_TIMEOUT_S)."""
    watchdog = threading.Timer(COMMAND_TIMEOUT_S, command.kill)
    watchdog.start()
    try:
        out = command.stdout.read().decode(errors="replace")
        rc = command.wait()
    finally:
        watchdog.cancel()
    if rc == -signal.SIGKILL:
        return out + "\n# TIMEOUT", 124
    return out, rc


def command_section(name: str, args: list[str]) -> tuple[int, str]:
    start = _begin(name, args)
    out, rc = run_forked(ForkedPmutop(args))
    _emit_command_output(name, out, rc, start)
    return rc, out


def stat_with_spinner(name: str, args: list[str], busy_cpu: int) -> None:
    """Run `pmutop stat`, and once it printed its first interval, spin on busy_cpu until it ends.

    The spinner starts late on purpose: under QEMU's round-robin TCG, every cross-CPU call the kernel
    makes while opening counters (an IPI to the target CPU) waits for the spinning vCPU's time slice,
    which makes pmutop's start-up tens of times slower in guest time. A `# spinner-started` line marks
    the intervals that had the spinner for the whole interval (the ones after it).

    pmutop itself is pinned to the busy CPU too: on the other CPU, its reads of the busy CPU's
    counters would spin in the kernel waiting for those IPIs, and that CPU would look busy.
    """
    start = _begin(name, args)
    command = ForkedPmutop(args, cpu=busy_cpu)
    watchdog = threading.Timer(COMMAND_TIMEOUT_S, command.kill)
    watchdog.start()
    lines: list[str] = []
    pid = None
    try:
        for raw in command.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if pid is None and line.startswith("{"):
                pid = spinner(busy_cpu)
                lines.append(f"# spinner-started cpu{busy_cpu}\n")
        rc = command.wait()
    finally:
        watchdog.cancel()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if rc == -signal.SIGKILL:
        lines.append("# TIMEOUT\n")
        rc = 124
    _emit_command_output(name, "".join(lines), rc, start)


def read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError as exc:
        return f"!{errno.errorcode.get(exc.errno or 0, exc.errno)}"


def sysfs_facts() -> dict:
    pmus = {}
    for pmu in sorted(PMU_ROOT.iterdir()):
        entry = {"type": read(pmu / "type")}
        for name in ("cpus", "cpumask"):
            if (pmu / name).exists():
                entry[name] = read(pmu / name)
        events = pmu / "events"
        if events.is_dir():
            entry["events"] = {
                e.name: read(e) for e in sorted(events.iterdir()) if e.name in ("cpu_cycles", "inst_retired")
            }
        pmus[pmu.name] = entry
    cpus = {}
    for cpu in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*")):
        cpus[cpu.name] = {"midr_el1": read(cpu / "regs/identification/midr_el1")}
    return {
        "release": os.uname().release,
        "machine": os.uname().machine,
        "online": read(Path("/sys/devices/system/cpu/online")),
        "pmus": pmus,
        "cpus": cpus,
        "cmdline": read(Path("/proc/cmdline")),
    }


def core_pmus() -> dict[str, tuple[int, str]]:
    """name -> (type, cpus) for every PMU with a `cpus` file (perf's definition of a core PMU)."""
    out = {}
    for pmu in sorted(PMU_ROOT.iterdir()):
        if (pmu / "cpus").exists():
            out[pmu.name] = (int((pmu / "type").read_text()), (pmu / "cpus").read_text().strip())
    return out


def event_lists() -> tuple[str, str]:
    """`-e` lists for this layout: PMU-qualified, raw and legacy events that exist here, and one that names
    the other layout's PMU (an error that must say which PMUs there are). The legacy `instructions` opens on
    each core PMU in the encoding cycles got there (6.1 refuses the extended type: the PMU's alias)."""
    if "armv8_pmuv3" in core_pmus():
        return "armv8_pmuv3/inst_retired/,r08,armv8_pmuv3/cpu_cycles/,instructions", "armv8_cortex_a53/cpu_cycles/"
    return "armv8_cortex_a53/cpu_cycles/,r08,inst_retired,instructions", "armv8_pmuv3/inst_retired/"


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def probe() -> list[dict]:
    """Open cycles/instructions on every CPU with each encoding pmutop may use; record what happens."""
    from pmutop.kernel import perf
    from pmutop.model.perf_abi import COUNTER_READ_FORMAT, EventAttr, EventType, HardwareEvent

    read_format = COUNTER_READ_FORMAT
    hw = {"cycles": HardwareEvent.CPU_CYCLES, "instructions": HardwareEvent.INSTRUCTIONS}
    raw = {"cycles": ARMV8_CPU_CYCLES, "instructions": ARMV8_INST_RETIRED}
    results = []
    ncpu = os.cpu_count() or 1
    for cpu in range(ncpu):
        specs = []
        for event in ("cycles", "instructions"):
            specs.append({"pmu": None, "encoding": "hardware", "event": event, "type": 0, "config": hw[event]})
            for name, (ptype, _cpus) in core_pmus().items():
                specs.append({"pmu": name, "encoding": "own-type", "event": event, "type": ptype, "config": raw[event]})
                specs.append(
                    {
                        "pmu": name,
                        "encoding": "extended",
                        "event": event,
                        "type": EventType.HARDWARE,
                        "config": hw[event] | ptype << 32,
                    }
                )
        os.sched_setaffinity(0, {cpu})
        opened = []
        for spec in specs:
            attr = EventAttr(type=spec["type"], config=spec["config"], read_format=read_format, disabled=True)
            fd = perf.open_event(attr, pid=-1, cpu=cpu)
            spec = dict(spec, cpu=cpu)
            if isinstance(fd, perf.OpenFailure):
                spec["errno"] = fd.name
            else:
                spec["fd"] = fd
                opened.append(spec)
            results.append(spec)
        for spec in opened:
            perf.enable(spec["fd"], group=False)
        spin(0.05)
        for spec in opened:
            perf.disable(spec["fd"], group=False)
        for spec in opened:
            value, enabled, running = struct.unpack("=QQQ", os.read(spec["fd"], 24))
            perf.close(spec.pop("fd"))
            spec.update(value=value, enabled=enabled, running=running)
    os.sched_setaffinity(0, set(range(ncpu)))
    return results


def busy_vs_idle() -> list[dict]:
    """Legacy cycles/instructions on both CPUs while this process spins pinned to one of them."""
    from pmutop.kernel import perf
    from pmutop.model.perf_abi import COUNTER_READ_FORMAT, EventAttr

    read_format = COUNTER_READ_FORMAT
    ncpu = os.cpu_count() or 1
    out = []
    for busy in range(ncpu):
        fds = {}
        for cpu in range(ncpu):
            for event, config in (("cycles", 0), ("instructions", 1)):
                for user_only in (False, True):
                    attr = EventAttr(
                        type=0, config=config, read_format=read_format, disabled=True, exclude_kernel=user_only
                    )
                    fd = perf.open_event(attr, cpu=cpu)
                    if isinstance(fd, int):
                        fds[(cpu, event + (":u" if user_only else ""))] = fd
        os.sched_setaffinity(0, {busy})
        for fd in fds.values():
            perf.enable(fd, group=False)
        spin(0.2)
        for fd in fds.values():
            perf.disable(fd, group=False)
        for (cpu, event), fd in fds.items():
            value, _enabled, running = struct.unpack("=QQQ", os.read(fd, 24))
            perf.close(fd)
            out.append({"busy": busy, "cpu": cpu, "event": event, "value": value, "running": running})
    os.sched_setaffinity(0, set(range(ncpu)))
    return out


def spinner(cpu: int) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os.sched_setaffinity(0, {cpu})
            while True:
                pass
        finally:
            os._exit(0)
    return pid


def main() -> int:
    with section("sysfs"):
        print(json.dumps(sysfs_facts()))
    with section("import"):
        from pmutop.kernel import perf

        preload_pmutop()
        print(json.dumps({"perf": perf.__file__}))
    with section("probe"):
        for row in probe():
            print(json.dumps(row))
    with section("busy-vs-idle"):
        for row in busy_vs_idle():
            print(json.dumps(row))
    command_section("topology", ["topology", "--json"])
    command_section("stat-help", ["stat", "--help"])
    # Three intervals: the first without the spinner (see stat_with_spinner), two with it.
    for mode in ([], ["--user"]):
        for cpu in range(os.cpu_count() or 1):
            name = f"stat-{'user-' if mode else ''}busy-cpu{cpu}"
            stat_with_spinner(name, ["stat", *mode, "-I", "200", "-n", "3", "--json"], cpu)
    command_section("stat-task", ["stat", "-I", "200", "--json", "--", *SPIN_TASK])
    events, other_layouts = event_lists()
    command_section("stat-events", ["stat", "-I", "200", "-n", "2", "--json", "-e", events])
    command_section("stat-events-other-layout", ["stat", "-n", "1", "-e", other_layouts])
    command_section("record-help", ["record", "--help"])
    recording = "/tmp/pmutop-guest-recording.jsonl"
    rc, _ = command_section("record-task", ["record", "-o", recording, "-I", "200", "--", *SPIN_TASK])
    if rc == 0:
        with section("recording"), open(recording) as handle:
            sys.stdout.write(handle.read())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
