"""Simulated differential-drive base, for tests and benchmarks of the path tracker only.

A unicycle with what makes real bases hard to track: actuator latency (commands take effect
``latency`` s late), acceleration limits, wheel slip (the achieved velocity is the commanded
one scaled by ``1 - slip`` with noise, per axis) and noisy odometry (Gaussian noise on the
reported pose). Seeded, deterministic for one seed.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class PlantConfig:
    latency: float = 0.1  # s from command to actuation
    max_accel: float = 2.0  # m/s^2 of the motor controllers
    max_angular_accel: float = 6.0  # rad/s^2
    slip: float = 0.05  # mean fraction of commanded velocity lost
    slip_noise: float = 0.05  # std of the per-step slip fraction
    odom_noise: float = 0.01  # m, std of the reported position
    odom_yaw_noise: float = 0.01  # rad, std of the reported heading
    seed: int = 0


class DiffDrivePlant:
    """True pose ``(x, y, yaw)`` advanced by :meth:`step`; :meth:`odometry` reports it noisily."""

    def __init__(self, x: float, y: float, yaw: float, config: PlantConfig | None = None) -> None:
        self.cfg = config or PlantConfig()
        self.rng = random.Random(self.cfg.seed)
        self.x, self.y, self.yaw = x, y, yaw
        self.v = self.w = 0.0  # achieved
        self.t = 0.0
        self._queue: deque[tuple[float, float, float]] = deque()  # (apply_at, v, w)
        self._cmd = (0.0, 0.0)

    def command(self, v: float, w: float) -> None:
        """A velocity command issued now; it acts after the latency."""
        self._queue.append((self.t + self.cfg.latency, v, w))

    def step(self, dt: float) -> None:
        """Advance the true pose by ``dt`` seconds."""
        cfg = self.cfg
        while self._queue and self._queue[0][0] <= self.t + 1e-12:
            _, v, w = self._queue.popleft()
            self._cmd = (v, w)
        v_cmd, w_cmd = self._cmd
        dv, dw = cfg.max_accel * dt, cfg.max_angular_accel * dt
        v_act = min(max(v_cmd, self.v - dv), self.v + dv)
        w_act = min(max(w_cmd, self.w - dw), self.w + dw)
        self.v, self.w = v_act, w_act
        scale_v = 1.0 - max(0.0, self.rng.gauss(cfg.slip, cfg.slip_noise))
        scale_w = 1.0 - max(0.0, self.rng.gauss(cfg.slip, cfg.slip_noise))
        v_true, w_true = v_act * scale_v, w_act * scale_w
        self.yaw = (self.yaw + w_true * dt + math.pi) % (2 * math.pi) - math.pi
        self.x += v_true * math.cos(self.yaw) * dt
        self.y += v_true * math.sin(self.yaw) * dt
        self.t += dt

    def odometry(self) -> tuple[float, float, float]:
        """Reported pose: the true pose with noise."""
        n = self.cfg
        return (self.x + self.rng.gauss(0.0, n.odom_noise), self.y + self.rng.gauss(0.0, n.odom_noise),
                self.yaw + self.rng.gauss(0.0, n.odom_yaw_noise))

    @property
    def pose(self) -> tuple[float, float, float]:
        return self.x, self.y, self.yaw
