"""Ask/tell strategies: who is evaluated next. A strategy asks for candidates (tasks: a
genome, its key and seed), is told each one's final record, and knows when it is done;
its state (with the run's records) restores it after a kill, as Optuna's samplers derive
their generation from stored trials. Strategies draw and breed through a search space
(garay.search.space) and never look inside candidates; how far each one trains is the
fidelity scheduler's business, and what is written or shown the callbacks'. They say
what happened through events (EvoTorch's hooks), which the run's callbacks receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from garay.execution.protocol import Task


@dataclass(frozen=True)
class CohortStart:
    """A strategy with a barrier asked for a generation's new genomes."""

    generation: int
    size: int


@dataclass(frozen=True)
class GenerationEnd:
    """A generation is complete: statistics over its population (parents and children)."""

    generation: int
    stats: dict[str, Any]


@dataclass(frozen=True)
class Joined:
    """An asynchronous strategy took a finished genome into its population (the n-th)."""

    finished: int


Event = Any  # CohortStart | GenerationEnd | Joined


class Strategy(Protocol):
    mode: str  # ga.mode
    barrier: bool  # asks a whole cohort, then waits for every result of it
    fresh: bool  # nothing done yet: a checkpoint now records the run's start
    events: "Listeners"  # who hears what happened (CohortStart, GenerationEnd, Joined)

    def ask(self, n: int) -> list[Task]:
        """Candidates to evaluate now: at most `n` (free workers), or with a barrier the
        whole next cohort (none while one is being evaluated)."""
        ...

    def tell(self, record: dict[str, Any]) -> None:
        """The final record of a candidate this strategy asked for."""
        ...

    def done(self) -> bool: ...

    def state(self) -> dict[str, Any]:
        """JSON state to continue from (the strategy's part of checkpoint.json)."""
        ...

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]]) -> None: ...

    def summary(self) -> dict[str, Any]:
        """The strategy's part of summary.json."""
        ...


@dataclass
class Listeners:
    """Who hears a strategy's events."""

    hooks: list[Callable[[Event], None]] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        for hook in self.hooks:
            hook(event)
