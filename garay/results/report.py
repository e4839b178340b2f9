"""`garay-report RUN_DIR | SWEEP_DIR`: a run or a sweep as text, its figures drawn again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from garay.fidelity.rules import record_rank
from garay.errors import reader_may_leave
from garay.results.plots import plot_curves, plot_fitness, plot_pareto, run_title
from garay.results.tables import curves_table, generation_table, genome_tables, metric_of, pareto_table, scores_text, table
from garay.search.genome import Genome

if TYPE_CHECKING:
    import argparse


def run_report(run_dir: Path) -> str:
    """A run directory as text: fitness by generation (the new genomes' and the
    population's), the best architecture, learning curves of the best; also regenerates
    fitness.png, curves.png (and pareto.png)."""
    import json

    from garay.results.runlog import read_history

    def read(name: str) -> dict[str, Any]:
        return json.loads((run_dir / name).read_text()) if (run_dir / name).exists() else {}

    summary = read("summary.json")
    history = list(read_history(run_dir / "history.jsonl"))
    if not history:
        raise FileNotFoundError(f"{run_dir} holds no history.jsonl with evaluations")
    checkpoint = read("checkpoint.json") if not summary else {}  # an unfinished run: what it has so far
    metric = metric_of(summary.get("config") or checkpoint.get("identity"))
    title = run_title(run_dir)
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
        front = json.loads((run_dir / "pareto.json").read_text())["front"]
        parts.append(pareto_table(front, metric))
        plot_pareto(history, front, run_dir / "pareto.png", title=title, metric=metric)
    plot_fitness(history, run_dir / "fitness.png", title=title, metric=metric)
    if plot_curves(history, run_dir / "curves.png", title=title, metric=metric):
        parts.append(f"plots: {run_dir / 'fitness.png'}, {run_dir / 'curves.png'}")
    return "\n\n".join(parts)


def sweep_report(sweep_dir: Path) -> str:
    """A multirun directory as a table (and its CSV and plots regenerated)."""
    from garay.results.sweep import REPRODUCTIONS, summarise_sweep, swept_keys

    rows, compare = summarise_sweep(sweep_dir)
    keys = swept_keys(rows)
    text = table(("job", *keys, "best val", "best test", "evaluations"),
                 [(r["job"], *[r["overrides"].get(k, "") for k in keys], f"{r['best_val_accuracy']:.4f}",
                   f"{r['best_test_accuracy']:.4f}", r["evaluations"]) for r in rows])
    text = f"sweep {sweep_dir}: {len(rows)} jobs\n\n{text}"
    if compare:
        from garay.results.anytime import compare_text

        text += "\n\n" + compare_text(compare)
    if (sweep_dir / REPRODUCTIONS).exists():
        text += "\n\n" + (sweep_dir / REPRODUCTIONS).read_text()
    return text


def build_parser() -> "argparse.ArgumentParser":
    """garay-report's command line; its help is what `garay-report --help` prints (garay.help)."""
    import argparse

    import garay
    from garay.config.reference import HelpFormatter, commands_text

    ap = argparse.ArgumentParser(
        prog="garay-report", formatter_class=HelpFormatter,
        description="Print a garay run or sweep directory as tables and draw its figures again: fitness by\n"
                    "generation, the best architecture and its learning curves (a run), or one row a job\n"
                    "(a multirun's sweep directory).",
        epilog="examples:\n  garay-report outputs/DATE/TIME     a run: tables; fitness.png, curves.png redrawn\n"
               "  garay-report multirun/DATE/TIME    a sweep: one row a job; sweep_summary.csv and plots\n\n"
               + commands_text("garay-report"))
    ap.add_argument("directory", type=Path, help="a run directory or a multirun (sweep) directory")
    ap.add_argument("--version", action="version", version=f"garay {garay.__version__}")
    return ap


@reader_may_leave()
def main(argv: Sequence[str] | None = None) -> int:
    """`garay-report DIR`: print a run or sweep directory as tables; regenerate its plots."""
    import sys

    args = build_parser().parse_args(argv)
    d: Path = args.directory
    try:
        if (d / "history.jsonl").exists():
            text = run_report(d)
        elif any(d.glob("*/summary.json")):
            text = sweep_report(d)
        else:
            raise FileNotFoundError(f"{d} is neither a garay run (history.jsonl) nor a sweep (*/summary.json)")
    except FileNotFoundError as exc:
        print(f"garay-report: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
