"""Differential-drive bases as a vendor driver sees them: many bases stepped at once (numpy arrays).

ROS-free; :mod:`warehouse_nodes.base_sim_node` puts it behind the topics and action of a base driver.
Each base ``i`` has:

* **Ground truth** ``x, y, yaw`` in ``map`` (REP-103 units), moved by unicycle kinematics: the
  commanded ``(v, w)`` is reached within the acceleration limits and clipped to the speed limits.
* **Wheel odometry** in the base's own ``odom`` frame, which starts at the spawn pose (origin 0):
  integrated from measured velocities with a fixed per-base wheel scale error and a yaw-rate bias
  that walks at random, so the odometry's error grows without bound with distance and time, as on a
  real base; the reported pose adds white noise (:meth:`BaseSim.odometry`).
* **Localisation** (a scanner matcher or grid-code reader): every ``1 / loc_rate`` s a reading of
  the true pose in ``map`` with noise, stamped when measured and delivered ``loc_latency`` s later,
  or ``loc_late_s`` later with probability ``loc_late_prob`` (:meth:`BaseSim.step` returns them).
  Its error does not grow: a ``map -> odom`` correction from it
  (:class:`warehouse_core.robot.localisation.Localiser`) bounds the map pose error however far
  odometry drifts.
* **Battery** (state of charge 0..1): drains idle, more while moving and while the lift works
  (the floor simulator's :class:`~warehouse_core.sim.floor_sim.Battery` model); charges while
  docked. Docking succeeds only within ``charger_radius`` of a charger; driving off undocks.
* **Operations** (lift, drop, dock, undock; codes of ``warehouse_interfaces/action/BaseOperation``)
  take ``op_time`` s; a lift fails with probability ``lift_failure_prob`` (no rack on the lift); a
  protective stop aborts one in progress (``REJECTED_STOPPED``: nothing moved).
* **Protective stops**: start at random (``stops_per_hour`` per base, Poisson), last ``stop_s``;
  the wheels brake to a standstill at once and commands are ignored meanwhile.

One ``numpy.random.Generator`` seeded from ``seed`` draws everything, in a fixed order per step:
the same seed and inputs give the same bases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.sim.floor_sim import Battery

# warehouse_interfaces/action/BaseOperation (warehouse_core.robot.base_state has the same; a test compares)
LIFT, DROP, DOCK, UNDOCK = 1, 2, 3, 4
SUCCEEDED, FAILED, FAILED_TIMEOUT, REJECTED_STOPPED, REJECTED_BUSY = range(5)
NO_OP = 0
Pose = tuple[float, float, float]


@dataclass(frozen=True)
class BaseSimConfig:
    """How the simulated bases behave (REP-103 units; rates per simulated second unless named)."""

    max_speed: float = 1.5  # [m/s]
    max_accel: float = 2.0  # [m/s^2] of the motor controllers (a motion profile asks for less)
    turn_rate: float = math.pi / 2  # [rad/s] largest yaw rate
    max_angular_accel: float = 6.0  # [rad/s^2]
    substep: float = 0.02  # [s] integration step
    odom_scale_std: float = 0.01  # std of each base's wheel scale error (fraction of distance)
    odom_bias_walk: float = 0.0005  # [rad/s per sqrt(s)] random walk of the yaw-rate bias
    odom_noise: float = 0.005  # [m] std of the reported odometry position
    odom_yaw_noise: float = 0.002  # [rad] std of the reported odometry heading
    loc_rate: float = 5.0  # [Hz] localisation readings per base; 0: none
    loc_noise: float = 0.02  # [m] std of a reading's position
    loc_yaw_noise: float = 0.01  # [rad] std of a reading's heading
    loc_latency: float = 0.05  # [s] a reading is delivered this long after it was measured
    loc_late_prob: float = 0.05  # a reading comes late with this probability ...
    loc_late_s: float = 0.5  # [s] ... this long after it was measured
    battery: Battery = field(default_factory=Battery)
    battery_start: float = 1.0  # state of charge at start
    op_time: float = 1.0  # [s] a lift, drop, dock or undock
    lift_failure_prob: float = 0.01  # a lift ends with no rack on the lift
    charger_radius: float = 0.3  # [m] docking works this close to a charger
    stops_per_hour: float = 0.0  # protective stops per base and hour (Poisson)
    stop_s: float = 5.0  # [s] a protective stop lasts this long
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_speed", "max_accel", "turn_rate", "max_angular_accel", "substep"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BaseSimConfig.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("loc_late_prob", "lift_failure_prob", "battery_start"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"BaseSimConfig.{name} must be within 0..1, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Reading:
    """A localisation reading of base ``index``: pose in ``map`` measured at ``stamp``."""

    index: int
    stamp: float
    pose: Pose


@dataclass(frozen=True)
class OperationResult:
    """The answer to the operation base ``index`` was asked for."""

    index: int
    operation: int
    code: int
    rack_present: bool
    message: str = ""


@dataclass
class StepReport:
    """What one :meth:`BaseSim.step` produced besides the new state."""

    readings: list[Reading] = field(default_factory=list)
    results: list[OperationResult] = field(default_factory=list)
    stops_started: list[int] = field(default_factory=list)
    stops_cleared: list[int] = field(default_factory=list)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


class BaseSim:
    """``n`` bases at ``spawns`` (map poses; each base's odom origin); see the module docstring."""

    def __init__(self, spawns: list[Pose], config: BaseSimConfig | None = None,
                 chargers: list[tuple[float, float]] | None = None) -> None:
        cfg = self.cfg = config or BaseSimConfig()
        n = self.n = len(spawns)
        self.rng = np.random.default_rng(cfg.seed)
        self.time = 0.0
        self.spawn = np.array(spawns, dtype=float).reshape(n, 3)
        self.x, self.y, self.yaw = (self.spawn[:, k].copy() for k in range(3))
        self.v, self.w = np.zeros(n), np.zeros(n)  # achieved velocities
        self.v_cmd, self.w_cmd = np.zeros(n), np.zeros(n)
        self.ox, self.oy, self.oyaw = np.zeros(n), np.zeros(n), np.zeros(n)  # integrated odometry
        self.scale = 1.0 + self.rng.normal(0.0, cfg.odom_scale_std, n)  # wheel scale error, per base
        self.bias = np.zeros(n)  # [rad/s] yaw-rate bias of the odometry
        self.odometer = np.zeros(n)  # [m] true distance driven
        self.battery = np.full(n, float(cfg.battery_start))
        self.rack = np.zeros(n, dtype=bool)
        self.docked = np.zeros(n, dtype=bool)
        self.op = np.zeros(n, dtype=int)  # operation in progress (NO_OP: none)
        self.op_left = np.zeros(n)
        self.op_timeout = np.zeros(n, dtype=bool)  # the running operation ends in its timeout
        self.stop_left = np.zeros(n)  # [s] of protective stop left; > 0: stopped
        self.stops = np.zeros(n, dtype=int)  # protective stops so far
        self.chargers = np.array(chargers or [], dtype=float).reshape(-1, 2)
        period = 1.0 / cfg.loc_rate if cfg.loc_rate > 0 else math.inf
        self.next_reading = self.rng.uniform(0.0, period, n) if math.isfinite(period) else np.full(n, math.inf)
        self._pending: list[tuple[float, Reading]] = []  # (delivered at, reading)

    # -- inputs -------------------------------------------------------------------------
    def command(self, i: int, v: float, w: float) -> None:
        """Base ``i``'s velocity command (``cmd_vel``), clipped to the speed limits."""
        cfg = self.cfg
        self.v_cmd[i] = min(max(float(v), -cfg.max_speed), cfg.max_speed)
        self.w_cmd[i] = min(max(float(w), -cfg.turn_rate), cfg.turn_rate)

    def start_operation(self, i: int, operation: int, timeout: float = 0.0) -> OperationResult | None:
        """Ask base ``i`` for an operation; an immediate refusal is returned, else None (the answer
        comes from :meth:`step` after ``op_time``, or ``FAILED_TIMEOUT`` after a shorter ``timeout``
        with nothing done; 0: no limit)."""
        if operation not in (LIFT, DROP, DOCK, UNDOCK):
            return OperationResult(i, operation, FAILED, bool(self.rack[i]), f"unknown operation {operation}")
        if self.stop_left[i] > 0:
            return OperationResult(i, operation, REJECTED_STOPPED, bool(self.rack[i]), "protective stop")
        if self.op[i] != NO_OP:
            return OperationResult(i, operation, REJECTED_BUSY, bool(self.rack[i]), "another operation runs")
        self.op[i], self.op_left[i] = operation, self.cfg.op_time
        self.op_timeout[i] = 0.0 < timeout < self.cfg.op_time
        if self.op_timeout[i]:
            self.op_left[i] = timeout
        return None

    def set_stop(self, i: int, seconds: float) -> None:
        """A protective stop of base ``i`` for ``seconds`` from now (an operator's e-stop; 0 clears it)."""
        self.stop_left[i] = max(0.0, seconds)

    def set_time(self, t: float) -> None:
        """Start the bases' time at ``t`` (a simulator that joins a clock already running)."""
        self.next_reading += t - self.time
        self.time = t

    # -- outputs ------------------------------------------------------------------------
    def odometry(self, i: int) -> Pose:
        """Base ``i``'s reported odometry (odom frame): the integrated pose with white noise."""
        cfg = self.cfg
        nx, ny, nyaw = self.rng.normal(0.0, 1.0, 3)
        yaw = math.atan2(math.sin(self.oyaw[i] + cfg.odom_yaw_noise * nyaw),
                         math.cos(self.oyaw[i] + cfg.odom_yaw_noise * nyaw))
        return float(self.ox[i] + cfg.odom_noise * nx), float(self.oy[i] + cfg.odom_noise * ny), yaw

    def truth(self, i: int) -> Pose:
        return float(self.x[i]), float(self.y[i]), float(self.yaw[i])

    def stopped(self, i: int) -> bool:
        return bool(self.stop_left[i] > 0)

    # -- time ---------------------------------------------------------------------------
    def step(self, dt: float) -> StepReport:
        """Advance every base by ``dt`` seconds (in ``substep`` steps)."""
        report = StepReport()
        if dt <= 0:
            return report
        k = max(1, math.ceil(dt / self.cfg.substep - 1e-9))
        for _ in range(k):
            self._substep(dt / k, report)
        due = [r for t, r in self._pending if t <= self.time + 1e-9]
        self._pending = [(t, r) for t, r in self._pending if t > self.time + 1e-9]
        report.readings.extend(sorted(due, key=lambda r: (r.stamp, r.index)))
        return report

    def _substep(self, h: float, report: StepReport) -> None:
        self._stops(h, report)
        self._move(h)
        self._odometry(h)
        self._energy(h)
        self._operations(h, report)
        self.time += h
        self._localise()

    def _stops(self, h: float, report: StepReport) -> None:
        cfg = self.cfg
        was = self.stop_left > 0
        self.stop_left = np.maximum(0.0, self.stop_left - h)
        report.stops_cleared.extend(int(i) for i in np.flatnonzero(was & (self.stop_left <= 0)))
        start = self.rng.random(self.n) < cfg.stops_per_hour / 3600.0 * h
        start &= self.stop_left <= 0
        if start.any():
            self.stop_left[start] = cfg.stop_s
            self.stops[start] += 1
            report.stops_started.extend(int(i) for i in np.flatnonzero(start))
        now = self.stop_left > 0
        self.v[now] = self.w[now] = 0.0  # brakes: standstill at once, commands ignored
        self.v_cmd[now] = self.w_cmd[now] = 0.0

    def _move(self, h: float) -> None:
        cfg = self.cfg
        self.v += np.clip(self.v_cmd - self.v, -cfg.max_accel * h, cfg.max_accel * h)
        self.w += np.clip(self.w_cmd - self.w, -cfg.max_angular_accel * h, cfg.max_angular_accel * h)
        mid = self.yaw + 0.5 * self.w * h  # midpoint heading: exact enough for small steps
        self.x += self.v * np.cos(mid) * h
        self.y += self.v * np.sin(mid) * h
        self.yaw = _wrap(self.yaw + self.w * h)
        self.odometer += np.abs(self.v) * h
        moving = (np.abs(self.v) > 1e-3) | (np.abs(self.w) > 1e-3)
        self.docked &= ~moving  # driving off a charger undocks

    def _odometry(self, h: float) -> None:
        cfg = self.cfg
        self.bias += cfg.odom_bias_walk * math.sqrt(h) * self.rng.normal(0.0, 1.0, self.n)
        v_meas = self.v * self.scale
        w_meas = self.w * self.scale + self.bias * (np.abs(self.v) + np.abs(self.w) > 1e-3)
        mid = self.oyaw + 0.5 * w_meas * h
        self.ox += v_meas * np.cos(mid) * h
        self.oy += v_meas * np.sin(mid) * h
        self.oyaw = _wrap(self.oyaw + w_meas * h)

    def _energy(self, h: float) -> None:
        bat = self.cfg.battery
        moving = np.abs(self.v) > 1e-3
        lifting = (self.op == LIFT) | (self.op == DROP)
        use = bat.idle_per_s + bat.moving_per_s * moving + bat.lifting_per_s * lifting
        self.battery = np.clip(self.battery - use * h + bat.charge_per_s * h * self.docked, 0.0, 1.0)

    def _operations(self, h: float, report: StepReport) -> None:
        busy = self.op != NO_OP
        if not busy.any():
            return
        for i in np.flatnonzero(busy & (self.stop_left > 0)):  # a stop aborts it: nothing moved
            report.results.append(OperationResult(int(i), int(self.op[i]), REJECTED_STOPPED, bool(self.rack[i]),
                                                  "protective stop"))
            self.op[i] = NO_OP
        self.op_left[busy] -= h
        for i in np.flatnonzero((self.op != NO_OP) & (self.op_left <= 1e-9)):
            report.results.append(self._finish(int(i)))
            self.op[i] = NO_OP

    def _finish(self, i: int) -> OperationResult:
        op = int(self.op[i])
        if self.op_timeout[i]:
            return OperationResult(i, op, FAILED_TIMEOUT, bool(self.rack[i]), "not done within the timeout")
        if op == LIFT:
            if self.rng.random() < self.cfg.lift_failure_prob:
                self.rack[i] = False
                return OperationResult(i, op, FAILED, False, "lift jammed: no rack on the lift")
            self.rack[i] = True
        elif op == DROP:
            self.rack[i] = False
        elif op == DOCK:
            if not self._at_charger(i):
                return OperationResult(i, op, FAILED, bool(self.rack[i]), "no charger here: dock contacts open")
            self.docked[i] = True
        else:
            self.docked[i] = False
        return OperationResult(i, op, SUCCEEDED, bool(self.rack[i]))

    def _at_charger(self, i: int) -> bool:
        if not len(self.chargers):
            return True  # no charger positions given: every dock works
        d = np.hypot(self.chargers[:, 0] - self.x[i], self.chargers[:, 1] - self.y[i])
        return bool(d.min() <= self.cfg.charger_radius)

    def _localise(self) -> None:
        cfg = self.cfg
        due = np.flatnonzero(self.next_reading <= self.time + 1e-9)
        if not len(due):
            return
        noise = self.rng.normal(0.0, 1.0, (len(due), 3))
        late = self.rng.random(len(due)) < cfg.loc_late_prob
        for k, i in enumerate(due):
            yaw = math.atan2(math.sin(self.yaw[i] + cfg.loc_yaw_noise * noise[k, 2]),
                             math.cos(self.yaw[i] + cfg.loc_yaw_noise * noise[k, 2]))
            pose = (float(self.x[i] + cfg.loc_noise * noise[k, 0]), float(self.y[i] + cfg.loc_noise * noise[k, 1]),
                    yaw)
            delay = cfg.loc_late_s if late[k] else cfg.loc_latency
            self._pending.append((self.time + delay, Reading(int(i), self.time, pose)))
        self.next_reading[due] += 1.0 / cfg.loc_rate
