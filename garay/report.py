"""Human-readable output: architecture tables like the study's Table 1, and plots."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Iterable, Sequence

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


def fitness_label(metric: str = "accuracy") -> str:
    """The fitness axis and column name: what the GA optimised (garay.plugins.metric_name)."""
    return f"fitness (validation {metric})"


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def legend_below(fig: Any, ax: Any, ncol: int, fontsize: float = 8) -> None:
    """The legend under the axes (a constrained layout makes room for it), where it hides
    no point or curve."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=fontsize, frameon=False)


def save_figure(fig: Any, path: Path | str) -> None:
    fig.savefig(path, dpi=100)
    pyplot().close(fig)


def fitness_figure(history: Sequence[dict[str, Any]], title: str = "garay", metric: str = "accuracy") -> Any:
    """fitness.png's figure: every evaluation's fitness by generation (or birth order), with
    the best so far. Genomes early stopping ended are drawn apart, at their partial score."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    def x_of(h: dict[str, Any]) -> int:
        return h.get("generation", h.get("birth", 0))

    def partial(h: dict[str, Any]) -> float:  # a stopped genome's fitness is 0; its score at the rung is not
        return h["val_metric"] if metric != "accuracy" and h.get("val_metric") is not None else h["val_accuracy"]

    stopped = [h for h in history if h["status"] == "stopped"]
    history = [h for h in history if h["status"] != "stopped"]
    xs = [x_of(h) for h in history]
    ys = [h["fitness"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4.4), layout="constrained")
    if stopped:
        ax.scatter([x_of(h) for h in stopped], [partial(h) for h in stopped], s=16, marker="x",
                   color="0.45", alpha=0.8, label="stopped early (partial score)")
    ax.scatter(xs, ys, s=14, alpha=0.6, label="evaluation", zorder=3)  # on top: never hidden by the line
    best: dict[int, float] = {}
    for x, y in zip(xs, ys):
        best[x] = max(best.get(x, 0.0), y)
    running, level = [], 0.0
    for x in sorted(best):
        level = max(level, best[x])
        running.append((x, level))
    if running:
        ax.plot(*zip(*running), color="C3", marker="o", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("birth order" if history and "birth" in history[0] else "generation")
    ax.set_ylabel(fitness_label(metric))
    values = ys + [partial(h) for h in stopped]
    if all(0 <= v <= 1 for v in values):  # a score in [0, 1] (accuracy, F1): the whole scale
        ax.set_ylim(0, 1)
    ax.set_title(title)
    legend_below(fig, ax, ncol=3)
    return fig


def plot_fitness(history: Sequence[dict[str, Any]], path: Path | str, title: str = "garay",
                 metric: str = "accuracy") -> None:
    """fitness.png (see fitness_figure); `metric` names the fitness (plugins.metric_name)."""
    save_figure(fitness_figure(history, title, metric), path)


def _scores(h: dict[str, Any], metric: str, digits: int = 3) -> str:
    """A record's validation score: the metric and accuracy, or accuracy alone."""
    if metric == "accuracy" or h.get("val_metric") is None:
        return f"{h['val_accuracy']:.{digits}f}"
    return f"{metric} {h['val_metric']:.{digits}f}, accuracy {h['val_accuracy']:.{digits}f}"


