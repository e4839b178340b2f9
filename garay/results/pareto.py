"""Multi-objective selection: fitness against size (and latency), NSGA-II style.

Pure functions over plain numbers (no Ray, no torch, no I/O). Every point is a tuple of
objectives to *maximise* (callers negate costs: parameters, latency). `non_dominated_sort`
and `crowding_distance` are Deb et al.'s (2002, NSGA-II); `nsga2_order` ranks a population
by them with Deb's constraint rule: every feasible point before any infeasible one. Ties
break on a caller's key (the genome hash), so a result never depends on arrival order.
"""

from __future__ import annotations

import math
from typing import Hashable, Sequence

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    """`a` is at least as good as `b` in every objective and better in one."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def non_dominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """Indices of `points` in fronts: the first front is dominated by no point, the
    second only by points of the first, and so on (each front in index order)."""
    n = len(points)
    beaten_by = [0] * n  # how many points dominate i
    beats: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                beats[i].append(j)
                beaten_by[j] += 1
            elif dominates(points[j], points[i]):
                beats[j].append(i)
                beaten_by[i] += 1
    fronts, current = [], [i for i in range(n) if beaten_by[i] == 0]
    while current:
        fronts.append(sorted(current))
        nxt = []
        for i in current:
            for j in beats[i]:
                beaten_by[j] -= 1
                if beaten_by[j] == 0:
                    nxt.append(j)
        current = nxt
    return fronts


def crowding_distance(points: Sequence[Point], front: Sequence[int]) -> dict[int, float]:
    """Each front member's crowding distance: the sum over objectives of the normalised gap
    between its neighbours; the extremes of every objective get infinity (kept first)."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: (points[i][m], i))
        low, high = points[ordered[0]][m], points[ordered[-1]][m]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        if high == low:
            continue
        for before, i, after in zip(ordered, ordered[1:], ordered[2:]):
            distance[i] += (points[after][m] - points[before][m]) / (high - low)
    return distance


def nsga2_order(points: Sequence[Point], feasible: Sequence[bool], tie: Sequence[Hashable],
                infeasible_key: Sequence[tuple] | None = None) -> list[int]:
    """All indices, best first: feasible points front by front, within a front by crowding
    distance (larger first), then `tie`; then the infeasible ones by `infeasible_key`
    (smaller first; default `tie`). Truncating it is NSGA-II's environmental selection."""
    ok = [i for i in range(len(points)) if feasible[i]]
    order: list[int] = []
    for front in non_dominated_sort([points[i] for i in ok]):
        members = [ok[i] for i in front]
        crowd = crowding_distance(points, members)
        order += sorted(members, key=lambda i: (-crowd[i], tie[i]))
    rest = [i for i in range(len(points)) if not feasible[i]]
    key = infeasible_key or [(t,) for t in tie]
    return order + sorted(rest, key=lambda i: (key[i], tie[i]))


def front_ranks(points: Sequence[Point]) -> list[int]:
    """The front number of every point (0: non-dominated)."""
    ranks = [0] * len(points)
    for r, front in enumerate(non_dominated_sort(points)):
        for i in front:
            ranks[i] = r
    return ranks
