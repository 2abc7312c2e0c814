"""The SROS2 policy generated from the nodes: one enclave per process, least privilege."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_policy_has_an_enclave_per_process_and_robots_only_their_namespace(tmp_path, ros_env):  # noqa: ARG001
    sys.path.insert(0, str(ROOT / "scripts"))
    import sros2_policy

    out = tmp_path / "policy.xml"
    assert sros2_policy.main(["--robots", "3", "--per-container", "2", "--out", str(out)]) == 0
    root = ET.parse(out).getroot()
    enclaves = {e.get("path"): e for e in root.iter("enclave")}
    assert set(enclaves) == {"/warehouse/floor_simulator", "/warehouse/mapf_planner", "/warehouse/task_allocator",
                             "/warehouse/forecaster", "/warehouse/order_source", "/warehouse/robots_0",
                             "/warehouse/robots_2", "/warehouse/robot_0"}

    def allowed(profile, tag, kind):
        return {n.text for g in profile.iter(tag) if g.get(kind) == "ALLOW" for n in g}

    profiles = {(p.get("ns"), p.get("node")): p for p in root.iter("profile")}
    allocator = profiles[("/", "task_allocator")]
    assert "/submit_order" in allowed(allocator, "services", "reply")
    assert "/tasks" in allowed(allocator, "topics", "publish")
    assert "/submit_order" in allowed(profiles[("/", "order_source")], "services", "request")
    assert "/fleet/release" in allowed(profiles[("/", "mapf_planner")], "topics", "publish")
    assert "/forecast/demand" in allowed(profiles[("/", "forecaster")], "topics", "publish")
    assert "/forecast/demand" in allowed(allocator, "topics", "subscribe")
    for e in ("/warehouse/robots_0", "/warehouse/robots_2", "/warehouse/robot_0"):
        for p in enclaves[e].iter("profile"):
            mine = p.get("ns")
            names = allowed(p, "topics", "publish") | allowed(p, "topics", "subscribe")
            assert f"{mine}/odom" in allowed(p, "topics", "publish")
            assert all(not n.startswith("/robot_") or n.startswith(mine + "/") for n in names), (mine, names)
            assert not {"/tasks", "/fleet/release"} & allowed(p, "topics", "publish")
