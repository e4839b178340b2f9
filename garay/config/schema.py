"""Structured configs, registered in Hydra's ConfigStore.

These dataclasses are the one place garay's defaults are written: the YAML files in conf/
name them as their schema and set only what differs, the driver takes `GAConfig` itself as
its settings, `TrainSettings` takes its defaults from `TrainConfig`, and the search space's
defaults come from `garay.search.blueprint.Blueprint`. Hydra checks types against them while
composing; garay.config.validate checks values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from garay.search.blueprint import Blueprint
from garay.search.recipe import RecipeSpace


GA_MODES = ("generational", "async", "random", "regularized", "local", "tpe")
OBJECTIVES = ("fitness", "params", "latency")
POLICIES = ("none", "halving", "median")  # train.early_stop (garay.fidelity)
NORMALIZE = ("dataset", "utterance")  # data.normalize (garay.data.dataset)


def _space(name: str) -> Any:
    """A blueprint list's default: the study's value set, as garay.search.blueprint.Blueprint has it."""
    return field(default_factory=lambda: list(getattr(Blueprint, name)))


def _recipe(name: str) -> Any:
    """A training gene's default values, as garay.search.recipe.RecipeSpace has them."""
    return field(default_factory=lambda: list(getattr(RecipeSpace, name)))


@dataclass
class RecipeConfig:
    """`blueprint.recipe`: the values each training gene may take (blueprint.train_genes=true)."""

    lr: list[float] = _recipe("lr")
    weight_decay: list[float] = _recipe("weight_decay")
    batch_size: list[int] = _recipe("batch_size")
    noise_level: list[float] = _recipe("noise_level")
    time_masks: list[int] = _recipe("time_masks")  # widths: train.augment.time_width
    freq_masks: list[int] = _recipe("freq_masks")  # widths: train.augment.freq_width
    shift: list[float] = _recipe("shift")
    warp: list[float] = _recipe("warp")
    mixup: list[float] = _recipe("mixup")


@dataclass
class BlueprintConfig:
    max_layers: int = Blueprint.max_layers
    layer_sizes: list[int] = _space("layer_sizes")
    activations: list[str] = _space("activations")
    dropouts: list[float] = _space("dropouts")
    filters: list[int] = _space("filters")
    kernel_sizes: list[int] = _space("kernel_sizes")
    strides: list[int] = _space("strides")
    paddings: list[int] = _space("paddings")
    pool_sizes: list[int] = _space("pool_sizes")
    conv_dim: int = 1  # 1: 1D convolutions over time (features as channels); 2: 2D over the spectrogram
    # true: every genome also carries training genes (garay.search.recipe), drawn from
    # blueprint.recipe's lists and bred like the layer genes; they override train.lr,
    # train.weight_decay, train.batch_size, train.noise_level and train.augment's counts and strengths
    train_genes: bool = False
    recipe: RecipeConfig = field(default_factory=RecipeConfig)


