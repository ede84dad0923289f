"""What the import contracts (pyproject.toml, run by tests/test_lint.py) cannot see: imports that happen
only at run time. The headless commands must not load a terminal UI library, even lazily."""

import subprocess
import sys


def test_headless_commands_do_not_load_ui_libraries():
    probe = (
        "import sys, pmutop.cli.main as m, pmutop.cli.topology_command, pmutop.cli.stat_command;"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
