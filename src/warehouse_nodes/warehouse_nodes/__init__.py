"""ROS 2 nodes of the warehouse stack: thin wrappers around :mod:`warehouse_core`."""
