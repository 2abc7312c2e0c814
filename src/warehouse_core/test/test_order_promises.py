"""Orders promise only what the racks can keep: whole-order stock checks, refusals with a reason and
an event, field bounds, and a property test of random (adversarial) order streams against random
stock, interleaved with assignment rounds and robots finishing (or refusing) their tasks."""

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.operations import (
    ORDER_ACCEPTED,
    ORDER_REJECTED,
    TASK_ACTIVE,
    TASK_ASSIGNED,
    OpsConfig,
    OrderEvent,
    WarehouseOps,
)
from warehouse_core.ops.orders import MAX_ID_CHARS, Order, OrderLine
from warehouse_core.tasks import OP_PICK

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from ops_helpers import ops_with, order, small_layout  # noqa: E402

SKUS = ("A", "B", "C", "D")  # D is in the catalogue but on no rack
RACKS = ("R1", "R2", "R3")
ROBOTS = {"robot_0": (7, 0), "robot_1": (7, 4)}  # on no rack's cell


def refusals(ops: WarehouseOps) -> list[OrderEvent]:
    return [e for e in ops.drain_events() if isinstance(e, OrderEvent) and e.state == ORDER_REJECTED]


def run_to_the_end(ops: WarehouseOps, now: float, picked: Counter | None = None) -> float:
    """Robots finish every task they get until nothing is pending; returns the time reached."""
    for _ in range(200):
        if not ops.pending and not open_tasks(ops):
            return now
        ops.tick(now)
        for robot, cell in ROBOTS.items():
            ops.update_robot(robot, cell)
        ops.assign(now)
        for task in open_tasks(ops):
            finish(ops, task, now, picked if picked is not None else Counter())
        now += 1000.0  # past any rack's retry time
    raise AssertionError(f"lines still pending: {sorted(ops.pending)}")


def open_tasks(ops: WarehouseOps) -> list:
    return [t for t in ops.tasks.values() if t.state in (TASK_ASSIGNED, TASK_ACTIVE)]


def finish(ops: WarehouseOps, task, now: float, picked: Counter, upto: int | None = None) -> None:
    """Steps of ``task`` done up to ``upto`` (None: all, and the task succeeds); counts the lines
    picked by the test's own reading of the steps."""
    end = len(task.steps) if upto is None else upto
    for k in range(task.step_index + 1, end):
        if task.steps[k].op == OP_PICK:
            picked.update(line.key for line in task.lines)
    if upto is None:
        ops.task_finished(task.task_id, True, now)
    else:
        ops.step_done(task.task_id, upto, now)


# -- the cases the issue names -------------------------------------------------------------
def test_an_order_is_checked_whole_against_the_free_stock():
    ops = ops_with({"R1": {"A": 46}, "R2": {"A": 46}, "R3": {}})
    ok, _, reason = ops.submit(order("BIG", *[("A", 46)] * 200), 0)
    assert not ok and "not enough stock of A" in reason and "9200 units" in reason and "92 are free" in reason
    assert not ops.pending and "BIG" not in ops.orders
    assert ops.submit(order("ONE", ("A", 1)), 0)[0]  # refused whole: nothing of BIG was promised
    ok, _, reason = ops.submit(order("TWO", ("A", 46), ("A", 46)), 0)  # each line fits, both do not
    assert not ok and "92 units" in reason and "91 are free" in reason
    assert ops.submit(order("THREE", ("A", 45), ("A", 46)), 0)[0]
    assert [e.order_id for e in refusals(ops)] == ["BIG", "TWO"]


def test_units_split_over_racks_are_not_promised_to_one_line():
    ops = ops_with({"R1": {"A": 3}, "R2": {"A": 3}, "R3": {}})
    ok, _, reason = ops.submit(order("O1", ("A", 4)), 0)
    assert not ok and "on single racks" in reason and "at most 3 on one rack" in reason
    ok, _, reason = ops.submit(order("O2", ("A", 2), ("A", 2), ("A", 2)), 0)  # 6 units free, but 2+2 > 3
    assert not ok and "3 line(s)" in reason
    assert ops.submit(order("O3", ("A", 2), ("A", 2)), 0)[0]
    assert ops.submit(order("O4", ("A", 1), ("A", 1)), 0)[0]  # the 1 left on each rack
    assert not ops.submit(order("O5", ("A", 1)), 0)[0]


