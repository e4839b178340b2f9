"""Refuse before anything is written: a Hydra callback (conf/config.yaml, conf/best.yaml)
that checks a command's config before Hydra makes the job's directory and writes its
record there (`.hydra/`, the log), and remembers each directory as it found it, so that a
refusal found later (the data, the cluster) puts it back, or removes it when it is new.

A refusal is one line, `PROG: error: KEY: message`, and exit status 2.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from garay.errors import ConfigError
from garay.results.resume import FoundDir

# Directories as found before Hydra wrote to them, by absolute path: a run's (or each
# job's) directory, and a multirun's sweep directory under SWEEP.
_found: dict[str, FoundDir] = {}
SWEEP = "sweep"


def refuse(prog: str, exc: ConfigError) -> NoReturn:
    print(f"{prog}: error: {exc}", file=sys.stderr)
    sys.exit(2)


class Preflight(Callback):
    """`check(cfg, out_dir)` (a dotted path; raises ConfigError) on the config of the run,
    or of every job of a multirun, before Hydra writes anything."""

    def __init__(self, check: str, prog: str):
        from garay.plugins import resolve

        self.check: Callable[[DictConfig, Path], None] = resolve(check)
        self.prog = prog

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        out = Path(str(config.hydra.run.dir))
        try:
            self.check(config, out)
        except ConfigError as exc:
            refuse(self.prog, exc)
        _found[os.path.abspath(out)] = FoundDir.of(out)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            jobs = sweep_jobs(config)
            for cfg, out in jobs:
                self.check(cfg, out)
        except ConfigError as exc:
            refuse(self.prog, exc)
        _found[SWEEP] = FoundDir.of(str(config.hydra.sweep.dir))
        for _, out in jobs:
            _found[os.path.abspath(out)] = FoundDir.of(out)


def sweep_jobs(config: DictConfig) -> list[tuple[DictConfig, Path]]:
    """Every job of a multirun as Hydra's basic sweeper will launch it: its config and its
    directory (sweep.dir/sweep.subdir). Another sweeper's jobs are known only as it runs:
    then [] (each job is still checked when it starts)."""
    from hydra import compose
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if not str(config.hydra.sweeper.get("_target_", "")).endswith(".BasicSweeper"):
        return []
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    try:
        parsed = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
        jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except HydraException as exc:
        raise ConfigError("overrides", str(exc).strip().splitlines()[0]) from None
    out = []
    for num, job in enumerate(jobs):
        cfg = compose(config_name=config.hydra.job.config_name, return_hydra_config=True,
                      overrides=[*config.hydra.overrides.hydra, *job])
        OmegaConf.copy_cache(from_config=config, to_config=cfg)  # the sweep's ${now:...}, as Hydra does
        with open_dict(cfg):
            cfg.hydra.job.num = cfg.hydra.job.id = num
        out.append((cfg, Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)))
    return out


@contextmanager
def refusals(prog: str) -> Iterator[None]:
    """Around a Hydra job: a ConfigError puts the job's directory (and a multirun's sweep
    directory) back as the preflight found it, then is one line and exit status 2."""
    try:
        yield
    except ConfigError as exc:
        put_back()
        refuse(prog, exc)


def put_back() -> None:
    """The current Hydra job's directory as it was found (see FoundDir.put_back), then the
    sweep's, if the whole sweep wrote nothing."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    out = os.path.abspath(HydraConfig.get().runtime.output_dir)
    root = logging.getLogger()
    for handler in list(root.handlers):  # the job's log: closed, or it would write past the put-back bytes
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(out):
            handler.close()
            root.removeHandler(handler)
    for key in (out, SWEEP):
        if key in _found:
            _found.pop(key).put_back()
