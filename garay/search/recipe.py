"""Training genes: the recipe a genome's network is trained with (learning rate, weight
decay, batch size, noise level, augmentation strengths), searched with its architecture
when `blueprint.train_genes=true`.

A genome without a recipe (the default, the study's genome) trains with the `train`
group's settings, and its hash and JSON are what they always were. With training genes
every genome carries a `Recipe`, drawn, crossed and mutated like the layer genes: each
gene a value of its blueprint list. Pure: no I/O, no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class Recipe:
    """One genome's training settings; each overrides the `train` key of its name."""

    lr: float
    weight_decay: float
    batch_size: int
    noise_level: float
    time_masks: int  # train.augment.time_masks (widths stay train.augment's)
    freq_masks: int
    shift: float
    warp: float
    mixup: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Recipe":
        expected = {f.name for f in fields(cls)}
        if not isinstance(data, Mapping) or set(data) != expected:
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"a recipe needs exactly the keys {sorted(expected)}, got {got}")
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def describe(self) -> str:
        """A short text such as `lr 0.001, wd 0, batch 32, noise 0.1, masks 2t/1f, shift 0.1`."""
        parts = [f"lr {self.lr:g}", f"wd {self.weight_decay:g}", f"batch {self.batch_size}",
                 f"noise {self.noise_level:g}"]
        if self.time_masks or self.freq_masks:
            parts.append(f"masks {self.time_masks}t/{self.freq_masks}f")
        parts += [f"{name} {getattr(self, name):g}" for name in ("shift", "warp", "mixup") if getattr(self, name)]
        return ", ".join(parts)

    def train_overrides(self) -> dict[str, Any]:
        """The `train` settings this recipe sets: top-level keys, and the augment ones."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, "batch_size": self.batch_size,
                "noise_level": self.noise_level,
                "augment": {k: getattr(self, k) for k in ("time_masks", "freq_masks", "shift", "warp", "mixup")}}


GENES = tuple(f.name for f in fields(Recipe))


@dataclass(frozen=True)
class RecipeSpace:
    """The values each training gene may take (`blueprint.recipe`)."""

    lr: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    weight_decay: tuple[float, ...] = (0.0, 1e-4, 1e-3)
    batch_size: tuple[int, ...] = (16, 32, 64)
    noise_level: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
    time_masks: tuple[int, ...] = (0, 1, 2)
    freq_masks: tuple[int, ...] = (0, 1, 2)
    shift: tuple[float, ...] = (0.0, 0.1)
    warp: tuple[float, ...] = (0.0, 0.1)
    mixup: tuple[float, ...] = (0.0, 0.2)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "RecipeSpace":
        return cls(**{g: tuple(cfg[g]) for g in GENES if g in cfg})

    def contains(self, recipe: Recipe) -> bool:
        return all(getattr(recipe, g) in getattr(self, g) for g in GENES)


def _pick(values: tuple[Any, ...], rng: np.random.Generator) -> Any:
    value = values[int(rng.integers(len(values)))]
    return value.item() if isinstance(value, np.generic) else value


def sample_recipe(space: RecipeSpace, rng: np.random.Generator) -> Recipe:
    """Every gene uniform over its values."""
    return Recipe(**{g: _pick(getattr(space, g), rng) for g in GENES})


def crossover_recipe(a: Recipe, b: Recipe, rng: np.random.Generator) -> Recipe:
    """Uniform crossover: each gene from one parent or the other, as layer genes cross."""
    return Recipe(**{g: getattr(a if rng.random() < 0.5 else b, g) for g in GENES})


def mutate_recipe(recipe: Recipe, space: RecipeSpace, rate: float, rng: np.random.Generator) -> Recipe:
    """Each gene drawn again from its values with probability `rate`, as layer genes mutate."""
    return Recipe(**{g: _pick(getattr(space, g), rng) if rng.random() < rate else getattr(recipe, g)
                     for g in GENES})


def recipe_encoding(recipe: Recipe | None, space: RecipeSpace) -> np.ndarray:
    """One number per gene for a surrogate: the value's index in its list, scaled to 0..1
    (the lists are ordered, so near values are near)."""
    if recipe is None:
        return np.zeros(len(GENES))
    out = []
    for g in GENES:
        values = getattr(space, g)
        value = getattr(recipe, g)
        out.append(values.index(value) / max(len(values) - 1, 1) if value in values else 0.0)
    return np.array(out, dtype=float)
