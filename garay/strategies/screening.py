"""Predictor-screened breeding (`ga.screen`): a small surrogate of fitness, fitted on the
run's records, ranks many bred candidates, and only the one it ranks first is evaluated
(BANANAS-style, White et al. 2021, with a cheaper model).

The model is Bayesian linear regression on the space's encoding and its pairwise
products (a quadratic model; for long encodings, squares only), and the candidate is
picked by Thompson sampling: one draw of the weights from their posterior ranks the
candidates, so the search still explores where the model is unsure. Pure numpy; the
strategy's generator makes every random choice.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.special import ndtri

QUADRATIC_MAX_DIM = 64  # longer encodings get squares, not every pairwise product


def features(x: np.ndarray) -> np.ndarray:
    """Rows of encodings -> [1, x, x_i x_j (i < j) or x_i^2]."""
    x = np.atleast_2d(x)
    n, d = x.shape
    if d <= QUADRATIC_MAX_DIM:
        i, j = np.triu_indices(d, k=1)
        second = x[:, i] * x[:, j]
    else:
        second = x * x
    return np.hstack([np.ones((n, 1)), x, second])


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Ranks (ties share the mean rank) mapped through the normal quantile function."""
    values, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based, ties averaged
    return ndtri((mean_rank[inverse] - 0.5) / len(y))


class Surrogate:
    """Bayesian linear regression with prior precision `alpha` on rank scores: its
    predictions rank candidates (they are normal scores, not fitness values)."""

    def __init__(self, alpha: float = 10.0):
        self.alpha = alpha
        self.w: np.ndarray | None = None
        self.chol: np.ndarray | None = None  # of the posterior precision
        self.noise = 1.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Surrogate":
        """Fitted to the normal scores of `y`'s ranks: what screening needs is the order of
        the good candidates, and a tail of failed networks would otherwise pull the fit."""
        phi = features(x)
        t = normal_scores(y)
        precision = phi.T @ phi + self.alpha * np.eye(phi.shape[1])
        self.chol = np.linalg.cholesky(precision)
        self.w = cho_solve((self.chol, True), phi.T @ t)
        # The residual variance (floored: with more weights than records the fit is close).
        self.noise = max(float(np.mean((phi @ self.w - t) ** 2)), 0.05)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.w is not None
        return features(x) @ self.w

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One Thompson draw: the candidates scored by weights drawn from the posterior."""
        assert self.w is not None and self.chol is not None
        z = rng.standard_normal(self.w.shape[0])
        w = self.w + np.sqrt(self.noise) * solve_triangular(self.chol.T, z, lower=False)
        return features(x) @ w


def fit_size(n: int) -> int:
    """How many records the model is fitted on when `n` are scored: all of them up to 40,
    then the largest of 40, 42, 44, ..., each step a twentieth of the last (5%) not above
    `n`, so that fits grow rarer as they grow dearer."""
    size = min(n, 40)
    while size >= 40 and size + size // 20 <= n:
        size += size // 20
    return size


def bred_order(record: dict[str, Any]) -> tuple[int, int, str]:
    """A record's place in the order genomes were bred: by generation (ties by hash: a
    generation's results arrive in any order) or, without generations, by birth."""
    return record.get("generation", -1), record.get("birth", -1), record["hash"]


class Screen:
    """Picks children for a strategy: with `size` > 1 and at least `warm_up` scored
    records, the best of `size` bred candidates by one Thompson draw of the surrogate;
    otherwise the first one bred. `encode` is the search space's encoding."""

    def __init__(self, size: int, encode: Callable[[Any], np.ndarray], warm_up: int = 10):
        self.size, self.encode, self.warm_up = size, encode, warm_up
        self._x: dict[str, np.ndarray] = {}  # hash -> encoding (records never change)
        self._model: Surrogate | None = None
        self._fitted_on = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def pick(self, breed: Callable[[], Any], records: Callable[[], Sequence[dict[str, Any]]], decode: Callable[[dict], Any],
             known: Callable[[str], bool], rng: np.random.Generator) -> Any:
        """A child: `breed` is called up to `size` times (`records`: the run's scored
        records, asked for only when screening); candidates `known` (evaluated,
        in flight, or already picked) are not ranked unless every one is."""
        if not self.active:
            return breed()
        scored = records()
        if len(scored) < self.warm_up:
            return breed()
        pool: dict[str, Any] = {}
        for _ in range(self.size):
            kid = breed()
            pool.setdefault(kid.hash, kid)
        fresh = [kid for h, kid in pool.items() if not known(h)] or list(pool.values())
        model = self._fitted(scored, decode)
        scores = model.sample(np.stack([self.encode(k) for k in fresh]), rng)
        return fresh[int(np.argmax(scores))]

    def _fitted(self, records: Sequence[dict[str, Any]], decode: Callable[[dict], Any]) -> Surrogate:
        """The model fitted on the first `fit_size(n)` records in the order they were
        bred (generation, then hash; or birth): a function of the records alone, never of
        the order results arrived in, so the same seed picks the same children whatever the
        number of workers, and a resumed run picks as the uninterrupted one did."""
        n = fit_size(len(records))
        if self._model is None or n != self._fitted_on:
            records = sorted(records, key=bred_order)[:n]
            for r in records:
                if r["hash"] not in self._x:
                    self._x[r["hash"]] = self.encode(decode(r["genome"]))
            x = np.stack([self._x[r["hash"]] for r in records])
            y = np.array([float(r["fitness"]) for r in records])
            # One BLAS thread: threads fighting busy workers for the cores make these small
            # solves a hundred times slower (measured under load on 2 cores).
            with _blas().limit(limits=1, user_api="blas"):
                self._model, self._fitted_on = Surrogate().fit(x, y), n
        return self._model


_BLAS: Any = None


def _blas() -> Any:
    """threadpoolctl's controller of this process's BLAS libraries, made once."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS
