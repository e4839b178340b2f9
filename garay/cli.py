"""Thin entry points. `run(cfg)` does the work and is what tests call."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import hydra
from omegaconf import DictConfig, OmegaConf

from garay.blueprint import Blueprint
from garay.config import ConfigError, fitness_rounds, register_configs, rung_schedule, validate
from garay.genome import Genome
from garay.report import genome_tables, plot_curves, plot_fitness
from garay.runlog import SUMMARY, RunLog

log = logging.getLogger("garay")
register_configs()


def _run_dir(run_dir: Path | str | None) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path.cwd()


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """The settings that decide a run's results: a resumed run must match them."""
    keep = ("seed", "blueprint", "ga", "train", "data", "fitness")
    return {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k] for k in keep}


def _check_resumable(cfg: DictConfig, runlog: RunLog) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: start afresh). Refuses to mix two runs in
    one directory, or to continue a run with different settings (ga.mode among them: the
    identity holds the whole ga group)."""
    has_history = runlog.history_path.exists() and runlog.history_path.stat().st_size > 0
    if not cfg.resume:
        if has_history:
            raise ConfigError("resume", f"{runlog.dir} already holds a run; pass resume=true to continue it, "
                                        "or choose another hydra.run.dir")
        return None
    checkpoint = runlog.checkpoint()
    if checkpoint is None:
        if has_history:
            raise ConfigError("resume", f"{runlog.dir} has a history but no checkpoint.json to resume from")
        return None
    before, now = _flatten(checkpoint.get("identity", {})), _flatten(run_identity(cfg))
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            raise ConfigError(key, f"was {before.get(key)!r} in the run being resumed, now {now.get(key)!r}")
    return checkpoint


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run(cfg: DictConfig, run_dir: Path | str | None = None) -> dict[str, Any]:
    """Validate `cfg`, load the data, evolve, write the run directory; return the summary.

    Raises ConfigError (before any training or Ray start) for a bad value. With
    `resume=true` it continues the run in the directory from its checkpoint and history.
    """
    validate(cfg)
    out = _run_dir(run_dir)
    runlog = RunLog(out)
    with run_lock(out):
        return _evolve(cfg, out, runlog)


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One driver per run directory: an exclusive lock on RUN_DIR/.garay.lock (flock: the
    system releases it when the driver ends, even by SIGKILL, so resume is never blocked
    by a dead one). A second driver, e.g. `resume=true` on a live run, refuses."""
    import fcntl
    import os
    import socket

    f = open(run_dir / ".garay.lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise ConfigError("hydra.run.dir", f"{run_dir} is in use by a live garay driver ({holder}); wait for it to "
                                           "end, or stop it, before resuming") from None
    try:
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _evolve(cfg: DictConfig, out: Path, runlog: RunLog) -> dict[str, Any]:
    from garay.cluster import make_evaluator
    from garay.data import load_dataset
    from garay.evaluation import TrainSettings
    from garay.evolution import Evolution, GASettings, check_feasible
    from garay.random_search import RandomSearch
    from garay.steady_state import SteadyStateEvolution

    checkpoint = _check_resumable(cfg, runlog)
    started = time.perf_counter()
    rounds = fitness_rounds(cfg)
    dataset = load_dataset(cfg.data, rounds)
    log.info("data %s: %s, input shape %s, %d classes; fitness: %d validation round(s) x %d training(s)",
             dataset.name, dataset.sizes(), dataset.input_shape, dataset.num_classes, rounds, cfg.fitness.repeats)
    settings = TrainSettings.from_config(cfg)
    blueprint = Blueprint.from_config(cfg.blueprint)
    check_feasible(blueprint, cfg.ga.conv_chance, dataset.input_shape, dataset.num_classes, cfg.blueprint.conv_dim,
                   cfg.ga.max_redraws, cfg.seed, cfg.ga.fit)  # before Ray starts
    tracker = None
    if cfg.tensorboard:
        from garay.tracking import TensorBoardTracker

        tracker = TensorBoardTracker(out / "tensorboard")
    with make_evaluator(cfg.cluster, dataset, settings) as evaluator:
        driver = {"generational": Evolution, "async": SteadyStateEvolution, "random": RandomSearch}[cfg.ga.mode]
        evolution = driver(
            blueprint=blueprint,
            ga=GASettings.from_config(cfg.ga),
            evaluator=evaluator,
            runlog=runlog,
            input_shape=dataset.input_shape,
            num_classes=dataset.num_classes,
            conv_dim=cfg.blueprint.conv_dim,
            seed=cfg.seed,
            run_id=uuid.uuid4().hex[:12],
            progress=cfg.progress,
            identity=run_identity(cfg),
            tracker=tracker,
            rungs=rung_schedule(cfg),
        )
        if cfg.resume:
            runlog.repair()
            evolution.restore(checkpoint, runlog.history(), runlog.rung_history())
            where = "" if cfg.ga.mode == "async" else f" at generation {evolution.generation}"
            log.info("resuming run %s%s with %d finished evaluations", evolution.run_id, where,
                     evolution.resumed_evaluations)
        summary = evolution.run()
        if hasattr(evaluator, "peak_memory"):
            summary["worker_peak_memory_bytes"] = evaluator.peak_memory()
        # Live workers (the pool follows the cluster): at the end, and the most at once.
        summary["workers"] = evaluator.num_workers
        summary["workers_max"] = getattr(evaluator, "most_workers", evaluator.num_workers)
    summary["config"] = OmegaConf.to_container(cfg, resolve=True)
    summary["overrides"] = _overrides()
    summary["data"] = {"name": dataset.name, "sizes": dataset.sizes(), "input_shape": list(dataset.input_shape),
                       "classes": list(dataset.classes)}
    summary["total_seconds"] = round(time.perf_counter() - started, 3)
    runlog.write(SUMMARY, summary)
    if tracker is not None:
        hparams = {k: v for k, v in _flatten(run_identity(cfg)).items() if isinstance(v, (int, float, str, bool))}
        tracker.finish(hparams, summary["best"])
    history = runlog.history()
    plot_fitness(history, out / "fitness.png", title=f"garay run {summary['run_id']}")
    plot_curves(history, out / "curves.png", title=f"garay run {summary['run_id']}")
    _print_best(summary, out)
    return summary


