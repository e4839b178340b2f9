"""Shared fixtures: the real Hydra config, composed and shrunk for tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

import garay.cli  # noqa: F401 - registers the structured configs

REPO = Path(__file__).resolve().parents[1]
# How long a test lets Ray start, place or notice something: minutes, since a loaded
# machine may take that long; the tests assert what happens, never how fast.
RAY_PATIENCE_S = 300
FSDD = REPO.parent / "shared" / "data" / "fsdd" / "recordings"

# Tiny but real: a small population, one epoch, a small synthetic set, no progress bars.
TINY = [
    "ga.population_size=4",
    "ga.generations=2",
    "ga.num_parents=2",
    "train.epochs=1",
    "data.examples_per_class=40",
    "progress=false",
]


def compose_config(*overrides: str) -> DictConfig:
    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture
def make_cfg() -> Callable[..., DictConfig]:
    """Compose the real config with the tiny overrides plus the test's own."""
    return lambda *overrides: compose_config(*TINY, *overrides)


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    """The real FSDD recordings; in CI a missing folder fails rather than skips."""
    if not FSDD.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"FSDD recordings missing at {FSDD}")
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    return FSDD


RAY_INIT_ATTEMPTS = 3  # ray.init once failed to start its processes on a loaded machine


def init_ray(**kwargs) -> None:
    """ray.init(**kwargs), tried again (after a shutdown and a pause) when starting or
    joining fails: a busy machine once left a start-up unfinished. The last failure raises."""
    import time
    import warnings

    import ray

    for attempt in range(1, RAY_INIT_ATTEMPTS + 1):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:  # noqa: BLE001 - any start-up failure: try again, then raise it
            ray.shutdown()
            if attempt == RAY_INIT_ATTEMPTS:
                raise
            warnings.warn(f"ray.init failed (attempt {attempt} of {RAY_INIT_ATTEMPTS}): {exc!r}; trying again")
            time.sleep(2 * attempt)


# The local instance ray_local started and keeps for the next test that asks for it: its
# GCS address, or None. Starting one costs seconds; a test asserts what its own work does.
_kept: dict[str, str | None] = {"address": None}
IDLE_WAIT_S = 30  # how long a finished test's actors may take to give back their CPUs


def _kept_alive(ray) -> bool:
    return (_kept["address"] is not None and ray.is_initialized()
            and ray.get_runtime_context().gcs_address == _kept["address"])


def _all_cpus_free(ray) -> bool:
    """Every CPU of the instance free again (the test's actors gone), waiting a little."""
    import time

    deadline = time.monotonic() + IDLE_WAIT_S
    while True:
        try:
            if ray.available_resources().get("CPU", 0) >= ray.cluster_resources().get("CPU", 0):
                return True
        except Exception:  # noqa: BLE001 - an instance that no longer answers is not kept
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _drop_kept() -> None:
    import ray

    if _kept["address"] is not None:
        _kept["address"] = None
        ray.shutdown()


@pytest.fixture
def ray_local():
    """A local Ray instance with 2 CPUs (and no GPUs) for the test. Tests that ask for it
    one after another share one instance while each leaves it as it found it (every CPU
    free); any other test, and any fixture that starts its own Ray, shuts it down first
    (see _no_kept_ray), so a test that does not ask for it finds no Ray running."""
    import ray

    if not _kept_alive(ray):
        _kept["address"] = None
        ray.shutdown()
        # address="local": a new instance, never one another test or process is still tearing down
        init_ray(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        _kept["address"] = ray.get_runtime_context().gcs_address
    yield ray
    if not (_kept_alive(ray) and _all_cpus_free(ray)):
        _drop_kept()
        ray.shutdown()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the markers
def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (`make test` runs `--dist loadgroup`): every test of a module with
    a module-scoped fixture (a finished run, a model package, a cluster) runs on one
    worker, which builds that fixture once; the tests that ask for ray_local run one after
    another on one worker, so they share one Ray instance. Any other test goes to whichever
    worker is free."""

    def shares_a_fixture(item) -> bool:
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        return any(d.scope in ("module", "package") for fixturedefs in defs.values() for d in fixturedefs)

    shared = {item.module.__name__ for item in items if shares_a_fixture(item)}
    for item in items:
        if item.module.__name__ in shared:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        elif "ray_local" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray_local"))


@pytest.fixture(autouse=True)
def _no_kept_ray(request):
    """A test that does not ask for ray_local runs with no Ray instance of an earlier test:
    garay starts and stops its own, as it does for a user."""
    if "ray_local" not in request.fixturenames:
        _drop_kept()
    yield


FAST_FAILURE = {"health_check_period_ms": 500, "health_check_failure_threshold": 2,
                "health_check_initial_delay_ms": 0}


@pytest.fixture
def cluster():
    """`make(head, *nodes)` starts a ray.cluster_utils.Cluster (real Ray processes) that
    notices a lost node within about a second, and connects to it; tests add and remove
    nodes. Everything is torn down afterwards."""
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()
    clusters: list[Cluster] = []

    def make(head: dict, *nodes: dict) -> tuple[Cluster, list]:
        c = Cluster(initialize_head=True, head_node_args={**head, "_system_config": FAST_FAILURE})
        added = [c.add_node(**n) for n in nodes]
        c.wait_for_nodes()
        init_ray(address=c.address, log_to_driver=False)
        clusters.append(c)
        return c, added

    yield make
    ray.shutdown()
    for c in clusters:
        c.shutdown()
