"""What-if: re-run our allocator and planner on a bag's recorded orders, without ROS.

The same core objects the nodes run (:class:`~warehouse_core.ops.operations.WarehouseOps` for
allocation, :class:`~warehouse_core.fleet.fleet_planner.FleetPlanner` for lifelong MAPF and release
gating, :class:`~warehouse_core.sim.floor_sim.FloorSim` for the kinematic floor and
:class:`~warehouse_core.robot.task_progress.TaskProgress` for step completion) are stepped in one
loop: the recorded orders arrive at their recorded creation times, the robots start where the
bag's odometry first saw them, and the run lasts as long as the bag. The KPIs come from the
same :mod:`warehouse_core.analysis.metrics` functions as a live run's report, so they compare with the
KPIs the analysis computes from the bag's events. The loop is deterministic: message delays,
stale robots and faults of the live graph are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from warehouse_core.analysis.fleet_record import RecordedOrder
from warehouse_core.analysis.metrics import RunRecord, operations_kpis, order_kpis
from warehouse_core.errors import InputError
from warehouse_core.fleet.fleet_planner import PLAN_ID, FleetPlanner
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops import operations
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.robot.task_progress import TaskProgress
from warehouse_core.sim.floor_sim import Battery, FloorSim, Kinematics, Waypoint
from warehouse_core.tasks import OP_PICK

COMPARED = ("orders_completed", "order_lines_picked", "throughput_lines_per_hour", "mean_order_cycle_s",
            "p95_order_cycle_s", "rack_visits", "picks_per_rack_visit", "robot_utilization",
            "deadline_misses", "parcels_shipped")


@dataclass
class WhatIfConfig:
    """The run's settings (from its ``params.yaml`` when there is one)."""

    layout: Path
    seed: int = 42
    skus: int = 500
    inventory_dir: str = ""
    ops: operations.OpsConfig = field(default_factory=operations.OpsConfig)
    kinematics: Kinematics = field(default_factory=Kinematics)
    charge_rate: float = 0.002
    tick: float = 0.2
    step_duration: float = 1.0
    window_steps: int = 5
    lookahead_steps: int = 1
    allocation_period: float = 1.0