def _overrides() -> list[str]:
    """The command-line overrides of this job (what a sweep varied), when run by Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _print_best(summary: dict[str, Any], out: Path) -> None:
    best = summary["best"]
    if "genome" not in best:
        print("no genome was evaluated successfully")
        return
    found = f"generation {best['generation']}" if "generation" in best else f"birth {best['birth']}"
    print(f"\nBest architecture (validation accuracy {best['val_accuracy']:.4f}, "
          f"test accuracy {best['test_accuracy']:.4f}, {best['params']} parameters, {found}):\n")
    print(genome_tables(Genome.from_dict(best["genome"])))
    print(f"\n{summary['evaluations']} evaluations in {summary['total_seconds']:.1f} s; run directory: {out}")


@hydra.main(version_base="1.3", config_path="pkg://garay.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except ConfigError as exc:
        print(f"garay: error: {exc}", file=sys.stderr)
        sys.exit(2)


MULTIRUN_FLAGS = ("-m", "--multirun")


def multirun_first(argv: list[str]) -> list[str]:
    """`-m`/`--multirun` moved before the overrides (Hydra's parser wants it there; users
    write `garay +experiment=noise_level -m ga.generations=2`)."""
    flags = [a for a in argv if a in MULTIRUN_FLAGS]
    return flags[:1] + [a for a in argv if a not in MULTIRUN_FLAGS]


def check_overrides(overrides: list[str], config_name: str = "config") -> None:
    """Compose the config once per value that each override names (every value of a
    sweep), before Hydra starts a job: a wrong type or an unknown key raises ConfigError
    naming the key, where Hydra would print its own multi-line error (exit 1)."""
    from hydra import compose, initialize_config_module
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException, MissingConfigException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise ConfigError("overrides", str(exc).strip().splitlines()[0]) from None
    mine = [o for o in parsed if not o.get_key_element().lstrip("+~").startswith("hydra")]
    fixed = [o.input_line for o in mine if not o.is_sweep_override()]
    trials = [fixed]
    for o in (o for o in mine if o.is_sweep_override()):
        try:
            values = list(o.sweep_string_iterator())
        except Exception:  # noqa: BLE001 - a sweep Hydra's basic sweeper cannot list (interval)
            continue
        trials += [[*fixed, f"{o.get_key_element()}={v}"] for v in values]
    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        for trial in trials:
            try:
                compose(config_name=config_name, overrides=trial)
            except MissingConfigException as exc:  # data=nope: name the group and what it offers
                group, _, name = (exc.missing_cfg_file or "overrides/?").rpartition("/")
                options = [o for o in exc.options or [] if not o.endswith("_schema")]
                raise ConfigError(group or "overrides", f"no option {name!r}; available: {', '.join(options)}") from None
            except HydraException as exc:  # a wrong type or an unknown key: OmegaConf names it
                cause = exc.__cause__
                key = getattr(cause, "full_key", None)
                if key:
                    raise ConfigError(str(key), str(cause).strip().splitlines()[0]) from None
                raise ConfigError("overrides", str(exc).strip().splitlines()[0]) from None


def main() -> None:
    """`garay [overrides]`: run one evolution; `garay -m ...` a multirun (`-m` anywhere)."""
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
