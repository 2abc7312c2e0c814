"""How long simulated time waits for a robot container that falls behind.

Robot containers report on ``/sim/progress`` the last fleet state they handed to their robots.
While one lags more than ``max_lag`` simulated seconds the simulator holds time, so that its robots
never miss their base's state (a container slowed down by load catches up). A container that is
down (killed and not started again, a restart that fails, a hung process) would hold time for ever
and the run would never end, so a container that holds time for ``hold_limit`` wall-clock seconds
in a row is given up: time goes on without it, its robots are silent (their bases stop at the end of
what was sent to them, and the fleet treats silent robots as obstacles after its own stale limit).
Once it reports a fleet state again within ``max_lag`` of the current time (it came back and caught
up) time waits for it again like for any other. Wall clock on purpose: a held simulation does not
advance sim time, so only the wall clock can tell that a container is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_CONTAINER = re.compile(r"robots_(\d+)$")  # a robot container's /sim/progress name: robots_<first robot>


@dataclass
class NodeGate:
    """The robot containers time waits for (see the module docstring); ``hold_limit`` 0 waits for ever."""

    max_lag: float  # [s, sim] a container this far behind holds time
    hold_limit: float  # [s, wall] longest hold by one container before it is given up; 0: no limit
    progress: dict[str, float] = field(default_factory=dict)  # container -> stamp of its last fleet state
    given_up: set[str] = field(default_factory=set)
    behind_since: dict[str, float] = field(default_factory=dict)  # container -> wall time it began holding

    def heard(self, node: str, stamp: float, sim_time: float) -> bool:
        """Container ``node`` handled the fleet state of ``stamp``; True when a given-up container is
        back (caught up with ``sim_time``): time waits for it again."""
        self.progress[node] = stamp
        if node in self.given_up and sim_time - stamp <= self.max_lag:
            self.given_up.discard(node)
            return True
        return False

    def holds(self, sim_time: float, wall: float) -> tuple[bool, list[str]]:
        """Whether time must wait for some container at ``sim_time``, and the containers given up now
        (their hold reached ``hold_limit`` at wall time ``wall``)."""
        behind = [n for n, t in self.progress.items() if n not in self.given_up and sim_time - t > self.max_lag]
        for node in [n for n in self.behind_since if n not in behind]:
            del self.behind_since[node]
        if not behind:
            return False, []
        dropped = []
        if self.hold_limit > 0:
            for node in behind:
                if wall - self.behind_since.setdefault(node, wall) >= self.hold_limit:
                    dropped.append(node)
            for node in dropped:
                self.given_up.add(node)
                del self.behind_since[node]
        return len(dropped) < len(behind), dropped


def container_robots(node: str, nodes: Iterable[str], robots: Sequence[str]) -> list[str]:
    """The robots of container ``node`` (``robots_<first>``, as ``./warehouse run`` names them: each
    hosts the robots from its first up to the next container's first); ``robots`` by index. Empty
    for a name of another form."""
    match = _CONTAINER.match(node)
    if match is None:
        return []
    first = int(match.group(1))
    later = sorted(int(m.group(1)) for m in map(_CONTAINER.match, nodes) if m and int(m.group(1)) > first)
    return list(robots[first:later[0] if later else len(robots)])
