"""The paint path the TUI runs on: pmutop's fast one (pmutop.tui.paint_fast, on Textual's private API)
where the installed Textual is one it was verified against, else Textual's stock one
(pmutop.tui.paint_stock). `pmutop --version` says which, and why.
"""

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

from pmutop.tui import paint_stock

try:
    from pmutop.tui import paint_fast
except ImportError as error:
    # paint_fast raises StockTextual (an ImportError) when Textual is not as verified; any other
    # ImportError from it means the same thing: the private symbols it needs are not there.
    paint_fast = None
    STOCK_REASON: str | None = str(error)
else:
    STOCK_REASON = None

FAST = paint_fast is not None
Styling = paint_stock.Styling
repaint_lines = paint_stock.repaint_lines
update_in_place = paint_stock.update_in_place
SteadyStyling: type = paint_fast.FastStyling if paint_fast else paint_stock.SteadyStyling
PmutopScreen: type[paint_stock.PaintingScreen] = paint_fast.FastScreen if paint_fast else paint_stock.PaintingScreen


def driver_class(default: type[Driver]) -> type[Driver]:
    """The terminal driver to run on, for the one Textual would pick."""
    if paint_fast is not None and default is LinuxDriver:
        return paint_fast.QuietLinuxDriver
    return default


def describe() -> str:
    """One line for `pmutop --version`: the Textual version and the paint path on it."""
    from importlib import metadata

    version = metadata.version("textual")
    if FAST:
        return f"Textual {version}, fast paint path"
    return f"Textual {version}, stock paint path ({STOCK_REASON})"
