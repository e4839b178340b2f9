"""Results as figures: fitness by generation, learning curves, and (several objectives)
fitness against size with the front highlighted. Every legend sits below its axes, off the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from garay.fidelity.rules import record_rank
from garay.results.tables import fitness_label, test_score


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


def run_title(run_dir: Path | str) -> str:
    """A run's figures' title: its directory as the user names it (relative to the working
    directory when inside it, else its last three parts, outputs/DATE/TIME's shape)."""
    import os

    try:
        # A Ray job's working directory can be unpacked again (and the old one removed)
        # while its driver runs: a vanished directory is not "inside".
        cwd = Path(os.getcwd())
    except FileNotFoundError:
        cwd = None
    path = Path(run_dir)
    if cwd is not None and not path.is_absolute():
        path = Path(os.path.normpath(cwd / path))
    try:
        shown = path.relative_to(cwd).as_posix() if cwd is not None else None
    except ValueError:
        shown = None
    return f"garay run {shown or '/'.join(path.parts[-3:])}"


def epoch_axis(ax: Any, epochs: int) -> None:
    """An x axis of whole epochs 1..`epochs`, each ticked when there are few (MaxNLocator
    alone ticks 0.945 ... 1.050 around a single epoch), with half an epoch of margin."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(0.5, max(epochs, 1) + 0.5)
    if epochs <= 12:
        ax.set_xticks(range(1, max(epochs, 1) + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


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
    epoch_axis(ax, max(len(h["curve"]) for h in curves))
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


def pareto_figure(history: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]], title: str = "garay",
                  metric: str = "accuracy") -> Any:
    """pareto.png's figure: validation fitness against parameter count (log scale), every
    full evaluation in grey, the front in colour joined as a staircase, each member
    labelled with its test score (`metric`: what the fitness is, plugins.metric_name)."""
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
            ax.annotate(f"{test_score(r, metric):.2f}", (r["params"], r["fitness"]), fontsize=9,
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
    save_figure(pareto_figure(history, front, title, metric), path)
