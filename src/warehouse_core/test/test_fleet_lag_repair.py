"""Repair around a robot that is merely late, and the freeze watchdog (FleetPlanner).

A discrete executor on the real default layout: every step each robot drives at most one
released waypoint (with a 10 % chance of an extra one-step delay); injected stalls hold a robot
still. Every step checks that no two robots share a cell or swap; every robot works through
a fixed list of goals and must reach all of them. The executor spends a step on every
waypoint, planned waits included (real robots drive through the waits of a late plan at once),
so the planner runs without its lead bound here (``max_lead_steps=-1``), as it was written for.
"""

import random
from pathlib import Path

from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.maps.layout import load_layout
from warehouse_core.tasks import OP_PICK, TaskStep

LAYOUT = Path(__file__).resolve().parents[3] / "maps" / "warehouse_layout.yaml"
ROBOTS = 14
GOALS_EACH = 3


def _run(grid_drive, seed: int, lag_steps: int, timeout_steps: int, stall_at: int, stall_for: int,
         fail_at: int | None = None, horizon: int = 700, max_lead: int = -1) -> dict:
    """Run the scenario; the robot stalled at ``stall_at`` is one that is driving then."""
    layout = load_layout(LAYOUT)
    rng = random.Random(seed)
    free = layout.grid.free & ~layout.storage_mask
    aisle = sorted((int(x), int(y)) for y, x in zip(*free.nonzero()))
    cells = rng.sample(aisle, ROBOTS * (GOALS_EACH + 1))
    names = [f"r{i}" for i in range(ROBOTS)]
    starts = {n: cells[i] for i, n in enumerate(names)}
    goals = {n: cells[ROBOTS + i * GOALS_EACH: ROBOTS + (i + 1) * GOALS_EACH] for i, n in enumerate(names)}
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, 1.0, window=5, seed=seed,
                         repair_lag_steps=lag_steps, repair_timeout_steps=timeout_steps,
                         max_lead_steps=max_lead)
    drive = grid_drive(fleet, starts)  # checks every step: no two robots on a cell, no swap
    reached = {n: 0 for n in names}
    victim = ""
    failed = ""
    stalled_until = 0
    wait_run = {n: 0 for n in names}
    longest_wait_on_victim = 0

    def move(n: str, idx: int, progress: int) -> bool:
        held = (n == victim and t < stalled_until) or rng.random() < 0.1  # a stall, or a step's delay
        return not held and idx > progress

    for t in range(1, horizon):
        if t == stall_at:
            moving = [n for n in names if fleet.traffic.paths[n].released > drive.progress_of[n]
                      and drive.cell(n, drive.progress_of[n] + 1) != drive.pos[n]]
            victim = sorted(moving)[0]
            stalled_until = t + stall_for
        if fail_at is not None and t == fail_at:
            failed = sorted(n for n in names if n != victim)[0]
            assert fleet.fail(failed)
        for n in names:
            if n != failed and n not in drive.tasks and reached[n] < GOALS_EACH and not fleet.busy(n):
                drive.request(n, f"{n}-{reached[n]}", [TaskStep(goals[n][reached[n]], OP_PICK, 1.0)])
        drive.plan(t)
        results, finished = drive.drive(t, move, skip={failed})
        for n in finished:
            reached[n] += 1
        for n, (idx, why) in results.items():
            if n == failed or not drive.paths[n]:
                continue
            standing = why.kind == "robot" and why.blocker == victim and idx == drive.progress_of[n]
            wait_run[n] = wait_run[n] + 1 if standing and t < stalled_until else 0
            longest_wait_on_victim = max(longest_wait_on_victim, wait_run[n])
        if all(reached[n] == GOALS_EACH for n in names if n not in (failed, victim)) and t > stalled_until \
                and (victim == "" or reached[victim] == GOALS_EACH or stall_for >= horizon):
            break
    return {"fleet": fleet, "reached": reached, "victim": victim, "failed": failed, "steps": t,
            "longest_wait_on_victim": longest_wait_on_victim}


def test_late_robot_is_planned_around_and_everybody_reaches_all_goals(grid_drive):
    out = _run(grid_drive, seed=3, lag_steps=6, timeout_steps=30, stall_at=25, stall_for=90)
    fleet = out["fleet"]
    print("lag repairs", fleet.lag_repairs, "resumes", fleet.resumes, "events", fleet.events,
          "longest wait on the late robot", out["longest_wait_on_victim"], "steps", out["steps"])
    assert fleet.lag_repairs >= 1
    assert any(e.startswith(out["victim"]) and "lags its plan" in e for e in fleet.events)
    assert fleet.resumes >= 1  # the late robot was planned again once it caught up
    assert all(v == GOALS_EACH for v in out["reached"].values()), out["reached"]
    # robots queued behind the late robot stop waiting for it soon after the lag limit
    assert out["longest_wait_on_victim"] <= 6 + 12, out["longest_wait_on_victim"]
    assert fleet.freeze_timeouts == 0 and not fleet.suspended


def test_without_lag_repair_the_same_scenario_keeps_robots_waiting(grid_drive):
    """The scenario above needs the repair: without it robots wait for the stalled robot."""
    out = _run(grid_drive, seed=3, lag_steps=0, timeout_steps=30, stall_at=25, stall_for=90)
    assert out["fleet"].lag_repairs == 0
    assert out["longest_wait_on_victim"] >= 40, out["longest_wait_on_victim"]
    assert all(v == GOALS_EACH for v in out["reached"].values()), out["reached"]


def test_freeze_watchdog_suspends_a_robot_that_never_reaches_its_release(grid_drive):
    """A failure freezes the planner while another robot is stuck for good (never reported
    failed): after the timeout the stuck robot is suspended and the others are re-planned."""
    out = _run(grid_drive, seed=5, lag_steps=0, timeout_steps=20, stall_at=30, stall_for=10_000, fail_at=30,
               horizon=500)
    fleet = out["fleet"]
    victim = out["victim"]
    print("events", fleet.events, "reached", out["reached"], "steps", out["steps"])
    assert fleet.freeze_timeouts == 1
    assert victim in fleet.suspended
    assert any(e.startswith(victim) and "freeze of 20 steps" in e for e in fleet.events)
    assert fleet.repairs == 1 and not fleet.frozen
    others = [n for n in out["reached"] if n not in (victim, out["failed"])]
    assert all(out["reached"][n] == GOALS_EACH for n in others), out["reached"]
