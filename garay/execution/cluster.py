"""Connecting to Ray and building the evaluator the `cluster` config group asks for."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from garay.execution.auth import MODE_VAR, cluster_mode, find_token, token_path, use_mode
from garay.errors import ConfigError
from garay.progress import heartbeat
from garay.data.dataset import Dataset
from garay.execution.evaluation import TrainSettings
from garay.execution.inprocess import InProcessEvaluator
from garay.execution.protocol import Evaluator
from garay.execution.trainer import TorchTrainer, TrainerFactory

log = logging.getLogger(__name__)


def _code_runtime_env() -> dict[str, Any]:
    """Ship this garay package to every node (Ray uploads it once, content-addressed), so a
    cluster's nodes need garay's dependencies installed but not garay itself."""
    return {"py_modules": [str(Path(__file__).resolve().parents[1])]}  # the garay folder


def _token_mode_if_token_exists() -> str | None:
    """Joining a cluster whose mode could not be found out (Ray Client, an older Ray):
    use Ray's token authentication when a token is at hand (the RAY_AUTH_TOKEN variable,
    RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token) and RAY_AUTH_MODE is unset, as `ray start
    --head` does. Returns where the token came from when garay made that choice (None:
    the user's RAY_AUTH_MODE decides)."""
    if "RAY_AUTH_MODE" in os.environ:
        return None
    try:  # Ray >= 2.52; older releases have no token authentication
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:
        return None
    if not maybe_enable_token_auth_if_token_available(warn_if_disabled=False):
        return None
    return "RAY_AUTH_TOKEN" if os.environ.get("RAY_AUTH_TOKEN") else str(token_path())


def _protect_token_file() -> None:
    """Ray writes the token of a cluster it starts readable by everyone (0644): make it the
    owner's only, as any secret."""
    path = token_path()
    try:
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
            log.info("made %s readable by its owner only", path)
    except OSError as exc:  # not ours to change: say so rather than fail the run
        log.warning("could not restrict %s to its owner: %s", path, exc)



def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def ray_session(address: str | None, *, ship_code: bool = True, py_modules: Sequence[str] = ()) -> Iterator[str | None]:
    """Use the Ray instance already running in this process, join `address` (`auto`,
    `host:port` or `ray://host:port`), or start a local instance (address null).

    Only what this function started is shut down, and not inside a Hydra multirun: there
    the first job's connection (or local instance) stays up and later jobs reuse it, so a
    sweep starts Ray once. Ray shuts it down when the process exits.

    Joining, it takes the cluster's own authentication mode (garay.execution.auth), whatever
    RAY_AUTH_MODE or a token file left by a local run say. Yields where the token came
    from when garay could not find the mode out and chose token authentication because a
    token exists (None otherwise): if the cluster then refuses every worker, that token is
    the likely cause.
    """
    import ray

    if ray.is_initialized():
        if py_modules:
            log.warning("Ray was started before this run: the local code your parts need (%s) is not shipped to the "
                        "workers; install it there, or pass runtime_env={'py_modules': [...]} to ray.init",
                        ", ".join(py_modules))
        yield None
        return
    implicit_token = None
    kwargs: dict[str, Any] = {"log_to_driver": True}
    modules = list(py_modules)  # your parts' code (garay.plugins): on every worker, local Ray or a cluster
    mode_before = os.environ.get(MODE_VAR)  # Ray sets it for a local instance; ours is put back afterwards
    if address is None:
        kwargs["include_dashboard"] = False
        if mode_before is None:
            # What Ray chooses for a local instance when the mode is unset (token
            # authentication), said explicitly: the same protection without Ray's warning
            # about a choice the user did not make for an instance only this run uses.
            use_mode("token")
    else:
        joining = cluster_mode(address)  # a ConfigError in one line for a missing or refused token
        if joining.mode is None:
            implicit_token = _token_mode_if_token_exists()
        else:
            _announce(address, joining.mode, joining.token_source)
            use_mode(joining.mode)
        if ship_code:
            modules = [*_code_runtime_env()["py_modules"], *modules]
    if modules:
        kwargs["runtime_env"] = {"py_modules": modules}
    # Null: a new local instance, as the contract says, never a `ray start` cluster or one
    # that RAY_ADDRESS names (joining is cluster.address=auto).
    what = "starting a local Ray instance" if address is None else f"joining the Ray cluster at {address}"
    try:
        with heartbeat(what, log):
            ray.init(address="local" if address is None else address, **kwargs)
    except BaseException:
        use_mode(mode_before)
        raise
    _protect_token_file()
    log.info("Ray resources: %s", resources_text(ray.cluster_resources()))
    keep = _in_multirun()
    try:
        yield implicit_token
    finally:
        if not keep:
            ray.shutdown()
            use_mode(mode_before)


def resources_text(resources: dict[str, float]) -> str:
    """Ray's cluster resources for a person: `2 CPUs, 0 GPUs, 16.4 GB memory, 7.4 GB object
    store` (Ray gives bytes, and a node:... entry per node, counted here as nodes)."""
    def gb(key: str) -> str:
        return f"{resources.get(key, 0) / 1e9:.1f} GB"

    nodes = sum(1 for k in resources if k.startswith("node:") and k != "node:__internal_head__")
    parts = [f"{resources.get('CPU', 0):g} CPUs", f"{resources.get('GPU', 0):g} GPUs", f"{gb('memory')} memory",
             f"{gb('object_store_memory')} object store"]
    if nodes > 1:
        parts.append(f"{nodes} nodes")
    custom = [f"{k}={v:g}" for k, v in sorted(resources.items())
              if k not in ("CPU", "GPU", "memory", "object_store_memory") and not k.startswith("node:")
              and not k.startswith("accelerator_type:")]
    return ", ".join(parts + custom)


def _announce(address: str, mode: str, source: str | None) -> None:
    """Say which mode garay joins in, and when it is not what the environment says."""
    asked = os.environ.get(MODE_VAR)
    if asked is not None and asked.lower() != mode:
        log.warning("RAY_AUTH_MODE=%s is set, but the cluster at %s %s: joining in the cluster's mode", asked, address,
                    "uses token authentication" if mode == "token" else "does not use token authentication")
    if mode == "token":
        log.info("the cluster at %s uses token authentication: joining with the token from %s", address, source)
        return
    _, stale = find_token()
    log.info("the cluster at %s does not use token authentication: joining without a token%s", address,
             f" (the token in {stale} is not used)" if stale else "")


@dataclass(frozen=True)
class Joined:
    """A cluster this run joined before loading its data (the nodes prepare it, Ray
    tasks): where the token came from when garay chose token authentication (ray_session)."""

    implicit_token: Optional[str]


@contextmanager
def join_early(cluster_cfg: Any, py_modules: Sequence[str] = ()) -> Iterator[Optional[Joined]]:
    """Join the cluster now when the run joins one (`cluster.address` set, Ray backend), so
    that every node can decode and featurise the data; else nothing (a local Ray instance
    starts after the data are ready, so bad data stop the run before Ray starts)."""
    if cluster_cfg.backend != "ray" or cluster_cfg.address is None:
        yield None
        return
    with ray_session(cluster_cfg.address, ship_code=cluster_cfg.ship_code, py_modules=py_modules) as token:
        yield Joined(token)


@contextmanager
def make_evaluator(cluster_cfg: Any, dataset: Dataset, settings: TrainSettings, *,
                   trainer: TrainerFactory = TorchTrainer, py_modules: Sequence[str] = (),
                   joined: Optional[Joined] = None) -> Iterator[Evaluator]:
    """The evaluator for `cluster.backend`, closed (actors killed, Ray shut down if we
    started it) on the way out. `trainer` and `py_modules`: your trainer and the local
    code your parts need on the workers (garay.plugins). `joined`: the session join_early
    opened (then this one opens none)."""
    if cluster_cfg.backend == "inprocess":
        evaluator: Evaluator = InProcessEvaluator(dataset, settings, threads=cluster_cfg.cpus_per_worker,
                                                  trainer=trainer)
        try:
            yield evaluator
        finally:
            evaluator.close()
        return
    with ExitStack() as stack:
        implicit_token = joined.implicit_token if joined is not None else stack.enter_context(
            ray_session(cluster_cfg.address, ship_code=cluster_cfg.ship_code, py_modules=py_modules))
        from garay.execution.scheduler import RayEvaluator

        evaluator = RayEvaluator(
            dataset,
            settings,
            num_workers=cluster_cfg.num_workers,
            gpus_per_worker=cluster_cfg.gpus_per_worker,
            cpus_per_worker=cluster_cfg.cpus_per_worker,
            max_retries=cluster_cfg.max_retries,
            start_timeout_s=cluster_cfg.start_timeout_s,
            require_gpus=cluster_cfg.require_gpus,
            trainer=trainer,
        )
        try:
            _wait_for_workers(evaluator, cluster_cfg, implicit_token)
            yield evaluator
        finally:
            evaluator.close()


def _wait_for_workers(evaluator: Any, cluster_cfg: Any, implicit_token: str | None) -> None:
    """Begin with the workers that can start (garay.execution.startup.wait_to_begin), or
    once `cluster.min_workers` have; the rest join as the cluster places them. Stop in one
    line when the cluster cannot give what the run needs within `cluster.start_timeout_s`."""
    import ray

    from garay.execution.startup import wait_to_begin, waiting_for

    timeout, need = cluster_cfg.start_timeout_s, cluster_cfg.min_workers
    # A cluster that refuses every worker (the wrong auth mode) is told apart early; other
    # start failures (runtime_env set-up, CUDA init) may pass, and are waited out.
    pool = evaluator.pool
    started = wait_to_begin(pool, timeout, need, stop_when_refused=implicit_token is not None)
    if not started and implicit_token and pool.gave_up:
        raise ConfigError(
            "cluster.address",
            f"the cluster refused every worker (actor creation cancelled): garay joined with token "
            f"authentication because a token exists ({implicit_token}) and RAY_AUTH_MODE is unset, which a "
            "cluster without token authentication refuses; set RAY_AUTH_MODE=disabled to join it, or move "
            "the stale token away")
    if not started and cluster_cfg.require_gpus and not ray.cluster_resources().get("GPU"):
        raise ConfigError("cluster.require_gpus", f"no GPU joined the cluster in cluster.start_timeout_s={timeout:.0f} s "
                                                  "(add GPU nodes, or set cluster.require_gpus=false to train on CPUs)")
    if need is not None and started < need:
        raise ConfigError("cluster.min_workers", f"{started} of the {need} workers asked for started in "
                                                 f"cluster.start_timeout_s={timeout:.0f} s; cluster resources: "
                                                 f"{ray.cluster_resources()}")
    if not started:
        raise RuntimeError(f"no Ray worker started in cluster.start_timeout_s={timeout:.0f} s; "
                           f"cluster resources: {ray.cluster_resources()}")
    if started < len(pool.slots):
        log.warning("the run began with %d of %d Ray workers; the others join when the cluster places them (%s)",
                    started, len(pool.slots), waiting_for(pool, need))
    else:
        log.info("the run began with %d of %d Ray workers", started, len(pool.slots))
