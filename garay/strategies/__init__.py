"""Ask/tell strategies (ga.mode) and the one driver loop over them."""

from typing import Any

from garay.config.schema import GAConfig
from garay.results.ledger import Ledger
from garay.strategies.base import Strategy
from garay.strategies.generational import Generational
from garay.strategies.local_search import LocalSearch
from garay.strategies.random_search import RandomSearch
from garay.strategies.reevaluate import Reevaluating
from garay.strategies.regularized import Regularized
from garay.strategies.steady_state import SteadyState
from garay.strategies.tpe import TPE

STRATEGIES = {"generational": Generational, "async": SteadyState, "random": RandomSearch,
              "regularized": Regularized, "local": LocalSearch, "tpe": TPE}


def make_strategy(space: Any, ga: GAConfig, ledger: Ledger, seed: int = 0) -> Strategy:
    """The strategy ga.mode names over `space`; with ga.reevaluate, its fittest genomes are
    trained again at the end (garay.strategies.reevaluate)."""
    strategy = STRATEGIES[ga.mode](space, ga, ledger, seed=seed)
    return Reevaluating(strategy, ledger, ga.reevaluate, seed) if ga.reevaluate else strategy

__all__ = ["STRATEGIES", "Generational", "LocalSearch", "RandomSearch", "Reevaluating", "Regularized", "SteadyState",
           "Strategy", "TPE", "make_strategy"]
