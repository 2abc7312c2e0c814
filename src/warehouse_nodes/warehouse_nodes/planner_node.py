"""MAPF planner node: collision-free timed paths for the fleet, released step by step.

Robots ask for a route through their task steps on ``/planner/requests``. Every
``planning_period`` the planner plans the waiting requests one by one against all committed
paths (prioritized space-time A*, :mod:`warehouse_core.spacetime`), publishes each new path
on ``/<robot>/path`` (and all of them batched on ``/fleet/plan``), then publishes how far
every robot may drive on ``/fleet/release`` (:mod:`warehouse_core.execution`): a robot
enters a cell only after the robots planned through it before have left, so delays cause
waits, never collisions. ``/planner/markers`` shows robots, racks, stations and paths.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

from warehouse_core.execution import TrafficController, WaitTracker
from warehouse_core.floor_sim import OP_DROP, OP_LIFT
from warehouse_core.layout import load_layout
from warehouse_core.spacetime import SpaceTimePlanner, Target
from warehouse_interfaces.msg import FleetPlan, FleetRelease, FleetWaits, PlanRequest, RobotState, TimedPath
from warehouse_interfaces.srv import ExplainWait
from warehouse_nodes import conversions as conv
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_node


@dataclass(frozen=True)
class PlannerConfig:
    layout: str = "maps/warehouse_layout.yaml"
    robots: int = 20
    step_duration: float = 1.0
    planning_period: float = 0.2
    lookahead_steps: int = 1
    marker_period: float = 1.0
    max_expansions: int = 60000


def path_qos() -> QoSProfile:
    """Paths are latched: a robot that (re)joins late still gets its current path."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class PlannerNode(Node):
    """Plans requested routes and releases them (see module docstring)."""

    def __init__(self) -> None:
        super().__init__("mapf_planner")
        self.cfg = declare_config(self, PlannerConfig)
        self.layout = load_layout(self.cfg.layout)
        self.grid = self.layout.grid
        self.planner = SpaceTimePlanner(self.grid, self.layout.storage_mask,
                                        max_expansions=self.cfg.max_expansions)
        self.traffic = TrafficController(lookahead=self.cfg.lookahead_steps)
        self.waits = WaitTracker()
        self.states: dict[str, RobotState] = {}
        self.requests: dict[str, PlanRequest] = {}
        self.plan_counter = 0
        self.rack_cells = {s.rack: s.cell for s in self.layout.storage if s.rack}
        self.last_markers = -1e9
        self.path_pubs = {}
        for i in range(self.cfg.robots):
            name = conv.robot_name(i)
            self.path_pubs[name] = self.create_publisher(TimedPath, f"/{name}/path", path_qos())
            self.create_subscription(RobotState, f"/{name}/state", self.on_state, 10)
        self.create_subscription(PlanRequest, "/planner/requests", self.on_request, 100)
        self.release_pub = self.create_publisher(FleetRelease, "/fleet/release", 10)
        self.plan_pub = self.create_publisher(FleetPlan, "/fleet/plan", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "/planner/markers", 1)
        self.wait_pub = self.create_publisher(FleetWaits, "/fleet/waits", 10)
        self.create_service(ExplainWait, "/planner/explain_wait", self.on_explain)
        self.timer = self.create_timer(self.cfg.planning_period, self.on_timer)

    def on_state(self, msg: RobotState) -> None:
        old = self.states.get(msg.robot_id)
        if old is not None and old.carrying_rack and not msg.carrying_rack:
            self.rack_cells[old.carrying_rack] = (msg.cell_x, msg.cell_y)
        self.states[msg.robot_id] = msg

    def on_request(self, msg: PlanRequest) -> None:
        self.requests[msg.robot_id] = msg

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_timer(self) -> None:
        now = self.now()
        step = math.floor(now / self.cfg.step_duration + 1e-9)
        self._sync_states(step)
        t0 = time.perf_counter()
        paths = self._plan_requests(step, now)
        elapsed = time.perf_counter() - t0
        results = self.traffic.release_all(step)
        releases = {n: (self.traffic.paths[n].plan_id, idx) for n, (idx, _why) in results.items()}
        self.release_pub.publish(conv.release_msg(releases, now))
        operating = {n for n, s in self.states.items() if s.mode in conv.OPERATION_MODES}
        changed = self.waits.update(now, self.traffic, {n: why for n, (_i, why) in results.items()},
                                    set(self.requests), operating)
        if changed:
            self.wait_pub.publish(FleetWaits(header=conv.header(now),
                                             waits=[conv.wait_to_msg(w, self.grid) for w in changed]))
        if paths:
            self.plan_pub.publish(FleetPlan(header=conv.header(now), paths=paths,
                                            planning_time_s=elapsed))
        if now - self.last_markers >= self.cfg.marker_period:
            self.last_markers = now
            self._publish_markers(now)

    def on_explain(self, request: ExplainWait.Request, response: ExplainWait.Response):
        status = self.waits.current.get(request.robot_id)
        response.known = status is not None
        if status is not None:
            response.status = conv.wait_to_msg(status, self.grid)
        return response

    def _sync_states(self, step: int) -> None:
        for name, st in self.states.items():
            if name not in self.traffic.paths:
                self.traffic.park(name, self.grid.index((st.cell_x, st.cell_y)), step)
            else:
                self.traffic.report_progress(name, st.plan_id, st.progress_index)

    def _plan_requests(self, step: int, now: float) -> list[TimedPath]:
        out = []
        for name in list(self.requests):
            path = self.traffic.paths.get(name)
            if path is None or not path.finished:
                continue  # not known yet, or still driving its last path
            req = self.requests[name]
            msg = self._plan_one(name, req, step, now)
            if msg is not None:
                del self.requests[name]
                self.path_pubs[name].publish(msg)
                out.append(msg)
        return out

    def _plan_one(self, name: str, req: PlanRequest, step: int, now: float) -> TimedPath | None:
        current = self.traffic.paths[name]
        start = self.grid.coord(current.cells[-1])
        loaded = bool(self.states[name].carrying_rack)
        targets, ops = [], []
        for s in req.steps:
            dwell = math.ceil(s.duration / self.cfg.step_duration - 1e-9)
            targets.append(Target((s.cell_x, s.cell_y), dwell, loaded))
            ops.append((int(s.op), float(s.duration)))
            if s.op == OP_LIFT:
                loaded = True
            elif s.op == OP_DROP:
                loaded = False
        start_step = max(step + self.traffic.margin, current.end_step)
        plan_id = self.plan_counter + 1
        result = self.traffic.replan(name, plan_id, lambda table: self.planner.plan(
            table, name, start, start_step, targets))
        if result is None:
            return None
        self.plan_counter = plan_id
        op_at = {a: ops[k] for k, a in enumerate(result.arrivals)}
        carrying, load = [], bool(self.states[name].carrying_rack)
        for i in range(len(result.cells)):
            carrying.append(load)
            op = op_at.get(i, (0, 0.0))[0]
            load = True if op == OP_LIFT else False if op == OP_DROP else load
        cells = [self.grid.coord(c) for c in result.cells]
        return conv.path_to_msg(self.layout, name, req.task_id, plan_id, cells,
                                result.start_step, self.cfg.step_duration, op_at, carrying, now)

    def _publish_markers(self, now: float) -> None:
        robots = {n: (s.x, s.y) for n, s in self.states.items()}
        carried = {s.carrying_rack for s in self.states.values()}
        racks = [c for r, c in self.rack_cells.items() if r not in carried]
        paths = {n: [self.grid.coord(c) for c in p.cells[p.progress:]]
                 for n, p in self.traffic.paths.items() if not p.finished}
        self.marker_pub.publish(conv.fleet_markers(self.layout, robots, racks, paths, now))


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
