"""A non-editable install carries the Hydra config tree and runs from any directory."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_config_and_runs_elsewhere(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, timeout=300)
    [wheel] = wheels.glob("garay-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    assert (target / "garay" / "conf" / "config.yaml").exists()
    assert (target / "garay" / "conf" / "fitness" / "default.yaml").exists()
    assert (target / "garay" / "genomes" / "study_table1.json").exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([sys.executable, "-c", "import garay; print(garay.__file__)"],
                           env=env, cwd=work, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(target))
    proc = subprocess.run(
        [sys.executable, "-m", "garay.cli", "cluster.backend=inprocess", "ga.population_size=3", "ga.generations=1",
         "ga.num_parents=2", "train.epochs=1", "data.examples_per_class=20", "progress=false"],
        env=env, cwd=work, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [history] = work.glob("outputs/*/*/history.jsonl")
    assert len(history.read_text().splitlines()) == 3  # population 3, one generation
