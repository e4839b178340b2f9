"""`garay-best`: retrain the best genome of a run (or any genome file) several times and
report the mean and spread of its validation and test accuracy, as the study's second
script did."""

from __future__ import annotations

import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from garay.config import ConfigError, register_configs, validate
from garay.genome import Genome
from garay.report import genome_tables
from garay.runlog import write_json_atomic

log = logging.getLogger("garay.best")
register_configs()
RESULTS = "retrain.json"


def shipped_genomes() -> dict[str, Path]:
    """The genomes that come with garay (garay/genomes/*.json), by short name."""
    folder = Path(__file__).parent / "genomes"
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


def genome_path(name: str) -> Path:
    """A genome file's path: `name` itself when it exists, else a shipped genome's name."""
    path = Path(name)
    if path.exists() or path.suffix == ".json" or "/" in name:
        return path
    shipped = shipped_genomes()
    if name not in shipped:
        raise ConfigError("genome", f"no file {name!r} and no shipped genome of that name; shipped: {', '.join(shipped)}")
    return shipped[name]


def _load_genome(cfg: DictConfig) -> tuple[Genome, dict[str, Any]]:
    """The genome to retrain and what is known of it (recorded accuracy, source)."""
    if (cfg.run_dir is None) == (cfg.genome is None):
        raise ConfigError("run_dir", "give exactly one of run_dir=DIR (a garay run) or genome=FILE|NAME (a genome JSON)")
    if cfg.genome is not None:
        path = genome_path(str(cfg.genome))
        try:
            data = json.loads(path.read_text())
            return Genome.from_dict(data.get("genome", data)), {"source": str(path)}
        except (OSError, ValueError) as exc:
            raise ConfigError("genome", f"cannot read a genome from {path}: {exc}") from None
    best_path = Path(cfg.run_dir) / "best.json"
    if not best_path.exists():
        raise ConfigError("run_dir", f"{best_path} does not exist (is {cfg.run_dir} a garay run directory?)")
    best = json.loads(best_path.read_text())
    return Genome.from_dict(best["genome"]), {"source": str(best_path), "recorded": best}


def _with_run_settings(cfg: DictConfig) -> DictConfig:
    """With run_dir: the run's data/train/blueprint settings (from summary.json, or from
    checkpoint.json for a run that did not finish), then what this command overrode."""
    if cfg.run_dir is None:
        return cfg
    run_dir = Path(cfg.run_dir)
    if (run_dir / "summary.json").exists():
        run_cfg = json.loads((run_dir / "summary.json").read_text())["config"]
    elif (run_dir / "checkpoint.json").exists():
        run_cfg = json.loads((run_dir / "checkpoint.json").read_text()).get("identity", {})
    else:
        raise ConfigError("run_dir", f"{run_dir} has neither summary.json nor checkpoint.json: its settings are unknown")
    groups = ("data", "train", "blueprint", "fitness")
    merged = OmegaConf.merge(cfg, {k: run_cfg[k] for k in groups if k in run_cfg})
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            key = override.split("=", 1)[0].lstrip("+~")
            if key.split(".")[0] in groups:  # `data=npz` (a group) or `train.epochs=3` (a key)
                OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
    return merged


