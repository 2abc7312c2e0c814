"""The one PIBT step (priority inheritance with backtracking) of the one-shot and lifelong planners.

PIBT (Okumura et al., AIJ 2022) decides every agent's next vertex in priority order. An agent
tries its candidate vertices best first; if a candidate is held by an agent that has not
decided yet, that agent inherits the priority and must decide first (move away), or the
candidate is abandoned and the next one tried. With the swap refinement of LaCAM* (Okumura,
IJCAI 2023) an agent that must pass another in a corridor reverses its candidates and pulls
the other agent into the vertex it leaves.

The inheritance chain runs on an explicit stack: a chain can be as long as the fleet, and a
Python recursion that deep would need a raised process-wide recursion limit.

The two planners differ only in parameters:

* the one-shot planner (:mod:`warehouse_core.mapf.pibt`) forbids swaps (two agents exchanging
  vertices) but allows rotations (a cycle of followers), and lets every agent be pulled;
* the lifelong planner (:mod:`warehouse_core.mapf.lifelong`) forbids rotations too
  (``no_rotations``), tries the swap only for some agents (``may_swap``: those stalled with a
  goal) and only pulls an agent into a vertex it may enter (``can_enter``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Pibt = Callable[[int], bool]


def make_pibt(q_from: Sequence[int], q_to: list[int], cands: Sequence[Sequence[int]], occ_now: list[int],
              occ_next: list[int], degree: Sequence[int],
              swap_partner: Callable[[int, int, int], int] | None = None,
              may_swap: Sequence[bool] | None = None, no_rotations: bool = False,
              can_enter: Callable[[int, int], bool] | None = None) -> Pibt:
    """``pibt(i)``: decide agent ``i``'s next vertex (and those of the agents it pushes).

    Returns False when ``i`` could only stay where it is although it tried to move away for an
    agent that pushed it (the top-level caller may ignore that). State, all read and written
    live: ``q_from[a]`` current vertex; ``q_to[a]`` decided next vertex (-1: not yet);
    ``cands[a]`` candidate vertices best first (``degree[v] + 1`` real entries at most, any
    padding after them); ``occ_now[v]`` / ``occ_next[v]`` agent at ``v`` now / next (-1: none,
    another negative value: never enterable). ``swap_partner(i, v_i, best)``: the agent ``i``
    must pull behind it, or -1 (see :func:`warehouse_core.mapf.swap.make_swap_partner`; None: no
    swap refinement). ``may_swap[a]``: whether ``a`` tries it (None: every agent).
    ``no_rotations``: refuse a move that closes a cycle of followers through decided moves
    (else only a swap is refused). ``can_enter(a, v)``: whether a pulled agent ``a`` may enter
    ``v`` (None: everywhere).

    The PIBT step is kept whole in this one factory on purpose: it is the published algorithm
    with its inheritance recursion unrolled onto a stack, and its inner loop reads locals only.
    """
    n = len(q_from)

    def closes_cycle(x: int, y: int) -> bool:
        """Would ``x`` entering the vertex of ``y`` close a rotation through decided moves?"""
        z = y
        for _ in range(n + 1):
            tz = q_to[z]
            if tz == -1 or tz == q_from[z]:
                return False
            z = occ_now[tz]
            if z == -1:
                return False
            if z == x:
                return True
        return True

    def frame(i: int) -> list:
        """[agent, its vertex, its candidates, index of the candidate tried, swap partner]."""
        v_i = q_from[i]
        C = cands[i]
        swapper = -1
        if swap_partner is not None and (may_swap is None or may_swap[i]) and C[0] != v_i:
            swapper = swap_partner(i, v_i, C[0])
            if swapper != -1:
                C = C[degree[v_i]::-1]  # the real candidates, worst first: back up
        return [i, v_i, C, 0, swapper]

    def pibt(root: int) -> bool:
        stack = [frame(root)]
        child_ok: bool | None = None  # outcome of the agent just decided on top of the stack
        while True:
            f = stack[-1]
            i, v_i, C, k, swapper = f
            if child_ok is not True:
                if child_ok is False:
                    k += 1  # the pushed agent could not leave: next candidate
                pushed = -1
                while k < len(C):
                    u = C[k]
                    if occ_next[u] != -1:
                        k += 1
                        continue
                    j = occ_now[u]
                    if j != -1 and j != i and (closes_cycle(i, j) if no_rotations and q_to[j] != -1
                                               else q_to[j] == v_i):
                        k += 1
                        continue  # a swap with j (or a longer rotation)
                    q_to[i] = u
                    occ_next[u] = i
                    if j != -1 and j != i and q_to[j] == -1:
                        pushed = j
                    break
                child_ok = None
                if pushed != -1:
                    f[3] = k
                    stack.append(frame(pushed))
                    continue
                if k == len(C):
                    q_to[i] = v_i
                    occ_next[v_i] = i
                    stack.pop()
                    if not stack:
                        return False
                    child_ok = False
                    continue
            if (k == 0 and swapper != -1 and q_to[swapper] == -1 and occ_next[v_i] == -1
                    and (can_enter is None or can_enter(swapper, v_i))
                    and not (no_rotations and closes_cycle(swapper, i))):
                q_to[swapper] = v_i  # pull the swap partner behind us
                occ_next[v_i] = swapper
            stack.pop()
            if not stack:
                return True
            child_ok = True

    return pibt
