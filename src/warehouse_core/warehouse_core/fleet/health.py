"""Health of the running stack for an operator: one status per node aspect, its level and its numbers.

Each long-running node reports a few :class:`Status` records about once a wall-clock second
(``warehouse_nodes.diagnostics`` turns them into ``diagnostic_msgs/DiagnosticArray`` on
``/diagnostics``, the form ``diagnostic_aggregator`` and ``rqt_robot_monitor`` read). Names are
``<node>: <aspect>`` (``mapf_planner: planning``), as ``diagnostic_updater`` names its tasks. Levels
are those of ``diagnostic_msgs/DiagnosticStatus``; a status that stops coming is marked STALE by
the aggregator itself, so a node never reports STALE about itself.

The level rules live here, ROS-free and unit-tested; the thresholds are node parameters
(``diag_*`` in ``warehouse_nodes.configs``). A threshold of 0 turns its level off.

What is watched and why:

* planner: the wall time of a planning round and its lag behind sim time (the simulator holds time
  when the planner falls ``max_planner_lag`` behind: a growing lag is a planner that cannot keep up);
* allocator: its round time and lag, and the backlog (open orders, order lines waiting for a rack
  visit, tasks in flight, tasks sent and not answered);
* simulator: how long sim time has stood still (held for a slow node), the real-time factor
  reached, and which node it waited for;
* robots (per robot container, not per robot: one status for a hundred robots): the age of each
  robot's last base state behind the newest one (worst and how many are stale), robot nodes that
  stopped, the battery (lowest and how many are low), and where ``map -> odom`` comes from
  (a localisation source, or the configured initial pose);
* forecaster and order source: what they published and what waits for an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# the levels of diagnostic_msgs/DiagnosticStatus (byte values)
OK, WARN, ERROR, STALE = 0, 1, 2, 3
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}

Value = float | int | str | bool


@dataclass(frozen=True)
class Limits:
    """A number that is bad when high: WARN from ``warn``, ERROR from ``error`` (0 or less: off)."""

    warn: float = 0.0
    error: float = 0.0

    def level(self, value: float) -> int:
        if self.error > 0 and value >= self.error:
            return ERROR
        if self.warn > 0 and value >= self.warn:
            return WARN
        return OK


@dataclass(frozen=True)
class LowLimits:
    """A number that is bad when low (a battery): WARN below ``warn``, ERROR below ``error``."""

    warn: float = 0.0
    error: float = 0.0

    def level(self, value: float) -> int:
        if value < self.error:
            return ERROR
        if value < self.warn:
            return WARN
        return OK


@dataclass(frozen=True)
class Status:
    """One ``DiagnosticStatus``: ``values`` are its KeyValues, already text."""

    name: str
    level: int
    message: str
    hardware_id: str
    values: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> str:
        return dict(self.values)[key]


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def status(name: str, hardware_id: str, checks: Iterable[tuple[int, str]], ok: str,
           values: Mapping[str, Value]) -> Status:
    """The status of ``name``: the worst level of ``checks`` ((level, what is wrong)); its message
    names every check at that level, or is ``ok`` when all are OK."""
    checks = list(checks)
    level = max((lvl for lvl, _ in checks), default=OK)
    message = "; ".join(what for lvl, what in checks if lvl == level) if level != OK else ok
    return Status(name, level, message, hardware_id, tuple((k, _text(v)) for k, v in values.items()))


@dataclass
class RoundWatch:
    """The rounds of a periodic job (planning, allocation): when the last one began (sim time) and
    how long rounds took (wall seconds), the longest since the last report."""

    last_start: float | None = None  # [s, sim]
    last_s: float = 0.0  # [s, wall] the last round
    longest_s: float = 0.0  # [s, wall] the longest since :meth:`take`
    rounds: int = 0

    def record(self, sim_start: float, wall_s: float) -> None:
        self.last_start = sim_start
        self.last_s = wall_s
        self.longest_s = max(self.longest_s, wall_s)
        self.rounds += 1

    def lag(self, sim_now: float) -> float:
        """[s, sim] since the last round began (0 before the first: nothing is late yet)."""
        return max(0.0, sim_now - self.last_start) if self.last_start is not None else 0.0

    def take(self) -> float:
        """The longest round since the last call; starts a new interval."""
        longest, self.longest_s = self.longest_s, 0.0
        return longest


@dataclass
class ClockWatch:
    """Sim time sampled against wall time: the real-time factor reached between samples and how
    long sim time has stood still."""

    last: tuple[float, float] | None = None  # (wall, sim) of the previous sample
    still_since: float | None = None  # [s, wall] sim time has not moved since

    def sample(self, wall: float, sim: float) -> tuple[float, float]:
        """(real-time factor since the previous sample, wall seconds sim time has stood still)."""
        rtf = 0.0
        if self.last is not None:
            dw, ds = wall - self.last[0], sim - self.last[1]
            rtf = ds / dw if dw > 0 else 0.0
            if ds > 0:
                self.still_since = None
            elif self.still_since is None:
                self.still_since = self.last[0]
        self.last = (wall, sim)
        return rtf, (wall - self.still_since if self.still_since is not None else 0.0)


def planning(node: str, hardware_id: str, rounds: RoundWatch, sim_now: float, round_limits: Limits,
             lag_limits: Limits, waiting_for: int, extra: Mapping[str, Value]) -> Status:
    """The planner's round time and lag; ``waiting_for``: robots not reported yet (no plan before)."""
    longest, lag = rounds.take(), rounds.lag(sim_now)
    checks = [(round_limits.level(longest), f"planning round took {longest:.2f} s (wall)"),
              (lag_limits.level(lag), f"last planning round {lag:.1f} s behind sim time")]
    ok = f"waiting for {waiting_for} robot(s) to report" if waiting_for else "planning"
    return status(f"{node}: planning", hardware_id, checks, ok,
                  {"round_time_s": rounds.last_s, "round_time_max_s": longest, "lag_s": lag,
                   "rounds": rounds.rounds, "robots_not_reported": waiting_for, **extra})


