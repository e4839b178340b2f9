"""The deployment files in docker/: checked against what reads them (Ray's cluster
launcher schema, the fields KubeRay requires, `docker compose config`, garay's own
config), and against the versions the test suite runs (torch, ray)."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

from garay.config import validate
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
RAY_SCHEMA = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"


def _makefile_var(name: str) -> str:
    match = re.search(rf"^{name} \?= (.*)$", (REPO / "Makefile").read_text(), re.M)
    assert match, f"Makefile has no {name}"
    return match.group(1).strip()


def _overrides(command: str) -> list[str]:
    """The Hydra overrides of a `garay ...` command line, less hydra.* (the run dir)."""
    words = shlex.split(command)
    assert words[0] == "garay", command
    return [w for w in words[1:] if not w.startswith("hydra.")]


# --- Dockerfile ---------------------------------------------------------------------------

def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of docker/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def test_dockerfile_pins_the_tested_versions():
    args = dict(a.split("=", 1) for i, a in _dockerfile() if i == "ARG" and "=" in a)
    assert args["TORCH_VERSION"] == _makefile_var("TORCH_VERSION") == "2.13.0"
    assert args["RAY_VERSION"] == ray.__version__
    assert args["VARIANT"] == "gpu"
    assert args["PYTHON_VERSION"] == "3.11"
    runs = " ".join(a for i, a in _dockerfile() if i == "RUN")
    assert '"torch==${TORCH_VERSION}"' in runs and '"ray[default]==${RAY_VERSION}"' in runs
    assert "cpu) index=\"${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}\"" in runs


def test_dockerfile_layers_dependencies_before_source_and_runs_unprivileged():
    steps = _dockerfile()
    order = [(i, a) for i, a in steps if i in ("COPY", "RUN", "USER", "ENTRYPOINT")]
    copies = [a.split()[0] for i, a in order if i == "COPY"]
    assert copies[0] == "pyproject.toml"
    deps = next(n for n, (i, a) in enumerate(order) if i == "RUN" and "-r /tmp/requirements.txt" in a)
    torch = next(n for n, (i, a) in enumerate(order) if i == "RUN" and "torch==" in a)
    source = next(n for n, (i, a) in enumerate(order) if i == "COPY" and a.startswith("garay "))
    assert torch < deps < source
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert [a for i, a in steps if i == "ENTRYPOINT"] == ['["garay-entrypoint"]']
    env = " ".join(a for i, a in steps if i == "ENV")
    assert "RAY_AUTH_MODE=token" in env and "HOME=/home/ray" in env


def test_dockerignore_keeps_the_context_small_and_secret_free():
    patterns = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "outputs", "multirun", "**/auth_token", ".env"} <= patterns
    for needed in ("pyproject.toml", "README.md", "conf", "garay", "docker", "docker/entrypoint.sh"):
        assert needed not in patterns
    for i, a in _dockerfile():  # every COPY source exists in the context
        if i == "COPY":
            assert (REPO / a.split()[0]).exists(), a


@pytest.fixture
def fake_path(tmp_path):
    """A PATH whose `garay` and `ray` print their arguments."""
    for name in ("garay", "ray"):
        stub = tmp_path / name
        stub.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        stub.chmod(0o755)
    return f"{tmp_path}:/usr/bin:/bin"


@pytest.mark.parametrize("args, ran", [
    ([], "garay"),
    (["ga.population_size=4", "seed=1"], "garay ga.population_size=4 seed=1"),
    (["-m", "ga.mutation_rate=0.1,0.2"], "garay -m ga.mutation_rate=0.1,0.2"),
    (["+experiment=noise_level"], "garay +experiment=noise_level"),
    (["ray", "start", "--head", "--block"], "ray start --head --block"),
    (["true"], ""),
])
def test_entrypoint_runs_garay_or_the_command_given(fake_path, args, ran):
    proc = subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), *args], env={"PATH": fake_path},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ran
    assert os.access(DOCKER / "entrypoint.sh", os.X_OK)


# --- docker compose -----------------------------------------------------------------------

def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def test_compose_head_and_workers():
    services = _compose()["services"]
    assert set(services) == {"head", "worker", "worker-cpu"}
    head, worker, worker_cpu = services["head"], services["worker"], services["worker-cpu"]
    assert head["command"].startswith("ray start --head --block --port=6379")
    assert "--dashboard-port=8265" in head["command"] and "--ray-client-server-port=10001" in head["command"]
    for service in (worker, worker_cpu):
        assert service["command"] == "ray start --address=head:6379 --block"
        assert service["depends_on"]["head"]["condition"] == "service_healthy"
    for service in services.values():
        assert service["shm_size"] and service["image"] == "garay:${VARIANT:-gpu}"
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert "deploy" not in worker_cpu and worker_cpu["profiles"] == ["cpu"]


def test_compose_is_secure_by_default():
    services = _compose()["services"]
    ports = services["head"]["ports"]
    assert ports == ["${RAY_BIND:-127.0.0.1}:${RAY_DASHBOARD_PORT:-8265}:8265",
                     "${RAY_BIND:-127.0.0.1}:${RAY_CLIENT_PORT:-10001}:10001"]
    for service in services.values():
        assert service["environment"]["RAY_AUTH_MODE"] == "token"
        assert service["environment"]["RAY_AUTH_TOKEN"].startswith("${RAY_AUTH_TOKEN:?")  # required
        assert "ports" not in service or service is services["head"]


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin), else `docker-compose` (v1); None when neither runs."""
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) and subprocess.run([*cmd, "version"], capture_output=True).returncode == 0:
            return cmd
    return None


