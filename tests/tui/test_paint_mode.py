"""Textual's private API is used in one module, pmutop.tui.paint_fast, which turns itself off (and the TUI
runs on stock Textual) on any Textual it was not verified against, or when PMUTOP_TEXTUAL_STOCK is set."""

import ast
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_MODULE = ROOT / "pmutop" / "tui" / "paint_fast.py"


def private_textual_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [name for name in names if name.startswith("textual.") and any(p.startswith("_") for p in name.split("."))]


def test_only_paint_fast_imports_textuals_private_modules():
    users = {
        str(path.relative_to(ROOT))
        for folder in ("pmutop", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if "work" not in path.relative_to(ROOT).parts and private_textual_imports(path)
    }
    assert users == {str(PRIVATE_MODULE.relative_to(ROOT))}


def paint_mode_in_a_fresh_interpreter(prelude: str = "", **environment: str) -> str:
    """`pmutop --version`'s line, in a new interpreter after `prelude` ran (it may patch Textual)."""
    env = {key: value for key, value in os.environ.items() if key != "PMUTOP_TEXTUAL_STOCK"} | environment
    program = textwrap.dedent(prelude) + "\nfrom pmutop.cli.main import version_line\nprint(version_line())\n"
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


VERIFIED = ("8.2.7", "8.2.8")
VERIFIED_ONLY = "fast path verified on Textual 8.2.7, 8.2.8 only"
on_a_verified_textual = pytest.mark.skipif(metadata.version("textual") not in VERIFIED, reason="Textual unverified")


def test_version_says_which_paint_path():
    version = metadata.version("textual")
    line = paint_mode_in_a_fresh_interpreter()
    mode = "fast paint path" if version in VERIFIED else f"stock paint path ({VERIFIED_ONLY})"
    assert line == f"pmutop {metadata.version('pmutop')}; Textual {version}, {mode}"
    forced = paint_mode_in_a_fresh_interpreter(PMUTOP_TEXTUAL_STOCK="1")
    assert forced.endswith(f"Textual {version}, stock paint path (PMUTOP_TEXTUAL_STOCK is set)")


def test_an_unverified_textual_version_runs_stock():
    line = paint_mode_in_a_fresh_interpreter(
        """
        from importlib import metadata
        real = metadata.version
        metadata.version = lambda name: "8.2.6" if name == "textual" else real(name)
        """
    )
    assert line.endswith(f"Textual 8.2.6, stock paint path ({VERIFIED_ONLY})")


@on_a_verified_textual
def test_a_changed_private_signature_runs_stock():
    line = paint_mode_in_a_fresh_interpreter(
        """
        from textual._styles_cache import StylesCache
        def render(self, styles, size, crop): ...
        StylesCache.render = render
        """
    )
    assert "stock paint path (Textual" in line and "StylesCache.render('self', 'styles', 'size', 'crop')" in line
