"""Multi-objective runs as a figure and a table: fitness against size, every evaluation
drawn, the non-dominated front (pareto.json) highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def plot_pareto(history: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]], path: Path | str,
                title: str = "garay") -> None:
    """Validation fitness against parameter count (log scale): every full evaluation in
    grey, the front in colour joined as a staircase, labelled with test accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [h for h in history if h["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([h["params"] for h in done], [h["fitness"] for h in done], s=12, color="0.6", alpha=0.7,
               label=f"every evaluation ({len(done)})")
    ordered = sorted(front, key=lambda r: r["params"])
    if ordered:
        ax.step([r["params"] for r in ordered], [r["fitness"] for r in ordered], where="post", color="C3", lw=1.2)
        ax.scatter([r["params"] for r in ordered], [r["fitness"] for r in ordered], s=30, color="C3", zorder=3,
                   label=f"front ({len(ordered)})")
        for r in ordered:
            ax.annotate(f"{r['test_accuracy']:.2f}", (r["params"], r["fitness"]), fontsize=6,
                        xytext=(3, -8), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation fitness")
    ax.set_title(f"{title}: fitness against size (labels: test accuracy)", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pareto_table(front: Sequence[dict[str, Any]]) -> str:
    """The front, smallest first: parameters, fitness, test accuracy (and latency)."""
    from garay.report import _table

    latency = any("latency_ms" in r for r in front)
    rows = [(f"{r['params']:,}", f"{r['fitness']:.4f}", f"{r['test_accuracy']:.4f}",
             *([f"{r.get('latency_ms', float('nan')):.3f}"] if latency else []), r["hash"][:12]) for r in front]
    headers = ("parameters", "fitness", "test accuracy", *(["latency ms"] if latency else []), "hash")
    return f"Pareto front ({len(front)} genomes, smallest first)\n" + _table(headers, rows)
