"""A Linux terminal driver whose input thread sleeps until there is input.

Textual's LinuxDriver reads the terminal on a thread that wakes ten times a second whether or not
a key was pressed, only to check whether it should stop; on an idle screen that costs more CPU than
pmutop's sampling does. This driver's thread blocks until the terminal or a stop pipe is readable.
For a moment after each input it still wakes every ESCAPE_DELAY, as Textual's does: the parser needs
those ticks to tell a lone Esc from the start of an escape sequence.
"""

import os
import selectors
import time
from codecs import getincrementaldecoder
from threading import Event

from textual import constants
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

# How long after an input the thread keeps ticking the parser (any escape sequence is complete by then).
TICKING_S = 1.0


class WakingEvent(Event):
    """The input thread's stop flag; setting it also makes the thread's select return."""

    def __init__(self) -> None:
        super().__init__()
        self.fileno, self._wake = os.pipe()

    def set(self) -> None:
        super().set()
        os.write(self._wake, b"\0")

    def close(self) -> None:
        os.close(self.fileno)
        os.close(self._wake)


class QuietLinuxDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = WakingEvent()

    def close(self) -> None:
        super().close()
        self.exit_event.close()

    def run_input_thread(self) -> None:
        """Textual's input loop (LinuxDriver.run_input_thread), with a blocking select when idle."""
        stop = self.exit_event
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(stop.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        ticking_until = 0.0

        def read_input(final: bool = False) -> None:
            data = decode(os.read(self.fileno, 4096), final=final)
            if not data:
                # End of input (stdin is not a terminal): nothing more will come, so stop waiting on it.
                selector.unregister(self.fileno)
                return
            for event in parser.feed(data):
                self.process_message(event)

        try:
            while not stop.is_set():
                timeout = constants.ESCAPE_DELAY if time.monotonic() < ticking_until else None
                for key, _ in selector.select(timeout):
                    if key.fd == stop.fileno:
                        os.read(stop.fileno, 64)
                    else:
                        read_input()
                        ticking_until = time.monotonic() + TICKING_S
                for event in parser.tick():
                    self.process_message(event)
            selector.unregister(stop.fileno)
            if selector.get_map() and selector.select(constants.ESCAPE_DELAY):
                read_input(final=True)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
