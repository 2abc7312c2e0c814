"""The fleet planner keeps each robot's plan close to the robot (``max_lead_steps``).

Plans assume one cell per step; a robot that falls behind (turning, accelerating, a stall)
must not have its plan, and the visit order the plan commits at shared cells, run away from
where it really is. The last test runs the large layout's stations on the kinematic floor
(turns, acceleration, real pick times of 3 s + 4 s per line) and checks that every robot with a
task makes progress within 60 simulated seconds.
"""

import math
import random
from collections import Counter
from pathlib import Path

from warehouse_core.fleet.fleet_planner import MAX_LEAD_STEPS, PLAN_ID, FleetPlanner
from warehouse_core.fleet.progress_watch import ProgressWatch
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.floor_sim import FloorSim, Kinematics
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK, TaskStep

MAPS = Path(__file__).resolve().parents[3] / "maps"


def _frozen_robot_run(max_lead: int) -> tuple[FleetPlanner, int]:
    """Four robots with far goals; ``r0`` never drives. Returns the planner and r0's moves ahead."""
    layout = load_layout(MAPS / "warehouse_layout.yaml")
    free = layout.grid.free & ~layout.storage_mask
    aisle = sorted((int(x), int(y)) for y, x in zip(*free.nonzero()))
    starts = {f"r{i}": aisle[i * 7] for i in range(4)}
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, 1.0, window=5, seed=0,
                         max_lead_steps=max_lead)
    for i, n in enumerate(starts):
        fleet.request(n, f"T{n}", [TaskStep(aisle[-1 - i * 9], OP_PICK, 1.0)])
    for t in range(1, 80):
        fleet.plan(t)
        for n, (idx, _why) in fleet.release_all(t).items():
            if n != "r0":
                fleet.report_progress(n, PLAN_ID, idx)  # the others drive whatever is released
    return fleet, fleet._moves_ahead()["r0"]


def test_a_robot_that_does_not_drive_is_planned_no_further_than_the_lead_bound():
    fleet, ahead = _frozen_robot_run(MAX_LEAD_STEPS)
    assert ahead <= fleet.window + MAX_LEAD_STEPS
    assert fleet.lead_holds > 50
    others = [n for n in ("r1", "r2", "r3") if fleet.robots[n].current is None]
    assert len(others) == 3  # they were planned to their goals all the same


def test_without_the_bound_the_plan_runs_away_from_a_robot_that_does_not_drive():
    fleet, ahead = _frozen_robot_run(-1)
    assert fleet.lead_holds == 0
    assert ahead > 20


def test_large_layout_stations_on_the_kinematic_floor_nobody_with_a_task_waits_a_minute(floor_drive):
    """24 robots, 12 stations with admission (at most 4 visits each), picks of 1-10 lines."""
    layout = load_layout(MAPS / "warehouse_large_layout.yaml")
    rng = random.Random(5)
    racks = [s for s in layout.storage if s.rack]
    starts = {f"r{i:02d}": s.cell for i, s in enumerate(rng.sample(racks, 24))}
    sim = FloorSim(Kinematics(), racks={s.cell: s.rack for s in racks})
    for n, c in starts.items():
        sim.add_robot(n, c, *layout.cell_to_world(c))
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, 1.0, window=5, seed=1)
    drive = floor_drive(fleet, sim, layout.cell_to_world)
    heading_to: dict[str, str] = {}
    load: Counter = Counter()
    watch = ProgressWatch(60.0)
    done = 0
    for tick in range(int(300 / 0.2)):
        step = math.floor(sim.time + 1e-9)
        for n, r in sim.robots.items():
            finished = drive.progress(n, drive.reached(n), r.op_left > 0)
            if n in heading_to and (finished or drive.tasks[n].completed >= 2):  # past the pick
                load[heading_to.pop(n)] -= 1
            done += finished
            if n not in drive.tasks and not fleet.busy(n):
                open_stations = [s for s in layout.stations if load[s.id] < 4]
                if not open_stations:
                    continue
                st = min(open_stations, key=lambda s: (load[s.id], rng.random()))
                taken = {c for t in drive.tasks.values() for c, _op in t.step_cells}
                src = rng.choice([s for s in racks if s.cell in sim.racks and s.cell not in taken])
                dst = rng.choice([s for s in layout.storage if s.cell not in sim.racks and s.cell not in taken])
                pick_s = 3.0 + 4.0 * rng.randint(1, 10)
                drive.request(n, f"T{tick}{n}", [TaskStep(src.cell, OP_LIFT, 2.0),
                                                 TaskStep(st.pick_cell, OP_PICK, pick_s),
                                                 TaskStep(dst.cell, OP_DROP, 2.0)])
                heading_to[n] = st.id
                load[st.id] += 1
        drive.plan(step)
        drive.release(step)
        sim.step(0.2)
        for n, r in sim.robots.items():
            task = drive.tasks.get(n)
            watch.update(n, sim.time, str(id(task)) if task else "", r.cell, r.plan_id, r.reached, r.op_left > 0)
    print("tasks done", done, "longest wait", watch.longest())
    assert done >= 15, done
    assert watch.stuck_episodes == [], (watch.stuck_episodes, watch.longest())
