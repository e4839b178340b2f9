"""Structured configs (registered in Hydra's ConfigStore) and value validation.

These dataclasses are the one place garay's defaults are written: the YAML files in conf/
name them as their schema and set only what differs, the driver takes `GAConfig` itself as
its settings, `TrainSettings` takes its defaults from `TrainConfig`, and the search space's
defaults come from `garay.blueprint.Blueprint`. Hydra checks types against them while
composing; `validate` checks values and raises ConfigError naming the key and what is
allowed, before Ray starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from garay.blueprint import ACTIVATIONS, CHOICE_FIELDS, Blueprint
from garay.fidelity import POLICIES, Rungs


GA_MODES = ("generational", "async", "random")
OBJECTIVES = ("fitness", "params", "latency")


class ConfigError(ValueError):
    """A config value outside what is allowed; the message names the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


def _space(name: str) -> Any:
    """A blueprint list's default: the study's value set, as garay.blueprint.Blueprint has it."""
    return field(default_factory=lambda: list(getattr(Blueprint, name)))


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


@dataclass
class GAConfig:
    """The `ga` group, and the driver's settings (garay.evolution.GASettings is this class)."""

    population_size: int = 10
    generations: int = 4
    num_parents: int = 4
    mutation_rate: float = 0.2
    conv_chance: float = 0.8
    mode: str = "generational"  # generational | async | random (random search, the same budget)
    max_redraws: int = 100  # bound on re-drawing: unfitting genomes (fit=redraw), repeats (random, async)
    tournament_size: int = 3  # async mode
    fit: str = "repair"  # a genome that does not fit the input: repair (garay.fitting) | redraw (whole)
    unique_children: bool = False  # true: a child that was evaluated before is bred again
    # Training epochs the whole run may spend (the sum over genomes of the epochs each was
    # trained for; null: ga.generations decides); the run ends after the first generation
    # (async: birth) that reaches it, so arms with and without early stopping compare at equal compute.
    budget_epochs: Optional[int] = None
    # What selection maximises: fitness alone (the study's way), or fitness against
    # `params` (the network's size) and/or `latency` (ms per example, measured on the
    # worker): NSGA-II (garay.pareto); the run writes pareto.json and pareto.png.
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
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    noise_level: float = 0.1  # std of fresh Gaussian noise added to every batch (standardised features)
    timeout_s: Optional[float] = None  # bound on one training, seconds (an evaluation holds rounds x repeats)
    # Early stopping of hopeless genomes (garay.fidelity): none (every genome trains all
    # epochs, the study's way) | halving (the best 1/eta of each rung continue; generational:
    # successive halving per generation, async: ASHA) | median (those at or above the median
    # of every result at that rung continue).
    early_stop: str = "none"
    eta: int = 3  # halving: the best 1/eta of a rung continue
    grace_epochs: int = 2  # no genome is stopped before this many epochs (the first rung)
    rungs: Optional[list[int]] = None  # explicit rung epochs; null: epochs / eta^k down to grace_epochs
    trainer: Optional[Any] = None  # your trainer factory (garay.plugins): a dotted path or {_target_: ...}


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


SPEAKER_ROUNDS = 3  # fitness.rounds=null with data.split=speaker


def fitness_rounds(cfg: Any) -> int:
    """The number of validation rounds: `fitness.rounds`, or when it is null, SPEAKER_ROUNDS
    with data.split=speaker (at most one per development speaker) and 1 otherwise."""
    if cfg.fitness.rounds is not None:
        return int(cfg.fitness.rounds)
    return SPEAKER_ROUNDS if cfg.data.split == "speaker" else 1


def rung_schedule(cfg: Any) -> Rungs:
    """The early-stopping rungs the `train` group asks for (one rung, the full training,
    with train.early_stop=none)."""
    t = cfg.train
    return Rungs.schedule(epochs=t.epochs, policy=t.early_stop, eta=t.eta, grace_epochs=t.grace_epochs,
                          rungs=list(t.rungs) if t.rungs else None)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(key, message)


