"""One robot's side: task progress, the released-waypoint window, the path tracker for cmd_vel bases."""
