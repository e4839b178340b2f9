"""The one driver loop, over any strategy, evaluator, fidelity scheduler and callbacks
(as Nevergrad's `minimize` or DEAP's `eaMuPlusLambda`): keep the workers busy from
`ask`; hand each result to the scheduler, which continues, pauses or stops it; commit each
final record to the ledger, then `tell` the strategy, then the callbacks.

One evaluation's way: strategy.ask -> scheduler.start -> evaluator (a worker trains) ->
ledger.record -> scheduler.on_result -> ledger.commit -> strategy.tell -> callbacks.
"""

from __future__ import annotations

from typing import Sequence

from garay.execution.protocol import Evaluator
from garay.fidelity.schedulers import Action, FidelityScheduler, Final, Known, Submit
from garay.results.callbacks import Callback
from garay.results.ledger import Ledger
from garay.strategies.base import Strategy


def drive(strategy: Strategy, evaluator: Evaluator, scheduler: FidelityScheduler, ledger: Ledger,
          callbacks: Callback, restarted: Sequence[Action] = ()) -> None:
    """Run `strategy` to its end. `restarted`: what a resumed run had in flight
    (scheduler.restart). Every final record is on disk before the strategy hears of it."""

    def act(actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Submit):
                ledger.submitted(action.task)
                evaluator.submit(action.task)
                continue
            if isinstance(action, Final):
                ledger.commit(action.record)
            strategy.tell(action.record)
            callbacks.on_record(action.record, resumed=isinstance(action, Known))

    strategy.events.hooks.append(callbacks.on_event)
    callbacks.on_start()
    act(restarted)
    while True:
        # Live workers (the pool follows the cluster); at least one, so that a run whose
        # workers are all being replaced waits for them instead of ending.
        room = max(1, evaluator.num_workers) - len(ledger.in_flight)
        asked = strategy.ask(room) if room > 0 else []
        if asked:
            act(scheduler.start(asked))
        if not ledger.in_flight:
            if not asked:
                break  # the strategy is done, or cannot breed until something changes: nothing will
            continue
        result = evaluator.next_result(return_when_idle=True)
        if result is None:  # a worker joined: ask for work for it now, not after the next result
            continue
        act(scheduler.on_result(ledger.record(result), result))
    callbacks.on_end()
