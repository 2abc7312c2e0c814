"""Shared fixtures: a private DDS domain on loopback for every test session.

Under pytest-xdist (``./warehouse test`` runs the whole suite on two workers) every worker is a
session of its own: it gets a domain of its own before anything in it initialises rclpy, so the
graphs two workers start at the same time never see each other.
"""

import gc
import os
import random

import pytest

FIRST_DOMAIN, DOMAINS = 110, 91  # the tests' domains: 110 .. 200

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    _base = int(os.environ.get("ROS_DOMAIN_ID") or random.Random(os.getppid()).randint(0, DOMAINS))
    os.environ["ROS_DOMAIN_ID"] = str(FIRST_DOMAIN + (2 * _base + int(_worker[2:])) % DOMAINS)


@pytest.fixture(scope="session")
def ros_env():
    """Environment for child processes: loopback DDS on a domain of this test session."""
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(FIRST_DOMAIN, FIRST_DOMAIN + DOMAINS - 1)))
    os.environ["ROS_DOMAIN_ID"] = env["ROS_DOMAIN_ID"]
    return env


@pytest.fixture(autouse=True)
def _release_dds_participants(request):
    """After a test that ran ROS in this process: collect the garbage now. A node whose executor still
    held a task (an action server awaiting its answer) sits in a reference cycle; until the cyclic
    collector frees it, its rclpy context, and so its DDS participant, stay alive, and the nodes of
    a finished test keep being announced on the domain, where the next run sees them as another
    run's (``./warehouse run`` refuses such a domain)."""
    yield
    if "ros_env" in request.fixturenames:
        gc.collect()
