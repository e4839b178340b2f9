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

from garay.search.blueprint import ACTIVATIONS, Blueprint
from garay.search.recipe import RecipeSpace


GA_MODES = ("generational", "async", "random", "regularized", "local", "tpe")
OBJECTIVES = ("fitness", "params", "latency")
POLICIES = ("none", "halving", "median")  # train.early_stop (garay.fidelity)
NORMALIZE = ("dataset", "utterance")  # data.normalize (garay.data.dataset)
FITS = ("repair", "redraw")  # ga.fit
DATA_NAMES = ("synthetic", "fsdd", "folder", "npz")  # data.name
FEATURES = ("logmel", "mfcc", "waveform")  # data.features
SPLITS = ("random", "official", "speaker", "hash")  # data.split (which ones: by data.name)
BACKENDS = ("ray", "inprocess")  # cluster.backend

# The keys that take one of a fixed set of values, and those values: what validation
# allows, and what the reference and `--help` list (garay.config.reference).
ALLOWED: dict[str, tuple[Any, ...]] = {
    "ga.mode": GA_MODES,
    "ga.fit": FITS,
    "ga.objectives": OBJECTIVES,
    "train.early_stop": POLICIES,
    "data.name": DATA_NAMES,
    "data.features": FEATURES,
    "data.split": SPLITS,
    "data.normalize": NORMALIZE,
    "cluster.backend": BACKENDS,
    "blueprint.conv_dim": (1, 2),
    "blueprint.activations": tuple(ACTIVATIONS),
}


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
    """Learning rates a genome's `lr` gene may take."""
    weight_decay: list[float] = _recipe("weight_decay")
    """Adam weight decays a genome may take (each >= 0)."""
    batch_size: list[int] = _recipe("batch_size")
    """Batch sizes a genome may take."""
    noise_level: list[float] = _recipe("noise_level")
    """Training noise levels (std on standardised features) a genome may take."""
    time_masks: list[int] = _recipe("time_masks")
    """SpecAugment time masks per example a genome may take (widths: train.augment.time_width)."""
    freq_masks: list[int] = _recipe("freq_masks")
    """SpecAugment frequency masks per example a genome may take (widths: train.augment.freq_width)."""
    shift: list[float] = _recipe("shift")
    """Time-shift fractions in [0, 1) a genome may take."""
    warp: list[float] = _recipe("warp")
    """Mel-axis warps in [0, 1) a genome may take (log-mel audio only)."""
    mixup: list[float] = _recipe("mixup")
    """Mixup Beta(alpha, alpha) values a genome may take (0: off)."""


@dataclass
class BlueprintConfig:
    """`blueprint`: the value sets genes are drawn from (garay.search.blueprint)."""

    max_layers: int = Blueprint.max_layers
    """Most hidden layers in an initial genome (lengths are drawn from 1..max_layers)."""
    layer_sizes: list[int] = _space("layer_sizes")
    """Neurons a dense gene may have."""
    activations: list[str] = _space("activations")
    """Activations a gene may have."""
    dropouts: list[float] = _space("dropouts")
    """Dropout rates in [0, 1) a dense gene may have."""
    filters: list[int] = _space("filters")
    """Filters a conv gene may have."""
    kernel_sizes: list[int] = _space("kernel_sizes")
    """Kernel sizes a conv gene may have."""
    strides: list[int] = _space("strides")
    """Strides a conv gene may have."""
    paddings: list[int] = _space("paddings")
    """Paddings a conv gene may have."""
    pool_sizes: list[int] = _space("pool_sizes")
    """Max-pool sizes a conv gene may have."""
    conv_dim: int = 1
    """1: 1D convolutions over time (features as channels); 2: 2D convolutions over the spectrogram."""
    train_genes: bool = False
    """true: every genome also carries training genes drawn from blueprint.recipe's lists and bred
    like the layer genes; they override train.lr, train.weight_decay, train.batch_size,
    train.noise_level and train.augment's counts and strengths (garay.search.recipe)."""
    recipe: RecipeConfig = field(default_factory=RecipeConfig)


