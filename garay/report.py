"""Human-readable output: architecture tables like the study's Table 1, and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from garay.genome import Genome


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    for n, row in enumerate(cells):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def genome_tables(genome: Genome) -> str:
    """The genome as two tables: convolutional layers and dense layers."""
    parts = []
    if genome.convs:
        rows = [(i + 1, g.filters, g.kernel_size, g.stride, g.padding, g.pool_size, g.activation)
                for i, g in enumerate(genome.convs)]
        parts.append("Convolutional layers\n" + _table(
            ("layer", "filters", "kernel", "stride", "padding", "max-pool", "activation"), rows))
    if genome.denses:
        rows = [(i + 1, g.neurons, g.activation, g.dropout) for i, g in enumerate(genome.denses)]
        parts.append("Dense layers\n" + _table(("layer", "neurons", "activation", "dropout"), rows))
    return "\n\n".join(parts)


def plot_fitness(history: Sequence[dict[str, Any]], path: Path | str, title: str = "garay") -> None:
    """Every evaluation's fitness by generation (or birth order), with the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [h.get("generation", h.get("birth", 0)) for h in history]
    ys = [h["fitness"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(xs, ys, s=14, alpha=0.6, label="evaluation")
    best: dict[int, float] = {}
    for x, y in zip(xs, ys):
        best[x] = max(best.get(x, 0.0), y)
    running, level = [], 0.0
    for x in sorted(best):
        level = max(level, best[x])
        running.append((x, level))
    if running:
        ax.plot(*zip(*running), color="C3", marker="o", label="best so far")
    ax.set_xlabel("birth order" if history and "birth" in history[0] else "generation")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
