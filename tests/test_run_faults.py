"""orders_lost is judged against the allocator's last list of open orders."""

import json

from warehouse_nodes.run_faults import FaultLog


def test_orders_lost_counts_only_orders_accepted_before_the_last_open_list():
    log = FaultLog()
    log.on_open_orders(json.dumps({"time": 599.0, "open": ["O3"]}))
    accepted = {"O1": 10.0, "O2": 20.0, "O3": 30.0, "O4": 599.0, "O5": 599.2}
    # O1 completed, O3 open: fine; O2 neither: lost; O4/O5 came with or after the list: not judged
    assert log.kpis(accepted, {"O1"})["orders_lost"] == 1
    assert log.kpis(accepted, {"O1", "O2"})["orders_lost"] == 0


def test_without_an_open_list_every_accepted_order_not_completed_is_lost():
    assert FaultLog().kpis({"O1": 1.0, "O2": 2.0}, {"O1"})["orders_lost"] == 1
