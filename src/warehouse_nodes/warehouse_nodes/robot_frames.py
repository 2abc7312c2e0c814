"""A robot node's frames (REP-105, REP-103): odometry in ``<robot>/odom``, the map pose, ``map -> odom``.

* ``/<robot>/odom`` (nav_msgs/Odometry, frame ``<robot>/odom``, child ``<robot>/base_link``): with
  the ``floor_sim`` backend the node publishes it as a base driver would, continuous, its origin
  at the robot's initial pose (so ``odom`` is not ``map``). A hardware base publishes its own
  odometry (``odom_topic``): the node does not duplicate it.
* ``/<robot>/map_pose`` (geometry_msgs/PoseWithCovarianceStamped in ``map``): the odometry pose
  with the ``map -> odom`` correction, every ``odom_period``.
* The correction comes from a localisation source, ``localisation_topic`` (PoseWithCovarianceStamped
  in ``map``, the ``amcl_pose`` convention; :class:`warehouse_core.robot.localisation.Localiser`
  matches each reading to the odometry at its stamp). Without one it is the initial pose, which the
  robot's ``/diagnostics`` says.
* ``map -> <robot>/odom`` goes out as ``geometry_msgs/TransformStamped`` on ``/<robot>/map_to_odom``
  whenever it changes (latched), and, where ``tf2_msgs`` is installed, on ``/tf``: one
  ``tf2_msgs/TFMessage`` per process and period with every robot's transforms (:class:`TfBatch`,
  what tf2_ros's broadcaster sends, batched: at 500 robots one message instead of 500).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.robot.localisation import Localiser, Pose, compose, inverse
from warehouse_interfaces.msg import RobotState
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv

if TYPE_CHECKING:
    from warehouse_nodes.robot_node import RobotNode


def yaw_of(q) -> float:
    """The yaw of a planar quaternion."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def transform(stamp: float, parent: str, child: str, pose: Pose) -> TransformStamped:
    """``parent -> child`` = ``pose`` as a TransformStamped."""
    msg = TransformStamped(header=conv.header(stamp, parent), child_frame_id=child)
    msg.transform.translation.x, msg.transform.translation.y = pose[0], pose[1]
    msg.transform.rotation = conv.yaw_to_quaternion(pose[2])
    return msg


class TfBatch:
    """The ``/tf`` transforms of every robot of one process, published as one TFMessage a period.

    ``pub``: the ``/tf`` publisher; ``message``: the TFMessage class (:func:`tf_batch` makes both).
    """

    def __init__(self, pub, message: Callable[..., object], period: float) -> None:
        self.message = message
        self.period = period
        self.pub = pub
        self.latest: dict[tuple[str, str], TransformStamped] = {}  # (parent, child) -> transform
        self.last = -1e9
        self.sent = 0

    def put(self, tf: TransformStamped) -> None:
        self.latest[(tf.header.frame_id, tf.child_frame_id)] = tf

    def flush(self, now: float) -> bool:
        """Publish every transform, restamped ``now``, when a period has passed; True if it did."""
        if not self.latest or (0 <= now - self.last < self.period - 1e-3):
            return False
        stamp = conv.to_time(now)
        for tf in self.latest.values():
            tf.header.stamp = stamp
        self.pub.publish(self.message(transforms=list(self.latest.values())))
        self.last = now
        self.sent += 1
        return True


def tf_batch(node: Node, period: float) -> TfBatch | None:
    """A :class:`TfBatch` on ``node`` when tf2_msgs is installed, else None."""
    cls = channels.message_class(topics.TF.msgtype)
    return TfBatch(channels.publisher(node, topics.TF), cls, period) if cls is not None else None


