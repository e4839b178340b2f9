"""Ask/tell strategies (ga.mode) and the one driver loop over them."""

from garay.strategies.base import Strategy
from garay.strategies.generational import Generational
from garay.strategies.random_search import RandomSearch
from garay.strategies.steady_state import SteadyState

STRATEGIES = {"generational": Generational, "async": SteadyState, "random": RandomSearch}

__all__ = ["STRATEGIES", "Generational", "RandomSearch", "SteadyState", "Strategy"]
