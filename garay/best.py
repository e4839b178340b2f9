"""`garay-best`: retrain the best genome of a run (or any genome file, or a member of a
run's Pareto front) several times and report the mean and spread of its validation and
test accuracy, as the study's second script did."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any, Sequence

import hydra
from omegaconf import DictConfig, OmegaConf

from garay.config import ConfigError, register_configs, validate
from garay.errors import reader_may_leave
from garay.search.genome import Genome, shipped_genomes
from garay.preflight import refusals
from garay.results.tables import genome_tables
from garay.results.runlog import BEST, CHECKPOINT, PARETO, SUMMARY, write_json_atomic

log = logging.getLogger("garay.best")
register_configs()
RESULTS = "retrain.json"


def genome_path(name: str) -> Path:
    """A genome file's path: `name` itself when it exists, else a shipped genome's name."""
    path = Path(name)
    if path.exists() or path.suffix == ".json" or "/" in name:
        return path
    shipped = shipped_genomes()
    if name not in shipped:
        raise ConfigError("genome", f"no file {name!r} and no shipped genome of that name; shipped: {', '.join(shipped)}")
    return shipped[name]


def _retrain_dir(run_dir: str | None) -> str:
    """Where a retrain's folder goes (conf/best.yaml's hydra.run.dir): RUN/retrain with
    run_dir, else outputs/retrain."""
    return str(Path(run_dir) / "retrain") if run_dir else str(Path("outputs") / "retrain")


OmegaConf.register_new_resolver("garay.retrain_dir", _retrain_dir, replace=True)


def _read(path: Path, key: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(key, f"cannot read a genome from {path}: {exc}") from None


def _from_run(path: Path) -> Path | None:
    """The run a genome file belongs to: a run's best.json or pareto.json, beside the run's
    settings (summary.json, or checkpoint.json of a run that did not finish)."""
    run = path.parent
    if path.name in (BEST, PARETO) and any((run / name).exists() for name in (SUMMARY, CHECKPOINT)):
        return run
    return None


def _pick(data: Any, member: str | None, path: Path) -> tuple[Any, str]:
    """The record to retrain from a file's contents: the file itself (a genome, or a record
    holding one), or with a Pareto front (pareto.json) the member `member` names: its index
    in the front or a prefix of its hash. Also says where it came from."""
    front = data.get("front") if isinstance(data, dict) else None
    if not isinstance(front, list):
        if member is not None:
            raise ConfigError("member", f"picks a member of a Pareto front (a pareto.json); {path} holds one genome")
        return data, str(path)
    listing = "; ".join(f"{i}: {r.get('hash', '?')[:8]} fitness {r.get('fitness', float('nan')):.4f} "
                        f"params {r.get('params', '?')}" for i, r in enumerate(front))
    if member is None:
        raise ConfigError("member", f"{path} is a Pareto front of {len(front)} genomes; choose one with member=INDEX "
                                    f"or member=HASH_PREFIX: {listing}")
    chosen = str(member)
    if chosen.isdigit() and int(chosen) < len(front):
        index = int(chosen)
    else:
        hits = [i for i, r in enumerate(front) if str(r.get("hash", "")).startswith(chosen)]
        if len(hits) != 1:
            what = "matches no member" if not hits else f"matches {len(hits)} members"
            raise ConfigError("member", f"{chosen!r} {what} of the front in {path}: {listing}")
        index = hits[0]
    return front[index], f"{path} member {index}"


def _load_genome(cfg: DictConfig) -> tuple[Genome, dict[str, Any], Path | None]:
    """The genome to retrain, what is known of it (its source; the run's recorded accuracy)
    and the run whose settings to retrain it with (None: a bare genome file)."""
    if (cfg.run_dir is None) == (cfg.genome is None):
        raise ConfigError("run_dir", "give exactly one run directory (garay-best DIR, or run_dir=DIR) or genome "
                                     "(garay-best FILE|NAME, or genome=FILE|NAME: a genome JSON or a shipped genome)")
    if cfg.genome is not None:
        path, key = genome_path(str(cfg.genome)), "genome"
        run = _from_run(path)
    else:
        run, key = Path(cfg.run_dir), "run_dir"
        path = run / (PARETO if cfg.member is not None else BEST)
        if not path.exists():
            what = "a multi-objective garay run" if cfg.member is not None else "a garay run directory"
            raise ConfigError("run_dir", f"{path} does not exist (is {cfg.run_dir} {what}?)")
    record, source = _pick(_read(path, key), cfg.member, path)
    try:
        genome = Genome.from_dict(record.get("genome", record) if isinstance(record, dict) else record)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(key, f"cannot read a genome from {source}: {exc}") from None
    known: dict[str, Any] = {"source": source}
    if run is not None and all(k in record for k in ("fitness", "val_accuracy", "test_accuracy")):
        known["recorded"] = record  # retrained on the run's settings: comparable with what it recorded
    return genome, known, run


GROUPS = ("data", "train", "blueprint", "fitness")


def _with_run_settings(cfg: DictConfig, run: Path | None, overrides: Sequence[str]) -> DictConfig:
    """With a run (run_dir, or a run's genome file): the run's data/train/blueprint/fitness
    settings (from summary.json, or from checkpoint.json for a run that did not finish),
    then what this command overrode (`overrides`: its command line)."""
    if run is None:
        return cfg
    if (run / SUMMARY).exists():
        run_cfg = json.loads((run / SUMMARY).read_text())["config"]
    elif (run / CHECKPOINT).exists():
        run_cfg = json.loads((run / CHECKPOINT).read_text()).get("identity", {})
    else:
        raise ConfigError("run_dir", f"{run} has neither summary.json nor checkpoint.json: its settings are unknown")
    merged = OmegaConf.merge(cfg, {k: run_cfg[k] for k in GROUPS if k in run_cfg})
    for key in _overridden(overrides):
        if key.split(".")[0] in GROUPS:  # `data=npz` (a group) or `train.epochs=3` (a key)
            OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
    return merged


def _overridden(overrides: Sequence[str]) -> list[str]:
    """The keys (or groups) a command line sets."""
    return [o.split("=", 1)[0].lstrip("+~") for o in overrides]


def _task_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def prepare(cfg: DictConfig, overrides: Sequence[str] = ()) -> tuple[Genome, dict[str, Any], DictConfig]:
    """What retrain works from: the genome, what is known of it, and the config to retrain
    it with (its run's settings under the command line's `overrides`). Raises ConfigError,
    before anything is written or loaded, for a bad call."""
    if cfg.repeats < 1:
        raise ConfigError("repeats", f"must be at least 1, got {cfg.repeats}")
    genome, known, run = _load_genome(cfg)
    cfg = _with_run_settings(cfg, run, overrides)
    validate(cfg)
    known["settings_from"] = str(run) if run is not None else None
    return genome, known, cfg


def check(cfg: DictConfig, out_dir: Path) -> None:
    """The Hydra preflight's check (conf/best.yaml): refuse a bad call before Hydra writes
    the retrain's folder."""
    prepare(cfg, list(cfg.hydra.overrides.task))


def _say_data(cfg: DictConfig, known: dict[str, Any], overrides: Sequence[str]) -> None:
    """One line: which data the genome is retrained on, and where that choice came from."""
    if known["settings_from"] is not None:
        log.info("retraining on data=%s with the settings of run %s (command-line overrides win)", cfg.data.name,
                 known["settings_from"])
    elif {"data", "data.name", "data.loader"} & set(_overridden(overrides)):  # the data set itself, not its size
        log.info("retraining on data=%s (from the command line)", cfg.data.name)
    else:
        log.info("retraining on data=%s, the default: %s holds no data settings (choose with data=..., or retrain "
                 "a run's genome: garay-best RUN_DIR)", cfg.data.name, known["source"])


def retrain(cfg: DictConfig, out_dir: Path | str) -> dict[str, Any]:
    """Score the genome `repeats` times with distinct seeds, each time as a run's fitness
    does (every validation round x fitness.repeats trainings, means); write retrain.json
    (and the weights of the best round-one model as best_model.npz); return the results."""
    overrides = _task_overrides()
    genome, known, cfg = prepare(cfg, overrides)
    _say_data(cfg, known, overrides)
    from garay.search.shapes import InvalidGenome, infer_shapes
    import torch

    from garay.config import fitness_rounds
    from garay.data import load_dataset
    from garay.execution.evaluation import TrainSettings, evaluation_seed, training_seed
    from garay.execution.train import DeviceData, predict, train_model
    from garay.execution.weights import save_weights

    torch.set_num_threads(cfg.cluster.cpus_per_worker)
    out = Path(out_dir)
    dataset = load_dataset(cfg.data, fitness_rounds(cfg), progress=bool(cfg.get("progress", True)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        infer_shapes(genome, dataset.input_shape, dataset.num_classes, cfg.blueprint.conv_dim)
    except InvalidGenome as exc:
        raise ConfigError("genome", f"does not fit the data's input shape {dataset.input_shape}: {exc}; "
                                    "longer inputs (data.duration, data.hop_length) may fit it") from None
    rounds = [DeviceData(d, device) for d in (dataset, *dataset.rounds)]
    settings = TrainSettings.from_config(cfg)
    def one_class(model: Any, data: DeviceData) -> str | None:
        """The class a network predicts for every validation and test example, if it does
        (a training that collapsed); else None."""
        found = torch.cat([predict(model, data.x_val), predict(model, data.x_test)]).unique()
        return dataset.classes[int(found[0])] if len(found) == 1 else None

    repeats, best_model, best_val, best_ev, best_one = [], None, -1.0, None, None
    for i in range(cfg.repeats):
        seed = evaluation_seed(cfg.seed, genome.hash, 1_000_000 + i)
        trainings, collapsed = [], 0
        for r, data in enumerate(rounds):
            for j in range(settings.repeats):
                ev, model, _ = train_model(genome, data, settings, device, training_seed(seed, r, j))
                trainings.append(ev)
                single = one_class(model, data) if model is not None else None
                collapsed += single is not None
                if r == 0 and model is not None and ev.val_accuracy > best_val:
                    best_model, best_val, best_ev, best_one = model, ev.val_accuracy, ev, single
        ev = _mean(trainings)
        repeats.append({"repeat": i, "seed": seed, **ev.to_dict(), "collapsed": collapsed})
        log.info("repeat %d: %s val %.4f test %.4f%s", i, ev.status, ev.val_accuracy, ev.test_accuracy,
                 f" ({collapsed} of {len(trainings)} training(s) predict one class for every example)"
                 if collapsed else "")

    def spread(key: str) -> dict[str, float]:
        xs = [r[key] for r in repeats]
        return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
                "min": min(xs), "max": max(xs)}

    results = {"genome": genome.to_dict(), "hash": genome.hash, **known, "repeats": repeats,
               "val_accuracy": spread("val_accuracy"), "test_accuracy": spread("test_accuracy"),
               "data": cfg.data.name, "train": OmegaConf.to_container(cfg.train, resolve=True),
               "fitness": {"rounds": len(rounds), "repeats": settings.repeats},
               "input_shape": list(dataset.input_shape), "sizes": dataset.sizes(),
               "chance": 1 / dataset.num_classes}
    if "recorded" in known:
        # fitness against fitness: accuracy, or fitness.metric when the run chose one
        shortfall = known["recorded"]["fitness"] - statistics.fmean(r["fitness"] for r in repeats)
        # How much the run's best was flattered by being the best of many; a retrain that
        # collapsed to one class falls short for another reason, and is not counted as such.
        results["selection_bias" if not any(r["collapsed"] for r in repeats) else "shortfall"] = shortfall
    out.mkdir(parents=True, exist_ok=True)  # after the last refusal (the genome fits the data)
    if cfg.save_weights and best_model is not None:
        save_weights(best_model, out / "best_model.npz")
        from garay.plugins import metric_name
        from garay.serve.preprocess import Preprocess

        # What garay-export packages with the weights: the input pipeline (the training
        # set's standardisation among it), and this model's own scores and curve.
        write_json_atomic(out / "best_model.json", {
            "genome": genome.to_dict(), "input_shape": list(dataset.input_shape), "classes": list(dataset.classes),
            "conv_dim": cfg.blueprint.conv_dim, "val_accuracy": best_val, "test_accuracy": best_ev.test_accuracy,
            "curve": list(best_ev.curve), "losses": list(best_ev.losses), "epochs": best_ev.epochs,
            "params": best_ev.params, "weights": "best_model.npz",
            **({"predicts_one_class": best_one} if best_one is not None else {}),
            "preprocess": Preprocess.of(cfg.data, dataset).to_dict(),
            # fitness.metric, when the run chose one: its name and this network's scores
            **({"metric": metric_name(cfg.fitness.metric), "val_metric": best_ev.val_metric,
                "test_metric": best_ev.test_metric} if best_ev.val_metric is not None else {}),
            "data": {"name": cfg.data.name, **{k: v for k, v in dataset.info.items() if k != "prepared_on"}}})
    write_json_atomic(out / RESULTS, results)
    _print(results, genome, out)
    return results


def _mean(trainings: list[Any]) -> Any:
    """One evaluation from several trainings: means of their accuracies (the first one that
    did not end ok, if any)."""
    import dataclasses

    failed = [t for t in trainings if t.status != "ok"]
    if failed:
        return failed[0]
    val = statistics.fmean(t.val_accuracy for t in trainings)
    # fitness.metric's scores are averaged like the accuracies, and the fitness is theirs
    metric = {} if trainings[0].val_metric is None else {
        "val_metric": statistics.fmean(t.val_metric for t in trainings),
        "test_metric": statistics.fmean(t.test_metric for t in trainings)}
    return dataclasses.replace(trainings[0], fitness=statistics.fmean(t.fitness for t in trainings), val_accuracy=val,
                               test_accuracy=statistics.fmean(t.test_accuracy for t in trainings),
                               seconds=sum(t.seconds for t in trainings),
                               val_scores=tuple(t.val_accuracy for t in trainings), **metric)


def _print(results: dict[str, Any], genome: Genome, out: Path) -> None:
    print(genome_tables(genome))
    print("\nrepeat  status    val      test")
    for r in results["repeats"]:
        print(f"{r['repeat']:>6}  {r['status']:<8}  {r['val_accuracy']:.4f}   {r['test_accuracy']:.4f}"
              + ("   predicts one class for every example" if r.get("collapsed") else ""))
    print("\n" + scores_line(results))
    collapsed = [r for r in results["repeats"] if r.get("collapsed")]
    if collapsed:
        sizes = results.get("sizes", {})
        print(f"{len(collapsed)} of {len(results['repeats'])} retrain(s) collapsed: the network predicts one class "
              f"for every example (chance is {results['chance']:.4f}), so it learned nothing this time "
              f"({sizes.get('train', '?')} training examples, {results['train'].get('epochs', '?')} epoch(s)); more "
              "data or epochs make that less likely")
    if "recorded" in results:
        rec = results["recorded"]
        why = (f"selection bias {results['selection_bias']:+.4f}" if "selection_bias" in results else
               f"{results['shortfall']:+.4f} short of it: a collapsed training, not selection bias")
        print(f"the run recorded validation {rec['val_accuracy']:.4f}, test {rec['test_accuracy']:.4f} ({why})")
    print(f"results: {out / RESULTS}")


def scores_line(results: dict[str, Any]) -> str:
    """The retrained scores: mean ± std over several repeats, the score alone for one (a
    spread of one repeat is no spread)."""
    v, t, n = results["val_accuracy"], results["test_accuracy"], len(results["repeats"])
    if n == 1:
        return (f"validation accuracy {v['mean']:.4f}, test accuracy {t['mean']:.4f} (one repeat: "
                "repeats=N gives a spread)")
    return (f"validation accuracy {v['mean']:.4f} ± {v['std']:.4f}, test accuracy {t['mean']:.4f} ± {t['std']:.4f} "
            f"(mean ± std over {n} repeats)")


def named_arguments(argv: Sequence[str]) -> list[str]:
    """The command line with its bare argument named, as every garay command takes its main
    argument bare: a folder is `run_dir=`, a file or a shipped genome's name `genome=`
    (`garay-best outputs/DATE/TIME repeats=1`). Flags and KEY=VALUE pass as they are."""
    import re

    bare = [a for a in argv if not a.startswith("-") and "=" not in a]
    if not bare or any(a.startswith("-") for a in argv):  # Hydra's own flags (--cfg job, ...): Hydra's way
        return list(argv)
    if len(bare) > 1:
        raise ConfigError("run_dir", f"takes one run directory or genome, got {len(bare)}: {' '.join(bare)} "
                                     "(settings are KEY=VALUE)")
    given = bare[0]
    key = "run_dir" if Path(given).is_dir() else "genome"
    if key == "genome" and not Path(given).exists() and given not in shipped_genomes():
        raise ConfigError("run_dir", f"{given} is neither a run directory, a genome file nor a shipped genome "
                                     f"({', '.join(shipped_genomes())})")
    # Hydra reads the value: quote a path with characters its grammar treats specially.
    value = given if re.fullmatch(r"[\w./:~+@-]+", given) else "'" + given.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return [f"{key}={value}" if a == given else a for a in argv]


@hydra.main(version_base="1.3", config_path="pkg://garay.conf", config_name="best")
def _hydra_main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    # conf/best.yaml's preflight callback checked the call before Hydra wrote the folder; a
    # refusal found later (the genome does not fit the data) removes it (garay.preflight).
    with refusals("garay-best"), reader_may_leave():
        retrain(cfg, HydraConfig.get().runtime.output_dir)


@reader_may_leave()
def main() -> None:
    """`garay-best DIR [repeats=N]` (or run_dir=DIR) or `garay-best FILE|NAME [member=I|HASH]`
    (or genome=...);
    `garay-best --help [GROUP]`, `garay-best --version` (garay.help)."""
    import sys

    from garay.api import check_overrides
    from garay.help import answer

    answer("garay-best", sys.argv[1:])
    try:
        sys.argv[1:] = named_arguments(sys.argv[1:])
    except ConfigError as exc:
        print(f"garay-best: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if all(not a.startswith("-") for a in sys.argv[1:]):  # Hydra's own flags (--cfg, ...): Hydra's way
        try:  # a mistyped key: one line naming it (and the key it may mean), not Hydra's error
            check_overrides(sys.argv[1:], config_name="best")
        except ConfigError as exc:
            print(f"garay-best: error: {exc}", file=sys.stderr)
            sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