class RobotFrames:
    """Odometry, map pose and ``map -> odom`` of one robot node (see the module docstring)."""

    def __init__(self, node: RobotNode, tf: TfBatch | None = None) -> None:
        cfg = node.cfg
        self.node = node
        self.rid = node.robot_id
        self.odom_frame, self.base_frame = f"{self.rid}/odom", f"{self.rid}/base_link"
        self.driver_odom = cfg.drive_backend != "floor_sim"  # the base publishes its odometry
        self.loc = Localiser(initial=tuple((list(cfg.map_to_odom) + [0.0] * 3)[:3]))
        # floor_sim: inverse of where the robot first stood, odometry's start (learnt from its state)
        self.origin: Pose | None = None
        self.tf = tf
        self.sent_correction: Pose | None = None
        no_events = {"event_callbacks": conv.no_pub_events()}
        self.odom_pub = None if self.driver_odom else \
            channels.publisher(node, topics.ROBOT_ODOM, topics.ROBOT_ODOM.relative, **no_events)
        self.pose_pub = channels.publisher(node, topics.ROBOT_MAP_POSE, topics.ROBOT_MAP_POSE.relative, **no_events)
        self.tf_pub = channels.publisher(node, topics.ROBOT_MAP_TO_ODOM, topics.ROBOT_MAP_TO_ODOM.relative,
                                         **no_events)
        self.localised = bool(cfg.localisation_topic)
        self.first_odom_wall: float | None = None  # [s, monotonic] see pose_unknown
        if self.localised:
            channels.subscription(node, topics.ROBOT_LOCALISATION, self.on_localisation, cfg.localisation_topic,
                                  event_callbacks=conv.no_sub_events())

    # -- inputs -------------------------------------------------------------------------------
    def on_localisation(self, msg: PoseWithCovarianceStamped) -> None:
        """A localisation reading: ``map -> odom`` from it and the odometry at its stamp."""
        if msg.header.frame_id not in ("map", "/map"):
            self.node.get_logger().warning(
                f"localisation reading in frame {msg.header.frame_id!r} ignored: expected 'map'",
                throttle_duration_sec=10.0)
            return
        p, t = msg.pose.pose, conv.from_time(msg.header.stamp)
        if not self.loc.on_localised(t, (p.position.x, p.position.y, yaw_of(p.orientation))) \
                and self.loc.pending is None:  # not one waiting for its odometry
            newest = self.loc.history.newest
            self.node.get_logger().warning(
                f"localisation reading stamped {t:.2f} s ignored: no odometry near that time (newest "
                f"{newest[0] if newest else 'none'}); map -> odom kept ({self.loc.correction.rejected} ignored so far)",
                throttle_duration_sec=10.0)

    def pose_unknown(self) -> bool:
        """A base's own odometry with a localisation topic and no reading matched yet, for at most
        ``localisation_wait`` s after its first odometry: its map pose would be the configured
        initial pose, likely not where it stands. Its robot node reports no state meanwhile (the
        planner would start it from a wrong cell); warns while it waits."""
        if not (self.driver_odom and self.localised) or self.loc.correction.localised:
            return False
        wall = time.monotonic()
        self.first_odom_wall = self.first_odom_wall or wall
        if wall - self.first_odom_wall >= self.node.cfg.localisation_wait:
            return False
        self.node.get_logger().warning(
            f"waiting up to {self.node.cfg.localisation_wait:g} s for the first localisation reading on "
            f"{self.node.resolve_topic_name(self.node.cfg.localisation_topic)}: no state reported until then",
            throttle_duration_sec=10.0)
        return True

    def driver_odom_to_map(self, t: float, odom_pose: Pose) -> Pose:
        """A hardware base's odometry pose at ``t``, in ``map`` (recorded for matching readings)."""
        return self.loc.on_odom(t, odom_pose)

    def on_base_state(self, state: RobotState, due: bool) -> None:
        """Every base state; ``due``: an odometry period has passed (publish)."""
        if self.driver_odom:  # the state's pose is already the map pose (driver_odom_to_map)
            if due:
                self._publish_pose(state, (state.x, state.y, state.theta))
            return
        if not (due or self.localised):
            return
        truth = (state.x, state.y, state.theta)
        if self.origin is None:  # the simulated base's odometry starts here (its odom frame's origin)
            self.origin = inverse(truth)
            self.loc.set_initial(truth)
        odom_pose = compose(self.origin, truth)
        map_pose = self.loc.on_odom(conv.from_time(state.header.stamp), odom_pose)
        if due:
            self._publish_odom(state, odom_pose)
            self._publish_pose(state, map_pose)

    def localisation(self, now: float) -> tuple[bool, bool]:
        """(map -> odom from a localisation reading, the readings stopped: none for
        ``localisation_stale`` s) at sim time ``now``, for ``/diagnostics``."""
        _, stale = self.loc.status(now, self.node.cfg.localisation_stale)
        return self.loc.correction.localised, stale

    # -- outputs --------------------------------------------------------------------------------
    def _publish_odom(self, state: RobotState, pose: Pose) -> None:
        if self.tf is not None:
            self.tf.put(transform(0.0, self.odom_frame, self.base_frame, pose))
        if not self.odom_pub.get_subscription_count():  # nobody listening (--bag-odom off): no message
            return
        msg = Odometry(header=conv.header(0.0, self.odom_frame), child_frame_id=self.base_frame)
        msg.header.stamp = state.header.stamp
        msg.pose.pose.position.x, msg.pose.pose.position.y = pose[0], pose[1]
        msg.pose.pose.orientation = conv.yaw_to_quaternion(pose[2])
        msg.twist.twist.linear.x = state.linear_velocity
        self.odom_pub.publish(msg)

    def _publish_pose(self, state: RobotState, pose: Pose) -> None:
        now = conv.from_time(state.header.stamp)
        if self.pose_pub.get_subscription_count():
            msg = PoseWithCovarianceStamped(header=conv.header(0.0))
            msg.header.stamp = state.header.stamp
            msg.pose.pose.position.x, msg.pose.pose.position.y = pose[0], pose[1]
            msg.pose.pose.orientation = conv.yaw_to_quaternion(pose[2])
            self.pose_pub.publish(msg)
        correction = self.loc.correction.map_to_odom
        if correction != self.sent_correction:
            self.sent_correction = correction
            self.tf_pub.publish(transform(now, conv.MAP_FRAME, self.odom_frame, correction))
        if self.tf is not None:
            self.tf.put(transform(now, conv.MAP_FRAME, self.odom_frame, correction))
            if not self.node.shared_inputs:  # on its own: its batch is its own (a container flushes its)
                self.tf.flush(now)
