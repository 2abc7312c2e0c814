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