def test_a_visit_never_takes_the_units_another_promised_line_needs():
    """Pile-on would serve the urgent 2-unit line from R1 (the rack serving most lines), leaving
    no rack for the 3-unit line: the promise sends the 2 units to R2 instead."""
    ops = ops_with({"R1": {"A": 3}, "R2": {"A": 2}, "R3": {}})
    assert ops.submit(order("URGENT", ("A", 2), deadline=600.0), 0)[0]
    assert ops.submit(order("LATER", ("A", 3), deadline=3600.0), 0)[0]
    for robot, cell in ROBOTS.items():
        ops.update_robot(robot, cell)
    tasks = ops.assign(1.0)
    assert sorted((t.rack, t.lines[0].order_id) for t in tasks) == [("R1", "LATER"), ("R2", "URGENT")]
    run_to_the_end(ops, 2.0)
    assert all(rec.lines_picked == len(rec.order.lines) for rec in ops.orders.values())


def test_a_line_taken_by_a_visit_is_not_moved_off_its_rack_by_the_next_one():
    """R2 takes the 1-unit line, then is asked for the 2-unit one: making room for the 2 units
    must not move the 1-unit line (already in the visit) to R3, where a 4-unit line needs the
    room. Found by the property test below: R2 ended with 3 units reserved and 4 promised of 6,
    and one 4-unit line could never be served."""
    ops = ops_with({"R1": {}, "R2": {"C": 6}, "R3": {"C": 6}})
    assert ops.submit(order("O0", ("C", 1), ("C", 2), deadline=60.0), 0)[0]
    assert ops.submit(order("O1", ("C", 4), ("C", 4), deadline=60.0), 0)[0]
    for robot, cell in ROBOTS.items():
        ops.update_robot(robot, cell)
    tasks = ops.assign(1.0)
    promises, inv = ops.book.promises, ops.inventory
    for rack in ("R2", "R3"):
        assert inv.reserved.get(rack, {}).get("C", 0) + promises.promised(rack, "C") <= 6, rack
    # R2 cannot take the 2-unit line after the 1-unit one (a 4-unit line would have no rack): a
    # 4-unit line comes along instead, and R3 serves the other two
    assert sorted((t.rack, sorted(line.quantity for line in t.lines)) for t in tasks) == [("R2", [1, 4]),
                                                                                        ("R3", [2, 4])]
    assert not ops.pending
    picked: Counter = Counter()
    for task in tasks:
        finish(ops, task, 2.0, picked)
    run_to_the_end(ops, 3.0, picked)
    assert picked == Counter({("O0", 0): 1, ("O0", 1): 1, ("O1", 0): 1, ("O1", 1): 1})


def test_a_move_keeps_the_lines_it_is_told_to_keep():
    ops = ops_with({"R1": {"C": 6}, "R2": {"C": 6}, "R3": {}})
    promises = ops.book.promises
    assert ops.submit(order("O0", ("C", 1), ("C", 2)), 0)[0]
    assert ops.submit(order("O1", ("C", 4), ("C", 4)), 0)[0]
    one, two = ops.pending[("O0", 0)], ops.pending[("O0", 1)]
    assert promises.move(one, "R1")
    assert promises.rack_of[one.key] == "R1"
    assert not promises.move(two, "R1", keep={one.key})  # 1 + 2 on R1 leave 3: no room for a 4
    assert promises.rack_of[one.key] == "R1" and promises.rack_of[two.key] != "R1"  # nothing changed
    assert promises.move(two, "R1")  # free to move the 1-unit line to R2 instead
    assert promises.rack_of[one.key] == "R2"
    for rack in ("R1", "R2"):
        assert promises.promised(rack, "C") <= 6


def test_a_rebuild_after_a_replay_drops_the_promises_no_rack_can_keep():
    """A replayed visit reserves its units as the journal says, even on a rack whose promises
    (rebuilt by the replay, not the live ones) cannot make room: the rebuild at the end keeps the
    promises that fit and leaves the rest unpromised, never a rack promised beyond its stock."""
    ops = ops_with({"R1": {"C": 6}, "R2": {"C": 6}, "R3": {}})
    promises, inv = ops.book.promises, ops.inventory
    assert ops.submit(order("O0", ("C", 4)), 0)[0] and ops.submit(order("O1", ("C", 4)), 0)[0]
    assert sorted(promises.rack_of.values()) == ["R1", "R2"]
    promises.rebuild()  # nothing broken: nothing changes
    assert sorted(promises.rack_of.values()) == ["R1", "R2"]
    on_r1 = next(k for k, r in promises.rack_of.items() if r == "R1")
    inv.reserve("R1", "C", 5)  # a replayed visit takes 5 of R1's 6 units
    promises.rebuild()
    assert promises.promised("R1", "C") == 0 and promises.promised("R2", "C") == 4
    assert promises.rack_of[on_r1] == "" and on_r1 in ops.pending  # visibly pending, unpromised


