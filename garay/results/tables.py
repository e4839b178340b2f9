"""Results as text: architecture tables like the study's Table 1, generation and curve
tables, the front, and how the fitness is named."""

from __future__ import annotations

import statistics
from typing import Any, Iterable, Sequence

from garay.fidelity.rules import record_rank
from garay.search.genome import Genome


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
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
    """The genome as tables: convolutional layers, dense layers, and its training genes if any."""
    parts = []
    if genome.convs:
        rows = [(i + 1, g.filters, g.kernel_size, g.stride, g.padding, g.pool_size, g.activation)
                for i, g in enumerate(genome.convs)]
        parts.append("Convolutional layers\n" + table(
            ("layer", "filters", "kernel", "stride", "padding", "max-pool", "activation"), rows))
    if genome.denses:
        rows = [(i + 1, g.neurons, g.activation, g.dropout) for i, g in enumerate(genome.denses)]
        parts.append("Dense layers\n" + table(("layer", "neurons", "activation", "dropout"), rows))
    if genome.recipe is not None:
        r = genome.recipe
        parts.append("Training genes\n" + table(
            ("lr", "weight decay", "batch", "noise", "time masks", "freq masks", "shift", "warp", "mixup"),
            [(f"{r.lr:g}", f"{r.weight_decay:g}", r.batch_size, f"{r.noise_level:g}", r.time_masks, r.freq_masks,
              f"{r.shift:g}", f"{r.warp:g}", f"{r.mixup:g}")]))
    return "\n\n".join(parts)


def fitness_label(metric: str = "accuracy") -> str:
    """The fitness axis and column name: what the GA optimised (garay.plugins.metric_name)."""
    return f"fitness (validation {metric})"


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
    text = f"learning curves of the best{ranked} (validation accuracy after epoch)\n" + table(
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
                + table(("births", "evaluated", "stopped early", "best", "median"), rows))
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
            + table(("generation", "evaluated", "stopped early", "new: best", "new: median", "population: best",
                      "population: median", "best so far"), rows)
            + "\nnew: the genomes first evaluated in that generation (stopped early: not ranked)"
              "\npopulation: its parents and children, as in the log and checkpoint.json's generation_stats")


def pareto_table(front: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """The front, smallest first: parameters, fitness (validation `metric`), test scores
    (and latency)."""
    latency = any("latency_ms" in r for r in front)
    own = metric != "accuracy"
    rows = [(f"{r['params']:,}", f"{r['fitness']:.4f}", *([f"{test_score(r, metric):.4f}"] if own else []),
             f"{r['test_accuracy']:.4f}", *([f"{r.get('latency_ms', float('nan')):.3f}"] if latency else []),
             r["hash"][:12]) for r in front]
    headers = ("parameters", f"fitness (val {metric})", *([f"test {metric}"] if own else []), "test accuracy",
               *(["latency ms"] if latency else []), "hash")
    return f"Pareto front ({len(front)} genomes, smallest first)\n" + table(headers, rows)


def test_score(r: dict[str, Any], metric: str) -> float:
    """A front member's test score in the fitness's own terms (the metric, else accuracy)."""
    return r["test_metric"] if metric != "accuracy" and r.get("test_metric") is not None else r["test_accuracy"]
