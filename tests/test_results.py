"""garay-best (retraining, weights without pickle), garay-report, TensorBoard tracking."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from garay.cli import run
from garay.data.synthetic import make_synthetic
from garay.genome import Genome
from garay.report import main as report_main
from garay.weights import load_weights

TINY = ["ga.population_size=3", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
        "data.examples_per_class=20", "progress=false"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.conftest import compose_config

    path = tmp_path_factory.mktemp("run")
    run(compose_config(*TINY, "cluster.backend=inprocess", "tensorboard=true"), run_dir=path)
    return path


def test_garay_best_retrains_and_saves_loadable_weights(finished_run):
    proc = subprocess.run([sys.executable, "-m", "garay.best", f"run_dir={finished_run}", "repeats=2"],
                          capture_output=True, text=True, timeout=600, cwd=finished_run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "validation accuracy" in proc.stdout and "±" in proc.stdout
    [out] = list((finished_run / "retrain").iterdir())
    results = json.loads((out / "retrain.json").read_text())
    assert len(results["repeats"]) == 2 and results["hash"] == json.loads((finished_run / "best.json").read_text())["hash"]
    assert results["val_accuracy"]["std"] >= 0 and results["train"]["epochs"] == 1  # the run's settings
    assert len({r["seed"] for r in results["repeats"]}) == 2
    # Weights: a plain npz (no pickled objects) that rebuilds a model scoring as recorded.
    with zipfile.ZipFile(out / "best_model.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    meta = json.loads((out / "best_model.json").read_text())
    model = load_weights(Genome.from_dict(meta["genome"]), tuple(meta["input_shape"]), len(meta["classes"]),
                         out / "best_model.npz")
    data = make_synthetic(examples_per_class=20)
    with torch.no_grad():
        acc = (model(torch.tensor(data.x_val)).argmax(1).numpy() == data.y_val).mean()
    assert acc == pytest.approx(meta["val_accuracy"])
    np.load(out / "best_model.npz", allow_pickle=False)


def test_garay_best_takes_a_genome_file(tmp_path, finished_run):
    genome_file = tmp_path / "g.json"
    genome_file.write_text((finished_run / "best.json").read_text())
    proc = subprocess.run([sys.executable, "-m", "garay.best", f"genome={genome_file}", "repeats=1", "train.epochs=1",
                           "data.examples_per_class=20", f"hydra.run.dir={tmp_path / 'out'}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "retrain.json").exists()


def test_garay_best_bad_input_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "garay.best", f"run_dir={tmp_path / 'nope'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "run_dir" in proc.stderr and "nope" in proc.stderr


def test_garay_report_prints_a_run_and_regenerates_its_plot(finished_run, capsys):
    (finished_run / "fitness.png").unlink()
    (finished_run / "curves.png").unlink()
    assert report_main([str(finished_run)]) == 0
    out = capsys.readouterr().out
    assert "generation" in out and "best: validation" in out and "layer" in out
    assert "learning curves of the best" in out and "epoch 1" in out
    assert (finished_run / "fitness.png").exists() and (finished_run / "curves.png").exists()
    assert report_main([str(finished_run / "missing")]) == 2


def test_tensorboard_records_the_run(finished_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(finished_run / "tensorboard"))
    acc.Reload()
    history = (finished_run / "history.jsonl").read_text().splitlines()
    fitness = [e.value for e in acc.Scalars("evaluation/fitness")]
    assert fitness == pytest.approx([json.loads(line)["fitness"] for line in history])
    assert len(acc.Scalars("generation/best")) == 2
    first = next(r for r in map(json.loads, history) if r["status"] == "ok")
    curve = [e.value for e in acc.Scalars(f"curve/val_accuracy/{first['hash'][:8]}")]
    assert curve == pytest.approx(first["curve"]) and len(curve) == first["epochs"] > 0


def test_garay_best_on_an_unfinished_run_uses_its_checkpoint_settings(finished_run, tmp_path):
    import shutil

    unfinished = tmp_path / "unfinished"
    shutil.copytree(finished_run, unfinished, ignore=shutil.ignore_patterns("retrain", "tensorboard"))
    (unfinished / "summary.json").unlink()
    proc = subprocess.run([sys.executable, "-m", "garay.best", f"run_dir={unfinished}", "repeats=1",
                           "train.lr=0.002"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [out] = list((unfinished / "retrain").iterdir())
    train = json.loads((out / "retrain.json").read_text())["train"]
    assert train["epochs"] == 1 and train["lr"] == 0.002  # the run's epochs, this command's lr
    (unfinished / "checkpoint.json").unlink()
    proc = subprocess.run([sys.executable, "-m", "garay.best", f"run_dir={unfinished}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "settings are unknown" in proc.stderr
