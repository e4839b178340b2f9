"""garay from Python: `evolve(...)` runs one evolution and returns its result.

    from garay import evolve
    result = evolve(ga={"population_size": 6, "generations": 2, "num_parents": 2},
                    train={"epochs": 2}, run_dir="outputs/api")
    print(result.best_genome, result.test_accuracy)

Settings are the CLI's config keys: a group option by name (`data="fsdd"`), values as
nested mappings (`ga={"mode": "async"}`), top-level keys as they are (`seed=3`), and any
Hydra override string in `overrides`. The `garay` command calls the same code.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from garay import plugins
from garay.config import ConfigError, fitness_rounds, register_configs, validate
from garay.fidelity.rules import rung_schedule
from garay.search.genome import Genome
from garay.results.plots import plot_curves, plot_fitness, run_title
from garay.results.resume import FoundDir, check_free, check_resumable, flatten, run_identity, run_lock
from garay.results.runlog import SUMMARY, RunLog

log = logging.getLogger("garay")
register_configs()

GROUPS = ("blueprint", "ga", "train", "data", "cluster", "fitness")


@dataclass(frozen=True)
class RunResult:
    """What a run leaves: its directory, summary.json, history.jsonl and best.json."""

    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def best(self) -> dict[str, Any]:
        """The best evaluation (as best.json holds it); {"fitness": 0.0} when none succeeded."""
        return self.summary["best"]

    @property
    def best_genome(self) -> Genome | None:
        """The best genome, or None when no evaluation succeeded."""
        return Genome.from_dict(self.best["genome"]) if "genome" in self.best else None

    @property
    def val_accuracy(self) -> float:
        """The best genome's validation accuracy (0.0 when none succeeded)."""
        return float(self.best.get("val_accuracy", 0.0))

    @property
    def test_accuracy(self) -> float:
        """The best genome's test accuracy, measured once on data the search never saw."""
        return float(self.best.get("test_accuracy", 0.0))


def compose(overrides: Sequence[str] = (), **settings: Any) -> DictConfig:
    """garay's config: the defaults, then Hydra `overrides` (`"data=fsdd"`,
    `"ga.mode=async"`), then `settings` (see the module docstring). Raises ConfigError
    naming the key for an unknown key, a wrong type, or an unknown group option."""
    choices = [f"{k}={v}" for k, v in settings.items() if k in GROUPS and isinstance(v, str)]
    values = {k: _named(v) for k, v in settings.items() if not (k in GROUPS and isinstance(v, str))}
    hydra_overrides = [*overrides, *choices]
    check_overrides(hydra_overrides)  # the CLI's one-line errors, before composing
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=hydra_overrides)
    try:
        return OmegaConf.merge(cfg, values)  # type-checked against the structured config
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "settings"
        raise ConfigError(str(key), str(exc).strip().splitlines()[0]) from None


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
                hint = _did_you_mean(difflib.get_close_matches(name, options, 1))
                message = f"no option {name!r}; available: {', '.join(options)}{hint}"
                raise ConfigError(group or "overrides", message) from None
            except HydraException as exc:  # a wrong type or an unknown key: OmegaConf names it
                cause = exc.__cause__
                key = getattr(cause, "full_key", None)
                if key:
                    message = str(cause).strip().splitlines()[0] + _nearest_key(str(key), config_name)
                    raise ConfigError(str(key), message) from None
                raise ConfigError("overrides", str(exc).strip().splitlines()[0]) from None


def _nearest_key(key: str, config_name: str) -> str:
    """'; did you mean KEY?' for a mistyped key (nothing for a known key given a bad value)."""
    from garay.config import reference
    from garay.config.schema import BestConfig, Config

    schema = BestConfig if config_name == "best" else Config
    if key in reference.all_names(schema):
        return ""
    return _did_you_mean(reference.nearest(key, schema))


def _did_you_mean(names: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(names)}?" if names else ""


