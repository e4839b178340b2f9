"""Optuna's TPE (`ga.mode=tpe`), the peer search methods are measured against, as a
garay strategy: the same driver, trainer, budget, early stopping and run directory as
the other modes, so that a comparison changes only who picks the next candidate.

Candidates are defined one named choice at a time (garay.search.decisions: the genome's
length, its conv count, then each layer's parameters; one choice per parameter on the
tabular spaces) and fitted as every mode's are. TPE learns from what was trained: each
result joins Optuna's study as a trial of the fitted candidate, `COMPLETE` with its
fitness, `PRUNED` at the epoch early stopping ended it, `FAIL` when training failed.
Optuna's defaults otherwise (10 random trials first, independent sampling, the
"constant liar": a trial still running counts as a poor result, so that workers asking
at once spread out), seeded. No barrier: whenever workers are free it asks; the budget is
the async mode's.

The asked trial stays RUNNING only while its genome is in flight: once the result is told
(or the suggestion is not trained: it did not fit, or was evaluated before) it is closed
as FAIL, which TPE ignores. Left running, the liar would count every suggestion ever made
as a poor result for the rest of the run: on NAS-Bench-201 CIFAR-100 that raised TPE's
regret at 100 evaluations from 0.50 to 0.85 points.

Each ask seeds its own sampler from (seed, asks so far), so the draws depend only on the
results told before them. Resume: the study is rebuilt from history.jsonl; the count of
asks comes from the checkpoint.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from garay.errors import ConfigError
from garay.execution.protocol import Task
from garay.strategies.steady_state import SteadyState


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as e:
        raise ConfigError("ga.mode", "tpe needs Optuna (make install has it; elsewhere pip install optuna)") from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distribution(optuna: Any, choices: tuple, ordered: bool) -> Any:
    """Ordered choices as an integer index (so TPE's kernels see near values as near),
    the others as categories."""
    d = optuna.distributions
    return d.IntDistribution(0, len(choices) - 1) if ordered else d.CategoricalDistribution(choices)


class TPE(SteadyState):
    mode = "tpe"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.optuna = _optuna()
        self.study = self.optuna.create_study(direction="maximize")
        self.asks = 0  # trials asked for (each seeds its sampler)
        self._asked: list[Any] = []  # trials asked for by the genome being drawn
        self._drawn: list[tuple[str, Any]] = []  # (genome hash, its trial) drawn in this ask
        self._running: dict[str, Any] = {}  # genome hash -> its trial, while in flight

    def ask(self, n: int) -> list[Task]:
        tasks = super().ask(n)
        sent = {t.genome.hash for t in tasks}
        for h, trial in self._drawn:
            if h in sent and h not in self._running:
                self._running[h] = trial  # the liar, until its result is told
            else:
                self._close(trial)  # evaluated before, or in flight already: not trained
        self._drawn = []
        return tasks

    def next_genome(self, extra: int = 0) -> Any:
        genome = self.space.fit(self._suggest, self.rng, "candidate")
        *unfit, last = self._asked  # fit may ask again for a candidate that fits
        for trial in unfit:
            self._close(trial)
        self._drawn.append((genome.hash, last))
        self._asked = []
        return genome

    def _close(self, trial: Any) -> None:
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)

    def _suggest(self) -> Any:
        seed = int(np.random.SeedSequence([self.seed, self.asks]).generate_state(1)[0])
        self.study.sampler = self.optuna.samplers.TPESampler(seed=seed)
        self.asks += 1
        trial = self.study.ask()  # closed once told: TPE learns from the fitted candidate's own trial
        trial.set_user_attr("asked", True)  # not a result: the summary counts results only
        self._asked.append(trial)

        def choose(name: str, choices: tuple, ordered: bool) -> Any:
            if ordered:
                return choices[trial.suggest_int(name, 0, len(choices) - 1)]
            return trial.suggest_categorical(name, choices)

        return self.space.define(choose)

    def tell(self, record: dict[str, Any]) -> None:
        trial = self._running.pop(record["hash"], None)
        if trial is not None:
            self._close(trial)
        self._learn(record)
        super().tell(record)

    def _learn(self, record: dict[str, Any]) -> None:
        candidate = self.space.decode(record["genome"])
        params, dists = {}, {}
        for name, choices, ordered, value in self.space.decisions(candidate):
            dists[name] = _distribution(self.optuna, choices, ordered)
            params[name] = choices.index(value) if ordered else value
        states = self.optuna.trial.TrialState
        fidelity, score = self.ledger.standing(record)
        if record["status"] == "ok":
            kw: dict[str, Any] = {"state": states.COMPLETE, "value": score}
        elif record["status"] == "stopped":  # ranked by the epoch it reached, as Optuna's pruners report
            kw = {"state": states.PRUNED, "intermediate_values": {int(record["epochs"]): score}}
        else:
            kw = {"state": states.FAIL}
        self.study.add_trial(self.optuna.trial.create_trial(params=params, distributions=dists, **kw))

    def state(self) -> dict[str, Any]:
        return {**super().state(), "asks": self.asks}

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]] = ()) -> None:
        super().restore(checkpoint, history, rung_history)
        for record in history:
            self._learn(record)
        self.asks = int((checkpoint or {}).get("asks", len(history)))

    def summary(self) -> dict[str, Any]:
        told = [t for t in self.study.trials if not t.user_attrs.get("asked")]
        return {**super().summary(), "asks": self.asks, "trials": len(told)}