def _published(config: dict) -> set[tuple[str, str]]:
    """(host ip, host port) of the head's published ports in `compose config` output."""
    out = set()
    for port in config["services"]["head"]["ports"]:
        if isinstance(port, dict):  # v2: long syntax
            out.add((port.get("host_ip", ""), str(port["published"])))
        else:  # v1: "IP:HOST:CONTAINER/tcp"
            ip, published, _ = port.split(":")
            out.add((ip, published))
    return out


def test_docker_compose_config(tmp_path):
    cli = _compose_cli()
    if cli is None:
        # .ci/run installs docker-compose where `docker compose` is missing, so CI checks this.
        if os.environ.get("CI") == "true":
            pytest.fail("neither `docker compose` nor `docker-compose` runs")
        pytest.skip("neither `docker compose` nor `docker-compose` runs")
    base = [*cli, "-p", "garay", "-f", str(DOCKER / "docker-compose.yml")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "VARIANT", "GARAY_"))}
    env["HOME"] = str(tmp_path)  # no ~/.docker config of the user's

    def config(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args, "config"], env={**env, **extra}, capture_output=True,
                              text=True, timeout=120)

    proc = config(RAY_AUTH_TOKEN="t0ken")
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    assert {"head", "worker"} <= set(resolved["services"])
    assert _published(resolved) == {("127.0.0.1", "8265"), ("127.0.0.1", "10001")}
    assert resolved["services"]["worker"]["image"] == "garay:gpu"

    proc = config("--profile", "cpu", RAY_AUTH_TOKEN="t0ken", RAY_BIND="0.0.0.0", VARIANT="cpu")
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    assert set(resolved["services"]) == {"head", "worker", "worker-cpu"}
    assert _published(resolved) == {("0.0.0.0", "8265"), ("0.0.0.0", "10001")}
    assert resolved["services"]["worker-cpu"]["build"]["args"]["VARIANT"] == "cpu"

    proc = config()  # no token: refused
    assert proc.returncode != 0 and "RAY_AUTH_TOKEN" in proc.stderr


