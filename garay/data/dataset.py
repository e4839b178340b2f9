"""The in-memory dataset every loader produces: features as float32 arrays, split three ways."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Features shaped (examples, channels, time) with integer labels.

    Holds numpy arrays so it pickles cheaply into Ray's object store (zero-copy reads).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str = "dataset"
    info: dict = field(default_factory=dict)
    # Further validation rounds (fitness.rounds > 1): the same data split other ways, each
    # standardised with its own training statistics. This dataset is round one.
    rounds: tuple["Dataset", ...] = ()

    @property
    def input_shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def nbytes(self) -> int:
        """Bytes of every split's features, validation rounds included (what the object store holds)."""
        own = sum(a.nbytes for a in (self.x_train, self.x_val, self.x_test, self.y_train, self.y_val, self.y_test))
        return own + sum(r.nbytes() for r in self.rounds)

    def standardised(self) -> "Dataset":
        """Per-channel zero mean, unit variance, using training-set statistics only."""
        mean = self.x_train.mean(axis=(0, 2), keepdims=True)
        std = self.x_train.std(axis=(0, 2), keepdims=True) + 1e-6

        def norm(x: np.ndarray) -> np.ndarray:
            return ((x - mean) / std).astype(np.float32)

        return replace(self, x_train=norm(self.x_train), x_val=norm(self.x_val), x_test=norm(self.x_test))


def split_dataset(
    x: np.ndarray, y: np.ndarray, parts: Sequence[tuple[np.ndarray, ...]], classes: tuple[str, ...], *, name: str,
    info: dict
) -> Dataset:
    """Features `x` and labels `y` cut into (train, val, test) indices, standardised with
    training statistics: `parts[0]` is the split, any further ones the extra validation
    rounds. Raises ConfigError (data.split) when a part is empty."""
    from garay.data.splits import check_split

    def cut(p: tuple[np.ndarray, ...]) -> Dataset:
        check_split(p, str(info.get("split", "?")))
        train, val, test = p
        # x[indices] are fresh float32 copies: standardise them in place (the same numbers
        # as `standardised`), so the driver holds x and each validation round's copy of it.
        parts = [np.asarray(x[i], dtype=np.float32) for i in (train, val, test)]
        mean = parts[0].mean(axis=(0, 2), keepdims=True)
        std = parts[0].std(axis=(0, 2), keepdims=True) + 1e-6
        for part in parts:
            part -= mean
            part /= std
        return Dataset(x_train=parts[0], y_train=y[train], x_val=parts[1], y_val=y[val], x_test=parts[2],
                       y_test=y[test], classes=classes, name=name, info=info)

    first = cut(parts[0])
    return replace(first, rounds=tuple(cut(p) for p in parts[1:])) if len(parts) > 1 else first
