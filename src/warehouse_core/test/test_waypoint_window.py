"""WaypointWindow reads like the plan with driven-past waypoints as a placeholder, in bounded memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse_core.robot.waypoint_window import WaypointWindow

PLACEHOLDER = "driven"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["extend", "forget"]), st.integers(-3, 40)), max_size=30),
       st.integers(-45, 45), st.integers(-45, 45), st.integers(1, 3))
def test_reads_like_the_placeholder_list(ops, a, b, step):
    window, reference = WaypointWindow(["w0", "w1"], PLACEHOLDER), ["w0", "w1"]
    n = 2
    for op, k in ops:
        if op == "extend":
            new = [f"w{i}" for i in range(n, n + max(k, 0))]
            n += len(new)
            window.extend(new)
            reference.extend(new)
        else:  # the old way: waypoints before k become the placeholder
            window.forget_before(k)
            reference[:max(0, min(k, len(reference)))] = [PLACEHOLDER] * max(0, min(k, len(reference)))
        assert len(window) == len(reference)
        assert list(window) == reference
        assert window[a:b:step] == reference[a:b:step] and window[a:] == reference[a:]
        if -len(reference) <= a < len(reference):
            assert window[a] == reference[a]


def test_memory_stays_with_the_waypoints_not_yet_driven():
    """A plan kept for a simulated day, one waypoint a second, the base 3 waypoints behind."""
    window = WaypointWindow([], PLACEHOLDER)
    for second in range(86_400):
        window.append(second)
        window.forget_before(second - 3)
    assert len(window) == 86_400
    assert len(window.items) == 4  # not 86,400 list slots (8 bytes each)
    assert window[86_399] == 86_399 and window[10] == PLACEHOLDER
    assert window[86_390:86_400] == [PLACEHOLDER] * 6 + [86_396, 86_397, 86_398, 86_399]
