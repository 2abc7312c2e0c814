"""A robot's plan in bounded memory: waypoints by absolute index, the driven-past ones forgotten.

A robot keeps the waypoints of its current plan, indexed from the plan's start (the planner
and the base count progress that way), while the plan grows by a segment every planning
round for as long as the robot keeps it, possibly the whole run. Waypoints the base has
driven past are never needed again. Replacing them by one shared placeholder (the first fix)
still kept one list slot per waypoint: 8 bytes a second per robot, about 2.9 MB per simulated
hour at 100 robots. :class:`WaypointWindow` drops them: it holds the waypoints from
:attr:`WaypointWindow.offset` on, and reads every index below it as the placeholder, so code
that indexes, slices or iterates the plan sees exactly what the placeholder list showed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class WaypointWindow(Sequence[T], Generic[T]):
    """Waypoints ``0 .. len - 1``; those before :attr:`offset` are forgotten (read as ``placeholder``)."""

    def __init__(self, items: Iterable[T], placeholder: T) -> None:
        self.offset = 0
        self.items: list[T] = list(items)
        self.placeholder = placeholder

    def __len__(self) -> int:
        return self.offset + len(self.items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1 and start >= self.offset:
                return self.items[start - self.offset:max(start, stop) - self.offset]
            return [self[i] for i in range(start, stop, step)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"waypoint {index} of {len(self)}")
        return self.items[index - self.offset] if index >= self.offset else self.placeholder

    def __iter__(self) -> Iterator[T]:
        for _ in range(self.offset):
            yield self.placeholder
        yield from self.items

    def extend(self, items: Iterable[T]) -> None:
        self.items.extend(items)

    def append(self, item: T) -> None:
        self.items.append(item)

    def forget_before(self, index: int) -> None:
        """Waypoints before ``index`` are not needed any more (the base has driven past them)."""
        drop = min(index, len(self)) - self.offset
        if drop > 0:
            del self.items[:drop]
            self.offset += drop
