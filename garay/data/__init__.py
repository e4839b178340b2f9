"""Data sets: the synthetic default, folders of audio files (FSDD names or one folder per
class), and pre-computed features in an .npz file. Loaded once, in the driver; the Ray
evaluator puts the Dataset in the object store for every worker."""

from __future__ import annotations

from typing import Any, Mapping

from garay.errors import ConfigError
from garay.data.dataset import Dataset


def load_dataset(cfg: Any, rounds: int = 1, *, progress: bool = False, remote: bool = False) -> Dataset:
    """The dataset the `data` config group describes, standardised, split three ways, with
    `rounds` validation rounds (fitness.rounds; garay.data.splits.validation_rounds),
    prepared on `data.workers` processes (with `remote`, audio files by Ray tasks on the
    nodes of the cluster this process has joined), with a progress bar when `progress`.

    Raises ConfigError (DataError for bad files) naming the key or path, before training."""
    if cfg.get("loader") is not None:
        return _from_loader(cfg, rounds)
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
            n_mfcc=cfg.n_mfcc,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            rounds=rounds,
            workers=cfg.get("workers"),
            progress=progress,
            normalize=cfg.get("normalize", "dataset"),
            cache_dir=cfg.get("cache_dir"),
        )
    # Imported here so that the synthetic default never pays for the audio stack's imports.
    if cfg.name in ("fsdd", "folder"):
        from garay.data.loaders import load_audio

        return load_audio(cfg, rounds, progress=progress, remote=remote)
    if cfg.name == "npz":
        from garay.data.npz import load_npz

        return load_npz(cfg, rounds)
    raise ConfigError("data.name", f"must be one of synthetic, fsdd, folder, npz; got {cfg.name!r}")


def _from_loader(cfg: Any, rounds: int) -> Dataset:
    """data.loader: your function's arrays, checked and split as data=npz's (garay.plugins)."""
    from omegaconf import OmegaConf

    from garay.data.npz import from_arrays
    from garay.plugins import resolve, target

    spec = OmegaConf.to_container(cfg.loader) if OmegaConf.is_config(cfg.loader) else cfg.loader
    arrays = resolve(spec)(cfg)
    if not isinstance(arrays, Mapping):
        raise ConfigError("data.loader", f"{target(spec)} returned {type(arrays).__name__}; expected a mapping "
                                         "of arrays (X, y; optional speakers, split, classes)")
    try:
        return from_arrays(cfg, dict(arrays), target(spec), rounds, name=target(spec).rsplit(".", 1)[-1],
                           info={"loader": target(spec), **({"root": str(cfg.root)} if cfg.root else {})})
    except ConfigError as exc:
        if exc.key != "data.root":  # data.split and the like name themselves
            raise
        raise ConfigError("data.loader", str(exc).split(": ", 1)[1]) from None


__all__ = ["Dataset", "load_dataset"]