def curves_figure(history: Sequence[dict[str, Any]], top: int = 5, title: str = "garay",
                  metric: str = "accuracy") -> Any:
    """curves.png's figure (None without curves): validation accuracy after each epoch, the
    `top` best full trainings (by fitness) in colour, every other one in grey."""
    from matplotlib.ticker import MaxNLocator

    curves = [h for h in history if h.get("curve")]
    if not curves:
        return None
    plt = pyplot()
    best = sorted((h for h in curves if h["status"] == "ok"), key=record_rank)[:top]
    chosen = {h["hash"] for h in best}
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    for h in curves:
        if h["hash"] not in chosen:
            # A marker too: a genome stopped after its first epoch has a one-point curve.
            ax.plot(range(1, len(h["curve"]) + 1), h["curve"], color="0.6", lw=0.7, alpha=0.6, marker="o", ms=2)
    for n, h in enumerate(best):
        ax.plot(range(1, len(h["curve"]) + 1), h["curve"], color=f"C{n}", lw=1.6, marker="o", ms=2.5,
                label=f"{h['hash'][:8]} ({_scores(h, metric)}, {h['params']:,} params)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ranked = "" if metric == "accuracy" else f" by validation {metric}"
    ax.set_title(f"{title}: learning curves, the {len(best)} best{ranked} in colour\n"
                 "(grey: the rest, stopped ones included)", fontsize=9)
    legend_below(fig, ax, ncol=1 if metric != "accuracy" else 2)
    return fig


def plot_curves(history: Sequence[dict[str, Any]], path: Path | str, top: int = 5, title: str = "garay",
                metric: str = "accuracy") -> bool:
    """curves.png (see curves_figure). False when the history holds no curves (runs from
    before they were recorded)."""
    fig = curves_figure(history, top, title, metric)
    if fig is None:
        return False
    save_figure(fig, path)
    return True


def curves_table(history: Sequence[dict[str, Any]], top: int = 5, metric: str = "accuracy") -> str:
    """The best full trainings' (by fitness, `metric`) validation accuracy at a few
    epochs, and how many genomes stopped at each epoch."""
    best = sorted((h for h in history if h["status"] == "ok" and h.get("curve")), key=record_rank)[:top]
    if not best:
        return ""
    length = max(len(h["curve"]) for h in best)
    marks = sorted({1, 2, length, *[e for e in (5, 10, 20, 50) if e < length]})
    rows = [(h["hash"][:8], *[f"{h['curve'][e - 1]:.3f}" if e <= len(h["curve"]) else "" for e in marks])
            for h in best]
    ranked = "" if metric == "accuracy" else f" by validation {metric}"
    text = f"learning curves of the best{ranked} (validation accuracy after epoch)\n" + _table(
        ("genome", *[f"epoch {e}" for e in marks]), rows)
    stops: dict[int, int] = {}
    for h in history:
        if h["status"] == "stopped":
            stops[h["epochs"]] = stops.get(h["epochs"], 0) + 1
    if stops:
        text += "\nstopped early: " + ", ".join(f"{n} at epoch {e}" for e, n in sorted(stops.items()))
    return text


def metric_of(settings: dict[str, Any] | None) -> str:
    """The fitness's name in a run's settings (summary.json's config, checkpoint.json's
    identity): garay.plugins.metric_name of fitness.metric."""
    from garay.plugins import metric_name

    return metric_name(((settings or {}).get("fitness") or {}).get("metric"))


def scores_text(best: dict[str, Any], metric: str = "accuracy") -> str:
    """The best genome's validation and test scores, the fitness first: `validation
    macro_f1 0.2888, accuracy 0.3600; test macro_f1 ..., accuracy ...`."""
    if metric == "accuracy" or best.get("val_metric") is None:
        return f"validation accuracy {best['val_accuracy']:.4f}, test accuracy {best['test_accuracy']:.4f}"
    return (f"validation {metric} {best['val_metric']:.4f}, accuracy {best['val_accuracy']:.4f}; "
            f"test {metric} {best['test_metric']:.4f}, accuracy {best['test_accuracy']:.4f}")


def new_genome_stats(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Fitness statistics of a set of evaluations (a generation's new genomes): how many,
    how many early stopping ended (counted, never ranked: their score is a partial one),
    and the best and median fitness of the rest, failures included (None when none)."""
    records = list(records)
    fitness = [r["fitness"] for r in records if r["status"] != "stopped"]
    return {"evaluated": len(records), "stopped": len(records) - len(fitness),
            "best": max(fitness) if fitness else None,
            "median": statistics.median(fitness) if fitness else None}


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def generation_table(history: Sequence[dict[str, Any]], population: Sequence[dict[str, Any]] = (),
                     metric: str = "accuracy") -> str:
    """Fitness by generation, with what each statistic is over: the generation's new
    genomes (from history.jsonl) and, from checkpoint.json's generation_stats, the
    population after it (parents and children: what the log's `population` reports).
    An async run has no generations: its births, ten at a time."""
    if history and "generation" not in history[0]:
        groups: dict[int, list[dict[str, Any]]] = {}
        for h in history:
            groups.setdefault(h["birth"] // 10, []).append(h)
        rows = [(f"{10 * k}-{10 * k + 9}", s["evaluated"], s["stopped"], _f(s["best"]), _f(s["median"]))
                for k, s in ((k, new_genome_stats(v)) for k, v in sorted(groups.items()))]
        return (f"fitness (validation {metric}) by birth order, ten births at a time (stopped early: not ranked)\n"
                + _table(("births", "evaluated", "stopped early", "best", "median"), rows))
    groups = {}
    for h in history:
        groups.setdefault(h["generation"], []).append(h)
    pop = {s["generation"]: s for s in population}
    rows = []
    for g in sorted(set(groups) | set(pop)):
        s, p = new_genome_stats(groups.get(g, [])), pop.get(g, {})
        rows.append((g, s["evaluated"], s["stopped"], _f(s["best"]), _f(s["median"]), _f(p.get("best")),
                     _f(p.get("median")), _f(p.get("best_so_far"))))
    return (f"fitness (validation {metric}) by generation\n"
            + _table(("generation", "evaluated", "stopped early", "new: best", "new: median", "population: best",
                      "population: median", "best so far"), rows)
            + "\nnew: the genomes first evaluated in that generation (stopped early: not ranked)"
              "\npopulation: its parents and children, as in the log and checkpoint.json's generation_stats")


def run_report(run_dir: Path) -> str:
    """A run directory as text: fitness by generation (the new genomes' and the
    population's), the best architecture, learning curves of the best; also regenerates
    fitness.png, curves.png (and pareto.png)."""
    import json

    from garay.runlog import read_history

    def read(name: str) -> dict[str, Any]:
        return json.loads((run_dir / name).read_text()) if (run_dir / name).exists() else {}

    summary = read("summary.json")
    history = list(read_history(run_dir / "history.jsonl"))
    if not history:
        raise FileNotFoundError(f"{run_dir} holds no history.jsonl with evaluations")
    checkpoint = read("checkpoint.json") if not summary else {}  # an unfinished run: what it has so far
    metric = metric_of(summary.get("config") or checkpoint.get("identity"))
    title = f"garay run {history[0]['run_id']}"
    parts = [f"run {history[0]['run_id']}: {len(history)} evaluations"
             + (f", {summary['total_seconds']:.1f} s" if "total_seconds" in summary else "")
             + f"; fitness: validation {metric}"]
    parts.append(generation_table(history, summary.get("generation_stats", checkpoint.get("generation_stats", [])),
                                  metric))
    statuses: dict[str, int] = {}
    for h in history:
        statuses[h["status"]] = statuses.get(h["status"], 0) + 1
    parts.append("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    best = min(history, key=record_rank)
    scores = (f"validation {best['val_accuracy']:.4f}, test {best['test_accuracy']:.4f}," if metric == "accuracy"
              else scores_text(best, metric) + ";")
    parts.append(f"best: {scores} {best['params']} parameters, hash {best['hash']}")
    parts.append(genome_tables(Genome.from_dict(best["genome"])))
    curves = curves_table(history, metric=metric)
    if curves:
        parts.append(curves)
    if (run_dir / "pareto.json").exists():  # a multi-objective run: its front
        from garay.pareto_report import pareto_table, plot_pareto

        front = json.loads((run_dir / "pareto.json").read_text())["front"]
        parts.append(pareto_table(front, metric))
        plot_pareto(history, front, run_dir / "pareto.png", title=title, metric=metric)
    plot_fitness(history, run_dir / "fitness.png", title=title, metric=metric)
    if plot_curves(history, run_dir / "curves.png", title=title, metric=metric):
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
