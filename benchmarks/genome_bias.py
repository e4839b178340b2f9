"""Are the genomes that get trained the ones the blueprint describes? Before (ga.fit=redraw:
unfitting genomes drawn again whole) and after (ga.fit=repair, garay.repair), on the
synthetic default input (32 x 32), FSDD's default (32 x 63) and the longer FSDD features
on which the study's networks fit (hop 64, 1.25 s: 32 x 157).

Two views, each against a nominal reference drawn by the same code on an input so long that
every genome fits:
- initial genomes: the sampler, `--initial` draws;
- trained genomes: every genome a generational run evaluates (study settings scaled to a
  population of 100 and 40 parents, 4 generations, `--seeds` runs), selection made neutral
  by a stand-in fitness drawn from the genome hash.

    python benchmarks/genome_bias.py [--initial 20000] [--seeds 5]
"""

from __future__ import annotations

import argparse
import tempfile

from garay.search.blueprint import Blueprint
from garay.execution.evaluation import TrainSettings
from garay.config.schema import GAConfig
from garay.search.space import GenomeSpace
from garay.strategies.search import Search
from garay.search.fitting import Room
from garay.search.genome import Genome
from garay.search.genome_stats import compare, genome_stats
from garay.results.runlog import RunLog
from garay.execution.standin import SleepTrainer
from garay.execution.inprocess import InProcessEvaluator

SHAPES = {"synthetic 32x32": (32, 32), "fsdd 32x63": (32, 63), "fsdd hop 64, 1.25 s: 32x157": (32, 157)}
UNBOUNDED = (32, 10**12)  # every genome fits: the nominal distribution
SHAPE_KEYS = [f"conv.{p}_tv" for p in ("kernel_size", "stride", "padding", "pool_size")]


def driver(input_shape: tuple[int, int], fit: str, seed: int, ga: GAConfig, run_dir: str) -> Search:
    evaluator = InProcessEvaluator(None, TrainSettings(), trainer=SleepTrainer(0.0))  # type: ignore[arg-type]
    ga = GAConfig(**{**ga.__dict__, "fit": fit})
    return Search(GenomeSpace.for_ga(Blueprint(), ga, input_shape, 10), ga, evaluator, RunLog(run_dir), seed=seed)


def initial(input_shape: tuple[int, int], fit: str, n: int) -> tuple[list[Genome], GenomeSpace]:
    with tempfile.TemporaryDirectory() as tmp:
        strategy = driver(input_shape, fit, 0, GAConfig(population_size=n, max_redraws=10_000), tmp).strategy
        return [strategy.space.sample(strategy.rng) for _ in range(n)], strategy.space


def trained(input_shape: tuple[int, int], fit: str, seeds: int) -> tuple[list[Genome], int, int]:
    genomes, redraws, repairs = [], 0, 0
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            run = driver(input_shape, fit, seed, GAConfig(population_size=100, num_parents=40, generations=4,
                                                          max_redraws=10_000), tmp)
            run.run()
            genomes += [Genome.from_dict(r["genome"]) for r in run.ledger.cache.values()]
            redraws, repairs = redraws + run.strategy.space.redraws, repairs + run.strategy.space.repairs
    return genomes, redraws, repairs


def row(label: str, genomes: list[Genome], nominal: dict, changed: float) -> str:
    s = genome_stats(genomes)
    d = compare(s, nominal)
    shape_tv = max(d[k] for k in SHAPE_KEYS)
    other_tv = max(v for k, v in d.items() if k.endswith("_tv") and k not in SHAPE_KEYS and k != "length_tv")
    return (f"  {label:<8} {len(genomes):>6} {changed:>8.1%} {s['mean_length']:>7.2f} {s['conv_share']:>7.3f} "
            f"{d['length_tv']:>7.3f} {shape_tv:>9.3f} {other_tv:>9.3f}")


def capped_share(genomes: list[Genome], max_convs: int) -> float:
    """The nominal conv share once convs beyond what the input holds become dense."""
    return sum(min(len(g.convs), max_convs) / len(g) for g in genomes) / len(genomes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--initial", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    header = (f"  {'':<8} {'genomes':>6} {'changed':>8} {'length':>7} {'conv':>7} {'len TV':>7} "
              f"{'shape TV':>9} {'other TV':>9}")
    print("changed: share of draws rejected (redraw) or of genomes repaired (repair); length: mean;\n"
          "conv: mean conv share; "
          "TV: total variation distance from nominal (length table; worst conv shape parameter;\n"
          "worst other parameter)\n")
    nominal_init, _ = initial(UNBOUNDED, "repair", args.initial)
    nominal_trained, _, _ = trained(UNBOUNDED, "repair", args.seeds)
    ni, nt = genome_stats(nominal_init), genome_stats(nominal_trained)
    for name, shape in SHAPES.items():
        cap = Room.of(Blueprint(), shape, 1, 12).max_convs
        print(f"{name} holds at most {cap} conv layers; nominal conv share with the surplus dense: "
              f"initial {capped_share(nominal_init, cap):.3f}, trained {capped_share(nominal_trained, cap):.3f}")
        print(f"{name}: initial genomes")
        print(header)
        print(row("nominal", nominal_init, ni, 0.0))
        for fit in ("redraw", "repair"):
            genomes, evo = initial(shape, fit, args.initial)
            changed = evo.redraws / (evo.redraws + len(genomes)) if fit == "redraw" else evo.repairs / len(genomes)
            print(row(fit, genomes, ni, changed))
        print(f"{name}: trained genomes ({args.seeds} neutral runs)")
        print(header)
        print(row("nominal", nominal_trained, nt, 0.0))
        for fit in ("redraw", "repair"):
            genomes, redraws, repairs = trained(shape, fit, args.seeds)
            changed = redraws / (redraws + len(genomes)) if fit == "redraw" else repairs / len(genomes)
            print(row(fit, genomes, nt, changed))
        print()


if __name__ == "__main__":
    main()
