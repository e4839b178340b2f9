"""summary.json's account of the search: what was evaluated and spent, the best (and the
front), generation statistics, and how busy the workers were."""

from __future__ import annotations

from typing import Any

from garay.config.schema import GAConfig
from garay.fidelity.rules import Rungs
from garay.results.callbacks import generation_news
from garay.results.ledger import Ledger


def search_summary(strategy: Any, ledger: Ledger, ga: GAConfig, rungs: Rungs, *, seconds: float,
                   worker_seconds: float) -> dict[str, Any]:
    """The search's part of summary.json. `seconds`: the driver's wall time; `worker_seconds`:
    the live-worker seconds over it (utilisation's denominator)."""
    out = strategy.summary()
    stats = out["generation_stats"]
    out.update({
        "run_id": ledger.run_id,
        "seed": ledger.seed,
        "evaluations": len(ledger.cache),
        "budget": ga.budget,
        "budget_epochs": ga.budget_epochs,
        "epochs_spent": ledger.epochs_spent(),
        "statuses": ledger.statuses(),
        "resumed_evaluations": ledger.resumed,
        "early_stop": {"policy": rungs.policy, "rungs": list(rungs.epochs), "eta": rungs.eta}
        if rungs.active else {"policy": "none"},
        "best": ledger.best(),
        **({"objectives": list(ledger.objectives), "max_params": ga.max_params, "front": ledger.front()}
           if ledger.multi else {}),
        "generation_stats": stats,  # over the population after each generation
        "new_genome_stats": [{"generation": s["generation"], **generation_news(ledger, s["generation"])}
                             for s in stats],
        "wall_seconds": round(seconds, 3),
        "worker_seconds": round(sum(r["seconds"] for r in ledger.cache.values()), 3),
        "utilisation": round(ledger.busy_seconds / max(worker_seconds, 1e-9), 4),
    })
    return out