def _named(value: Any) -> Any:
    """Functions and classes (your parts: `fitness={"metric": macro_f1}`) by their dotted
    path, which is what the config holds and the workers import."""
    if isinstance(value, Mapping):
        return {k: _named(v) for k, v in value.items()}
    return plugins.name_of(value) if callable(value) else value


def evolve(config: DictConfig | Mapping[str, Any] | None = None, *, overrides: Sequence[str] = (),
           run_dir: Path | str | None = None, **settings: Any) -> RunResult:
    """Run one evolution and return its result.

    `config`: a composed garay config (what the CLI passes), or None to compose one from
    `overrides` and `settings` (a mapping `config` is merged like `settings`). `run_dir`:
    where the run's files go (default `outputs/DATE/TIME`, as the CLI). With
    `resume=True` it continues the run in `run_dir`. Raises ConfigError (before any
    training or Ray start) for a bad value; a refused call leaves `run_dir` as it was (or
    makes none).
    """
    if not isinstance(config, DictConfig):
        config = compose(overrides, **{**dict(config or {}), **settings})
    elif overrides or settings:
        raise TypeError("evolve: pass either a composed config or overrides/settings, not both")
    out = _run_dir(run_dir)
    check_run(config, out)
    found = FoundDir.of(out)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        try:
            summary, history = _evolve(config, out, RunLog(out))
        except ConfigError:  # refused later (the data, the cluster): put back what this call wrote
            found.put_back()
            raise
    return RunResult(out, summary, history)


def check_run(cfg: DictConfig, run_dir: Path | str) -> None:
    """What a run refuses before it writes anything (ConfigError): a bad value, a part that
    cannot be imported, a run directory that holds another run (or the same one with other
    settings) or a live driver. The Hydra preflight (garay.preflight) calls it too."""
    validate(cfg)
    plugins.check(cfg)
    if Path(run_dir).is_dir():
        check_resumable(cfg, RunLog(run_dir))
        check_free(run_dir)


def _run_dir(run_dir: Path | str | None) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path("outputs") / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S")


