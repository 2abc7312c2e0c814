"""Build the TEST-ONLY ``nav2_msgs`` (tests/interfaces/nav2_msgs) and give test processes its path.

``nav2_msgs`` is not on PyPI, so the Nav2 backend tests build the two actions it uses from
Nav2's documented interface, under the real package name so the DDS type names match a real
Nav2. The package is staged (``NavigateThroughPoses.action`` gets the layout of the distro
the tests run on, from :func:`warehouse_nodes.distro.through_poses_layout`) and built with the
same colcon invocation as ``scripts/setup.sh`` into a private install space
(``install-test[-<distro>]/``), never the product's ``install/``. A hash of the inputs is
stamped there, so it builds once (~3 min) and again only when the package changes; a file lock
serialises concurrent test sessions. Only the child processes of a test get it on their path
(:func:`child_env`): the test process and the product never see it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from warehouse_nodes import distro

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tests" / "interfaces" / "nav2_msgs"
METAS = ROOT / "tests" / "interfaces" / "colcon.meta"


def _suffix(name: str) -> str:
    return "" if name == distro.KILTED else f"-{name}"


def _inputs_hash(layout: str) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in PACKAGE.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    h.update(METAS.read_bytes() + layout.encode() + Path(__file__).read_bytes())
    return h.hexdigest()


def _stage(dest: Path, layout: str) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("layouts"))
    shutil.copy(PACKAGE / "layouts" / f"NavigateThroughPoses.{layout}.action",
                dest / "action" / "NavigateThroughPoses.action")


def build(name: str | None = None) -> tuple[Path, float]:
    """The install space of the test ``nav2_msgs`` for distro ``name`` (default: the running one),
    built when missing or stale; also the seconds the build took (0 when it was up to date)."""
    name = name or distro.detect()
    sfx = _suffix(name)
    layout = distro.through_poses_layout(name)
    install = ROOT / f"install-test{sfx}"
    build_base = ROOT / f"build{sfx}" / "test_interfaces"
    staged = ROOT / f"build{sfx}" / "test_interfaces_src"
    log_base = ROOT / "log" / f"test_interfaces{sfx}"
    log_base.mkdir(parents=True, exist_ok=True)
    digest = _inputs_hash(layout)
    stamp = install / ".inputs-sha256"
    with open(log_base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it right now
        if stamp.exists() and stamp.read_text() == digest:
            return install, 0.0
        _stage(staged / "nav2_msgs", layout)
        start = time.monotonic()
        script = (
            "unset AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH PYTHONPATH ROS_DISTRO; "
            f". '{ROOT}/.venv{sfx}/bin/activate'; "
            'export CMAKE_PREFIX_PATH="$VIRTUAL_ENV" AMENT_PREFIX_PATH="$VIRTUAL_ENV"; '
            "unset _ROS_WHEELS_BOOTSTRAP_COMPLETE; "
            f"colcon --log-base '{log_base}' build --base-paths '{staged}' --build-base '{build_base}' "
            f"--install-base '{install}' --metas '{METAS}' "
            "--event-handlers console_direct- console_cohesion+ status- summary+")
        proc = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"building the test nav2_msgs failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        stamp.write_text(digest)
        return install, time.monotonic() - start


def child_env(install: Path, base: dict[str, str]) -> dict[str, str]:
    """``base`` with the test ``nav2_msgs`` of ``install`` ahead on the Python, library and ament paths."""
    prefix = install / "nav2_msgs"
    site = next(prefix.glob("lib/python3*/site-packages"))
    env = dict(base)
    for var, path in (("PYTHONPATH", site), ("LD_LIBRARY_PATH", prefix / "lib"), ("AMENT_PREFIX_PATH", prefix)):
        env[var] = os.pathsep.join(p for p in (str(path), env.get(var, "")) if p)
    return env