def validate(cfg: Any) -> None:
    """Check values (types were checked by Hydra). Raises ConfigError on the first bad key."""
    ga, train, bp, cl = cfg.ga, cfg.train, cfg.blueprint, cfg.cluster
    _check(0.0 <= ga.mutation_rate <= 1.0, "ga.mutation_rate", f"must be in [0, 1], got {ga.mutation_rate}")
    _check(0.0 <= ga.conv_chance <= 1.0, "ga.conv_chance", f"must be in [0, 1], got {ga.conv_chance}")
    _check(ga.population_size >= 2, "ga.population_size", f"must be at least 2, got {ga.population_size}")
    # Parents equal to the population leave no place for a child: nothing after generation 0.
    _check(
        2 <= ga.num_parents < ga.population_size,
        "ga.num_parents",
        f"must be in [2, ga.population_size - 1 = {ga.population_size - 1}] (children fill the other places), "
        f"got {ga.num_parents}",
    )
    _check(ga.generations >= 1, "ga.generations", f"must be at least 1, got {ga.generations}")
    _check(ga.mode in GA_MODES, "ga.mode", f"must be one of {', '.join(GA_MODES)}; got {ga.mode!r}")
    _check(ga.fit in ("repair", "redraw"), "ga.fit", f"must be one of repair, redraw; got {ga.fit!r}")
    _check(ga.max_redraws >= 1, "ga.max_redraws", f"must be at least 1, got {ga.max_redraws}")
    _check(ga.tournament_size >= 1, "ga.tournament_size", f"must be at least 1, got {ga.tournament_size}")
    objectives = list(ga.objectives)
    _check(bool(objectives) and objectives[0] == "fitness" and set(objectives) <= set(OBJECTIVES)
           and len(set(objectives)) == len(objectives), "ga.objectives",
           f"must be [fitness] followed by any of params, latency, each once; got {objectives}")
    _check(ga.max_params is None or ga.max_params >= 1, "ga.max_params", f"must be >= 1 or null, got {ga.max_params}")
    _check(ga.budget_epochs is None or ga.budget_epochs >= 1, "ga.budget_epochs",
           f"must be at least 1, or null (generations decide), got {ga.budget_epochs}")
    fit = cfg.fitness
    _check(fit.rounds is None or fit.rounds >= 1, "fitness.rounds", f"must be at least 1, or null (auto), got {fit.rounds}")
    _check(fit.repeats >= 1, "fitness.repeats", f"must be at least 1, got {fit.repeats}")
    _check(train.epochs >= 1, "train.epochs", f"must be at least 1, got {train.epochs}")
    _check(train.early_stop in POLICIES, "train.early_stop",
           f"must be one of {', '.join(POLICIES)}; got {train.early_stop!r}")
    _check(train.eta >= 2, "train.eta", f"must be at least 2, got {train.eta}")
    _check(train.grace_epochs >= 1, "train.grace_epochs", f"must be at least 1, got {train.grace_epochs}")
    bad = [r for r in (train.rungs or []) if not 1 <= r < train.epochs]
    _check(not bad, "train.rungs", f"must be epochs in [1, train.epochs={train.epochs}), got {bad}")
    _check(train.batch_size >= 1, "train.batch_size", f"must be at least 1, got {train.batch_size}")
    _check(train.lr > 0, "train.lr", f"must be positive, got {train.lr}")
    _check(train.noise_level >= 0, "train.noise_level", f"must be >= 0, got {train.noise_level}")
    _check(
        train.timeout_s is None or train.timeout_s > 0, "train.timeout_s", f"must be positive or null, got {train.timeout_s}"
    )
    _check(bp.max_layers >= 1, "blueprint.max_layers", f"must be at least 1, got {bp.max_layers}")
    _check(bp.conv_dim in (1, 2), "blueprint.conv_dim", f"must be 1 or 2, got {bp.conv_dim}")
    for name in CHOICE_FIELDS:
        values = list(bp[name])
        _check(len(values) > 0, f"blueprint.{name}", "must list at least one value")
    for act in bp.activations:
        _check(act in ACTIVATIONS, "blueprint.activations", f"unknown activation {act!r}; allowed: {', '.join(ACTIVATIONS)}")
    for name, low in (("layer_sizes", 1), ("filters", 1), ("kernel_sizes", 1), ("strides", 1), ("pool_sizes", 1), ("paddings", 0)):
        bad = [v for v in bp[name] if v < low]
        _check(not bad, f"blueprint.{name}", f"values must be >= {low}, got {bad}")
    bad = [v for v in bp.dropouts if not 0 <= v < 1]
    _check(not bad, "blueprint.dropouts", f"values must be in [0, 1), got {bad}")
    _check(cl.backend in ("ray", "inprocess"), "cluster.backend", f"must be one of ray, inprocess; got {cl.backend!r}")
    _check(cl.num_workers is None or cl.num_workers >= 1, "cluster.num_workers", f"must be >= 1 or null, got {cl.num_workers}")
    _check(cl.gpus_per_worker > 0, "cluster.gpus_per_worker", f"must be positive (1, or a fraction like 0.5), got {cl.gpus_per_worker}")
    _check(
        cl.gpus_per_worker <= 1 or float(cl.gpus_per_worker).is_integer(),
        "cluster.gpus_per_worker",
        f"must be a fraction <= 1 or a whole number, got {cl.gpus_per_worker}",
    )
    _check(cl.cpus_per_worker >= 1, "cluster.cpus_per_worker", f"must be at least 1, got {cl.cpus_per_worker}")
    _check(cl.start_timeout_s > 0, "cluster.start_timeout_s", f"must be positive, got {cl.start_timeout_s}")
    _check(cl.min_workers is None or cl.min_workers >= 1, "cluster.min_workers", f"must be >= 1 or null, got {cl.min_workers}")
    _check(cl.min_workers is None or cl.num_workers is None or cl.min_workers <= cl.num_workers, "cluster.min_workers",
           f"must be at most cluster.num_workers={cl.num_workers}, got {cl.min_workers}")
    _check(cl.max_retries >= 0, "cluster.max_retries", f"must be >= 0, got {cl.max_retries}")
    data = cfg.data
    _check(data.name in ("synthetic", "fsdd", "folder", "npz"), "data.name", f"must be one of synthetic, fsdd, folder, npz; got {data.name!r}")
    _check(data.features in ("logmel", "mfcc", "waveform"), "data.features", f"must be one of logmel, mfcc, waveform; got {data.features!r}")
    _check(data.name == "synthetic" or data.loader is not None or data.root is not None, "data.root",
           f"is required for data={data.name}")
    _check(data.sample_rate >= 1, "data.sample_rate", f"must be a positive number of Hz, got {data.sample_rate}")
    _check(data.duration > 0, "data.duration", f"must be positive (seconds), got {data.duration}")
    _check(data.n_mels >= 1, "data.n_mels", f"must be at least 1, got {data.n_mels}")
    _check(data.n_fft >= 2, "data.n_fft", f"must be at least 2, got {data.n_fft}")
    _check(data.hop_length >= 1, "data.hop_length", f"must be at least 1, got {data.hop_length}")
    _check(data.features != "mfcc" or 1 <= data.n_mfcc <= data.n_mels, "data.n_mfcc", f"must be in [1, data.n_mels={data.n_mels}], got {data.n_mfcc}")
    # Fitness is validation accuracy and the report is test accuracy: neither may be empty.
    _check(0 < data.val_fraction < 1, "data.val_fraction", f"must be in (0, 1), got {data.val_fraction}")
    _check(0 < data.test_fraction < 1, "data.test_fraction", f"must be in (0, 1), got {data.test_fraction}")
    _check(
        data.val_fraction + data.test_fraction < 1,
        "data.test_fraction",
        f"data.val_fraction + data.test_fraction must be < 1, got {data.val_fraction + data.test_fraction}",
    )
    splits = {"synthetic": ("random",), "folder": ("random", "speaker", "hash", "official"),
              "fsdd": ("official", "speaker", "random", "hash"),
              "npz": ("official", "speaker", "random", "hash")}.get(data.name, ("random",))
    if data.loader is not None:  # your arrays, split as data=npz splits them
        splits = ("official", "speaker", "random", "hash")
    _check(data.split in splits, "data.split", f"must be one of {', '.join(splits)} for data={data.name}; got {data.split!r}")
    if data.speaker_pattern is not None:
        from garay.data.folder import speaker_regex

        speaker_regex(data.speaker_pattern)  # a ConfigError naming the key, before anything runs
    _check(data.workers is None or data.workers >= 1, "data.workers", f"must be >= 1 or null (every core), got {data.workers}")
    _check(data.name != "folder" or data.loader is not None or data.split not in ("speaker", "hash")
           or data.speaker_pattern is not None, "data.speaker_pattern",
           f"is needed for data.split={data.split} with data=folder (a regex with (?P<speaker>...), or speech_commands)")
    if data.split == "speaker":
        _check(len(data.test_speakers) > 0, "data.test_speakers", "must name at least one speaker for data.split=speaker")
        both = sorted(set(data.test_speakers) & set(data.val_speakers))
        _check(not both, "data.val_speakers", f"must not share speakers with data.test_speakers; both hold {both}")