def test_a_deadline_past_at_arrival_is_refused_with_an_event():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ok, _, reason = ops.submit(order("LATE", ("A", 1), created=0.0, deadline=100.0), 200.0)
    assert not ok and "deadline 100.0 s has already passed" in reason
    assert [(e.order_id, e.reason) for e in refusals(ops)] == [("LATE", reason)]
    assert ops.submit(order("EARLY", ("A", 1), created=0.0, deadline=300.0), 200.0)[0]


def test_every_refusal_has_its_event_and_oversized_fields_are_cut_short():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    huge = "x" * 1_000_000
    cases = [(order("EMPTY"), "no lines"),
             (order(huge, ("A", 1)), "order_id is 1000000 characters long"),
             (order("O\n1", ("A", 1)), "order_id 'O\\n1' has a control"),
             (order("O2", ("A", 1), consumer=huge), "consumer_id is 1000000 characters long"),
             (order("O3", (huge, 1)), "lines[0].sku is 1000000 characters long"),
             (order("O4", ("A", 1), ("A", 10**9)), "lines[1].quantity"),
             (order("O5", *[("A", 1)] * 201), "201 lines")]
    for bad, words in cases:
        ok, order_id, reason = ops.submit(bad, 0)
        assert not ok and words in reason, reason[:300]
        assert len(order_id) <= MAX_ID_CHARS + 3 and len(reason) < 400
        (event,) = refusals(ops)
        assert (event.order_id, event.reason) == (order_id, reason) and len(event.consumer_id) <= MAX_ID_CHARS + 3
    assert ops.submit(order("顧客-1", ("A", 1), consumer="顧客"), 0)[0]  # printable in any script
    ok, order_id, _ = ops.refuse(Order("M1", "C1", (), 0.0, 0.0), "unreadable message", 0.0)
    assert not ok and [e.reason for e in refusals(ops)] == ["unreadable message"]


# -- random streams ------------------------------------------------------------------------
# well-formed orders (repeated SKUs across lines, repeated ids: repeats or clashes) two times in
# three; the rest adversarial: huge or non-positive quantities, unknown or unstocked SKUs, empty,
# oversized or non-printable ids and consumers, deadlines already past
good_lines = st.lists(st.tuples(st.sampled_from(SKUS[:3]), st.integers(1, 5)), min_size=1, max_size=5)
good = st.tuples(st.just("submit"), st.sampled_from([f"O{i}" for i in range(20)] + [""]),
                 st.sampled_from(["C1", "C2"]), good_lines, st.integers(60, 4000))
any_lines = st.lists(st.tuples(st.sampled_from(SKUS + ("ZZ",)), st.one_of(st.integers(1, 13), st.integers(-3, 2**40))),
                     max_size=6)
adversarial = st.tuples(st.just("submit"), st.sampled_from(["O1", "", "i" * 200, "O\x07"]),
                        st.sampled_from(["C1", "", "c" * 300]), any_lines,
                        st.one_of(st.integers(60, 4000), st.integers(-50, 0)))
robot_acts = st.tuples(st.sampled_from(["assign", "step", "finish", "refuse", "lift_failed", "tick"]),
                       st.integers(0, 3), st.integers(1, 400))
actions = st.lists(st.one_of(good, robot_acts, good, adversarial, robot_acts), min_size=10, max_size=40)
stocks = st.fixed_dictionaries({r: st.dictionaries(st.sampled_from(SKUS[:3]), st.integers(0, 12), max_size=3)
                                for r in RACKS})


