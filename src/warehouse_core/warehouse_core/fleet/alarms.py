"""Alarms an operator must see: deadlocks, failures, stops, low batteries, operator halts.

:class:`AlarmLog` keeps the most recent alarms with increasing ids, so a live client asks for
those after the last id it has. Robot alarms are raised on a change only (a robot entering a
protective stop, failing, falling below the low-battery level), never once per state message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

LOW_BATTERY = 0.2  # state of charge below which a robot raises an alarm


@dataclass(frozen=True)
class Alarm:
    """One alarm: ``id`` increases, ``time`` is sim time, ``kind`` one of deadlock, failure,
    stop, battery, operator, and ``robot`` empty for the fleet."""

    id: int
    time: float
    kind: str
    robot: str
    message: str

    def to_json(self) -> dict:
        return asdict(self)


class AlarmLog:
    """The last ``keep`` alarms (see the module docstring)."""

    def __init__(self, keep: int = 500, low_battery: float = LOW_BATTERY) -> None:
        self.alarms: deque[Alarm] = deque(maxlen=keep)
        self.low_battery = low_battery
        self.next_id = 1
        self._robots: dict[str, tuple[str, bool]] = {}  # robot -> (mode, low battery) last seen

    def add(self, time: float, kind: str, robot: str, message: str) -> Alarm:
        alarm = Alarm(self.next_id, time, kind, robot, message)
        self.next_id += 1
        self.alarms.append(alarm)
        return alarm

    def observe_robot(self, time: float, robot: str, mode: str, battery: float) -> None:
        """A robot's state (``mode`` by name: stopped, failed...): alarms on entering a stop, a
        failure or a low battery."""
        low = battery < self.low_battery
        old_mode, was_low = self._robots.get(robot, ("", False))
        self._robots[robot] = (mode, low)
        if mode != old_mode and mode == "stopped":
            self.add(time, "stop", robot, f"{robot}: protective or emergency stop reported by the base")
        elif mode != old_mode and mode == "failed":
            self.add(time, "failure", robot, f"{robot} failed")
        if low and not was_low:
            self.add(time, "battery", robot, f"{robot}: battery at {battery:.0%}")

    def after(self, last_id: int) -> list[Alarm]:
        """Alarms with an id above ``last_id``, oldest first."""
        return [a for a in self.alarms if a.id > last_id]