def retrain(cfg: DictConfig, out_dir: Path | str) -> dict[str, Any]:
    """Score the genome `repeats` times with distinct seeds, each time as a run's fitness
    does (every validation round x fitness.repeats trainings, means); write retrain.json
    (and the weights of the best round-one model as best_model.npz); return the results."""
    if cfg.repeats < 1:
        raise ConfigError("repeats", f"must be at least 1, got {cfg.repeats}")
    genome, known = _load_genome(cfg)
    cfg = _with_run_settings(cfg)
    validate(cfg)
    from garay.shapes import InvalidGenome, infer_shapes
    import torch

    from garay.config import fitness_rounds
    from garay.data import load_dataset
    from garay.evaluation import TrainSettings, evaluation_seed, training_seed
    from garay.train import DeviceData, train_model
    from garay.weights import save_weights

    torch.set_num_threads(cfg.cluster.cpus_per_worker)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(cfg.data, fitness_rounds(cfg), progress=bool(cfg.get("progress", True)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        infer_shapes(genome, dataset.input_shape, dataset.num_classes, cfg.blueprint.conv_dim)
    except InvalidGenome as exc:
        raise ConfigError("genome", f"does not fit the data's input shape {dataset.input_shape}: {exc}; "
                                    "longer inputs (data.duration, data.hop_length) may fit it") from None
    rounds = [DeviceData(d, device) for d in (dataset, *dataset.rounds)]
    settings = TrainSettings.from_config(cfg)
    repeats, best_model, best_val = [], None, -1.0
    for i in range(cfg.repeats):
        seed = evaluation_seed(cfg.seed, genome.hash, 1_000_000 + i)
        trainings = []
        for r, data in enumerate(rounds):
            for j in range(settings.repeats):
                ev, model, _ = train_model(genome, data, settings, device, training_seed(seed, r, j))
                trainings.append(ev)
                if r == 0 and model is not None and ev.val_accuracy > best_val:
                    best_model, best_val = model, ev.val_accuracy
        ev = _mean(trainings)
        repeats.append({"repeat": i, "seed": seed, **ev.to_dict()})
        log.info("repeat %d: %s val %.4f test %.4f", i, ev.status, ev.val_accuracy, ev.test_accuracy)

    def spread(key: str) -> dict[str, float]:
        xs = [r[key] for r in repeats]
        return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
                "min": min(xs), "max": max(xs)}

    results = {"genome": genome.to_dict(), "hash": genome.hash, **known, "repeats": repeats,
               "val_accuracy": spread("val_accuracy"), "test_accuracy": spread("test_accuracy"),
               "data": cfg.data.name, "train": OmegaConf.to_container(cfg.train, resolve=True),
               "fitness": {"rounds": len(rounds), "repeats": settings.repeats},
               "input_shape": list(dataset.input_shape)}
    if "recorded" in known:  # how much the run's best was flattered by being the best of many
        results["selection_bias"] = known["recorded"]["fitness"] - results["val_accuracy"]["mean"]
    if cfg.save_weights and best_model is not None:
        save_weights(best_model, out / "best_model.npz")
        write_json_atomic(out / "best_model.json", {
            "genome": genome.to_dict(), "input_shape": list(dataset.input_shape), "classes": list(dataset.classes),
            "conv_dim": cfg.blueprint.conv_dim, "val_accuracy": best_val, "weights": "best_model.npz"})
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
    return dataclasses.replace(trainings[0], fitness=val, val_accuracy=val,
                               test_accuracy=statistics.fmean(t.test_accuracy for t in trainings),
                               seconds=sum(t.seconds for t in trainings),
                               val_scores=tuple(t.val_accuracy for t in trainings))


def _print(results: dict[str, Any], genome: Genome, out: Path) -> None:
    print(genome_tables(genome))
    print("\nrepeat  status    val      test")
    for r in results["repeats"]:
        print(f"{r['repeat']:>6}  {r['status']:<8}  {r['val_accuracy']:.4f}   {r['test_accuracy']:.4f}")
    v, t = results["val_accuracy"], results["test_accuracy"]
    print(f"\nvalidation accuracy {v['mean']:.4f} ± {v['std']:.4f}, test accuracy {t['mean']:.4f} ± {t['std']:.4f} "
          f"over {len(results['repeats'])} repeats")
    if "recorded" in results:
        rec = results["recorded"]
        print(f"the run recorded validation {rec['val_accuracy']:.4f}, test {rec['test_accuracy']:.4f} "
              f"(selection bias {results['selection_bias']:+.4f})")
    print(f"results: {out / RESULTS}")


@hydra.main(version_base="1.3", config_path="pkg://garay.conf", config_name="best")
def main(cfg: DictConfig) -> None:
    """`garay-best run_dir=DIR [repeats=N]` or `garay-best genome=FILE`."""
    from hydra.core.hydra_config import HydraConfig

    try:
        retrain(cfg, HydraConfig.get().runtime.output_dir)
    except ConfigError as exc:
        print(f"garay-best: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