@dataclass(frozen=True)
class Backlog:
    """The allocator's work waiting: accepted orders not completed, order lines not yet in a rack
    visit, tasks given to robots and not finished, tasks sent and not answered (batched transport)."""

    open_orders: int
    pending_lines: int
    tasks_in_flight: int
    unanswered_tasks: int


def allocation(node: str, hardware_id: str, rounds: RoundWatch, sim_now: float, backlog: Backlog,
               lag_limits: Limits, open_limits: Limits, extra: Mapping[str, Value]) -> Status:
    """The allocator's round lag and backlog."""
    longest, lag = rounds.take(), rounds.lag(sim_now)
    checks = [(lag_limits.level(lag), f"last allocation round {lag:.1f} s behind sim time"),
              (open_limits.level(backlog.open_orders), f"{backlog.open_orders} open orders")]
    return status(f"{node}: allocation", hardware_id, checks, "allocating",
                  {"round_time_s": rounds.last_s, "round_time_max_s": longest, "lag_s": lag,
                   "open_orders": backlog.open_orders, "pending_lines": backlog.pending_lines,
                   "tasks_in_flight": backlog.tasks_in_flight, "unanswered_tasks": backlog.unanswered_tasks,
                   **extra})


@dataclass
class StallCounts:
    """The simulator's cumulative counts of ticks held for the planner, a robot container and the
    allocator; :meth:`since` gives how many were added since the previous call."""

    previous: tuple[int, int, int] = (0, 0, 0)

    def since(self, counts: tuple[int, int, int]) -> tuple[int, int, int]:
        delta = tuple(now - before for now, before in zip(counts, self.previous, strict=True))
        self.previous = counts
        return delta  # type: ignore[return-value]


WAITED_FOR = ("planner", "robot container", "allocator")


def simulation(node: str, hardware_id: str, started: bool, rtf: float, target_rtf: float, still_s: float,
               stalls: tuple[int, int, int], new_stalls: tuple[int, int, int], still_limits: Limits,
               min_rtf: float) -> Status:
    """The simulator: sim time standing still (held for a slow node), the real-time factor reached
    (WARN below ``min_rtf`` while time runs; 0: off) and the held ticks by whom it waited for."""
    waited = [who for who, n in zip(WAITED_FOR, new_stalls, strict=True) if n > 0]
    checks = []
    if started:
        checks.append((still_limits.level(still_s), f"sim time has stood still for {still_s:.0f} s (wall)"
                       + (f", waiting for the {' and the '.join(waited)}" if waited else "")))
        if min_rtf > 0 and still_s == 0 and rtf < min_rtf:
            checks.append((WARN, f"real-time factor {rtf:.1f} below {min_rtf:g}"))
    ok = ("running" + (f", held for the {' and the '.join(waited)}" if waited else "")) if started \
        else "waiting for the other nodes before starting"
    return status(f"{node}: simulation", hardware_id, checks, ok,
                  {"started": started, "real_time_factor": rtf, "target_real_time_factor": target_rtf,
                   "still_for_s": still_s, "planner_stalls": stalls[0], "node_stalls": stalls[1],
                   "allocator_stalls": stalls[2]})


@dataclass(frozen=True)
class RobotReport:
    """What a robot container knows of one robot: the stamp of its last base state (sim time; None:
    none yet), whether its base failed, whether its node stopped, its battery (None: not modelled),
    whether its base reports a protective stop."""

    stamp: float | None
    failed: bool = False
    stopped: bool = False
    battery: float | None = None
    protective_stop: bool = False