def _evolve(cfg: DictConfig, out: Path, runlog: RunLog) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load the data, evolve, write the run directory: (the summary, the history)."""
    from garay.execution.cluster import join_early
    from garay.execution.trainer import peak_rss_bytes

    checkpoint = check_resumable(cfg, runlog)
    started = time.perf_counter()
    rounds = fitness_rounds(cfg)
    py_modules = plugins.modules_to_ship(cfg)
    with join_early(cfg.cluster, py_modules) as joined:
        summary, dataset, tracker = _evolve_in(cfg, out, runlog, checkpoint, rounds, py_modules, joined)
    summary["config"] = OmegaConf.to_container(cfg, resolve=True)
    summary["overrides"] = _overrides()
    summary["data"] = {"name": dataset.name, "sizes": dataset.sizes(), "input_shape": list(dataset.input_shape),
                       "classes": list(dataset.classes), "features_bytes": dataset.nbytes(),
                       **({"prepared_on": dataset.info["prepared_on"]} if "prepared_on" in dataset.info else {})}
    summary["driver_peak_memory_bytes"] = peak_rss_bytes()  # data and the object store's pages included
    summary["total_seconds"] = round(time.perf_counter() - started, 3)
    runlog.write(SUMMARY, summary)
    if tracker is not None:
        hparams = {k: v for k, v in flatten(run_identity(cfg)).items() if isinstance(v, (int, float, str, bool))}
        tracker.finish(hparams, summary["best"])
    history = runlog.history()
    metric = plugins.metric_name(plugins.spec_at(cfg, "fitness.metric"))  # the plots name what was optimised
    title = run_title(out)  # the directory the user knows, not the run id inside history.jsonl
    plot_fitness(history, out / "fitness.png", title=title, metric=metric)
    plot_curves(history, out / "curves.png", title=title, metric=metric)
    if "front" in summary:
        from garay.results.plots import plot_pareto

        plot_pareto(history, summary["front"], out / "pareto.png", title=title,
                    metric=metric)
    return summary, history


def _evolve_in(cfg: DictConfig, out: Path, runlog: RunLog, checkpoint: dict[str, Any] | None, rounds: int,
               py_modules: list[str], joined: Any) -> tuple[dict[str, Any], Any, Any]:
    """Load the data (on the cluster's nodes when `joined`), evolve: (summary, dataset, tracker)."""
    from garay.data import load_dataset
    from garay.execution.cluster import make_evaluator
    from garay.execution.evaluation import TrainSettings
    from garay.execution.trainer import TorchTrainer
    from garay.search.space import GenomeSpace

    loader = plugins.spec_at(cfg, "data.loader")  # your loader, not the data group it overrides
    log.info("preparing data: %s", f"data.loader={plugins.target(loader)}" if loader is not None
             else f"data={cfg.data.name}")
    dataset = load_dataset(cfg.data, rounds, progress=cfg.progress, remote=joined is not None)
    metric = plugins.metric_name(plugins.spec_at(cfg, "fitness.metric"))
    log.info("data %s: %s, input shape %s, %d classes; fitness: validation %s, %d validation round(s) x %d "
             "training(s)", dataset.name, dataset.sizes(), dataset.input_shape, dataset.num_classes, metric, rounds,
             cfg.fitness.repeats)
    warn_small_validation(dataset)
    space = GenomeSpace.from_config(cfg, dataset.input_shape, dataset.num_classes)
    space.check(cfg.seed)  # before Ray starts
    tracker = None
    if cfg.tensorboard:
        from garay.results.tracking import TensorBoardTracker

        tracker = TensorBoardTracker(out / "tensorboard", metric=metric)
    trainer_spec = plugins.spec_at(cfg, "train.trainer")
    trainer = plugins.resolve(trainer_spec) if trainer_spec is not None else TorchTrainer
    with make_evaluator(cfg.cluster, dataset, TrainSettings.from_config(cfg), trainer=trainer, py_modules=py_modules,
                        joined=joined) as evaluator:
        summary = search(cfg, space, evaluator, runlog, checkpoint, tracker=tracker, metric=metric)
        summary["worker_peak_memory_bytes"] = evaluator.peak_memory()
        # Live workers (the pool follows the cluster): at the end, and the most at once.
        summary["workers"] = evaluator.num_workers
        summary["workers_max"] = evaluator.most_workers
    return summary, dataset, tracker


SMALL_VALIDATION = 50  # fewer validation examples than this: fitness moves in steps above 0.02


def warn_small_validation(dataset: Any) -> None:
    """Say at the start of a run when the validation set is too small to tell networks
    apart: how many examples it holds, and what one step of fitness is (one example)."""
    n = min(len(d.y_val) for d in (dataset, *dataset.rounds))
    if n < SMALL_VALIDATION:
        log.warning("the validation set holds %d examples: fitness (validation accuracy) moves in steps of %.3f, so "
                    "networks closer than that cannot be told apart, and a fitness of 1.0 may be luck; more data "
                    "(or a larger data.val_fraction) gives finer steps", n, 1 / max(n, 1))


def search(cfg: DictConfig, space: Any, evaluator: Any, runlog: RunLog, checkpoint: dict[str, Any] | None, *,
           tracker: Any = None, metric: str = "accuracy") -> dict[str, Any]:
    """The search a composed config asks for (garay.strategies.search.Search)."""
    from garay.config.schema import GAConfig
    from garay.strategies.search import Search

    run = Search(space, GAConfig.from_config(cfg.ga), evaluator, runlog, seed=cfg.seed, rungs=rung_schedule(cfg),
                 identity=run_identity(cfg), progress=cfg.progress, tracker=tracker, metric=metric)
    if cfg.resume:
        run.restore(checkpoint)
    return run.run()


def _overrides() -> list[str]:
    """The command-line overrides of this job (what a sweep varied), when run by Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
