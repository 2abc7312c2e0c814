"""Pure parts of the Gazebo world generator (no libsdformat needed)."""

import numpy as np
import pytest

from warehouse_core.errors import InputError
from warehouse_core.sim.gazebo_amr import AmrSpec, amr_model_sdf
from warehouse_core.sim.gazebo_world import bridge_entries, wall_rectangles


@pytest.mark.parametrize("seed", range(5))
def test_wall_rectangles_cover_every_blocked_cell_once(seed):
    rng = np.random.default_rng(seed)
    free = rng.random((17, 23)) > 0.4
    free[3:9, 4:12] = False  # a solid block becomes few rectangles
    cover = np.zeros(free.shape, dtype=int)
    rects = wall_rectangles(free)
    for x0, y0, x1, y1 in rects:
        assert x0 <= x1 and y0 <= y1
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == (~free).astype(int)).all()
    row_runs = sum(int(np.count_nonzero(np.diff(np.r_[0, (~r).astype(int), 0]) == 1)) for r in free)
    assert len(rects) <= row_runs


def test_wall_rectangles_of_a_frame_are_four_boxes():
    free = np.ones((10, 12), dtype=bool)
    free[0, :] = free[-1, :] = free[:, 0] = free[:, -1] = False
    assert len(wall_rectangles(free)) == 4


def test_amr_spec_refuses_bad_geometry():
    with pytest.raises(InputError, match="wheel_radius"):
        AmrSpec(wheel_radius=0.0).check()
    with pytest.raises(InputError, match="racks"):
        AmrSpec(chassis_height=0.5).check()
    assert 'name="amr"' in amr_model_sdf()


def test_bridge_cmd_vel_type():
    stamped = bridge_entries("robot_4", "twist_stamped")
    assert stamped[0]["ros_type_name"] == "geometry_msgs/msg/TwistStamped"
    assert all(e["ros_topic_name"] != "/clock" for e in stamped)
    assert bridge_entries("robot_0", clock=True)[0]["ros_topic_name"] == "/clock"
    with pytest.raises(InputError):
        bridge_entries("robot_0", "twistie")
