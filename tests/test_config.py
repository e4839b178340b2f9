import subprocess
import sys

import pytest

from garay.cli import run
from garay.config import ConfigError, validate
from tests.conftest import compose_config


def test_default_config_is_the_studys():
    cfg = compose_config()
    validate(cfg)
    assert (cfg.ga.population_size, cfg.ga.generations, cfg.ga.num_parents) == (10, 4, 4)
    assert (cfg.ga.mutation_rate, cfg.ga.conv_chance, cfg.train.noise_level) == (0.2, 0.8, 0.1)
    assert cfg.blueprint.max_layers == 6
    assert list(cfg.blueprint.layer_sizes) == [8, 16, 32, 64, 128, 256, 512]
    assert list(cfg.blueprint.activations) == ["sigmoid", "relu", "leaky_relu", "swish"]
    assert cfg.data.name == "synthetic" and cfg.cluster.address is None and cfg.cluster.backend == "ray"


@pytest.mark.parametrize(
    "override, key",
    [
        ("ga.mutation_rate=1.5", "ga.mutation_rate"),
        ("ga.mutation_rate=-0.1", "ga.mutation_rate"),
        ("ga.population_size=1", "ga.population_size"),
        ("ga.num_parents=1", "ga.num_parents"),
        ("ga.num_parents=11", "ga.num_parents"),
        ("ga.population_size=4", "ga.num_parents"),  # 4 parents (the default) of 4: no child
        ("blueprint.filters=[]", "blueprint.filters"),
        ("blueprint.activations=[relu,softsign]", "blueprint.activations"),
        ("train.noise_level=-1", "train.noise_level"),
        ("train.epochs=0", "train.epochs"),
        ("ga.mode=islands", "ga.mode"),
        ("train.early_stop=always", "train.early_stop"),
        ("train.eta=1", "train.eta"),
        ("train.grace_epochs=0", "train.grace_epochs"),
        ("train.rungs=[0,3]", "train.rungs"),
        ("train.rungs=[25]", "train.rungs"),
        ("ga.budget_epochs=0", "ga.budget_epochs"),
        ("cluster.backend=spark", "cluster.backend"),
        ("cluster.gpus_per_worker=0", "cluster.gpus_per_worker"),
    ],
)
def test_bad_values_name_their_key(override, key, tmp_path):
    cfg = compose_config(override)
    with pytest.raises(ConfigError) as err:
        run(cfg, run_dir=tmp_path)
    assert err.value.key == key and str(err.value).startswith(key)
    assert not (tmp_path / "history.jsonl").exists()


def test_wrong_type_is_rejected_while_composing():
    with pytest.raises(Exception, match="ga.population_size|population_size"):
        compose_config("ga.population_size=many")


