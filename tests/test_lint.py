"""ruff, the import contracts and the type checker run with the test suite, so the one test command (what
.ci/run runs) is also the lint, architecture and typing gate."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    """The test environment's own copy of a tool, else the one on PATH."""
    own = Path(sys.executable).parent / name
    return str(own) if own.exists() else shutil.which(name) or name


def test_ruff_clean():
    command = [_tool("ruff"), "check", "pmutop", "tests", "benchmarks"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_kept():
    """The layering in pyproject.toml's [tool.importlinter]: cli on top, faces, recording, live, then the
    model and the kernel side, which import neither each other nor a terminal UI library."""
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_types_check():
    """mypy over pmutop/, strict on the model and the kernel side (pyproject.toml's [tool.mypy])."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


# A face that names a figure or a table column by a string (misspelt or not) fails the type check,
# where a lookup would otherwise quietly give "not counted": (face source, mypy's errors expected).
TYPED_NAMES = {
    "metric": (
        "from pmutop.model.metrics import MetricKey\n"
        "from pmutop.model.snapshot import CpuRow\n"
        "def shown(row: CpuRow) -> object:\n"
        "    return row.metric(MetricKey.IPC), row.metric('ipx')\n"
        "def untyped(row):\n"
        "    return MetricKey.IPX\n",
        (
            'face.py:4: error: Argument 1 to "metric" of "CpuRow" has incompatible type "str"',
            'face.py:6: error: "type[MetricKey]" has no attribute "IPX"',
        ),
    ),
    # The live table's columns are keyed by ColumnKeys (a MetricKey, a -e event's EventKey or a TableColumn).
    "table column": (
        "from pmutop.tui.live_model import LiveModel, TableColumn, cpu_key\n"
        "def shown(model: LiveModel) -> object:\n"
        "    return model.cell(cpu_key(0), TableColumn.COVERAGE), model.cell(cpu_key(0), 'coverage')\n",
        ('face.py:3: error: Argument 2 to "cell" of "LiveModel" has incompatible type "str"',),
    ),
}


@pytest.mark.parametrize("kind", TYPED_NAMES)
def test_a_name_given_as_a_string_is_a_type_error(tmp_path, kind):
    source, expected = TYPED_NAMES[kind]
    face = tmp_path / "face.py"
    face.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null", str(face)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == len(expected), result.stdout
    for error, wanted in zip(errors, expected, strict=True):
        assert wanted in error
