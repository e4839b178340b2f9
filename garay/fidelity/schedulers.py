"""Fidelity schedulers: how far each evaluation trains. Given the tasks a strategy asked
for and each result as it arrives, a scheduler says continue (train on to the next rung),
pause (wait for the rest of a cohort at this rung), or stop (record it), as Ray Tune's
TrialScheduler does beside its Searcher. It never chooses who is bred, and the strategy
never sees it: the driver passes actions between them (garay.strategies.driver).

- `FullTraining` (train.early_stop=none): every task trains all epochs.
- `SyncHalving` (generational and random modes): each cohort (one ask of a strategy
  with a barrier) trains rung by rung; at each rung the best 1/eta continue (halving) or
  those at or above the median of every result at that rung (median). Decisions wait for
  the whole cohort and depend only on its results, so a run is the same whatever the
  worker count.
- `AsyncHalving` (async mode): a training that reaches a rung continues at once while it
  is in the top 1/eta (ASHA's stopping form) or top half of every result recorded at that
  rung so far; no barrier.

Resumed runs: results on disk are never trained again. A task whose final record is in
the book comes back as `Known`; one with results at rungs is decided from them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Sequence, Union

from garay.execution.protocol import Result, Task
from garay.fidelity.rules import Rungs, continues, halving_survivors, median_survivors


@dataclass(frozen=True)
class Submit:
    """Send this task to the evaluator (a first rung, or on from a paused one)."""

    task: Task


@dataclass(frozen=True)
class Final:
    """This record ends its genome: commit it, then tell the strategy."""

    record: dict[str, Any]


@dataclass(frozen=True)
class Known:
    """This genome's final record is in the book already (a resumed run): tell only."""

    record: dict[str, Any]


Action = Union[Submit, Final, Known]


class Book(Protocol):
    """What schedulers read and write of the run's records (garay.results.ledger.Ledger)."""

    cache: dict[str, dict[str, Any]]
    rung_records: dict[tuple[str, int], dict[str, Any]]
    spent: dict[str, float]

    def record_rung(self, record: dict[str, Any]) -> None: ...

    def stopped(self, rung_record: dict[str, Any], reason: str) -> dict[str, Any]: ...

    def decode(self, data: dict[str, Any]) -> Any: ...


class FidelityScheduler(Protocol):
    def start(self, tasks: Sequence[Task]) -> list[Action]:
        """Tasks a strategy asked for (one ask: a cohort, when the strategy has a barrier)."""
        ...

    def on_result(self, record: dict[str, Any], result: Result) -> list[Action]:
        """A result has arrived, as `record`: what happens next."""
        ...

    def restart(self, rung_history: Sequence[dict[str, Any]]) -> list[Action]:
        """A resumed run's genomes that had passed rungs but not finished: stopped, or
        sent on (replaying the rule over rungs.jsonl in file order)."""
        ...


class FullTraining:
    """train.early_stop=none: every task trains in full; results on file are known."""

    def __init__(self, book: Book):
        self.book = book

    def start(self, tasks: Sequence[Task]) -> list[Action]:
        """A genome on file is known (a resumed run), unless the task re-evaluates it."""
        return [Known(self.book.cache[t.genome.hash]) if t.genome.hash in self.book.cache and not t.repeat
                else Submit(t) for t in tasks]

    def on_result(self, record: dict[str, Any], result: Result) -> list[Action]:
        return [Final(record)]

    def restart(self, rung_history: Sequence[dict[str, Any]]) -> list[Action]:
        return []


@dataclass
class _Cohort:
    tasks: list[Task]  # alive, in the order asked
    generation: int
    level: int = 0  # index of the rung being trained
    scores: dict[str, float] = field(default_factory=dict)  # hash -> accuracy at this rung
    states: dict[str, Any] = field(default_factory=dict)  # hash -> the paused training
    waiting: set[str] = field(default_factory=set)  # hashes training to this rung


