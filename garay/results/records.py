"""The record schema: one history.jsonl line per finished evaluation (and one rungs.jsonl
line per early-stopping rung passed), and the shapes best.json and pareto.json hold.
Writers build records here; readers (reports, anytime curves, sweeps, tracking) read
these fields and no others."""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence, TypedDict

from garay.execution.protocol import Result


class Record(TypedDict, total=False):
    """A finished evaluation. `generation` (generational and random modes) or `birth`
    (async); `rung` when the training was cut into rungs (train.early_stop); `val_metric`
    and `test_metric` with fitness.metric; `latency_ms` with the latency objective;
    `reason` for `stopped` ones; `repeat` (n > 0) for the n-th re-evaluation of a genome
    already in the file (ga.reevaluate)."""

    run_id: str
    generation: int
    birth: int
    key: str
    genome: dict[str, Any]
    hash: str
    fitness: float
    val_accuracy: float
    test_accuracy: float
    val_metric: float
    test_metric: float
    latency_ms: float
    status: str  # garay.execution.evaluation.STATUSES
    error: Optional[str]
    reason: str
    seconds: float  # worker seconds, every rung the genome trained for included
    epochs: int
    val_scores: list[float]
    curve: list[float]  # validation accuracy after each epoch
    losses: list[float]  # mean training loss of each epoch
    rung: int
    repeat: int
    params: int
    seed: int
    worker: str
    node_id: Optional[str]
    gpu_ids: list[str]
    cuda_visible_devices: Optional[str]
    attempts: int
    finished_at: float


# best.json: the best record's
BEST_FIELDS = ("genome", "hash", "fitness", "val_accuracy", "test_accuracy", "params")
BEST_OPTIONAL = ("generation", "birth", "val_metric", "test_metric")
# pareto.json: each front member's
FRONT_FIELDS = ("hash", "genome", "fitness", "val_accuracy", "test_accuracy", "params", "latency_ms",
                "val_metric", "test_metric", "generation", "birth")


def history_record(result: Result, *, run_id: str, seconds: float, encode: Callable[[Any], dict[str, Any]],
                   params: Callable[[Any], int]) -> Record:
    """The record of one finished training (or one rung of it): `seconds` is what the
    genome has cost so far, `encode` and `params` the search space's."""
    ev, task = result.evaluation, result.task
    return {
        "run_id": run_id,
        **({"generation": task.generation} if task.birth is None else {"birth": task.birth}),
        "key": task.key,
        "genome": encode(task.genome),
        "hash": task.genome.hash,
        "fitness": ev.fitness,
        "val_accuracy": ev.val_accuracy,
        "test_accuracy": ev.test_accuracy,
        **({"val_metric": ev.val_metric, "test_metric": ev.test_metric} if ev.val_metric is not None else {}),
        **({"latency_ms": round(ev.latency_ms, 4)} if ev.latency_ms is not None else {}),
        "status": ev.status,
        "error": ev.error,
        "seconds": round(seconds, 4),
        "epochs": ev.epochs,
        "val_scores": list(ev.val_scores),
        "curve": [round(v, 6) for v in ev.curve],
        "losses": [round(v, 6) for v in ev.losses],
        **({"rung": task.epochs} if task.epochs is not None else {}),
        **({"repeat": task.repeat} if task.repeat else {}),
        "params": ev.params or params(task.genome),
        "seed": task.seed,
        "worker": result.worker,
        "node_id": result.node_id,
        "gpu_ids": result.gpu_ids,
        "cuda_visible_devices": result.cuda_visible_devices,
        "attempts": result.attempts,
        "finished_at": time.time(),
    }


def stopped_record(rung_record: Record, reason: str) -> Record:
    """A genome early stopping ended at a rung: status `stopped`, fitness 0 (its partial
    accuracy stays in val_accuracy, at `epochs`, and never ranks as a full one)."""
    return {**rung_record, "status": "stopped", "fitness": 0.0, "reason": reason, "finished_at": time.time()}


def best_entry(record: Record | None, repeats: Sequence[Record] = ()) -> dict[str, Any]:
    """What best.json holds of the best record ({"fitness": 0.0} when there is none). With
    `repeats` (its re-evaluations), fitness and accuracies are means over every
    evaluation, and `evaluations` says how many."""
    if record is None:
        return {"fitness": 0.0}
    entry = {**{k: record[k] for k in BEST_FIELDS}, **{k: record[k] for k in BEST_OPTIONAL if k in record}}
    if repeats:
        every = [record, *repeats]
        for k in ("fitness", "val_accuracy", "test_accuracy"):
            entry[k] = sum(float(r[k]) for r in every) / len(every)
        entry["evaluations"] = len(every)
    return entry


def front_entry(record: Record) -> dict[str, Any]:
    """What pareto.json holds of a front member."""
    return {k: record[k] for k in FRONT_FIELDS if k in record}