def test_cli_exits_2_with_one_line_naming_the_key(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "garay.cli", "ga.mutation_rate=1.5", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "ga.mutation_rate" in lines[0] and "[0, 1]" in lines[0]
    assert "Ray" not in proc.stdout + proc.stderr


def test_blueprint_that_cannot_fit_the_input_is_one_line_exit_2(tmp_path):
    # Convs only, kernel 31, stride 2, pool 3: one conv layer already shrinks 32 frames to 0.
    proc = subprocess.run(
        [sys.executable, "-m", "garay.cli", "ga.conv_chance=1.0",
         "blueprint.kernel_sizes=[31]", "blueprint.paddings=[0]", "blueprint.pool_sizes=[3]",
         "blueprint.strides=[2]", "ga.max_redraws=5", "data.examples_per_class=20", f"hydra.run.dir={tmp_path}",
         "progress=false"],  # stderr: the error line alone
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("garay: error: blueprint:") and "conv layer fits" in lines[0]
    assert not (tmp_path / "checkpoint.json").exists()  # stopped before Ray and before the run began


@pytest.mark.parametrize("override, line", [
    ("ga.population_size=many", "garay: error: ga.population_size: Value 'many' of type 'str' could not be converted"),
    ("ga.popsize=3", "garay: error: ga.popsize: Key 'popsize' not in 'GAConfig'"),
    ("data=nope", "garay: error: data: no option 'nope'; available: folder, fsdd, npz, speech_commands, synthetic"),
    ("ga.mutation_rate=0.1,abc", "garay: error: ga.mutation_rate: Value 'abc' of type 'str' could not be converted"),
])
def test_type_and_unknown_key_errors_are_one_line_exit_2(override, line, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "garay.cli", override, "-m", f"hydra.sweep.dir={tmp_path}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(line) and len(proc.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing ran


def test_multirun_flag_may_come_anywhere(tmp_path):
    from garay.cli import multirun_first

    assert multirun_first(["+experiment=noise_level", "-m", "ga.generations=2"]) == [
        "-m", "+experiment=noise_level", "ga.generations=2"]
    assert multirun_first(["a=1", "--multirun"]) == ["--multirun", "a=1"]
    proc = subprocess.run([sys.executable, "-m", "garay.cli", "seed=0,1", "cluster.backend=inprocess",
                           "ga.population_size=3", "ga.num_parents=2", "ga.generations=1", "train.epochs=1",
                           "data.examples_per_class=20", "progress=false", "-m", f"hydra.sweep.dir={tmp_path}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir() if (p / "summary.json").exists()) == ["0", "1"]


def test_defaults_are_written_once():
    """The dataclasses in garay.config are the one place defaults are written: no YAML file
    restates one (a group option sets only what differs), the driver's and the trainer's
    settings take theirs from them, and so does the blueprint config from the search space."""
    import dataclasses
    from pathlib import Path

    import yaml

    from garay.search.blueprint import Blueprint
    from garay.config import (BestConfig, BlueprintConfig, ClusterConfig, Config, DataConfig, FitnessConfig,
                              GAConfig, TrainConfig)
    from omegaconf import OmegaConf

    from garay.config.schema import AugmentConfig
    from garay.execution.evaluation import Augmentation, TrainSettings
    from garay.strategies.search import Search

    schemas = {"blueprint": BlueprintConfig, "ga": GAConfig, "train": TrainConfig, "data": DataConfig,
               "cluster": ClusterConfig, "fitness": FitnessConfig}
    defaults = {cls: {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                      for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
                      or f.default_factory is not dataclasses.MISSING} for cls in (*schemas.values(), Config, BestConfig)}
    conf = Path(__file__).resolve().parents[1] / "conf"
    restated = []
    for path in sorted(conf.rglob("*.yaml")):
        group = path.parent.name
        cls = schemas.get(group) or {"config.yaml": Config, "best.yaml": BestConfig}.get(path.name)
        if cls is None:  # experiment/: sweeps, no defaults
            continue
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key in defaults[cls] and defaults[cls][key] == value:
                restated.append(f"{path.relative_to(conf)}: {key}")
    assert not restated, f"YAML restates dataclass defaults: {restated}"
    assert Search.__init__.__annotations__["ga"] in (GAConfig, "GAConfig")  # the strategies take the group itself
    train = TrainSettings()
    assert (train.epochs, train.batch_size, train.lr, train.noise_level, train.timeout_s) == tuple(
        defaults[TrainConfig][k] for k in ("epochs", "batch_size", "lr", "noise_level", "timeout_s"))
    bp = BlueprintConfig()
    assert all(tuple(getattr(bp, f.name)) == getattr(Blueprint(), f.name) for f in dataclasses.fields(Blueprint)
               if f.name not in ("max_layers", "train_genes", "recipe")) and bp.max_layers == Blueprint().max_layers
    assert bp.train_genes == Blueprint().train_genes
    assert Blueprint.from_config(OmegaConf.structured(bp)).recipe == Blueprint().recipe  # the recipe's lists too
    assert TrainSettings().augment == Augmentation.from_config(OmegaConf.structured(AugmentConfig()))
