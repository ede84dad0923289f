"""The layering rule: kernel → model → faces, and only the TUI imports textual."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pmutop"
# What each layer may import from pmutop; the model is pure, so it does not even see the kernel layer.
ALLOWED = {
    "kernel": {"kernel"},
    "model": {"model"},
    "live": {"kernel", "model", "live"},
    "recording": {"kernel", "model", "live", "recording"},
    "tui": {"kernel", "model", "live", "recording", "tui"},
    "cli": {"kernel", "model", "live", "recording", "tui", "cli"},
}
UI_LIBRARIES = {"textual"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_files():
    for layer in ALLOWED:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            yield layer, path


def test_every_package_is_a_known_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED)


def test_layers_import_only_downwards():
    violations = []
    for layer, path in layer_files():
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "pmutop" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert violations == []


def test_only_the_tui_imports_textual():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside_tui = "tui" in path.relative_to(PACKAGE).parts
        for name in imports_of(path):
            if name.split(".")[0] in UI_LIBRARIES and not inside_tui:
                violations.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert violations == []


def test_headless_commands_do_not_load_ui_libraries():
    import subprocess
    import sys

    probe = (
        "import sys, pmutop.cli.main as m, pmutop.cli.topology_command, pmutop.cli.stat_command;"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
