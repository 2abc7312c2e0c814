"""What differs between the ROS 2 distros the nodes run on (Jazzy, Kilted), decided in one place.

The nodes are the same code on every distro; where a distro changed a message layout or a
convention the code uses, the choice is made here, at run time, so no other module compares
distro names:

* ``cmd_vel``: Jazzy's ``ros_gz_bridge`` and diff-drive controllers take ``geometry_msgs/Twist``;
  Kilted and later take ``TwistStamped`` (:func:`cmd_vel_stamped`).
* Nav2 ``NavigateThroughPoses``: the goal's ``poses`` is ``geometry_msgs/PoseStamped[]`` on
  Jazzy and a ``nav_msgs/Goals`` (header + ``goals``) from Kilted on. The layout is read from
  the goal object itself (a feature probe), so a backport or a mixed install is handled too
  (:func:`set_through_poses`, :func:`through_poses_layout`).
* Nav2 ``FollowPath``: ``progress_checker_id`` (Jazzy and later) and the result's ``error_code``
  and ``error_msg`` are read or set only where the layout has them (:func:`set_follow_path`,
  :func:`action_error`).

The distro is ``ROS_DISTRO`` when set (every distro's ``setup.bash`` and this workspace's
``scripts/env.sh`` export it); otherwise a probe of the installed rclpy distribution (the
PyPI wheels: ``ros-jazzy-rclpy`` for Jazzy, ``ros-rclpy`` 9.x for Kilted).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

JAZZY = "jazzy"
KILTED = "kilted"
# Distros in release order; later ones inherit the newest convention.
RELEASE_ORDER = ("humble", "iron", JAZZY, KILTED, "lyrical", "rolling")
# Major version of rclpy per distro, for the probe when ROS_DISTRO is not set.
RCLPY_MAJOR = {7: JAZZY, 9: KILTED}


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def detect(environ: Mapping[str, str] | None = None,
           version_of: Callable[[str], str | None] = _installed_version) -> str:
    """The ROS 2 distro this process runs on (lower case); ``kilted`` when nothing tells.

    ``environ`` and ``version_of`` (distribution name -> version or None) are injectable for tests.
    """
    env = os.environ if environ is None else environ
    named = env.get("ROS_DISTRO", "").strip().lower()
    if named:
        return named
    if version_of("ros-jazzy-rclpy"):
        return JAZZY
    version = version_of("ros-rclpy") or version_of("ros-kilted-rclpy")
    if version:
        major = int(version.split(".", 1)[0])
        return RCLPY_MAJOR.get(major, KILTED)
    return KILTED


def is_at_least(distro: str, reference: str) -> bool:
    """True when ``distro`` is ``reference`` or newer; an unknown name counts as newest (rolling)."""
    order = {name: i for i, name in enumerate(RELEASE_ORDER)}
    return order.get(distro, len(RELEASE_ORDER)) >= order[reference]


def cmd_vel_stamped(distro: str | None = None) -> bool:
    """Whether ``cmd_vel`` is ``TwistStamped`` on ``distro`` (default: the running one)."""
    return is_at_least(distro or detect(), KILTED)


def cmd_vel_type(distro: str | None = None) -> str:
    """The ROS type name of ``cmd_vel`` on ``distro`` (default: the running one)."""
    return "geometry_msgs/msg/TwistStamped" if cmd_vel_stamped(distro) else "geometry_msgs/msg/Twist"


def set_through_poses(goal: Any, poses: Sequence[Any], header: Any = None) -> None:
    """Put ``poses`` (``PoseStamped``) into a ``NavigateThroughPoses`` goal of either layout.

    Kilted and later: ``goal.poses`` is a ``nav_msgs/Goals`` (its ``header`` gets ``header``
    when given). Jazzy: ``goal.poses`` is the ``PoseStamped`` list itself.
    """
    if hasattr(goal.poses, "goals"):
        goal.poses.goals = list(poses)
        if header is not None:
            goal.poses.header = header
    else:
        goal.poses = list(poses)


def through_poses_layout(distro: str | None = None) -> str:
    """How ``NavigateThroughPoses.Goal.poses`` is declared on ``distro`` (default: the running one):
    ``"goals"`` (``nav_msgs/Goals``, Kilted and later) or ``"pose_list"`` (``PoseStamped[]``, Jazzy)."""
    return "goals" if is_at_least(distro or detect(), KILTED) else "pose_list"


def set_follow_path(goal: Any, path: Any, controller_id: str = "", goal_checker_id: str = "",
                    progress_checker_id: str = "") -> None:
    """Fill a ``FollowPath`` goal; the plugin ids a distro's layout lacks are left out (Humble has
    no ``progress_checker_id``): a feature probe, like :func:`set_through_poses`."""
    goal.path = path
    goal.controller_id = controller_id
    goal.goal_checker_id = goal_checker_id
    if hasattr(goal, "progress_checker_id"):
        goal.progress_checker_id = progress_checker_id


def action_error(result: Any) -> tuple[int, str]:
    """``(error_code, error_msg)`` of a Nav2 action result; ``(0, "")`` where the distro's result
    has no such field (Humble's results carry neither)."""
    return int(getattr(result, "error_code", 0)), str(getattr(result, "error_msg", ""))


def install_hint(package: str, distro: str | None = None) -> str:
    """The distro package that provides the ROS package ``package`` (e.g. ``ros-jazzy-nav2-msgs``)."""
    return f"ros-{distro or detect()}-{package.replace('_', '-')}"