@dataclass
class GAConfig:
    """The `ga` group, and the driver's settings (garay.strategies.generational.GASettings is this class)."""

    population_size: int = 10
    """Genomes in a generation (at least 2)."""
    generations: int = 4
    """Generations, the first included: the budget is population_size + (generations - 1) x children."""
    num_parents: int = 4
    """The fittest genomes kept as parents each generation (2 .. population_size - 1)."""
    mutation_rate: float = 0.2
    """Chance in [0, 1] that each gene parameter is re-drawn; also scales the spread of a child's length."""
    conv_chance: float = 0.8
    """Mean share in [0, 1] of conv genes in a new genome."""
    mode: str = "generational"
    """The strategy (garay.strategies): generational (the study's GA) | async (regularized evolution,
    no barrier) | random (random search, the same budget) | regularized (regularized evolution in
    generations: ageing, tournaments) | local (local search) | tpe (Optuna's TPE, needs optuna)."""
    max_redraws: int = 100
    """Bound on re-drawing unfitting genomes (fit=redraw) and repeats (random, async); a
    generational run whose last max_redraws generations bred nothing new has converged and
    ends."""
    tournament_size: int = 3
    """Genomes in each tournament (async and regularized modes)."""
    crossover: bool = True
    """false: a child is a mutant of one parent (regularized evolution's way)."""
    screen: int = 0
    """> 1: each child is the best of this many bred, ranked by a surrogate fitted on the run's
    records (garay.strategies.screening); 0 or 1: every bred child is evaluated."""
    reevaluate: int = 0
    """> 0: when the search ends, its K fittest genomes (K = this value) are trained once more and
    the best is chosen by the mean of its evaluations (garay.strategies.reevaluate); needs
    train.early_stop=none."""
    fit: str = "repair"
    """A genome that does not fit the input: repair (garay.search.fitting) | redraw (draw it again whole)."""
    unique_children: bool = False
    """true: a child that was evaluated before is bred again."""
    budget_epochs: Optional[int] = None
    """Training epochs the whole run may spend (summed over genomes); null: ga.generations decides.
    The run ends after the first generation (async: birth) that reaches it, so arms with and
    without early stopping compare at equal compute."""
    objectives: list[str] = field(default_factory=lambda: ["fitness"])
    """What selection maximises: [fitness] (the study's way), or fitness against params (the
    network's size) and/or latency (ms per example on the worker) by NSGA-II; writes pareto.json
    and pareto.png."""
    max_params: Optional[int] = None
    """A hard limit on parameters: larger genomes are bred again, never trained (null: none)."""

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

    time_masks: int = 0
    """SpecAugment (Park et al. 2019) time masks per example; masked values are 0, the training
    set's mean after standardisation (0: off)."""
    time_width: int = 8
    """Widest time mask, in frames (each mask's width is drawn from 0..time_width)."""
    freq_masks: int = 0
    """SpecAugment frequency masks per example (0: off; needs more than one feature channel)."""
    freq_width: int = 4
    """Widest frequency mask, in feature channels."""
    shift: float = 0.0
    """Random time shift of each example by up to this fraction of its frames, zero-filled (0: off)."""
    warp: float = 0.0
    """A vocal-tract-length-like warp of the mel axis (data.features=logmel): each example's bands
    stretched by a factor drawn from [1 - warp, 1 + warp] (0: off)."""
    mixup: float = 0.0
    """Mixup's Beta(alpha, alpha) (Zhang et al. 2018): each batch mixed with a shuffle of itself (0: off)."""


@dataclass
class TrainConfig:
    """`train`: how each genome is trained (garay.execution.train)."""

    epochs: int = 20
    """Training epochs of a genome (the most, with early stopping)."""
    batch_size: int = 32
    """Examples per training batch."""
    lr: float = 1e-3
    """Adam's learning rate."""
    weight_decay: float = 0.0
    """Adam's L2 penalty (>= 0)."""
    noise_level: float = 0.1
    """Std of fresh Gaussian noise added to every batch, on standardised features (the study's augmentation)."""
    timeout_s: Optional[float] = None
    """Bound on one training, in seconds (an evaluation holds rounds x repeats trainings); null: none."""
    early_stop: str = "none"
    """Early stopping of hopeless genomes (garay.fidelity): none (every genome trains all epochs,
    the study's way) | halving (the best 1/eta of each rung continue: successive halving per
    generation, ASHA in async mode) | median (those at or above the median at that rung continue)."""
    eta: int = 3
    """halving: the best 1/eta of a rung continue (at least 2)."""
    grace_epochs: int = 2
    """No genome is stopped before this many epochs (the first rung)."""
    rungs: Optional[list[int]] = None
    """Explicit rung epochs in [1, epochs); null: epochs / eta^k down to grace_epochs."""
    trainer: Optional[Any] = None
    """Your trainer factory (garay.plugins): a dotted path or {_target_: ...}; null: garay's."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class FitnessConfig:
    """`fitness`: what a genome's fitness is."""

    rounds: Optional[int] = None
    """Validation rounds: the split's validation set first, then other held-out data (with
    data.split=speaker other speakers, each round training on the rest); null: 3 with
    data.split=speaker, else 1."""
    repeats: int = 1
    """Trainings per round, with different seeds."""
    metric: Optional[Any] = None
    """null: accuracy; else your metric(y_true, y_pred) -> float, a dotted path (garay.plugins)."""