@dataclass
class GAConfig:
    """The `ga` group, and the driver's settings (garay.strategies.generational.GASettings is this class)."""

    population_size: int = 10
    generations: int = 4
    num_parents: int = 4
    mutation_rate: float = 0.2
    conv_chance: float = 0.8
    # generational (the study's GA) | async (regularized evolution, no barrier) | random (random
    # search, the same budget) | regularized (regularized evolution in generations: ageing,
    # tournaments) | local (local search, a baseline) | tpe (Optuna's TPE, the peer; needs
    # optuna): garay.strategies
    mode: str = "generational"
    max_redraws: int = 100  # bound on re-drawing: unfitting genomes (fit=redraw), repeats (random, async)
    tournament_size: int = 3  # async and regularized modes
    crossover: bool = True  # false: a child is a mutant of one parent (regularized evolution's way)
    # > 1: each child is the best of this many bred, as a surrogate fitted on the run's
    # records ranks them (garay.strategies.screening); 0 or 1: every bred child is evaluated
    screen: int = 0
    # > 0: when the search is done, its this many fittest genomes are trained once more and
    # the best is chosen by the mean of its evaluations (garay.strategies.reevaluate)
    reevaluate: int = 0
    fit: str = "repair"  # a genome that does not fit the input: repair (garay.search.fitting) | redraw (whole)
    unique_children: bool = False  # true: a child that was evaluated before is bred again
    # Training epochs the whole run may spend (the sum over genomes of the epochs each was
    # trained for; null: ga.generations decides); the run ends after the first generation
    # (async: birth) that reaches it, so arms with and without early stopping compare at equal compute.
    budget_epochs: Optional[int] = None
    # What selection maximises: fitness alone (the study's way), or fitness against
    # `params` (the network's size) and/or `latency` (ms per example, measured on the
    # worker): NSGA-II (garay.results.pareto); the run writes pareto.json and pareto.png.
    objectives: list[str] = field(default_factory=lambda: ["fitness"])
    max_params: Optional[int] = None  # a hard limit: larger genomes are bred again, never trained

    @property
    def budget(self) -> int:
        """Evaluations a generational run makes at most: the async mode's budget too."""
        return self.population_size + (self.generations - 1) * (self.population_size - self.num_parents)

    @classmethod
    def from_config(cls, cfg: Any) -> "GAConfig":
        """From the composed `ga` group (or any mapping of its keys)."""
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


@dataclass
class AugmentConfig:
    """`train.augment`: augmentations of every training batch, on the worker's device
    (garay.execution.augment). Each is off at its default, as the study trained."""

    # SpecAugment (Park et al. 2019): this many masks per example along each axis, each of a
    # width drawn uniformly from 0..*_width (frames / feature channels); masked values are 0,
    # the training set's mean after standardisation.
    time_masks: int = 0
    time_width: int = 8
    freq_masks: int = 0
    freq_width: int = 4
    shift: float = 0.0  # random time shift of each example by up to this fraction of its frames (zero-filled)
    # A vocal-tract-length-like warp of the mel axis (features=logmel): each example's bands
    # stretched by a factor drawn uniformly from [1 - warp, 1 + warp], linearly interpolated.
    warp: float = 0.0
    mixup: float = 0.0  # mixup's Beta(alpha, alpha) (Zhang et al. 2018): each batch mixed with a shuffle of itself


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0  # Adam's L2 penalty
    noise_level: float = 0.1  # std of fresh Gaussian noise added to every batch (standardised features)
    timeout_s: Optional[float] = None  # bound on one training, seconds (an evaluation holds rounds x repeats)
    # Early stopping of hopeless genomes (garay.fidelity.rules): none (every genome trains all
    # epochs, the study's way) | halving (the best 1/eta of each rung continue; generational:
    # successive halving per generation, async: ASHA) | median (those at or above the median
    # of every result at that rung continue).
    early_stop: str = "none"
    eta: int = 3  # halving: the best 1/eta of a rung continue
    grace_epochs: int = 2  # no genome is stopped before this many epochs (the first rung)
    rungs: Optional[list[int]] = None  # explicit rung epochs; null: epochs / eta^k down to grace_epochs
    trainer: Optional[Any] = None  # your trainer factory (garay.plugins): a dotted path or {_target_: ...}
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class FitnessConfig:
    # Validation rounds: the split's validation set first, then other held-out data; with
    # data.split=speaker other speakers, each round training on the rest (grouped by speaker).
    # null: 3 with data.split=speaker (fitness selects networks, not luck), else 1.
    rounds: Optional[int] = None
    repeats: int = 1  # trainings per round with different seeds
    metric: Optional[Any] = None  # null: accuracy; else metric(y_true, y_pred) -> float (garay.plugins)