class SyncHalving:
    """Successive halving over each cohort: all train to the first rung; the best 1/eta
    (or those at or above the median) continue to the next, from where they paused; and
    so on up to the full training. The rest are recorded `stopped`."""

    def __init__(self, book: Book, rungs: Rungs):
        self.book, self.rungs = book, rungs
        self._of: dict[str, _Cohort] = {}  # hash -> its cohort

    def start(self, tasks: Sequence[Task]) -> list[Action]:
        cohort = _Cohort(list(tasks), tasks[0].generation if tasks else 0)
        for t in tasks:
            self._of[t.genome.hash] = cohort
        return self._rung(cohort)

    def _rung(self, c: _Cohort) -> list[Action]:
        rung = self.rungs.epochs[c.level]
        final = rung == self.rungs.full
        actions: list[Action] = []
        for task in c.tasks:
            h = task.genome.hash
            done = self.book.cache.get(h)
            if not final and (h, rung) in self.book.rung_records:  # reached before the run was resumed
                c.scores[h] = self.book.rung_records[(h, rung)]["val_accuracy"]
                self.book.spent[h] = self.book.rung_records[(h, rung)]["seconds"]
            elif done is not None and (final or (done["status"] not in ("ok", "stopped") and done.get("rung") == rung)):
                actions.append(Known(done))  # finished (or failed at this rung) before the run was resumed
            else:
                c.waiting.add(h)
                actions.append(Submit(replace(task, epochs=rung, state=c.states.pop(h, None))))
        if not c.waiting:
            actions += self._decide(c)
        return actions

    def on_result(self, record: dict[str, Any], result: Result) -> list[Action]:
        h = record["hash"]
        c = self._of[h]
        c.waiting.discard(h)
        final = result.task.epochs == self.rungs.full
        actions: list[Action] = []
        if final or record["status"] != "ok":
            actions.append(Final(record))
        else:
            self.book.record_rung(record)
            c.scores[h] = record["val_accuracy"]
            c.states[h] = result.state
        if not c.waiting:
            actions += self._decide(c)
        return actions

    def _decide(self, c: _Cohort) -> list[Action]:
        """The whole cohort has reported at this rung: stop the rest, send the kept on."""
        rung = self.rungs.epochs[c.level]
        if rung == self.rungs.full:
            for t in c.tasks:
                self._of.pop(t.genome.hash, None)
            return []
        if self.rungs.policy == "median":
            earlier = [r["val_accuracy"] for (_, e), r in self.book.rung_records.items()
                       if e == rung and r.get("generation", -1) < c.generation]
            keep = median_survivors(c.scores, earlier)
        else:
            keep = halving_survivors(c.scores, self.rungs.eta)
        cut = min(c.scores[h] for h in keep) if keep else 0.0
        actions: list[Action] = []
        for h in sorted(set(c.scores) - keep):
            c.states.pop(h, None)  # frees the paused training
            self._of.pop(h, None)
            if h in self.book.cache:  # (a resumed run may have recorded it already)
                actions.append(Known(self.book.cache[h]))
            else:
                actions.append(Final(self.book.stopped(self.book.rung_records[(h, rung)], (
                    f"{self.rungs.policy} at epoch {rung}: {c.scores[h]:.4f} below the {len(keep)} of "
                    f"{len(c.scores)} kept (lowest {cut:.4f})"))))
        c.tasks = [t for t in c.tasks if t.genome.hash in keep]
        c.scores, c.level = {}, c.level + 1
        return actions + self._rung(c)

    def restart(self, rung_history: Sequence[dict[str, Any]]) -> list[Action]:
        return []  # a cohort starts again with its generation, from the rung records


class AsyncHalving:
    """ASHA's stopping form (halving) or the median rule, with no barrier."""

    def __init__(self, book: Book, rungs: Rungs):
        self.book, self.rungs = book, rungs
        self.recorded: dict[int, list[float]] = {}  # rung epochs -> accuracies recorded there

    def start(self, tasks: Sequence[Task]) -> list[Action]:
        return [Submit(replace(t, epochs=self.rungs.epochs[0])) for t in tasks]

    def on_result(self, record: dict[str, Any], result: Result) -> list[Action]:
        rung = result.task.epochs
        nxt = self.rungs.after(rung) if rung is not None else None
        if record["status"] != "ok" or nxt is None:
            return [Final(record)]
        self.book.record_rung(record)
        reason = self._judge(rung, record["val_accuracy"])
        if reason is None:
            return [Submit(replace(result.task, epochs=nxt, state=result.state))]
        return [Final(self.book.stopped(record, reason))]

    def _judge(self, rung: int, accuracy: float) -> str | None:
        """Record an accuracy reached at a rung; why the genome stops there (None: it
        continues). Depends only on what was recorded at the rung before, so a resumed run
        replaying rungs.jsonl in file order decides alike."""
        recorded = self.recorded.setdefault(rung, [])
        go = continues(accuracy, recorded, self.rungs.keep_fraction)
        recorded.append(accuracy)
        if go:
            return None
        return (f"{self.rungs.policy} at epoch {rung}: {accuracy:.4f} below the "
                f"top {self.rungs.keep_fraction:.2f} of {len(recorded)} recorded")

    def restart(self, rung_history: Sequence[dict[str, Any]]) -> list[Action]:
        """A genome with rung records but no final one was in flight when the run was
        killed: the rule is replayed at its highest rung against what was recorded there
        before it; it is recorded `stopped`, or sent on to its next rung (trained again from
        its seed: the same numbers). One in flight before its first rung result is lost."""
        unfinished: dict[str, tuple[dict[str, Any], str | None]] = {}
        for r in rung_history:  # file order is the order they were recorded in
            reason = self._judge(r.get("rung", r["epochs"]), r["val_accuracy"])
            if r["hash"] not in self.book.cache:
                unfinished[r["hash"]] = (r, reason)
        actions: list[Action] = []
        for h, (r, reason) in unfinished.items():
            if reason is not None:  # killed between the rung record and the stop record
                actions.append(Final(self.book.stopped(r, reason)))
                continue
            nxt = self.rungs.after(r.get("rung", r["epochs"]))
            task = Task(r["key"], self._genome(r), r["seed"], birth=r["birth"], epochs=nxt)
            self.book.spent[h] = r["seconds"]  # an unfinished genome's rungs count, as in generational mode
            actions.append(Submit(task))
        return actions

    def _genome(self, record: dict[str, Any]) -> Any:
        return self.book.decode(record["genome"])


def scheduler_for(book: Book, rungs: Rungs, barrier: bool) -> FidelityScheduler:
    """The scheduler for train.early_stop and the strategy's kind: full training, or
    halving/median per cohort (strategies with a barrier) or asynchronously."""
    if not rungs.active:
        return FullTraining(book)
    return SyncHalving(book, rungs) if barrier else AsyncHalving(book, rungs)
