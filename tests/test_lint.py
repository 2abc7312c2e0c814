"""Linters as tests: ruff (pyflakes, pycodestyle, bugbear, import order) over all Python."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: run ./warehouse setup (it is in requirements.txt)")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_never_imports_ros():
    """The core must run without ROS: no rclpy and no *_msgs packages."""
    bad = []
    for path in (ROOT / "src" / "warehouse_core").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                mod = words[1].split(".")[0]
                if mod == "rclpy" or mod.endswith("_msgs") or mod == "warehouse_interfaces":
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)


# The core's layers, lowest first: a module may import its own subpackage and those in lower
# layers, never a higher one, so each layer can be read, tested and reused without the ones above.
CORE_LAYERS = [
    {"errors", "topics"},
    {"maps"},
    {"tasks", "mapf"},
    {"fleet", "robot"},
    {"ops"},
    {"sim"},
    {"analysis"},
]


def _core_part(module: str) -> str | None:
    """The top-level part of ``warehouse_core`` a dotted module name belongs to (None: not the core)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "warehouse_core" and len(parts) > 1 else None


def test_core_imports_point_down_the_layers():
    import ast

    layer = {name: i for i, names in enumerate(CORE_LAYERS) for name in names}
    core = ROOT / "src" / "warehouse_core" / "warehouse_core"
    bad, unknown = [], set()
    for path in core.rglob("*.py"):
        rel = path.relative_to(core)
        own = rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else None
        if own is None:
            continue
        if own not in layer:
            unknown.add(own)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                part = _core_part(name)
                if part is None or part == own or part not in layer:
                    continue
                if layer[part] > layer[own]:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {own} imports {name} (a higher layer)")
    assert not unknown, f"core parts missing from CORE_LAYERS: {sorted(unknown)}"
    assert not bad, "\n".join(sorted(set(bad)))


def test_core_top_level_stays_small():
    """The package's top level holds the shared vocabulary only; everything else lives in a subpackage."""
    core = ROOT / "src" / "warehouse_core" / "warehouse_core"
    modules = sorted(p.name for p in core.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 8, modules


def test_tests_do_not_import_other_test_modules():
    """Shared test code lives in helper modules or conftest.py, never in another test file."""
    import ast

    bad = []
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "src").glob("*/test/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno}: imports {n}"
                    for n in names if n.split(".")[-1].startswith("test_")]
    assert not bad, "\n".join(bad)
