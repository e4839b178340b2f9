"""Multi-fidelity: rungs, early-stopping decisions and how partial results rank.

Pure functions over numbers and history records (no Ray, no torch, no I/O), so every
decision can be tested on its own and depends only on results, never on arrival order.

- `Rungs` is the schedule: the epochs at which a genome's training is judged.
- Generational mode (`successive halving`): at each rung the generation's survivors are
  ranked and the best 1/eta continue (`halving_survivors`), or those at or above the median
  of every result recorded at that rung (`median_survivors`).
- Async mode (`continues`): a genome that reaches a rung continues while its accuracy is
  in the top 1/eta (halving, as Ray Tune's ASHA) or the top half (median) of all results
  recorded at that rung so far; no barrier.
- Ranking (`standing`): a genome trained to the full budget always ranks above one that
  was stopped; stopped genomes rank by the rung they reached, then by their accuracy there.
  A partial accuracy is never compared with a full one as if they were alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np



@dataclass(frozen=True)
class Rungs:
    """The epochs at which trainings are judged, ascending, the last one the full
    `train.epochs`. With policy `none` there is one rung: the full training."""

    epochs: tuple[int, ...]
    policy: str = "none"
    eta: int = 3

    @property
    def full(self) -> int:
        return self.epochs[-1]

    @property
    def active(self) -> bool:
        return self.policy != "none" and len(self.epochs) > 1

    def after(self, epochs: int) -> int | None:
        """The next rung after `epochs` (None at the full training)."""
        later = [r for r in self.epochs if r > epochs]
        return later[0] if later else None

    @property
    def keep_fraction(self) -> float:
        return 0.5 if self.policy == "median" else 1.0 / self.eta

    @classmethod
    def schedule(cls, *, epochs: int, policy: str = "none", eta: int = 3, grace_epochs: int = 2,
                 rungs: Sequence[int] | None = None) -> "Rungs":
        """The rungs for a training of `epochs`: `rungs` when given (each below `epochs`),
        else epochs / eta^k rounded, for k = 1, 2, ... while at least `grace_epochs`
        (20 epochs, eta 3, grace 2: rungs at 2, 7, 20)."""
        if policy == "none":
            return cls((epochs,), policy, eta)
        if rungs:
            points = sorted({int(r) for r in rungs if r < epochs})
        else:
            points, k = [], 1
            while round(epochs / eta**k) >= max(grace_epochs, 1):
                points.append(int(round(epochs / eta**k)))
                k += 1
            points = sorted(set(points))
        return cls((*points, epochs), policy, eta)


def halving_survivors(scores: Mapping[str, float], eta: int) -> set[str]:
    """Successive halving: the best ceil(n / eta) of `scores` (genome hash -> accuracy at
    this rung), at least one. Ties break on the hash, so the decision never depends on the
    order in which results arrived."""
    keep = max(1, math.ceil(len(scores) / eta))
    ranked = sorted(scores, key=lambda h: (-scores[h], h))
    return set(ranked[:keep])


def median_survivors(scores: Mapping[str, float], recorded: Iterable[float]) -> set[str]:
    """The median rule: those of `scores` at or above the median of every accuracy at this
    rung, `scores` and the earlier `recorded` ones together; at least the best one."""
    pool = list(recorded) + [v for v in scores.values()]
    if not scores:
        return set()
    cut = float(np.median(pool))
    keep = {h for h, v in scores.items() if v >= cut}
    return keep or {min(scores, key=lambda h: (-scores[h], h))}


def continues(value: float, recorded: Sequence[float], keep_fraction: float) -> bool:
    """Asynchronous rule: continue when `value` is at or above the (1 - keep_fraction)
    quantile of every accuracy recorded at this rung, `value` included (the first result
    at a rung always continues, as in ASHA's stopping variant)."""
    pool = [*recorded, value]
    return value >= float(np.quantile(pool, 1.0 - keep_fraction))


def record_rank(record: Mapping[str, Any]) -> tuple:
    """How the run ranks its evaluations for the best genome, best first: `ok` before
    anything else (a stopped genome's fitness is 0), then fitness, then the hash."""
    return (record["status"] != "ok", -record["fitness"], record["hash"])


def standing(record: Mapping[str, Any], full_epochs: int) -> tuple[float, float]:
    """How an evaluation ranks, as (fidelity, accuracy), compared lexicographically:
    fidelity 1 for a full training (`ok`), epochs reached / full for `stopped` (its
    accuracy is the partial one at that epoch), 0 for one that produced no model."""
    status = record["status"]
    if status == "ok":
        return 1.0, float(record["fitness"])
    if status == "stopped":
        return min(record["epochs"] / max(full_epochs, 1), 1.0 - 1e-9), float(record["val_accuracy"])
    return 0.0, 0.0


def rung_schedule(cfg: Any) -> Rungs:
    """The early-stopping rungs the `train` group asks for (one rung, the full training,
    with train.early_stop=none)."""
    t = cfg.train
    return Rungs.schedule(epochs=t.epochs, policy=t.early_stop, eta=t.eta, grace_epochs=t.grace_epochs,
                          rungs=list(t.rungs) if t.rungs else None)
