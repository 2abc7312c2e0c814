"""The swap refinement of PIBT (LaCAM*, Okumura IJCAI 2023), shared by the one-shot and lifelong planners.

When two agents must pass each other in a corridor, the higher-priority one backs up and pulls
the other along until a branching cell lets them swap. :func:`make_swap_partner` builds the test
"which agent, if any, must agent ``i`` pull behind it this step" over the per-step occupancy
lists of a PIBT planner; the planners differ only in how distances are read and in which cells
an agent may enter, which are parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def make_swap_partner(nbrs: Sequence[Sequence[int]], degree: Sequence[int], occ_now: list[int],
                      q_to: list[int], goals: Sequence[int], drow: Callable[[int], Sequence[float]],
                      can_enter: Callable[[int, int], bool] | None = None,
                      skip_decided: bool = False) -> Callable[[int, int, int], int]:
    """``swap_partner(i, v_i, best)``: the agent ``i`` (at ``v_i``, wanting ``best``) must pull, or -1.

    ``occ_now[v]``: agent at ``v`` now (-1: none); ``q_to[a]``: decided next vertex (-1: not yet);
    ``goals[a]``: goal vertex; ``drow(a)``: ``a``'s distance row (indexable by vertex).
    ``can_enter(a, v)``: whether ``a`` may enter ``v`` (None: everywhere). ``skip_decided``: a
    neighbour that already has its next vertex is not considered as the one pushing ``i``.
    The lists are read live, so the closure follows the planner through the step. The three
    tests of the refinement are kept together in one factory on purpose (they share its state).
    """
    limit = len(nbrs)

    def blocked(u: int, came_from: int, agent: int) -> bool:
        # a neighbour that cannot take ``agent``: where it came from, a cell it may not enter,
        # or a dead end occupied by an agent sitting on its goal
        if u == came_from or (can_enter is not None and not can_enter(agent, u)):
            return True
        if degree[u] == 1:
            a = occ_now[u]
            return a != -1 and goals[a] == u
        return False

    def swap_required(pusher: int, puller: int, v_pusher: int, v_puller: int) -> bool:
        # can ``puller`` step aside somewhere ahead of ``pusher``? if not, they must swap
        dp = drow(pusher)
        while dp[v_puller] < dp[v_pusher]:
            n_out = 0
            nxt = -1
            for u in nbrs[v_puller]:
                if not blocked(u, v_pusher, puller):
                    n_out += 1
                    nxt = u
            if n_out >= 2:
                return False          # a branching cell: they can pass without swapping
            if n_out == 0:
                break
            v_pusher, v_puller = v_puller, nxt
        dq = drow(puller)
        return dq[v_pusher] < dq[v_puller] and (dp[v_pusher] == 0 or dp[v_puller] < dp[v_pusher])

    def swap_possible(mover: int, v_pusher: int, v_puller: int) -> bool:
        # ``mover`` backs up from ``v_puller``, pulling the other along, until it can step aside
        origin = v_pusher
        for _ in range(limit):
            if v_puller == origin:
                return False
            n_out = 0
            nxt = -1
            for u in nbrs[v_puller]:
                if not blocked(u, v_pusher, mover):
                    n_out += 1
                    nxt = u
            if n_out >= 2:
                return True
            if n_out == 0:
                return False
            v_pusher, v_puller = v_puller, nxt
        return False

    def swap_partner(i: int, v_i: int, best: int) -> int:
        j = occ_now[best]
        if j != -1 and q_to[j] == -1 and swap_required(i, j, v_i, best) \
                and swap_possible(i, best, v_i):
            return j
        for u in nbrs[v_i]:
            k = occ_now[u]
            if k == -1 or u == best or (skip_decided and q_to[k] != -1):
                continue
            if swap_required(k, i, v_i, best) and swap_possible(i, best, v_i):
                return k
        return -1

    return swap_partner
