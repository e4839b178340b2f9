"""Thin entry points: `garay` (one evolution, or a Hydra multirun) over garay.api.evolve.
`run(cfg)` is what tests call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from garay.api import check_overrides, evolve
from garay.config import ConfigError, register_configs
from garay.errors import reader_may_leave
from garay.help import answer
from garay.search.genome import Genome
from garay.preflight import refusals
from garay.results.tables import genome_tables, metric_of, scores_text

register_configs()


def run(cfg: DictConfig, run_dir: Path | str | None = None) -> dict[str, Any]:
    """Validate `cfg`, evolve (garay.api.evolve), print the best architecture; return the
    summary. Raises ConfigError (before any training or Ray start) for a bad value."""
    result = evolve(cfg, run_dir=run_dir)
    _print_best(result.summary, result.run_dir)
    return result.summary


def _print_best(summary: dict[str, Any], out: Path) -> None:
    best = summary["best"]
    if "genome" not in best:
        print("no genome was evaluated successfully")
        return
    found = f"generation {best['generation']}" if "generation" in best else f"birth {best['birth']}"
    metric = metric_of(summary.get("config"))  # what the fitness was: the best is best by it
    print(f"\nBest architecture ({scores_text(best, metric)}; {best['params']} parameters, {found}):\n")
    print(genome_tables(Genome.from_dict(best["genome"])))
    if "front" in summary:  # several objectives: the front is the result
        from garay.results.tables import pareto_table

        print("\n" + pareto_table(summary["front"], metric))
    print(f"\n{summary['evaluations']} evaluations in {summary['total_seconds']:.1f} s; run directory: {out}")


@hydra.main(version_base="1.3", config_path="pkg://garay.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    # conf/config.yaml's preflight callback checked the config before Hydra wrote the run
    # directory; a refusal found later puts it back as it was (garay.preflight).
    with refusals("garay"), reader_may_leave():
        run(cfg)


MULTIRUN_FLAGS = ("-m", "--multirun")


def multirun_first(argv: list[str]) -> list[str]:
    """`-m`/`--multirun` moved before the overrides (Hydra's parser wants it there; users
    write `garay +experiment=noise_level -m ga.generations=2`)."""
    flags = [a for a in argv if a in MULTIRUN_FLAGS]
    return flags[:1] + [a for a in argv if a not in MULTIRUN_FLAGS]


@reader_may_leave()
def main() -> None:
    """`garay [overrides]`: run one evolution; `garay -m ...` a multirun (`-m` anywhere);
    `garay --help [GROUP]`, `garay --version` (garay.help; Hydra's: `--hydra-help`)."""
    answer("garay", sys.argv[1:])
    argv = multirun_first(sys.argv[1:])
    overrides = [a for a in argv if a not in MULTIRUN_FLAGS]
    if all(not a.startswith("-") for a in overrides):  # Hydra's own flags (--cfg, --help, ...): Hydra's way
        try:
            check_overrides(overrides)
        except ConfigError as exc:
            print(f"garay: error: {exc}", file=sys.stderr)
            sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    _hydra_main()


if __name__ == "__main__":
    main()
