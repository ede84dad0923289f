"""Screenshots keep the screen's spaces in every SVG renderer (pmutop.tui.svg_export)."""

import html
import io
import re
from pathlib import Path

from rich.console import Console
from tui_support import following_feed, paused_replay, wait_for_tick

from pmutop.tui.app import PmutopApp
from pmutop.tui.svg_export import spaces_as_positions

TEXT = re.compile(r'<text\b[^>]*?\bx="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>(.*?)</text>', re.S)


def as_librsvg_draws_it(svg: str, width: int) -> list[str]:
    """The SVG's text as librsvg lays it out: each <text> drawn from its x without the spaces at its ends."""
    lines: dict[float, list[str]] = {}
    for x, y, length, content in TEXT.findall(svg):
        text = html.unescape(content).replace("\xa0", " ")
        cell = float(length) / len(text)
        line = lines.setdefault(float(y), [" "] * width)
        column = round(float(x) / cell)
        for offset, character in enumerate(text.strip(" ")):
            if column + offset < width:
                line[column + offset] = character
    return ["".join(line).rstrip() for _, line in sorted(lines.items())]


def screen_text(app: PmutopApp) -> list[str]:
    """What the terminal shows: the screen's full render, as plain text."""
    console = Console(width=app.size.width, height=app.size.height, record=True, file=io.StringIO())
    console.print(app.screen._compositor.render_update(full=True))
    return [line.rstrip() for line in console.export_text(styles=False).splitlines()]


def test_runs_lose_their_end_spaces_to_their_position():
    svg = '<text class="r1" x="24.4" y="20" textLength="61" clip-path="c">&#160;&#160;n/a</text>'
    assert spaces_as_positions(svg) == '<text class="r1" x="48.8" y="20" textLength="36.6" clip-path="c">n/a</text>'
    assert spaces_as_positions('<text x="0" y="1" textLength="24.4">&#160;&#160;</text>') == ""
    kept = '<text x="0" y="1" textLength="36.6">a&#160;&lt;</text>'
    assert spaces_as_positions(kept) == kept


async def test_a_screenshot_has_the_spaces_the_screen_has(alder_lake):
    app = PmutopApp(following_feed(alder_lake))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app, following_feed(alder_lake).snapshots[-1].index)
        await pilot.pause()
        screen = screen_text(app)
        drawn = as_librsvg_draws_it(app.export_screenshot(), app.size.width)
    # The window title bar comes first in the SVG; the rest is the screen, line for line.
    assert drawn[-len(screen) :] == screen
    assert any("4343 [bold]x\\x1b[31m  2 threads" in line for line in drawn)


async def test_rich_export_alone_would_lose_them(alder_lake):
    """The check above can fail: Rich's own SVG, drawn the same way, runs pieces together."""
    app = PmutopApp(paused_replay(alder_lake))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_tick(pilot, app)
        screen = screen_text(app)
        raw = super(PmutopApp, app).export_screenshot()
    assert as_librsvg_draws_it(raw, 120)[-len(screen) :] != screen


def test_the_arm64_screenshot_shows_what_its_caption_says():
    """README: the arm64 screenshot is the task on the two-PMU guest, IPC 1.00 by construction, at the
    last whole interval (not the stub tick after the task exited, whose per-CPU IPC was 0.08)."""
    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text()
    assert "IPC is 1.00 by construction" in readme
    drawn = "\n".join(as_librsvg_draws_it((repo / "screenshots" / "arm64-two-pmu.svg").read_text(), 200))
    assert "armv8_cortex_a72 1.00" in drawn and "0.08" not in drawn
    assert "1 thread  on cpu1 · armv8_cortex_a72" in drawn
