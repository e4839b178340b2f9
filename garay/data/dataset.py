"""The in-memory dataset every loader produces: features as float32 arrays, split three ways."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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

    @property
    def input_shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def standardised(self) -> "Dataset":
        """Per-channel zero mean, unit variance, using training-set statistics only."""
        mean = self.x_train.mean(axis=(0, 2), keepdims=True)
        std = self.x_train.std(axis=(0, 2), keepdims=True) + 1e-6

        def norm(x: np.ndarray) -> np.ndarray:
            return ((x - mean) / std).astype(np.float32)

        return replace(self, x_train=norm(self.x_train), x_val=norm(self.x_val), x_test=norm(self.x_test))


def split_dataset(
    x: np.ndarray, y: np.ndarray, parts: tuple[np.ndarray, ...], classes: tuple[str, ...], *, name: str, info: dict
) -> Dataset:
    """Features `x` and labels `y` cut into `parts` = (train, val, test) indices, standardised
    with training statistics. Raises ConfigError (data.split) when a part is empty."""
    from garay.data.splits import check_split

    check_split(parts, str(info.get("split", "?")))
    train, val, test = parts
    return Dataset(
        x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val], x_test=x[test], y_test=y[test],
        classes=classes, name=name, info=info,
    ).standardised()
