"""The lifecycle manager's decisions (warehouse_nodes.lifecycle_plan), without ROS."""

import pytest

from warehouse_nodes.lifecycle_plan import (
    ACTIVATE,
    ACTIVE,
    CONFIGURE,
    FINALIZED,
    INACTIVE,
    UNCONFIGURED,
    UNKNOWN,
    BringUp,
)

ORDER = ("floor_simulator", "mapf_planner", "task_allocator")


def drive(plan: BringUp, answers: dict[str, bool] | None = None) -> list[tuple[str, str]]:
    """Ask for the actions and answer them all (ok unless ``answers`` says otherwise)."""
    asked = plan.actions()
    for node, transition in asked:
        ok = (answers or {}).get(node, True)
        plan.answered(node, transition, ok, {CONFIGURE: INACTIVE, ACTIVATE: ACTIVE}[transition] if ok else UNKNOWN)
    return asked


def test_nodes_are_configured_at_once_and_activated_in_order():
    plan = BringUp(ORDER)
    for node in ORDER:
        plan.observe(node, UNCONFIGURED)
    assert drive(plan) == [(n, CONFIGURE) for n in ORDER]
    assert drive(plan) == [("floor_simulator", ACTIVATE)]  # the others wait for the ones before them
    assert drive(plan) == [("mapf_planner", ACTIVATE)]
    assert drive(plan) == [("task_allocator", ACTIVATE)]
    assert plan.all_active() and drive(plan) == []


def test_a_late_node_does_not_hold_the_configure_of_the_others_but_holds_their_activation():
    plan = BringUp(ORDER)
    for node in ORDER[1:]:
        plan.observe(node, UNCONFIGURED)
    plan.observe("floor_simulator", UNKNOWN)  # not started yet
    assert drive(plan) == [("mapf_planner", CONFIGURE), ("task_allocator", CONFIGURE)]
    assert drive(plan) == []  # nothing activates before the simulator
    plan.observe("floor_simulator", UNCONFIGURED)
    assert drive(plan) == [("floor_simulator", CONFIGURE)]
    assert [drive(plan) for _ in range(3)] == [[(n, ACTIVATE)] for n in ORDER]


def test_one_transition_at_a_time_per_node():
    plan = BringUp(ORDER)
    plan.observe("mapf_planner", UNCONFIGURED)
    assert plan.actions() == [("mapf_planner", CONFIGURE)]
    plan.observe("mapf_planner", UNCONFIGURED)  # a poll answered while the configure is under way
    assert plan.actions() == []


def _all_up() -> BringUp:
    plan = BringUp(ORDER)
    for node in ORDER:
        plan.observe(node, UNCONFIGURED)
    while drive(plan):
        pass
    assert plan.all_active()
    return plan


def test_a_restarted_node_is_brought_back_to_active_without_waiting_for_a_deactivated_one():
    plan = _all_up()
    plan.observe("mapf_planner", INACTIVE)  # an operator deactivated it
    plan.observe("task_allocator", UNKNOWN)  # died
    assert drive(plan) == []
    plan.observe("task_allocator", UNCONFIGURED)  # respawned
    assert drive(plan) == [("task_allocator", CONFIGURE)]
    assert drive(plan) == [("task_allocator", ACTIVATE)]
    assert plan.states["mapf_planner"] == INACTIVE and drive(plan) == []  # left down


def test_an_operators_deactivation_and_shutdown_are_respected():
    plan = _all_up()
    plan.observe("mapf_planner", INACTIVE)
    plan.observe("task_allocator", FINALIZED)
    for _ in range(3):
        assert drive(plan) == []
    plan.observe("mapf_planner", ACTIVE)  # activated again by the operator
    assert drive(plan) == []


def test_without_autostart_nothing_is_driven():
    plan = BringUp(ORDER, autostart=False)
    for node in ORDER:
        plan.observe(node, UNCONFIGURED)
    assert drive(plan) == []


def test_a_node_that_keeps_failing_is_given_up():
    plan = BringUp(ORDER, max_attempts=3)
    plan.observe("mapf_planner", UNCONFIGURED)
    for _ in range(3):
        assert drive(plan, {"mapf_planner": False}) == [("mapf_planner", CONFIGURE)]
        plan.observe("mapf_planner", UNCONFIGURED)
    assert plan.given_up() == {"mapf_planner"} and drive(plan) == []


def test_a_node_named_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        BringUp(("a", "b", "a"))


def test_the_status_says_what_is_not_active_and_lists_the_transitions_in_order():
    from warehouse_core.fleet import health

    plan = BringUp(ORDER)
    for node in ORDER:
        plan.observe(node, UNCONFIGURED)
    drive(plan)
    status = plan.status("lifecycle_manager: bring-up", "host")
    assert status.level == health.WARN and "floor_simulator" in status.message
    while drive(plan):
        pass
    status = plan.status("lifecycle_manager: bring-up", "host")
    assert status.level == health.OK and status.value("mapf_planner") == ACTIVE
    assert status.value("transitions").split(", ")[3:] == [f"{n} activate" for n in ORDER]
    plan.failures["task_allocator"] = plan.max_attempts
    assert plan.status("x", "host").level == health.ERROR


def test_a_node_lost_during_its_transition_is_brought_up_again_when_it_returns():
    plan = BringUp(ORDER)
    plan.observe("mapf_planner", UNCONFIGURED)
    assert plan.actions() == [("mapf_planner", CONFIGURE)]
    plan.lost("mapf_planner")  # died while configuring: no answer will come
    assert plan.actions() == [] and plan.failures.get("mapf_planner", 0) == 0
    plan.observe("mapf_planner", UNCONFIGURED)  # its new process
    assert plan.actions() == [("mapf_planner", CONFIGURE)]