class StreamCheck:
    """A stream of actions on one allocator and what the test itself saw of it."""

    def __init__(self, stock: dict, policy: str) -> None:
        inv = Inventory({r: dict(s) for r, s in stock.items()}, {s: 1.0 for s in SKUS})
        self.ops = WarehouseOps(small_layout(), inv, OpsConfig(max_lines_per_visit=10, station_queue_limit=4,
                                                               policy=policy))
        self.now = 0.0
        self.accepted: dict[str, Order] = {}
        self.picked: Counter = Counter()

    def submit(self, order_id: str, consumer: str, lines: list, ahead: int) -> None:
        ops = self.ops
        new = Order(order_id, consumer, tuple(OrderLine(s, q) for s, q in lines), self.now - 1.0, self.now + ahead)
        before = dict(ops.pending)
        ok, oid, reason = ops.submit(new, self.now)
        events = [e for e in ops.drain_events() if isinstance(e, OrderEvent)]
        if not ok:
            assert reason and [(e.order_id, e.state, e.reason) for e in events] == [(oid, ORDER_REJECTED, reason)]
            assert ops.pending == before
            return
        assert not reason and new.deadline > self.now
        if oid in self.accepted:  # a repeat: acknowledged, nothing added
            assert self.accepted[oid].lines == new.lines and ops.pending == before and not events
            return
        assert [(e.order_id, e.state) for e in events] == [(oid, ORDER_ACCEPTED)]
        self.accepted[oid] = replace(new, order_id=oid)  # an empty id is the allocator's to give

    def robots(self, act: str, which: int, dt: int) -> None:
        ops, tasks = self.ops, open_tasks(self.ops)
        self.now += dt
        task = tasks[which % len(tasks)] if tasks else None
        if act == "assign":
            for robot, cell in ROBOTS.items():
                ops.update_robot(robot, cell)
            ops.assign(self.now)
        elif act == "tick":
            ops.tick(self.now)
        elif task is None:
            return
        elif act == "step":
            finish(ops, task, self.now, self.picked, upto=min(task.step_index + 2, len(task.steps)))
        elif act == "finish":
            finish(ops, task, self.now, self.picked)
        elif task.step_index < 0:  # a robot refuses a task, or cannot lift its rack, before lifting it
            if act == "refuse":
                ops.task_finished(task.task_id, False, self.now, "refused")
            else:
                ops.lift_failed(task.task_id, self.now, "jammed")
        ops.drain_events()

    def check(self) -> None:
        """Nothing promised beyond the racks; every accepted line picked once or visibly pending."""
        inv, promises = self.ops.inventory, self.ops.book.promises
        for rack, items in inv.stock.items():
            for sku, units in items.items():
                reserved = inv.reserved.get(rack, {}).get(sku, 0)
                assert units >= 0 and reserved + promises.promised(rack, sku) <= units, (rack, sku)
        for sku in SKUS:
            on_racks = sum(items.get(sku, 0) for items in inv.stock.values())
            reserved = sum(per.get(sku, 0) for per in inv.reserved.values())
            pending = sum(p.quantity for p in self.ops.pending.values() if p.sku == sku)
            assert reserved + pending <= on_racks, sku
        # a task's lines are in flight until its pick step is done (then they are picked, while the
        # robot still takes the rack back)
        in_flight = Counter(line.key for t in open_tasks(self.ops) for line in t.lines
                            if not any(s.op == OP_PICK for s in t.steps[:t.step_index + 1]))
        for oid, accepted in self.accepted.items():
            for i in range(len(accepted.lines)):
                key = (oid, i)
                where = self.picked[key] + in_flight[key] + (key in self.ops.pending)
                assert where == 1, (key, self.picked[key], in_flight[key], key in self.ops.pending)
            picked = sum(self.picked[(oid, i)] for i in range(len(accepted.lines)))
            rec = self.ops.orders.get(oid)
            if rec is None:  # retired: only once complete and shipped, and still known by its id
                assert picked == len(accepted.lines) and self.ops.book.retired.same(accepted), oid
            else:
                assert rec.lines_picked == picked, oid


# a fixed seed, not derandomize: derandomize draws from the test's location, so a clone in
# another folder would run other examples than the ones checked here. No shrinking: a failure is
# reported as generated within seconds instead of after minutes of shrinking on a loaded CI
# machine (to shrink one, run the test locally without the phases setting); no timing health
# check, for the same loaded machine.
@seed(20261207)
@settings(max_examples=120, deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=(HealthCheck.too_slow,))
@given(stock=stocks, policy=st.sampled_from(["default", "baseline"]), stream=actions)
def test_random_order_streams_never_promise_more_than_the_racks_hold(stock, policy, stream):
    check = StreamCheck(stock, policy)
    for act in stream:
        if act[0] == "submit":
            check.submit(*act[1:])
        else:
            check.robots(*act)
        check.check()
    # every promise is kept: with robots finishing all they get, every accepted line is picked
    run_to_the_end(check.ops, check.now + 1000.0, check.picked)
    check.check()
    assert all(check.picked[(oid, i)] == 1 for oid, o in check.accepted.items() for i in range(len(o.lines)))
