"""Which robots have gone silent: no state for a while in both wall-clock and fleet time.

A robot node that stops publishing (crashed, off the network) is out of service after
``after`` seconds. Wall-clock time alone is wrong in simulation: when the simulator waits
for an overloaded process, every robot of that process is silent in wall time while the
world stands still, and declaring them failed would re-plan others through cells they still
occupy. Fleet (sim) time alone is wrong too: a paused simulation would hide a dead node. So a
robot is silent only when both clocks have moved on by ``after`` seconds since its last state.
On physical robots the two clocks are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SilenceWatch:
    """Last report of each robot on both clocks; :meth:`silent` lists those gone quiet."""

    after: float  # [s] of silence on both clocks; 0 or less: never silent
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)  # robot -> (wall, fleet time)

    def heard(self, robot: str, wall: float, fleet_time: float) -> None:
        self.seen[robot] = (wall, fleet_time)

    def silent(self, wall: float, fleet_time: float) -> list[tuple[str, float]]:
        """Robots silent for ``after`` seconds on both clocks, with their wall-clock silence."""
        if self.after <= 0:
            return []
        return [(robot, wall - w) for robot, (w, t) in sorted(self.seen.items())
                if wall - w > self.after and fleet_time - t > self.after]