# --- Ray cluster launcher -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_cluster_launcher_config_is_valid(name):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((DOCKER / name).read_text())
    schema = json.loads(RAY_SCHEMA.read_text())
    jsonschema.validate(config, schema)
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` runs before it starts anything

    broken = copy.deepcopy(config)
    broken["docker"]["imagee"] = broken["docker"].pop("image")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)

    # Token authentication: every container in token mode, the token file mounted.
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert config["file_mounts"] == {"~/.ray/auth_token": "~/.ray/auth_token"}
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start and "0.0.0.0" not in head_start
    assert config["docker"]["image"].endswith("garay:gpu")


def test_cluster_yaml_has_gpu_workers_on_aws():
    config = yaml.safe_load((DOCKER / "cluster.yaml").read_text())
    assert config["provider"]["type"] == "aws"
    workers = {k: v for k, v in config["available_node_types"].items() if k != config["head_node_type"]}
    assert any(v["node_config"]["InstanceType"].startswith(("g", "p")) for v in workers.values())
    assert sum(v.get("min_workers", 0) for v in workers.values()) >= 1


def test_cluster_local_yaml_names_its_machines():
    provider = yaml.safe_load((DOCKER / "cluster-local.yaml").read_text())["provider"]
    assert provider["type"] == "local" and provider["head_ip"] and provider["worker_ips"]


# --- KubeRay ------------------------------------------------------------------------------

def _rayjob() -> dict:
    docs = [d for d in yaml.safe_load_all((DOCKER / "rayjob.yaml").read_text()) if d]
    jobs = [d for d in docs if d.get("kind") == "RayJob"]
    assert len(jobs) == 1
    return jobs[0]


def _check_pod_template(template: dict) -> list[dict]:
    containers = template["spec"]["containers"]
    assert containers
    for container in containers:
        assert container["name"] and container["image"]
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    return containers


def test_rayjob_has_the_fields_kuberay_requires():
    job = _rayjob()
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert job["metadata"]["name"]
    spec = job["spec"]
    cluster = spec["rayClusterSpec"]
    assert cluster["rayVersion"] == ray.__version__
    assert cluster["authOptions"] == {"mode": "token"}

    head = cluster["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert all(isinstance(v, str) for v in head["rayStartParams"].values())  # map[string]string
    _check_pod_template(head["template"])

    groups = cluster["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert group["groupName"]
        assert isinstance(group["rayStartParams"], dict)
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        _check_pod_template(group["template"])
    gpus = [c["resources"]["limits"].get("nvidia.com/gpu", 0)
            for g in groups for c in g["template"]["spec"]["containers"]]
    assert any(int(n) >= 1 for n in gpus)


def test_rayjob_entrypoint_is_a_valid_garay_run():
    entrypoint = _rayjob()["spec"]["entrypoint"]
    words = shlex.split(entrypoint)
    assert words[0] == "garay" and "cluster.address=auto" in words
    assert any(w.startswith("hydra.run.dir=/outputs/") for w in words)
    cfg = compose_config(*_overrides(entrypoint))
    validate(cfg)
    assert cfg.cluster.address == "auto"


# --- Makefile -----------------------------------------------------------------------------

def _make_n(*args: str) -> str:
    proc = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "HOME": "/nonexistent-home"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_help_lists_the_cluster_targets():
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True,
                         timeout=60).stdout
    for target in ("cluster-up", "cluster-down", "submit"):
        assert re.search(rf"make {target}\s+\S", out), out


def test_make_cluster_up_and_down():
    out = _make_n("cluster-up", "WORKERS=3")
    assert "docker compose -p garay -f docker/docker-compose.yml up -d --build --scale worker=3" in out
    assert "VARIANT=gpu" in out and "RAY_AUTH_TOKEN=" in out
    assert "secrets.token_hex(32)" in out and "umask 077" in out  # the token is created when missing
    out = _make_n("cluster-up", "VARIANT=cpu")
    assert "--profile cpu up -d --build --scale worker=0 --scale worker-cpu=2" in out
    assert "down --remove-orphans" in _make_n("cluster-down")


def test_make_submit_runs_garay_on_the_cluster():
    out = _make_n("submit", "ARGS=ga.generations=10 seed=3", "-o", ".venv/.garay-installed")
    command = " ".join(out.replace("\\\n", " ").split())
    assert "ray job submit --address http://127.0.0.1:8265 --working-dir ." in command
    assert "RAY_AUTH_MODE=token" in command and "RAY_AUTH_TOKEN_PATH=" in command
    garay = command.split(" -- ", 1)[1]
    assert garay.startswith("garay cluster.address=auto ") and garay.endswith(" ga.generations=10 seed=3")
    cfg = compose_config(*_overrides(garay))
    validate(cfg)
    assert (cfg.cluster.address, cfg.ga.generations, cfg.seed) == ("auto", 10, 3)
    runtime_env = json.loads(re.search(r"--runtime-env-json '([^']*)'", command).group(1))
    assert "/garay/" in runtime_env["excludes"]  # the image's garay runs, not an uploaded copy