@dataclass
class DataConfig:
    """`data`: the data set and its features (garay.data)."""

    name: str = "synthetic"
    """The data set: synthetic | fsdd | folder | npz (set by the data group: data=fsdd ...)."""
    root: Optional[str] = None
    """The recordings folder (fsdd), the class folders' parent (folder) or the .npz file (npz)."""
    seed: int = 0
    """Seed of data generation and splits, apart from the run's seed so reproductions share data."""
    sample_rate: int = 8000
    """Every file is resampled to this rate (Hz)."""
    duration: float = 0.5
    """Seconds: shorter clips are zero-padded, longer ones trimmed."""
    features: str = "logmel"
    """logmel | mfcc | waveform."""
    n_mels: int = 32
    """Mel bands of logmel (and of mfcc's filter bank)."""
    num_classes: int = 10
    """data=synthetic: classes generated."""
    examples_per_class: int = 400
    """data=synthetic: examples generated per class."""
    val_fraction: float = 0.2
    """Share of examples in the validation set (split=random, hash), in (0, 1)."""
    test_fraction: float = 0.2
    """Share of examples in the test set (split=random, hash), in (0, 1); with val_fraction below 1."""
    n_mfcc: int = 20
    """features=mfcc: coefficients per frame (<= n_mels)."""
    n_fft: int = 256
    """FFT size (samples) of logmel and mfcc."""
    hop_length: int = 128
    """Samples between frames: frames = 1 + samples // hop_length."""
    split: str = "random"
    """random | official (fsdd's takes, npz's `split`, folder lists) | speaker (leave speakers out) |
    hash (by speaker, Speech Commands' way); which are allowed depends on data.name."""
    test_speakers: list[str] = field(default_factory=list)
    """split=speaker: the held-out test speakers."""
    val_speakers: list[str] = field(default_factory=list)
    """split=speaker: validation speakers; empty: drawn from the rest."""
    cache_dir: Optional[str] = None
    """The feature cache (audio files' features, and the synthetic set's waveforms); null:
    $XDG_CACHE_HOME/garay or ~/.cache/garay."""
    skip_bad: bool = False
    """true: skip unreadable or misnamed files with a warning instead of stopping."""
    loader: Optional[Any] = None
    """Your loader(data_cfg) -> arrays like data=npz's, a dotted path (garay.plugins)."""
    speaker_pattern: Optional[str] = None
    """data=folder: a regex over file names with (?P<speaker>...), or speech_commands."""
    exclude: list[str] = field(default_factory=list)
    """data=folder: class folders left out (globs)."""
    workers: Optional[int] = None
    """Processes decoding and featurising (and generating); null: every core."""
    normalize: str = "dataset"
    """dataset: standardise with the training set's per-channel mean and std (the study's way) |
    utterance: first each example by its own mean and std over time (CMVN), then so."""


@dataclass
class ClusterConfig:
    """`cluster`: where the workers run (garay.execution)."""

    address: Optional[str] = None
    """null starts a local Ray instance; auto or host:port joins a running cluster."""
    backend: str = "ray"
    """ray (Ray actors) | inprocess (train in the driver process, no Ray)."""
    num_workers: Optional[int] = None
    """Workers; null: one per GPU (else one per cpus_per_worker CPUs), growing as nodes join."""
    gpus_per_worker: float = 1.0
    """GPUs each worker holds: a fraction 1/k packs k workers on one GPU."""
    cpus_per_worker: int = 1
    """CPUs each worker holds; also its torch threads."""
    max_retries: int = 2
    """Re-queues of a genome whose worker died."""
    ship_code: bool = True
    """Joining a cluster: upload this garay package to its nodes (Ray's py_modules)."""
    start_timeout_s: float = 600.0
    """Wait this long for workers; give up when none can be placed this long."""
    min_workers: Optional[int] = None
    """Begin once this many workers are live; null: begin with those that can start."""
    require_gpus: bool = False
    """true: workers wait for GPUs (never the head's CPUs) and must see CUDA."""
    py_modules: list[str] = field(default_factory=list)
    """More local code for the workers (Ray's runtime_env py_modules)."""


@dataclass
class Config:
    """`garay`: one evolution (conf/config.yaml)."""

    blueprint: BlueprintConfig = MISSING
    ga: GAConfig = MISSING
    train: TrainConfig = MISSING
    data: DataConfig = MISSING
    cluster: ClusterConfig = MISSING
    fitness: FitnessConfig = MISSING
    seed: int = 0
    """The run's seed: same seed, same data, CPU: the same genomes and fitness values."""
    resume: bool = False
    """true: continue the run found in hydra.run.dir."""
    progress: bool = True
    """Progress bars on stderr."""
    tensorboard: bool = False
    """Log evaluations and generations to RUN_DIR/tensorboard (the tensorboard package; make install has it)."""


@dataclass
class BestConfig(Config):
    """`garay-best`: retrain a run's best genome (run_dir) or any genome file (genome)."""

    run_dir: Optional[str] = None
    """A run directory: retrain its best genome with its own data, train and fitness settings."""
    genome: Optional[str] = None
    """A genome file (a run's best.json or pareto.json included) or a shipped genome's name:
    study_table1, study_table2, study_table3, small_cnn."""
    member: Optional[str] = None
    """A Pareto front's member (genome=RUN/pareto.json, or run_dir=RUN): its index in the front
    (smallest first) or a prefix of its hash."""
    repeats: int = 3
    """Retrainings; the report gives their mean and spread."""
    save_weights: bool = True
    """Write best_model.npz and best_model.json beside the results."""


# A retrain (garay-best, garay-export) trains every epoch with garay's own trainer: these
# train keys change nothing in it (no early stopping, no train.trainer).
RETRAIN_IGNORED = ("early_stop", "eta", "grace_epochs", "rungs", "trainer")


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
