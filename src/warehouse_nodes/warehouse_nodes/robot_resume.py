"""A robot node taking its robot over mid-run, after the node (its robot container) died.

``./warehouse run`` starts a robot container again when its process dies. Its robot nodes learn
where they stand from the base, their plan from the planner's latched path segments, their task
from the allocator (which repeats a task its robot stopped reporting) with the steps done from
``/task_status`` (:mod:`warehouse_core.robot.resume`). Nothing is driven before the plan the base
is on is known again, and then only what the planner releases for that plan: no robot enters a
cell that was not released to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warehouse_core import topics
from warehouse_core.robot.resume import KEEP_BEHIND, PathPieces, TaskBook, TaskNote, lookback_start
from warehouse_core.robot.waypoint_window import WaypointWindow
from warehouse_interfaces.msg import RobotState, TaskStatus, TimedPath, TimedWaypoint
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv

if TYPE_CHECKING:
    from rclpy.node import Node

    from warehouse_nodes.robot_node import RobotNode

OPEN_STATES = (TaskStatus.STATE_QUEUED, TaskStatus.STATE_ASSIGNED, TaskStatus.STATE_ACTIVE)


def watch_task_status(host: Node, book: TaskBook) -> None:
    """Feed ``book`` from ``/task_status`` (latched: the history of the run so far comes first)."""
    channels.subscription(host, topics.TASK_STATUS, lambda m: book.record(
        m.task_id, m.robot_id, m.state in OPEN_STATES, int(m.step_index), conv.from_time(m.header.stamp)))


class RobotResume:
    """The take-over of one robot node (see module docstring)."""

    def __init__(self, node: RobotNode) -> None:
        self.node = node
        self.seen = False  # the base's first state has come
        self.taken_over = False  # this node took its robot over mid-run
        self.first_task = True  # no task begun yet: the next may be one the node before had begun
        self.resumed_task = False  # the current task was begun by the node before
        self.pieces: PathPieces[TimedWaypoint] = PathPieces()
        self.book: TaskBook | None = None
        self.task_book = self._own_task_book  # a robot container shares one among its robots
        self.since = 0.0  # [s, sim] of the base's first state
        self.anchor = (0, -1)  # (plan id, last waypoint reached) of the base's first state

    def on_base_state(self, base: RobotState) -> None:
        """The base's first state, and each one while the node has no path (before it becomes the
        node's state)."""
        if not self.seen:
            self.seen = True
            self.taken_over = base.plan_id > 0  # a planner gave the base a plan: the fleet is under way
            self.since = conv.from_time(base.header.stamp)
            self.anchor = (int(base.plan_id), int(base.progress_index))
            if self.taken_over:
                self.book = self.task_book()
                self.node.get_logger().warning(
                    f"taking {self.node.robot_id} over mid-run: plan {base.plan_id}, waypoint "
                    f"{base.progress_index}, cell ({base.cell_x}, {base.cell_y}), rack '{base.carrying_rack}'")
        self.adopt(base)

    def hold(self, msg: TimedPath) -> None:
        """A segment that does not start a plan, while the node has no path (latched history)."""
        self.pieces.add(msg.plan_id, msg.first_index, list(msg.waypoints))
        if self.seen:
            self.adopt(self.node.state)

    def adopt(self, base: RobotState) -> None:
        """Take the plan the base is on, from the segments held, once they cover where it stands."""
        node = self.node
        if node.path is not None or not self.taken_over or not len(self.pieces):
            return
        run = self.pieces.covering(base.plan_id, base.progress_index)
        if run is None:
            return
        first, waypoints = run
        path = TimedPath(header=base.header, robot_id=node.robot_id, plan_id=base.plan_id, first_index=0)
        window = WaypointWindow(waypoints, node.placeholder)
        window.offset = first  # the ones before were driven past
        path.waypoints = window
        node.path, node.sent = path, max(base.progress_index, 0)  # the base has what it reached
        self.pieces.clear()
        node.backend.on_path(path, True)
        node.get_logger().warning(f"{node.robot_id}: resumed plan {base.plan_id} at waypoint "
                                  f"{base.progress_index} (segments from waypoint {first})")
        if node.progress is not None:
            self.bind(node.progress, base)

    def bind(self, progress, base: RobotState) -> None:
        """Bind the steps not done to the node's path: a resumed task's from a few waypoints
        behind where the base stood when this node took over (it may have driven on since); a
        task begun since from the base's next waypoint; on a plan the base has not started, from
        the plan's start (a repair)."""
        path = self.node.path
        if base.plan_id != path.plan_id:
            start = 0
        elif self.resumed_task and self.anchor[0] == path.plan_id:
            first = path.waypoints.offset
            start = lookback_start([(w.cell_x, w.cell_y) for w in path.waypoints[first:self.anchor[1] + 1]],
                                   self.anchor[1], first)
        else:
            start = max(path.waypoints.offset, base.progress_index + 1)
        progress.rebind(start)
        progress.extend_path([((w.cell_x, w.cell_y), w.op) for w in path.waypoints[start:]], start)

    def forget_before(self, reached: int) -> int:
        """The first waypoint of plan the node keeps, the base having reached ``reached``: a few
        behind where it stood at the take-over while the task it may have begun is not bound (a
        step done but not reported may lie there)."""
        pending = self.first_task or (self.resumed_task and self.node.task_msg is not None)
        if not self.taken_over or not pending or self.node.path.plan_id != self.anchor[0]:
            return reached
        return min(reached, self.anchor[1] - KEEP_BEHIND)

    def steps_done(self, task_id: str) -> TaskNote | None:
        """A task that comes to this node for the first time: steps done by the node before it
        (always none, unless it took the robot over mid-run); None if not known yet (the
        allocator repeats the task: its ``/task_status`` history comes meanwhile)."""
        if not self.seen:  # a task follows the robot's first state: this one is early, it comes again
            return None
        if not (self.taken_over and self.first_task):
            return TaskNote(True, 0)
        return self.book.lookup(task_id) if self.book is not None else None

    def begun_before(self, note: TaskNote) -> bool:
        """Whether the task was given before this node took the robot over: the node before it
        may have begun it (its steps done count, its steps are planned already)."""
        return self.taken_over and self.first_task and note.since < self.since

    def begin(self, task_id: str, progress, done: int | None) -> None:
        """A task begins (``done`` not None: one the node before had begun, that many steps done)."""
        self.first_task = False
        self.resumed_task = done is not None
        path = self.node.path
        if done is None:  # only waypoints planned after this request can perform the task's operations
            progress.extend_path([], len(path.waypoints) if path else 0)
            return
        self.node.get_logger().warning(f"{self.node.robot_id}: resumed task {task_id} after {done} steps done")
        progress.resume(done, 0)  # its steps not done are on the plan already
        if path is not None:
            self.bind(progress, self.node.state)

    def _own_task_book(self) -> TaskBook:
        """The allocator's word on this robot's tasks (subscribed when first needed)."""
        book = TaskBook({self.node.robot_id})
        watch_task_status(self.node, book)
        return book
