"""Data sets: the synthetic default, and (see the loaders) real audio."""

from __future__ import annotations

from typing import Any

from garay.data.dataset import Dataset


def load_dataset(cfg: Any) -> Dataset:
    """The dataset the `data` config group describes, standardised, split three ways."""
    if cfg.name == "synthetic":
        from garay.data.synthetic import make_synthetic

        return make_synthetic(
            seed=cfg.seed,
            num_classes=cfg.num_classes,
            examples_per_class=cfg.examples_per_class,
            sample_rate=cfg.sample_rate,
            duration=cfg.duration,
            features=cfg.features,
            n_mels=cfg.n_mels,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
        )
    raise NotImplementedError(f"data={cfg.name} is not available yet")


__all__ = ["Dataset", "load_dataset"]