@dataclass
class DataConfig:
    name: str = "synthetic"  # synthetic | fsdd | folder | npz
    root: Optional[str] = None  # the recordings folder, the class folders' parent, or the .npz file
    seed: int = 0  # data generation and splits; apart from the run seed so reproductions share data
    sample_rate: int = 8000  # every file is resampled to this rate
    duration: float = 0.5  # seconds: shorter clips are zero-padded, longer ones trimmed
    features: str = "logmel"  # logmel | mfcc | waveform
    n_mels: int = 32
    num_classes: int = 10
    examples_per_class: int = 400
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    n_mfcc: int = 20  # features=mfcc: coefficients per frame (<= n_mels)
    n_fft: int = 256  # FFT size (samples) of logmel and mfcc
    hop_length: int = 128  # samples between frames: frames = 1 + samples // hop_length
    split: str = "random"  # random | official (fsdd takes, npz `split`, folder lists) | speaker | hash (by speaker)
    test_speakers: list[str] = field(default_factory=list)  # split=speaker: held-out test speakers
    val_speakers: list[str] = field(default_factory=list)  # split=speaker; empty: drawn from the rest
    cache_dir: Optional[str] = None  # feature cache; null: $XDG_CACHE_HOME/garay or ~/.cache/garay
    skip_bad: bool = False  # skip unreadable or misnamed files with a warning instead of stopping
    loader: Optional[Any] = None  # your loader(data_cfg) -> arrays like data=npz's (garay.plugins)
    speaker_pattern: Optional[str] = None  # data=folder: regex over file names with (?P<speaker>...), or speech_commands
    exclude: list[str] = field(default_factory=list)  # data=folder: class folders left out (globs)
    workers: Optional[int] = None  # processes decoding and featurising (and generating); null: every core
    # dataset: standardise with the training set's per-channel mean and std (the study's way) |
    # utterance: first each example by its own per-channel mean and std over time (CMVN), then so
    normalize: str = "dataset"


@dataclass
class ClusterConfig:
    address: Optional[str] = None  # null starts a local Ray instance; auto or host:port joins a cluster
    backend: str = "ray"  # ray | inprocess
    num_workers: Optional[int] = None  # null: one per GPU (else per cpus_per_worker CPUs); grows as nodes join
    gpus_per_worker: float = 1.0  # a fraction 1/k packs k workers on one GPU
    cpus_per_worker: int = 1  # also the torch threads of each worker
    max_retries: int = 2  # re-queues of a genome whose worker died
    ship_code: bool = True  # joining a cluster: upload this garay package to its nodes (py_modules)
    start_timeout_s: float = 600.0  # wait this long for workers; give up when none can be placed this long
    min_workers: Optional[int] = None  # begin once this many are live (null: all, or those live after start_timeout_s)
    require_gpus: bool = False  # true: workers wait for GPUs (never the head's CPUs) and must see CUDA
    py_modules: list[str] = field(default_factory=list)  # more local code for the workers (runtime_env)


@dataclass
class Config:
    blueprint: BlueprintConfig = MISSING
    ga: GAConfig = MISSING
    train: TrainConfig = MISSING
    data: DataConfig = MISSING
    cluster: ClusterConfig = MISSING
    fitness: FitnessConfig = MISSING
    seed: int = 0
    resume: bool = False  # true continues the run found in hydra.run.dir
    progress: bool = True  # progress bars on stderr
    tensorboard: bool = False  # log evaluations and generations to RUN_DIR/tensorboard (garay[tracking])


@dataclass
class BestConfig(Config):
    """`garay-best`: retrain a run's best genome (run_dir) or any genome file (genome)."""

    run_dir: Optional[str] = None
    genome: Optional[str] = None
    # A Pareto front's member (genome=RUN/pareto.json, or run_dir=RUN): its index in the
    # front (smallest first) or a prefix of its hash.
    member: Optional[str] = None
    repeats: int = 3
    save_weights: bool = True  # best_model.npz (+ best_model.json) beside the results


def register_configs() -> None:
    """Register the schemas; each group's YAML names its schema in its defaults list."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(name="best_schema", node=BestConfig)
    cs.store(group="blueprint", name="blueprint_schema", node=BlueprintConfig)
    cs.store(group="ga", name="ga_schema", node=GAConfig)
    cs.store(group="train", name="train_schema", node=TrainConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="cluster", name="cluster_schema", node=ClusterConfig)
    cs.store(group="fitness", name="fitness_schema", node=FitnessConfig)
