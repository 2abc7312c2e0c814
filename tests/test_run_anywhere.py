"""``./warehouse run`` from any working directory: defaults come from the bringup share, not the checkout.

Runs ``python -m warehouse_nodes.cli run`` (the command ``./warehouse run`` executes) in an empty
temporary directory without ``WAREHOUSE_ROOT``: the default ``--config`` and the layout and box
catalogue it names are found through the ament index (warehouse_bringup's share; a source tree's
root where the package is not built), the paths inside the config relative to it.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml


def test_a_short_run_from_another_directory_completes_orders(ros_env, tmp_path):
    env = {k: v for k, v in ros_env.items() if k != "WAREHOUSE_ROOT"}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    done = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "3", "--duration", "150",
                           "--out", "out", "--quiet"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((cwd / "out" / "report.json").read_text())
    assert report["orders_completed"] > 0, report
    params = yaml.safe_load((cwd / "out" / "params.yaml").read_text())
    for path in (params["/**"]["ros__parameters"]["layout"], params["task_allocator"]["ros__parameters"]["boxes"]):
        assert Path(path).is_absolute() and Path(path).is_file(), path
    assert not (cwd / "config").exists() and not (cwd / "maps").exists()
