"""How many CPUs the machine has, decided from what it has (present CPUs), not from what is online now.

Another run's hotplug test may have CPU 1 offline at the moment this suite is collected: counting the
online CPUs, or the affinity mask (which holds online ones only), would then silently skip every two-CPU
test. A test that needs two CPUs online waits for them (the `two_cpus_online` fixture) and fails, saying
why, if they never are.
"""

import os
from pathlib import Path

from waiting import wait_until

from pmutop.model.cpulist import parse_cpulist

CPU_DIR = Path("/sys/devices/system/cpu")
CPU1_ONLINE = CPU_DIR / "cpu1" / "online"
PRESENT_CPUS = parse_cpulist((CPU_DIR / "present").read_text())
TWO_CPUS = len(PRESENT_CPUS) >= 2


def online_cpus() -> tuple[int, ...]:
    return parse_cpulist((CPU_DIR / "online").read_text())


def wait_for_two_online_cpus() -> None:
    """Return once two CPUs are online and this process may run on both; fail if it never may."""
    wait_until(lambda: len(online_cpus()) >= 2, "a second CPU to be online (another run's hotplug test took it)")
    usable = os.sched_getaffinity(0)
    assert len(usable) >= 2, f"the tests may only run on CPUs {sorted(usable)} (taskset?): this test needs two"