def config_from_params(params: Path | None, layout: Path | None, policy: str = "") -> WhatIfConfig:
    """Settings from a run's ``params.yaml`` (node sections as in ``config/warehouse.yaml``)."""
    doc: dict = {}
    if params is not None and params.is_file():
        try:
            doc = yaml.safe_load(params.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(str(params), f"not YAML: {exc}", fix="pass the run's params.yaml") from None

    def section(name: str) -> dict:
        return (doc.get(name) or {}).get("ros__parameters") or {}

    common, alloc, sim, plan = section("/**"), section("task_allocator"), section("floor_simulator"), \
        section("mapf_planner")
    lay = layout or (Path(common["layout"]) if common.get("layout") else None)
    if lay is None:
        raise InputError(str(params or "the bag"), "no layout known for the re-run",
                         fix="pass --map LAYOUT (e.g. maps/warehouse_layout.yaml)")
    seed = int(common.get("seed", 42))
    ops_fields = {f: alloc[f] for f in operations.OpsConfig.__dataclass_fields__ if f in alloc and f != "seed"}
    try:
        ops_cfg = operations.OpsConfig(**ops_fields, seed=seed)
        if policy:
            ops_cfg = replace(ops_cfg, policy=policy)
    except (TypeError, ValueError) as exc:
        raise InputError(str(params), f"task_allocator parameters: {exc}") from None
    kin = Kinematics(float(sim.get("max_speed", 1.5)), float(sim.get("max_accel", 1.0)),
                     float(sim.get("turn_rate", math.pi / 2)))
    return WhatIfConfig(Path(lay), seed, int(common.get("skus", alloc.get("skus", 500))),
                        str(alloc.get("inventory_dir", "")), ops_cfg, kin, float(sim.get("charge_rate", 0.002)),
                        float(sim.get("tick", 0.2)), float(common.get("step_duration", 1.0)),
                        int(plan.get("window_steps", 5)), int(plan.get("lookahead_steps", 1)),
                        float(alloc.get("allocation_period", 1.0)))


def start_cells(layout, first_positions: dict[str, tuple[float, float]]) -> dict[str, Coord]:
    """Each robot's start cell from where the bag first saw it; refuses a layout that does not fit."""
    starts: dict[str, Coord] = {}
    for name, (x, y) in sorted(first_positions.items()):
        c = layout.world_to_cell(x, y)
        if not layout.grid.in_bounds(c) or not layout.grid.is_free(c):
            raise InputError(str(layout.source), f"{name} starts at ({x:.2f}, {y:.2f}) m, cell {c}, which is not "
                             "a free cell of this layout", fix="pass the run's layout with --map")
        if c in starts.values():
            raise InputError(str(layout.source), f"{name} starts on the same cell {c} as another robot",
                             fix="pass the run's layout with --map")
        starts[name] = c
    return starts


def simulate(cfg: WhatIfConfig, orders: list[RecordedOrder], first_positions: dict[str, tuple[float, float]],
             duration: float) -> dict:
    """Run allocator, planner and floor on ``orders`` for ``duration`` s; returns the KPIs."""
    run = _WhatIfRun(cfg, first_positions)
    queue = sorted(orders, key=lambda o: o.created)
    replayed = 0
    next_alloc = 0.0
    while run.sim.time < duration:
        now = run.sim.time
        while replayed < len(queue) and queue[replayed].created <= now:
            run.submit(queue[replayed], now)
            replayed += 1
        run.follow_robots(now)
        if now >= next_alloc - 1e-9:
            next_alloc += cfg.allocation_period
            run.allocate(now)
        run.plan_and_release(math.floor(now / cfg.step_duration + 1e-9))
        run.record_events()
        run.sim.step(cfg.tick)
    run.record_events()
    out = {**order_kpis(run.rec, duration), **operations_kpis(run.rec, duration, len(run.paths))}
    out["policy"] = cfg.ops.policy
    out["layout"] = str(cfg.layout)
    out["orders_replayed"] = replayed
    return out


class _WhatIfRun:
    """Allocator, fleet planner and floor simulator of one what-if re-run, stepped in process as
    the nodes step them over DDS."""

    def __init__(self, cfg: WhatIfConfig, first_positions: dict[str, tuple[float, float]]) -> None:
        self.layout = layout = load_layout(cfg.layout)
        inventory, placement = load_catalogue(layout, cfg.inventory_dir, cfg.skus, cfg.seed)
        self.ops = operations.WarehouseOps(layout, inventory, cfg.ops, placement=placement)
        racks = {layout.storage_by_id[loc].cell: rack for loc, rack in placement.items()}
        b = Battery()
        self.sim = FloorSim(cfg.kinematics, Battery(b.idle_per_s, b.moving_per_s, b.lifting_per_s, cfg.charge_rate),
                            racks=racks)
        starts = start_cells(layout, first_positions)
        for n, c in starts.items():
            self.sim.add_robot(n, c, *layout.cell_to_world(c))
        self.fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, cfg.step_duration, cfg.window_steps,
                                  cfg.lookahead_steps, cfg.seed)
        self.paths: dict[str, list[tuple[Coord, tuple[int, float]]]] = {n: [] for n in starts}
        self.sent = {n: 0 for n in starts}
        self.running: dict[str, tuple[str, TaskProgress]] = {}
        self.rec = RunRecord()

    def submit(self, o: RecordedOrder, now: float) -> None:
        self.rec.on_order(o.order_id, o.deadline)
        self.ops.submit(Order(o.order_id, o.consumer_id, tuple(OrderLine(s, q) for s, q in o.lines),
                              o.created, o.deadline, o.service), now)

    def follow_robots(self, now: float) -> None:
        """Progress of every robot to the planner and of every task to the allocator."""
        for n, r in self.sim.robots.items():
            if r.plan_id == PLAN_ID:
                self.fleet.report_progress(n, PLAN_ID, r.reached)
            cur = self.running.get(n)
            if cur is None:
                continue
            tid, prog = cur
            before = prog.completed
            done = prog.update(r.reached if r.plan_id == PLAN_ID else -1, r.op_left > 0)
            if done != before:
                self.ops.step_done(tid, done, now)
            if prog.done:
                self.ops.task_finished(tid, True, now)
                del self.running[n]

    def allocate(self, now: float) -> None:
        for n, r in self.sim.robots.items():
            self.ops.update_robot(n, r.cell, True, float(r.battery))
        self.ops.tick(now)
        for task in self.ops.assign(now):
            pick = next((i for i, s in enumerate(task.steps) if s.op == OP_PICK), -1)
            self.rec.on_task(task.task_id, len(task.lines), pick, task.type == operations.TYPE_CHARGE)
            self.fleet.request(task.robot, task.task_id, list(task.steps))
            prog = TaskProgress([(s.cell, s.op) for s in task.steps])
            prog.extend_path([], len(self.paths[task.robot]))
            self.running[task.robot] = (task.task_id, prog)

    def plan_and_release(self, step: int) -> None:
        """One planning round, and the released waypoints as drive commands."""
        for seg in self.fleet.plan(step):
            wps = seg.waypoints()
            self.paths[seg.robot].extend(wps)
            if seg.robot in self.running:
                self.running[seg.robot][1].extend_path([(c, op[0]) for c, op in wps], seg.first_index)
        for n, (idx, _why) in self.fleet.release_all(step).items():
            if idx > self.sent[n]:
                p = self.paths[n]
                self.sim.command(n, PLAN_ID, self.sent[n] + 1,
                                 [Waypoint(i, p[i][0], *self.layout.cell_to_world(p[i][0]), p[i][1][0], p[i][1][1])
                                  for i in range(self.sent[n] + 1, min(idx, len(p) - 1) + 1)])
                self.sent[n] = min(idx, len(p) - 1)

    def record_events(self) -> None:
        for ev in self.ops.drain_events():
            _record(self.rec, ev)


def _record(rec: RunRecord, ev) -> None:
    if isinstance(ev, operations.OrderEvent):
        rec.on_order_status(ev.order_id, ev.state, ev.lines_total, ev.time)
    elif isinstance(ev, operations.ParcelEvent):
        rec.on_parcel(list(ev.parcel.order_ids), ev.parcel.late)
    else:
        rec.on_task_status(ev.task.task_id, ev.state, ev.step_index, ev.time)


def compare(recorded: dict, rerun: dict) -> list[tuple[str, object, object, str]]:
    """(kpi, recorded, re-run, difference) for the KPIs both have."""
    rows = []
    for k in COMPARED:
        if k in recorded and k in rerun:
            a, b = recorded[k], rerun[k]
            diff = f"{(b - a) / a * 100:+.1f} %" if isinstance(a, (int, float)) and a else f"{b - a:+g}"
            rows.append((k, a, b, diff))
    return rows
