"""The central nodes as managed lifecycle nodes, over real processes (``warehouse_nodes.cli run``).

The lifecycle manager brings them up in the graph's order (each configured, then activated after
the ones before it: the manager's /diagnostics status lists the transitions); an operator's
``deactivate`` of the planner holds the fleet (no new releases: the robots stop at the end of what
was released to them while sim time goes on), ``activate`` resumes it, and the run ends with orders
completed and no collision.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse_core import topics
from warehouse_nodes.graph import CENTRAL

ROOT = Path(__file__).resolve().parents[1]
ORDER = list(CENTRAL)  # floor_simulator, mapf_planner, task_allocator, forecaster, order_source
DEACTIVATE_AT = 60.0  # [s, sim]
HELD_FOR = 40.0  # [s, sim] the planner stays inactive this long
SETTLE = 15.0  # [s, sim] after the deactivation: the robots have driven what was released (window_steps 5 s)


class Operator:
    """A test node: lifecycle services and transition events of the central nodes, clock, releases, positions."""

    def __init__(self) -> None:
        import rclpy
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.executors import SingleThreadedExecutor

        from warehouse_nodes import channels
        from warehouse_nodes import conversions as conv

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("lifecycle_test_operator", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.bring_up: dict[str, str] = {}  # the lifecycle manager's last /diagnostics status values
        self.sim_time = 0.0
        self.releases: list[tuple[float, int]] = []  # (wall time heard, entries)
        self.positions: dict[str, tuple[float, float]] = {}
        channels.subscription(self.node, topics.DIAGNOSTICS, self._on_diagnostics)
        channels.subscription(self.node, topics.CLOCK, lambda m: setattr(self, "sim_time", conv.from_time(m.clock)))
        channels.subscription(self.node, topics.FLEET_RELEASE,
                              lambda m: self.releases.append((time.monotonic(), len(m.robot_ids))))
        channels.subscription(self.node, topics.SIM_FLEET_STATE, self._on_fleet)
        self.get = {n: self.node.create_client(GetState, f"/{n}/get_state") for n in ORDER}
        self.change = {n: self.node.create_client(ChangeState, f"/{n}/change_state") for n in ORDER}

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name == "lifecycle_manager: bring-up":
                self.bring_up = {kv.key: kv.value for kv in status.values}

    def _on_fleet(self, msg) -> None:
        self.positions = {r: (msg.x[i], msg.y[i]) for i, r in enumerate(msg.robot_ids)}

    def spin_until(self, condition, timeout: float, run: subprocess.Popen) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and run.poll() is None:
            self.executor.spin_once(timeout_sec=0.05)
            if condition():
                return True
        return False

    def call(self, client, request, run: subprocess.Popen):
        assert client.wait_for_service(timeout_sec=10.0), client.srv_name
        future = client.call_async(request)
        assert self.spin_until(future.done, 10.0, run), client.srv_name
        return future.result()

    def state(self, name: str, run: subprocess.Popen) -> str:
        from lifecycle_msgs.srv import GetState
        return self.call(self.get[name], GetState.Request(), run).current_state.label

    def transition(self, name: str, transition_id: int, run: subprocess.Popen) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        return self.call(self.change[name], ChangeState.Request(transition=Transition(id=transition_id)), run).success

    def close(self) -> None:
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def moved(before: dict, after: dict) -> set[str]:
    return {r for r, (x, y) in after.items() if r in before and abs(x - before[r][0]) + abs(y - before[r][1]) > 1e-3}


def test_the_graph_comes_up_in_order_and_a_deactivated_planner_holds_the_fleet(tmp_path, ros_env):
    from lifecycle_msgs.msg import Transition

    operator = Operator()  # listening before the nodes exist: no transition event is missed
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "4", "--duration", "200",
                            "--seed", "5", "--out", str(out), "--quiet", "--max-rtf", "5"], cwd=ROOT,
                           env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        assert operator.spin_until(lambda: operator.sim_time >= DEACTIVATE_AT, 150.0, run), \
            f"sim time {operator.sim_time} s\n{run.stdout.read() if run.poll() is not None else ''}"
        # brought up in order: each node configured, then activated after the ones before it
        assert [operator.state(n, run) for n in ORDER] == ["active"] * len(ORDER)
        assert operator.spin_until(lambda: "transitions" in operator.bring_up, 10.0, run)
        asked = operator.bring_up["transitions"].split(", ")
        assert [t.split()[0] for t in asked if t.endswith(" activate")] == ORDER, asked
        for name in ORDER:  # each configured once, before it was activated
            assert asked.index(f"{name} configure") < asked.index(f"{name} activate"), asked
        assert len(asked) == 2 * len(ORDER), asked

        # the operator takes the planner down: no release from then on, the robots stop where released
        assert operator.transition("mapf_planner", Transition.TRANSITION_DEACTIVATE, run)
        down_at, down_wall = operator.sim_time, time.monotonic()
        assert operator.state("mapf_planner", run) == "inactive"
        assert operator.spin_until(lambda: operator.sim_time >= down_at + SETTLE, 60.0, run)
        settled = dict(operator.positions)
        assert operator.spin_until(lambda: operator.sim_time >= down_at + HELD_FOR, 60.0, run), \
            f"sim time stood at {operator.sim_time} s while the planner was inactive"
        assert not moved(settled, operator.positions), "robots drove on without releases"
        late = [n for wall, n in operator.releases if wall > down_wall + 1.0 and n > 0]
        assert not late, f"{len(late)} releases from an inactive planner"
        assert operator.state("mapf_planner", run) == "inactive"  # the manager leaves it down
        assert operator.bring_up["mapf_planner"] == "inactive"

        # activated again: it releases and the fleet drives on
        held = dict(operator.positions)
        assert operator.transition("mapf_planner", Transition.TRANSITION_ACTIVATE, run)
        up_wall = time.monotonic()
        assert operator.spin_until(lambda: any(w > up_wall and n > 0 for w, n in operator.releases), 30.0, run)
        assert operator.spin_until(lambda: bool(moved(held, operator.positions)), 60.0, run), "the fleet stayed held"
        run.wait(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        operator.close()
    output = run.stdout.read()
    assert run.returncode == 0, output
    report = json.loads((out / "report.json").read_text())
    assert report["orders_completed"] >= 3, report["orders_completed"]
    assert report["collisions"] == 0
    assert report["node_restarts"] == 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
