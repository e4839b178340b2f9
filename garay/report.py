"""Human-readable output: architecture tables like the study's Table 1, and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from garay.fidelity import record_rank
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
    """Every evaluation's fitness by generation (or birth order), with the best so far.
    Genomes early stopping ended are drawn apart, at their partial accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def x_of(h: dict[str, Any]) -> int:
        return h.get("generation", h.get("birth", 0))

    stopped = [h for h in history if h["status"] == "stopped"]
    history = [h for h in history if h["status"] != "stopped"]
    xs = [x_of(h) for h in history]
    ys = [h["fitness"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    if stopped:
        ax.scatter([x_of(h) for h in stopped], [h["val_accuracy"] for h in stopped], s=10, marker="x",
                   color="0.6", alpha=0.6, label="stopped early (partial accuracy)")
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
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("birth order" if history and "birth" in history[0] else "generation")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(history: Sequence[dict[str, Any]], path: Path | str, top: int = 5, title: str = "garay") -> bool:
    """Learning curves (validation accuracy after each epoch): the `top` best full
    trainings in colour, every other evaluation (stopped ones included) in grey. False
    when the history holds no curves (runs from before they were recorded)."""
    curves = [h for h in history if h.get("curve")]
    if not curves:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = sorted((h for h in curves if h["status"] == "ok"), key=record_rank)[:top]
    chosen = {h["hash"] for h in best}
    fig, ax = plt.subplots(figsize=(6, 4))
    for h in curves:
        if h["hash"] not in chosen:
            ax.plot(range(1, len(h["curve"]) + 1), h["curve"], color="0.75", lw=0.7, alpha=0.6)
    for n, h in enumerate(best):
        ax.plot(range(1, len(h["curve"]) + 1), h["curve"], color=f"C{n}", lw=1.6, marker="o", ms=2.5,
                label=f"{h['hash'][:8]} ({h['val_accuracy']:.3f}, {h['params']:,} params)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}: learning curves (grey: the rest, stopped ones included)", fontsize=9)
    if best:
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def curves_table(history: Sequence[dict[str, Any]], top: int = 5) -> str:
    """The best full trainings' validation accuracy at a few epochs, and how many genomes
    stopped at each epoch."""
    best = sorted((h for h in history if h["status"] == "ok" and h.get("curve")), key=record_rank)[:top]
    if not best:
        return ""
    length = max(len(h["curve"]) for h in best)
    marks = sorted({1, 2, length, *[e for e in (5, 10, 20, 50) if e < length]})
    rows = [(h["hash"][:8], *[f"{h['curve'][e - 1]:.3f}" if e <= len(h["curve"]) else "" for e in marks])
            for h in best]
    text = "learning curves of the best (validation accuracy after epoch)\n" + _table(
        ("genome", *[f"epoch {e}" for e in marks]), rows)
    stops: dict[int, int] = {}
    for h in history:
        if h["status"] == "stopped":
            stops[h["epochs"]] = stops.get(h["epochs"], 0) + 1
    if stops:
        text += "\nstopped early: " + ", ".join(f"{n} at epoch {e}" for e, n in sorted(stops.items()))
    return text


def run_report(run_dir: Path) -> str:
    """A run directory as text: best architecture, per-generation best and median (of full
    trainings), learning curves of the best; also regenerates fitness.png and curves.png."""
    import json
    import statistics

    from garay.runlog import read_history

    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    history = list(read_history(run_dir / "history.jsonl"))
    if not history:
        raise FileNotFoundError(f"{run_dir} holds no history.jsonl with evaluations")
    parts = [f"run {history[0]['run_id']}: {len(history)} evaluations"
             + (f", {summary['total_seconds']:.1f} s" if "total_seconds" in summary else "")]
    axis = "generation" if "generation" in history[0] else "birth"
    groups: dict[int, list[float]] = {}
    stopped: dict[int, int] = {}
    for h in history:
        k = h[axis] if axis == "generation" else h["birth"] // 10
        groups.setdefault(k, [])
        if h["status"] == "stopped":  # a partial accuracy: counted, never ranked with full ones
            stopped[k] = stopped.get(k, 0) + 1
        else:
            groups[k].append(h["fitness"])
    rows = [(k, len(v) + stopped.get(k, 0), stopped.get(k, 0), f"{max(v, default=0):.4f}",
             f"{statistics.median(v) if v else 0:.4f}") for k, v in sorted(groups.items())]
    label = "generation" if axis == "generation" else "births/10"
    parts.append(_table((label, "evaluated", "stopped early", "best", "median"), rows))
    statuses: dict[str, int] = {}
    for h in history:
        statuses[h["status"]] = statuses.get(h["status"], 0) + 1
    parts.append("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    best = min(history, key=record_rank)
    parts.append(f"best: validation {best['val_accuracy']:.4f}, test {best['test_accuracy']:.4f}, "
                 f"{best['params']} parameters, hash {best['hash']}")
    parts.append(genome_tables(Genome.from_dict(best["genome"])))
    curves = curves_table(history)
    if curves:
        parts.append(curves)
    if (run_dir / "pareto.json").exists():  # a multi-objective run: its front
        from garay.pareto_report import pareto_table, plot_pareto

        front = json.loads((run_dir / "pareto.json").read_text())["front"]
        parts.append(pareto_table(front))
        plot_pareto(history, front, run_dir / "pareto.png", title=f"garay run {history[0]['run_id']}")
    plot_fitness(history, run_dir / "fitness.png", title=f"garay run {history[0]['run_id']}")
    if plot_curves(history, run_dir / "curves.png", title=f"garay run {history[0]['run_id']}"):
        parts.append(f"plots: {run_dir / 'fitness.png'}, {run_dir / 'curves.png'}")
    return "\n\n".join(parts)


def sweep_report(sweep_dir: Path) -> str:
    """A multirun directory as a table (and its CSV and plots regenerated)."""
    from garay.sweep import REPRODUCTIONS, summarise_sweep, swept_keys

    rows, compare = summarise_sweep(sweep_dir)
    keys = swept_keys(rows)
    table = _table(("job", *keys, "best val", "best test", "evaluations"),
                   [(r["job"], *[r["overrides"].get(k, "") for k in keys], f"{r['best_val_accuracy']:.4f}",
                     f"{r['best_test_accuracy']:.4f}", r["evaluations"]) for r in rows])
    text = f"sweep {sweep_dir}: {len(rows)} jobs\n\n{table}"
    if compare:
        from garay.anytime import compare_text

        text += "\n\n" + compare_text(compare)
    if (sweep_dir / REPRODUCTIONS).exists():
        text += "\n\n" + (sweep_dir / REPRODUCTIONS).read_text()
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """`garay-report DIR`: print a run or sweep directory as tables; regenerate its plots."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="garay-report", description=main.__doc__)
    ap.add_argument("directory", type=Path, help="a run directory or a multirun (sweep) directory")
    args = ap.parse_args(argv)
    d: Path = args.directory
    try:
        if (d / "history.jsonl").exists():
            print(run_report(d))
        elif any(d.glob("*/summary.json")):
            print(sweep_report(d))
        else:
            raise FileNotFoundError(f"{d} is neither a garay run (history.jsonl) nor a sweep (*/summary.json)")
    except FileNotFoundError as exc:
        print(f"garay-report: error: {exc}", file=sys.stderr)
        return 2
    return 0
