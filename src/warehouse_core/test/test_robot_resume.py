"""A robot node taking its robot over mid-run: the plan from latched segments, the task's steps done."""

from warehouse_core.robot.resume import RESUME_LOOKBACK, Outcomes, PathPieces, TaskBook, TaskNote, lookback_start
from warehouse_core.robot.task_progress import TaskProgress
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_NONE, OP_PICK


def test_the_segments_held_give_the_run_that_covers_the_base():
    pieces: PathPieces[str] = PathPieces()
    pieces.add(3, 10, ["a10", "a11"])
    pieces.add(3, 12, ["a12", "a13", "a14"])
    pieces.add(3, 14, ["a14", "a15"])  # overlaps: only its new tail counts
    pieces.add(2, 0, ["old"])
    assert pieces.covering(3, 12) == (10, ["a10", "a11", "a12", "a13", "a14", "a15"])
    assert pieces.covering(3, 9) == (10, ["a10", "a11", "a12", "a13", "a14", "a15"])  # next waypoint: the first
    assert pieces.covering(3, 15) is not None  # ends at the base: later segments come live
    assert pieces.covering(3, 8) is None  # the base's next waypoint is missing: nothing is driven
    assert pieces.covering(4, 12) is None  # another plan than the base's
    assert pieces.covering(2, 0) == (0, ["old"])


def test_a_gap_before_the_base_is_skipped_and_one_after_it_ends_the_run():
    pieces: PathPieces[int] = PathPieces()
    pieces.add(1, 0, [0, 1])
    pieces.add(1, 5, [5, 6, 7])
    pieces.add(1, 10, [10])
    assert pieces.covering(1, 5) == (5, [5, 6, 7])
    assert pieces.covering(1, 2) is None


def test_held_segments_stay_bounded():
    pieces: PathPieces[int] = PathPieces(limit=5)
    for plan in (1, 2):
        for i in range(4):
            pieces.add(plan, i, [i])
    assert len(pieces) <= 5 and 1 not in pieces.plans


def test_the_task_book_keeps_the_allocators_last_word_on_its_robots_tasks():
    book = TaskBook({"robot_0", "robot_1"}, keep=3)
    book.record("T1", "robot_0", True, -1, 5.0)  # assigned: no step done
    assert book.lookup("T1") == TaskNote(True, 0, 5.0)
    book.record("T1", "robot_0", True, 2, 9.0)
    book.record("T1", "robot_0", True, 1, 12.0)  # an older event delivered again: steps never go back
    assert book.lookup("T1") == TaskNote(True, 2, 5.0)
    book.record("T9", "robot_7", True, 0, 1.0)  # another container's robot
    assert book.lookup("T9") is None
    for i in range(4):
        book.record(f"D{i}", "robot_1", False, 3, 20.0 + i)
    assert book.lookup("T1") == TaskNote(True, 2, 5.0)  # open tasks are never dropped
    assert book.lookup("D0") is None and book.lookup("D3") == TaskNote(False, 3, 23.0)
    book.record("T1", "robot_0", False, 3, 30.0)
    assert book.lookup("T1") == TaskNote(False, 3, 5.0)


def _visit():
    return [((2, 2), OP_LIFT), ((8, 1), OP_PICK), ((2, 2), OP_DROP)]


def test_a_resumed_task_goes_on_from_its_steps_done():
    progress = TaskProgress(_visit())
    # the plan from waypoint 20 on: the base stands at 25, lifted at 22 (reported), the pick is ahead
    path = {22: ((2, 2), OP_LIFT), 27: ((8, 1), OP_PICK), 33: ((2, 2), OP_DROP)}
    waypoints = [path.get(i, ((0, 0), OP_NONE)) for i in range(20, 40)]
    start = 25 - RESUME_LOOKBACK
    progress.resume(1, start)
    progress.extend_path(waypoints[start - 20:], start)
    assert progress.arrivals == [-1, 27, 33]
    assert progress.update(25, False) == 1
    assert progress.update(27, True) == 1  # picking
    assert progress.update(27, False) == 2
    assert progress.update(33, False) == 3 and progress.done


def test_a_step_done_but_not_reported_before_the_node_died_completes_at_once():
    progress = TaskProgress(_visit())
    waypoints = [((0, 0), OP_NONE)] * 5 + [((8, 1), OP_PICK)] + [((5, 1), OP_NONE)] * 2
    # the allocator heard of the lift only; the base picked at waypoint 105 and is at 107 now
    start = 107 - RESUME_LOOKBACK
    progress.resume(1, start)
    progress.extend_path(waypoints[start - 100:], start)
    assert progress.update(107, False) == 2
    assert not progress.done


def test_a_resumed_task_with_every_step_done_is_done():
    progress = TaskProgress(_visit())
    progress.resume(3, 0)
    assert progress.done and progress.update(0, False) == 3


def test_the_lookback_counts_cell_moves_not_waits_in_place():
    cells = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (5, 0), (5, 0), (5, 0), (6, 0)]  # waypoints 10..19
    assert lookback_start(cells, 19, 10, moves=2) == 14  # back over the move to (6, 0), the waits, one move
    assert lookback_start(cells, 18, 10, moves=1) == 14
    assert lookback_start(cells, 19, 10, moves=20) == 10  # not before the first waypoint held
    assert lookback_start(cells, 30, 10, moves=0) == 19  # the anchor beyond what is held: from the last


def test_the_outcomes_of_the_last_tasks_are_kept_to_answer_a_repeat():
    outcomes: Outcomes[tuple[int, str]] = Outcomes(keep=2)
    assert "t1" not in outcomes and outcomes.get("t1") is None
    outcomes.record("t1", (0, ""))
    outcomes.record("t2", (3, "lift failed"))
    outcomes.record("t1", (0, ""))  # recorded again: the newest
    outcomes.record("t3", (0, ""))
    assert "t2" not in outcomes  # the oldest beyond two went
    assert outcomes.get("t1") == (0, "") and outcomes.get("t3") == (0, "")
