"""Multi-objective runs as a figure and a table: fitness against size, every evaluation
drawn, the non-dominated front (pareto.json) highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def _test_score(r: dict[str, Any], metric: str) -> float:
    """A front member's test score in the fitness's own terms (the metric, else accuracy)."""
    return r["test_metric"] if metric != "accuracy" and r.get("test_metric") is not None else r["test_accuracy"]


def pareto_figure(history: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]], title: str = "garay",
                  metric: str = "accuracy") -> Any:
    """pareto.png's figure: validation fitness against parameter count (log scale), every
    full evaluation in grey, the front in colour joined as a staircase, each member
    labelled with its test score (`metric`: what the fitness is, plugins.metric_name)."""
    from garay.report import fitness_label, legend_below, pyplot

    plt = pyplot()
    done = [h for h in history if h["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    ax.scatter([h["params"] for h in done], [h["fitness"] for h in done], s=14, color="0.6", alpha=0.7,
               label=f"every evaluation ({len(done)})")
    ordered = sorted(front, key=lambda r: r["params"])
    if ordered:
        ax.step([r["params"] for r in ordered], [r["fitness"] for r in ordered], where="post", color="C3", lw=1.2)
        ax.scatter([r["params"] for r in ordered], [r["fitness"] for r in ordered], s=30, color="C3", zorder=3,
                   label=f"front ({len(ordered)}), labelled with test {metric}")
        for r in ordered:
            ax.annotate(f"{_test_score(r, metric):.2f}", (r["params"], r["fitness"]), fontsize=9,
                        xytext=(4, -11), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(fitness_label(metric))
    ax.margins(x=0.08, y=0.1)  # room for the labels beside the outermost points
    ax.set_title(f"{title}: fitness against size (labels: test {metric})", fontsize=10)
    legend_below(fig, ax, ncol=2, fontsize=9)
    return fig


def plot_pareto(history: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]], path: Path | str,
                title: str = "garay", metric: str = "accuracy") -> None:
    """pareto.png (see pareto_figure)."""
    from garay.report import save_figure

    save_figure(pareto_figure(history, front, title, metric), path)


def pareto_table(front: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """The front, smallest first: parameters, fitness (validation `metric`), test scores
    (and latency)."""
    from garay.report import _table

    latency = any("latency_ms" in r for r in front)
    own = metric != "accuracy"
    rows = [(f"{r['params']:,}", f"{r['fitness']:.4f}", *([f"{_test_score(r, metric):.4f}"] if own else []),
             f"{r['test_accuracy']:.4f}", *([f"{r.get('latency_ms', float('nan')):.3f}"] if latency else []),
             r["hash"][:12]) for r in front]
    headers = ("parameters", f"fitness (val {metric})", *([f"test {metric}"] if own else []), "test accuracy",
               *(["latency ms"] if latency else []), "hash")
    return f"Pareto front ({len(front)} genomes, smallest first)\n" + _table(headers, rows)
