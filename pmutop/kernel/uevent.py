"""CPU hotplug as it happens: the kernel's uevents (NETLINK_KOBJECT_UEVENT) for CPU devices, as a pollable fd."""

import socket

NETLINK_KOBJECT_UEVENT = 15
# Multicast group 1 carries the kernel's own uevents (udev re-broadcasts on group 2).
KERNEL_UEVENTS = 1
_CPU_DEVICE = b"/devices/system/cpu/cpu"


class CpuHotplugEvents:
    """The CPUs that went online or offline since the last look; pmutop polls its fd."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def open(cls) -> "CpuHotplugEvents | None":
        """None where netlink uevents are not available (a container without them, for one)."""
        try:
            sock = socket.socket(
                socket.AF_NETLINK,
                socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                NETLINK_KOBJECT_UEVENT,
            )
        except (OSError, AttributeError):
            return None
        try:
            sock.bind((0, KERNEL_UEVENTS))
        except OSError:
            sock.close()
            return None
        return cls(sock)

    def fileno(self) -> int:
        return self._sock.fileno()

    def take(self) -> list[tuple[bool, int | None]]:
        """The CPU uevents queued, oldest first, as (online, cpu); cpu None when some were dropped (ENOBUFS)."""
        events: list[tuple[bool, int | None]] = []
        while True:
            try:
                message = self._sock.recv(8192)
            except BlockingIOError:
                return events
            except OSError:
                events.append((True, None))
                continue
            action, _, device = message.split(b"\0", 1)[0].partition(b"@")
            if action in (b"online", b"offline") and device.startswith(_CPU_DEVICE):
                number = device[len(_CPU_DEVICE) :]
                if number.isdigit():
                    events.append((action == b"online", int(number)))

    def close(self) -> None:
        self._sock.close()