def robot_links(node: str, hardware_id: str, robots: Mapping[str, RobotReport], link_limits: Limits) -> Status:
    """How old each robot's last base state is behind the newest one in the container (sim seconds),
    over robots whose base has not failed: the worst, how many are at WARN or worse, stopped nodes,
    robots in a protective stop (WARN: out of the fleet until it clears)."""
    seen = [r.stamp for r in robots.values() if r.stamp is not None]
    newest = max(seen, default=0.0)
    ages = {name: newest - r.stamp for name, r in robots.items() if r.stamp is not None and not r.failed}
    worst_name = max(ages, key=lambda n: (ages[n], n), default="")
    worst = ages.get(worst_name, 0.0)
    stale = sorted(n for n, a in ages.items() if link_limits.level(a) != OK)
    stopped = sorted(n for n, r in robots.items() if r.stopped)
    halted = sorted(n for n, r in robots.items() if r.protective_stop and not r.failed)
    checks = [(link_limits.level(worst), f"{len(stale)} robot link(s) stale, worst {worst_name} {worst:.1f} s"),
              (WARN if stopped else OK, f"robot node(s) stopped: {', '.join(stopped)}"),
              (WARN if halted else OK, f"{len(halted)} robot(s) in a protective stop: {', '.join(halted[:5])}")]
    ok = f"{len(robots)} robots linked" if seen else "waiting for the first base state"
    return status(f"{node}: robot links", hardware_id, checks, ok,
                  {"robots": len(robots), "reporting": len(seen), "worst_link_age_s": worst,
                   "worst_robot": worst_name, "stale_links": len(stale), "stopped_nodes": len(stopped),
                   "protective_stops": len(halted),
                   "failed_bases": sum(1 for r in robots.values() if r.failed)})


def battery(node: str, hardware_id: str, robots: Mapping[str, RobotReport], limits: LowLimits) -> Status:
    """The lowest battery among the container's robots and how many are low (robots whose base
    reports no battery are left out; none at all: OK, nothing to watch)."""
    levels = {n: r.battery for n, r in robots.items() if r.battery is not None and r.stamp is not None}
    if not levels:
        return status(f"{node}: battery", hardware_id, [], "no battery reported", {"robots": 0})
    lowest_name = min(levels, key=lambda n: (levels[n], n))
    lowest = levels[lowest_name]
    low = sum(1 for v in levels.values() if limits.level(v) != OK)
    return status(f"{node}: battery", hardware_id,
                  [(limits.level(lowest), f"{low} robot(s) low, lowest {lowest_name} {lowest * 100:.0f} %")],
                  f"lowest {lowest_name} {lowest * 100:.0f} %",
                  {"robots": len(levels), "lowest": lowest, "lowest_robot": lowest_name, "low": low,
                   "mean": sum(levels.values()) / len(levels)})


def localisation(node: str, hardware_id: str, robots: Mapping[str, tuple[bool, bool]]) -> Status:
    """Where each robot's ``map -> odom`` comes from (robot -> (localised, stale)): a localisation
    reading, or none yet (the configured initial pose, said in the message); WARN when the readings
    of a robot that had them stopped coming."""
    stale = sorted(n for n, (_, bad) in robots.items() if bad)
    initial = sorted(n for n, (localised, _) in robots.items() if not localised)
    checks = [(WARN if stale else OK, f"{len(stale)} robot(s) without a recent localisation reading: "
               + ", ".join(stale[:5]))]
    ok = (f"{len(initial)} robot(s) without localisation: map -> odom is the configured initial pose"
          if initial else f"{len(robots)} robots localised")
    return status(f"{node}: localisation", hardware_id, checks, ok,
                  {"robots": len(robots), "without_localisation": len(initial), "stale": len(stale)})


def forecast(node: str, hardware_id: str, summary: Mapping[str, Value] | None, skus: int) -> Status:
    """The forecaster: what it published (it forecasts once, at start). WARN when its model did worse
    than seasonal naive on the held-out days (the forecast still stands: rack classes are coarse)."""
    if summary is None:
        return status(f"{node}: forecast", hardware_id, [], "computing the forecast", {"skus": 0})
    mase, naive = float(summary.get("mase", 0.0)), float(summary.get("seasonal_naive_mase", 0.0))
    worse = naive > 0 and mase > naive
    return status(f"{node}: forecast", hardware_id,
                  [(WARN if worse else OK, f"model MASE {mase:.2f} worse than seasonal naive {naive:.2f}")],
                  f"forecast of {skus} SKUs published",
                  {"skus": skus, "model": str(summary.get("model", "")), "mase": mase, "seasonal_naive_mase": naive,
                   "computed_in_s": float(summary.get("computed_in_s", 0.0))})


@dataclass(frozen=True)
class Submissions:
    """The order source's orders: generated and not yet submitted, submitted and not answered (and
    the oldest of those, wall seconds), answered, and whether ``/submit_order`` is up."""

    backlog: int
    waiting: int
    oldest_wait_s: float
    answered: int
    service_ready: bool


def order_intake(node: str, hardware_id: str, subs: Submissions, wait_limits: Limits) -> Status:
    """The order source: an answer that is late (the allocator does not keep up, or is down)."""
    checks = [(wait_limits.level(subs.oldest_wait_s), f"an order waits {subs.oldest_wait_s:.0f} s for its answer")]
    if not subs.service_ready and subs.backlog:
        checks.append((WARN, f"/submit_order is not up, {subs.backlog} order(s) held"))
    return status(f"{node}: orders", hardware_id, checks, "submitting",
                  {"backlog": subs.backlog, "waiting_for_answer": subs.waiting, "oldest_wait_s": subs.oldest_wait_s,
                   "answered": subs.answered, "service_ready": subs.service_ready})

