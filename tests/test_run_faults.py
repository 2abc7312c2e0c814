"""orders_lost is judged against the allocator's last list of open orders; fault and deadlock
announcements are counted in bounded memory."""

from warehouse_nodes.run_faults import FaultLog


def test_orders_lost_counts_only_orders_accepted_before_the_last_open_list():
    log = FaultLog()
    log.on_open_orders({"time": 599.0, "open": ["O3"]})
    accepted = {"O1": 10.0, "O2": 20.0, "O3": 30.0, "O4": 599.0, "O5": 599.2}
    # O1 completed, O3 open: fine; O2 neither: lost; O4/O5 came with or after the list: not judged
    assert log.kpis(accepted, {"O1"})["orders_lost"] == 1
    assert log.kpis(accepted, {"O1", "O2"})["orders_lost"] == 0


def test_without_an_open_list_every_accepted_order_not_completed_is_lost():
    assert FaultLog().kpis({"O1": 1.0, "O2": 2.0}, {"O1"})["orders_lost"] == 1


def test_deadlock_announcements_are_counted_not_kept():
    """A resolution counts for every detection with its id, before or after it (as the lists did)."""
    log = FaultLog()
    for i in range(5000):
        log.on_deadlock({"event": "detected", "id": i, "time": float(i), "robot": "robot_1",
                         "chain": ["robot_1", "robot_2"], "cycle": False, "reason": "r"})
        if i % 10:
            log.on_deadlock({"event": "resolved", "id": i, "time": i + 0.5})
    log.on_deadlock({"event": "detected", "id": 1, "time": 6000.0})  # again, already resolved
    log.on_deadlock({"event": "detected", "id": 0, "time": 6000.0})  # again, still open
    log.on_fault({"event": "fault_injected", "kind": "robot_fail"})
    log.on_fault({"event": "fault_cleared", "kind": "robot_fail"})
    log.on_event({"event": "lift_failed", "rack": "R1"})
    log.on_event({"event": "robot_removed", "robot": "robot_1"})
    kpis = log.kpis({}, set())
    assert kpis["deadlocks_detected"] == 5002
    assert kpis["unresolved_deadlocks"] == 501  # ids 0, 10, ..., 4990, and id 0 a second time
    assert kpis["faults_injected"] == 1 and kpis["lift_failures"] == 1
    assert len(log.open_deadlocks) == 500  # only the open ones are kept
