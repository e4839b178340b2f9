"""What an evaluation takes and gives back. Torch-free, so the driver and light workers
can import it without loading torch."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from typing import Any

from garay.config.schema import AugmentConfig, BlueprintConfig, FitnessConfig, TrainConfig

# `stopped`: early stopping ended the training at a rung (its accuracy is a partial one).
STATUSES = ("ok", "diverged", "failed", "timeout", "stopped")


@dataclass(frozen=True)
class Augmentation:
    """`train.augment` (garay.config.AugmentConfig, whose defaults these are): what
    garay.execution.augment does to each training batch."""

    time_masks: int = AugmentConfig.time_masks
    time_width: int = AugmentConfig.time_width
    freq_masks: int = AugmentConfig.freq_masks
    freq_width: int = AugmentConfig.freq_width
    shift: float = AugmentConfig.shift
    warp: float = AugmentConfig.warp
    mixup: float = AugmentConfig.mixup

    @property
    def active(self) -> bool:
        """False when every augmentation is off (a batch is left exactly as it was)."""
        return bool((self.time_masks and self.time_width) or (self.freq_masks and self.freq_width)
                    or self.shift or self.warp or self.mixup)

    @classmethod
    def from_config(cls, cfg: Any) -> "Augmentation":
        cfg = cfg or {}
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


@dataclass(frozen=True)
class TrainSettings:
    """What one evaluation needs to know (built from the `train` config group; its
    defaults are that group's)."""

    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    weight_decay: float = TrainConfig.weight_decay
    noise_level: float = TrainConfig.noise_level
    timeout_s: float | None = TrainConfig.timeout_s
    conv_dim: int = BlueprintConfig.conv_dim
    repeats: int = FitnessConfig.repeats  # trainings per validation round, with different seeds
    metric: Any = FitnessConfig.metric  # fitness.metric: None (accuracy) or a garay.plugins spec
    latency: bool = False  # measure inference latency (ga.objectives holds latency)
    augment: Augmentation = Augmentation()

    @classmethod
    def from_config(cls, cfg: Any) -> "TrainSettings":
        """From a composed garay config: the `train` group, conv_dim, fitness.repeats."""
        from omegaconf import OmegaConf

        t, metric = cfg.train, cfg.fitness.get("metric")
        return cls(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, weight_decay=t.get("weight_decay", TrainConfig.weight_decay),
                   noise_level=t.noise_level,
                   timeout_s=t.timeout_s, conv_dim=cfg.blueprint.conv_dim, repeats=cfg.fitness.repeats,
                   metric=OmegaConf.to_container(metric) if OmegaConf.is_config(metric) else metric,
                   latency="latency" in cfg.ga.objectives, augment=Augmentation.from_config(t.get("augment")))

    def for_recipe(self, recipe: Any) -> "TrainSettings":
        """These settings with a genome's training genes (garay.search.recipe.Recipe) in
        place of the `train` group's; unchanged for None (a genome without them)."""
        if recipe is None:
            return self
        overrides = recipe.train_overrides()
        return replace(self, **{k: v for k, v in overrides.items() if k != "augment"},
                       augment=replace(self.augment, **overrides["augment"]))


@dataclass(frozen=True)
class Evaluation:
    """The outcome of training one genome. `fitness` is the validation accuracy, or
    fitness.metric's value when one is set (0 when the evaluation did not finish as `ok`): the mean over every training when a genome is
    trained more than once (validation rounds x repeats), whose own scores `val_scores`
    holds, as `test_accuracy` is the mean of their test accuracies. `curve` is the
    validation accuracy after each epoch and `losses` the mean training loss of each epoch
    (epoch-wise means over the trainings)."""

    fitness: float
    val_accuracy: float
    test_accuracy: float
    status: str  # one of STATUSES
    error: str | None
    seconds: float
    params: int
    epochs: int
    val_scores: tuple[float, ...] = ()
    curve: tuple[float, ...] = ()
    losses: tuple[float, ...] = ()
    # fitness.metric: its value on the validation (= fitness) and test predictions.
    val_metric: float | None = None
    test_metric: float | None = None
    latency_ms: float | None = None  # ms to classify one example on the worker's device (settings.latency)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def unfinished(cls, status: str, error: str, seconds: float = 0.0) -> "Evaluation":
        """An evaluation that produced no model (worker lost, timed out)."""
        return cls(0.0, 0.0, 0.0, status, error, seconds, 0, 0)


def training_seed(seed: int, round_: int, repeat: int) -> int:
    """The seed of one training of an evaluation: the evaluation's own seed for the first
    (so a single training is seeded as before), a derived one for the others."""
    if round_ == 0 and repeat == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{round_}:{repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def evaluation_seed(run_seed: int, genome_hash: str, generation: int) -> int:
    """A 63-bit seed from (run seed, genome hash, generation or birth): independent of
    which worker trains the genome and when."""
    digest = hashlib.sha256(f"{run_seed}:{genome_hash}:{generation}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
