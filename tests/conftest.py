"""Shared fixtures: a private DDS domain on loopback for every test session."""

import os
import random

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


@pytest.fixture(scope="session")
def ros_env():
    """Environment for child processes: loopback DDS on a domain of this test session."""
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(110, 200)))
    os.environ["ROS_DOMAIN_ID"] = env["ROS_DOMAIN_ID"]
    return env
