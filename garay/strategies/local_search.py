"""Local search (`ga.mode=local`), a baseline that beats many search methods on NAS
benchmarks (White et al. 2021): climb from a random point, evaluating its neighbours
(garay.search.space: `neighbours`) in random order and moving to the first one that is
fitter; where none is, begin again from a new random point. No barrier; the budget is
the async mode's (ga.budget, or ga.budget_epochs).

Resume: the climb goes on from the best evaluation on file, with fresh neighbours.
"""

from __future__ import annotations

from typing import Any, Sequence

from garay.strategies.selection import Individual
from garay.strategies.steady_state import SteadyState


class LocalSearch(SteadyState):
    mode = "local"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.center: Individual | None = None  # the point the climb stands on
        self.queue: list[Any] = []  # its neighbours not asked for yet (next last)
        self.restarts = 0  # climbs begun from a random point

    def next_genome(self, extra: int = 0) -> Any:
        """The next untried neighbour; None while the last ones train; a random point to
        begin a climb (at the start, and at a local optimum)."""
        while self.queue:
            candidate = self.queue.pop()
            if not self.ledger.known(candidate.hash):
                return candidate
        if self.center is not None and (self.ledger.in_flight or extra):
            return None  # one of them may still move the climb
        if self.center is not None:
            self.center, self.restarts = None, self.restarts + 1  # a local optimum
        return self.space.sample(self.rng)

    def tell(self, record: dict[str, Any]) -> None:
        ind = self.individual(record)
        if self.center is None or ind.rank < self.center.rank:
            self._move(ind)
        super().tell(record)

    def _move(self, ind: Individual) -> None:
        self.center = ind
        self.queue = self.space.neighbours(ind.genome, self.rng)[::-1]

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]] = ()) -> None:
        super().restore(checkpoint, history, rung_history)
        if history:
            self._move(min((self.individual(r) for r in history), key=lambda ind: ind.rank))

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "restarts": self.restarts}
