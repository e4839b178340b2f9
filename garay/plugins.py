"""Your own parts, chosen by config or through the API: a trainer, a fitness metric, a
data loader.

A part is named by a dotted path (`fitness.metric=my_parts.macro_f1`) or by a Hydra-style
mapping whose other keys are bound as keyword arguments, as Hydra's `_partial_: true`
does (`fitness.metric={_target_: sklearn.metrics.f1_score, average: macro}`):

- `train.trainer`: a trainer factory, called on each worker as `factory(dataset, settings,
  threads, gpu_fraction)`, returning an object with `run(task) -> Evaluation` (or
  `run_to(task)`), as garay.execution.trainer.TorchTrainer (e.g. another way to build a network).
- `fitness.metric`: `metric(y_true, y_pred) -> float` on the validation (and test)
  predictions of garay's trainer; it becomes the fitness. Validation accuracy is still
  recorded, and early stopping still compares it at the rungs.
- `data.loader`: `loader(data_cfg) -> mapping` with arrays `X` (examples, channels, frames)
  and `y`, optionally `speakers`, `split`, `classes`: what an .npz file holds for
  `data=npz`; garay splits (data.split) and standardises it.

Their code must reach the Ray workers: a part's module that is not installed (not under
site-packages) is shipped with the run (runtime_env py_modules: its package folder, or its
file), on a local Ray instance as on a cluster; `cluster.py_modules` ships more.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from garay.errors import ConfigError

KEYS = ("train.trainer", "fitness.metric", "data.loader")


def spec_at(cfg: Any, key: str) -> str | dict[str, Any] | None:
    """The part named at `key` of a composed config, as plain data (None: garay's own)."""
    value = OmegaConf.select(cfg, key) if isinstance(cfg, DictConfig) else None
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def target(spec: str | dict[str, Any]) -> str:
    return spec if isinstance(spec, str) else str(spec.get("_target_", ""))


def _bound(spec: Any) -> dict[str, Any]:
    """The keyword arguments a mapping spec binds (its keys without a leading `_`)."""
    # Mapping: a composed config's DictConfig as well as a plain dict
    return {k: v for k, v in spec.items() if not k.startswith("_")} if isinstance(spec, Mapping) else {}


def resolve(spec: str | dict[str, Any]) -> Callable[..., Any]:
    """The callable a spec names, with its keyword arguments bound."""
    module_name, _, attr = target(spec).rpartition(".")
    if not module_name:
        raise ImportError(f"{target(spec)!r} is not a dotted path (module.name)")
    obj = getattr(importlib.import_module(module_name), attr)
    kwargs = _bound(spec)
    return functools.partial(obj, **kwargs) if kwargs else obj


@functools.lru_cache(maxsize=16)
def _resolved(key: str) -> Callable[..., Any]:
    return resolve(json.loads(key))


def cached(spec: str | dict[str, Any]) -> Callable[..., Any]:
    """`resolve`, once per worker process (a metric is looked up for every training)."""
    return _resolved(json.dumps(spec, sort_keys=True))


def check(cfg: Any) -> None:
    """Every part the config names can be imported here, or ConfigError naming its key."""
    for key in KEYS:
        spec = spec_at(cfg, key)
        if spec is None:
            continue
        try:
            resolve(spec)
        except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, a bad keyword...
            raise ConfigError(key, f"cannot use {target(spec)!r}: {type(exc).__name__}: {exc}") from None


def metric_name(spec: str | dict[str, Any] | None) -> str:
    """How logs, tables and plots name the fitness: `accuracy` (garay's own), else the
    metric's own name (`my_parts.macro_f1` -> `macro_f1`), with its bound arguments
    (`f1_score(average=macro)`)."""
    if spec is None:
        return "accuracy"
    name = target(spec).rpartition(".")[2] or "metric"
    kwargs = _bound(spec)
    return name + (f"({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")


def name_of(fn: Any) -> str:
    """The dotted path of a function or class, for the API (`fitness={"metric": macro_f1}`)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise ConfigError("plugins", f"{fn!r} must be importable by the workers: define it at the top level "
                                     "of a module (not in __main__ or inside a function) and pass it again")
    return f"{module}.{qualname}"


def _installed(path: Path) -> bool:
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    return any(path.is_relative_to(r) for r in roots) or "site-packages" in path.parts or "dist-packages" in path.parts


def modules_to_ship(cfg: Any) -> list[str]:
    """Local folders and files the workers need for the config's parts (not garay, not
    installed packages), plus `cluster.py_modules`."""
    out: list[str] = []
    for key in KEYS:
        spec = spec_at(cfg, key)
        top = target(spec).split(".")[0] if spec is not None else ""
        if not top or top == "garay":
            continue
        module = sys.modules.get(top) or importlib.import_module(top)
        paths = list(getattr(module, "__path__", [])) or [getattr(module, "__file__", None)]
        if len(paths) != 1 or paths[0] is None:  # a namespace package or a built-in: not ours to ship
            continue
        path = Path(paths[0]).resolve()
        if not _installed(path) and str(path) not in out:
            out.append(str(path))
    extra = OmegaConf.select(cfg, "cluster.py_modules", default=None) if isinstance(cfg, DictConfig) else None
    return out + [str(Path(p).resolve()) for p in (extra or []) if str(Path(p).resolve()) not in out]
