"""The model package (garay-export), garay-predict and garay.load_model on real FSDD audio:
a network retrained with a held-out speaker, exported, and run by every backend."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from garay.errors import ConfigError
from tests.conftest import TINY

TEST_SPEAKER = "theo"


def _cli(name: str, *args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name(name)
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def package(tmp_path_factory, fsdd_root):
    """A network retrained on FSDD (speaker split, one test speaker held out), exported."""
    work = tmp_path_factory.mktemp("serve")
    proc = _cli("garay-best", "small_cnn", "repeats=1", "train.epochs=2", "data=fsdd", f"data.root={fsdd_root}",
                "data.split=speaker", f"data.test_speakers=[{TEST_SPEAKER}]", "progress=false", cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [retrain] = list((work / "outputs" / "retrain").iterdir())
    proc = _cli("garay-export", str(retrain), f"out={work / 'model'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model package:" in proc.stdout and "garay-predict" in proc.stdout
    assert "torchvision" not in proc.stderr  # the exporter's chatter is not the user's business
    return work / "model", retrain


def _speaker_files(fsdd_root: Path, speaker: str) -> list[Path]:
    return sorted(fsdd_root.glob(f"*_{speaker}_*.wav"))


def test_package_holds_everything_a_user_needs(package):
    model, retrain = package
    names = {p.name for p in model.iterdir()}
    assert names == {"weights.npz", "model.torchscript.pt", "model.onnx", "preprocess.json", "classes.json",
                     "model.json", "MODEL.md", "curve.png"}  # one self-contained model.onnx, no .data beside it
    pre = json.loads((model / "preprocess.json").read_text())
    assert pre["input"] == "audio" and pre["input_shape"] == [32, 63]
    assert pre["graph_input"] == "waves"  # float32 features inside the graph agree within 1e-4
    assert pre["features"] == {"sample_rate": 8000, "duration": 1.0, "kind": "logmel", "n_mels": 32, "n_mfcc": 20,
                               "n_fft": 256, "hop_length": 128}
    assert len(pre["standardise"]["mean"]) == len(pre["standardise"]["std"]) == 32
    assert all(s > 0 for s in pre["standardise"]["std"])
    assert json.loads((model / "classes.json").read_text()) == [str(d) for d in range(10)]
    import onnx

    assert onnx.load(str(model / "model.onnx")).opset_import[0].version >= 17
    card = (model / "MODEL.md").read_text()
    info = json.loads((model / "model.json").read_text())
    results = json.loads((retrain / "retrain.json").read_text())
    for text in ("Convolutional layers", "Dense layers", f"{info['params']:,} parameters",
                 f"test accuracy {info['test_accuracy']:.4f}", f"test speakers {TEST_SPEAKER}", "`fsdd`",
                 f"{results['val_accuracy']['mean']:.4f} (one retrain: no spread)",
                 "`train.epochs`: 2", "`train.lr`", "curve.png", "8000 Hz"):
        assert text in card, text
    assert info["data"]["split"] == "speaker" and info["data"]["test_speakers"] == [TEST_SPEAKER]
    assert (model / "curve.png").stat().st_size > 1000
    mask = os.umask(0)
    os.umask(mask)
    assert model.stat().st_mode & 0o777 == 0o777 & ~mask  # a folder's usual mode, not mkdtemp's 0700


def test_torchscript_and_onnx_give_the_in_process_networks_probabilities(package, fsdd_root):
    import torch

    from garay.execution.weights import load_weights
    from garay.search.genome import Genome
    from garay.serve.model import load_model
    from garay.serve.preprocess import Preprocess

    model_dir, retrain = package
    saved = json.loads((retrain / "best_model.json").read_text())
    net = load_weights(Genome.from_dict(saved["genome"]), tuple(saved["input_shape"]), 10, retrain / "best_model.npz")
    files = _speaker_files(fsdd_root, TEST_SPEAKER)[:96]
    pre = Preprocess.load(model_dir / "preprocess.json")
    x, errors = pre.from_files(files)  # training's own features (garay.data.prepare)
    waves, wave_errors = pre.waves_from_files(files)
    assert errors == wave_errors == [None] * 96
    with torch.inference_mode():
        want = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    for backend in ("torch", "torchscript", "onnx"):
        model = load_model(model_dir, backend)
        got = model.probabilities(waves if model.takes == "waves" else x)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4, backend
    assert [load_model(model_dir, b).takes for b in ("torch", "torchscript", "onnx")] == ["features", "waves", "waves"]
    # Unstandardised features (as data=npz holds them): the torch backend takes them; a
    # graph with the features inside says to use it.
    raw = x * np.asarray(pre.std, np.float32).reshape(1, -1, 1) + np.asarray(pre.mean, np.float32).reshape(1, -1, 1)
    by_features = load_model(model_dir, "torch").predict_features(raw)
    assert np.abs(np.array([p.probabilities for p in by_features]) - want).max() <= 1e-4
    with pytest.raises(ValueError, match="backend='torch'"):
        load_model(model_dir, "onnx").predict_features(raw)


@pytest.mark.parametrize("kind, normalize", [("logmel", "dataset"), ("mfcc", "dataset"), ("waveform", "dataset"),
                                             ("logmel", "utterance")])
def test_features_inside_the_graph_match_trainings_numpy_features(kind, normalize, fsdd_root):
    import torch

    from garay.data.features import FeatureSettings
    from garay.serve.graph import Features, probe_waves
    from garay.serve.preprocess import Preprocess

    settings = FeatureSettings(kind=kind)
    shape = {"logmel": (32, 63), "mfcc": (20, 63), "waveform": (1, 8000)}[kind]
    pre = Preprocess(input_shape=shape, mean=(0.0,) * shape[0], std=(1.0,) * shape[0], features=settings,
                     normalize=normalize)
    waves, _ = pre.waves_from_files(_speaker_files(fsdd_root, "george")[:40])
    waves = np.concatenate([waves, probe_waves(pre)])
    want = pre.features_of(waves)
    # standardised as a trained package would be: by the spread of these features
    mean, std = want.mean(axis=(0, 2)), want.std(axis=(0, 2)) + 1e-6
    pre = Preprocess(input_shape=shape, mean=tuple(mean.tolist()), std=tuple(std.tolist()), features=settings,
                     normalize=normalize)
    with torch.inference_mode():
        got = Features(settings, pre.mean, pre.std, normalize)(torch.from_numpy(waves)).numpy()
    want = pre.features_of(waves)
    assert got.shape == want.shape == (len(waves), *shape)
    assert np.abs(got - want).max() <= 1e-3, kind  # standardised units; the probabilities are checked at export


def test_garay_predict_reproduces_the_test_accuracy_on_the_held_out_speaker(package, fsdd_root):
    model_dir, _ = package
    files = _speaker_files(fsdd_root, TEST_SPEAKER)
    assert len(files) == 500
    proc = _cli("garay-predict", str(model_dir), *map(str, files), "--format", "csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["path"] for r in rows] == list(map(str, files))
    assert set(rows[0]) == {"path", "label", "probability", *(f"p_{d}" for d in range(10))}
    accuracy = np.mean([r["label"] == Path(r["path"]).name.split("_")[0] for r in rows])
    recorded = json.loads((model_dir / "model.json").read_text())["test_accuracy"]
    # Features differ from training's in the last bits with the batch they are computed in
    # (garay.data.prepare): one example at most may fall on the other side of a tie.
    assert abs(accuracy - recorded) <= 1 / len(files) + 1e-12, (accuracy, recorded)


def test_a_listing_piped_into_a_reader_that_stops_early_ends_quietly(package, fsdd_root):
    model_dir, _ = package
    files = _speaker_files(fsdd_root, TEST_SPEAKER)  # 500 rows: more than a pipe holds
    # `garay-predict MODEL FILES --format csv | head -1`: head leaves after one line
    proc = subprocess.Popen([str(Path(sys.executable).with_name("garay-predict")), str(model_dir), *map(str, files),
                             "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=600)
    assert first.startswith(b"path,label,probability")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 141


def test_a_corrupt_file_gets_one_stderr_line_the_others_are_predicted(package, fsdd_root, tmp_path):
    model_dir, _ = package
    folder = tmp_path / "new recordings"
    folder.mkdir()
    good = _speaker_files(fsdd_root, TEST_SPEAKER)[:3]
    for f in good:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00 not audio at all" * 10)
    (folder / "notes.txt").write_text("not audio, and not taken for audio")
    proc = _cli("garay-predict", str(model_dir), str(folder), "--format", "json")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.wav" in lines[0], proc.stderr
    out = json.loads(proc.stdout)
    assert [Path(p["path"]).name for p in out] == sorted(f.name for f in good)
    assert all(0 < p["probability"] <= 1 and abs(sum(p["probabilities"].values()) - 1) < 1e-5 for p in out)
    # text: one line per file, path, label, probability
    proc = _cli("garay-predict", str(model_dir), str(folder / good[0].name))
    assert proc.returncode == 0 and proc.stderr == ""
    path, label, prob = proc.stdout.strip().split("\t")
    assert path == str(folder / good[0].name) and label in [str(d) for d in range(10)] and 0 < float(prob) <= 1


ONNX_ONLY = """
import json, sys

class NoTorch:  # any import of torch fails: the ONNX path must not need it
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed here")

sys.meta_path.insert(0, NoTorch())
from garay.serve.onnx import OnnxModel
from garay.serve.predict import main

model = OnnxModel(sys.argv[1])
predictions = model.predict_files(sys.argv[2:])
status = main([sys.argv[1], *sys.argv[2:], "--format", "json"])
assert status == 0, status
assert "torch" not in sys.modules, "torch was imported"
print(json.dumps({"labels": [p.label for p in predictions],
                  "probabilities": [list(p.probabilities) for p in predictions]}), file=sys.stderr)
"""


def test_onnx_predictor_runs_without_torch(package, fsdd_root):
    from garay.serve.model import load_model

    model_dir, _ = package
    files = [str(f) for f in _speaker_files(fsdd_root, TEST_SPEAKER)[::50]]
    proc = subprocess.run([sys.executable, "-c", ONNX_ONLY, str(model_dir), *files], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stderr.strip().splitlines()[-1])
    assert [p["label"] for p in json.loads(proc.stdout)] == got["labels"]
    want = load_model(model_dir, "torch").predict_files(files)
    assert got["labels"] == [p.label for p in want]
    assert np.abs(np.array(got["probabilities"]) - np.array([p.probabilities for p in want])).max() <= 1e-4


def test_load_model_from_python_predicts_waves_at_any_sample_rate(package, fsdd_root):
    import soundfile
    import soxr
    import torch

    import garay

    model_dir, _ = package
    model = garay.load_model(model_dir)
    assert isinstance(model.module, torch.nn.Module) and model.classes == tuple(str(d) for d in range(10))
    files = _speaker_files(fsdd_root, TEST_SPEAKER)[:8]
    by_file = model.predict_files(files)
    waves = [soundfile.read(str(f), dtype="float32")[0] for f in files]
    assert [p.label for p in model.predict(waves, sample_rate=8000)] == [p.label for p in by_file]
    # At 16 kHz the predictor resamples back to the 8 kHz the network was trained at.
    up = [soxr.resample(w, 8000, 16000).astype(np.float32) for w in waves]
    agree = np.mean([a.label == b.label for a, b in zip(model.predict(up, sample_rate=16000), by_file)])
    assert agree >= 0.75
    with pytest.raises(ValueError, match="mono"):
        model.predict([np.zeros((2, 8000), np.float32)], sample_rate=8000)
    with pytest.raises(ValueError, match="backend must be one of torch, torchscript, onnx"):
        garay.load_model(model_dir, backend="tensorrt")


def test_refused_exports_write_nothing(package, tmp_path):
    from garay.serve.export import export_model

    model_dir, retrain = package
    with pytest.raises(ConfigError, match="run_dir: .* is not a folder"):
        export_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither a garay run"):
        export_model(tmp_path / "empty")
    with pytest.raises(ConfigError, match="out: .* exists and is not empty"):
        export_model(retrain, model_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any((tmp_path / "empty").iterdir())
    proc = _cli("garay-export", str(retrain), "outt=x")
    assert proc.returncode == 2 and "outt: is not a garay-export setting" in proc.stderr
    proc = _cli("garay-export", str(retrain), "repeats=two")
    assert proc.returncode == 2 and "repeats: must be a whole number" in proc.stderr
    assert sorted(p.name for p in retrain.iterdir() if not p.name.startswith(".")) == sorted(
        ["best_model.json", "best_model.npz", "garay-best.log", "retrain.json"])
    proc = _cli("garay-predict", str(tmp_path / "empty"), "x.wav")
    assert proc.returncode == 2 and "preprocess.json is missing" in proc.stderr


def test_export_of_a_run_without_a_trained_model_retrains_it_or_says_how(tmp_path):
    from garay.cli import run
    from garay.serve.export import export_model
    from tests.conftest import compose_config

    run(compose_config(*TINY, "cluster.backend=inprocess"), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"retrain: .* has no trained model: `garay-best "):
        export_model(tmp_path / "run", retrain=False)
    assert not (tmp_path / "run" / "model").exists() and not (tmp_path / "run" / "retrain").exists()
    out = export_model(tmp_path / "run", repeats=1)
    assert out == tmp_path / "run" / "model"
    info = json.loads((out / "model.json").read_text())
    assert info["genome"] == json.loads((tmp_path / "run" / "best.json").read_text())["genome"]
    assert info["preprocess"]["features"]["kind"] == "logmel" and info["data"]["name"] == "synthetic"
    assert len(garay_load(out).predict(np.zeros((2, 8000), np.float32), sample_rate=8000)) == 2


def garay_load(path: Path):
    import garay

    return garay.load_model(path)


def test_a_run_with_its_own_metric_is_retrained_and_carded_in_that_metric(tmp_path):
    from garay.cli import run
    from garay.plugins import metric_name
    from garay.serve.export import export_model
    from tests.conftest import compose_config

    spec = "{_target_:sklearn.metrics.f1_score,average:macro}"
    run(compose_config(*TINY, "cluster.backend=inprocess", f"fitness.metric={spec}"), run_dir=tmp_path / "run")
    out = export_model(tmp_path / "run", repeats=2)
    [retrain] = list((tmp_path / "run" / "retrain").iterdir())
    results = json.loads((retrain / "retrain.json").read_text())
    for r in results["repeats"]:  # the fitness is the run's metric, not the accuracy
        assert r["fitness"] == r["val_metric"] and r["val_metric"] != r["val_accuracy"]
    recorded = json.loads((tmp_path / "run" / "best.json").read_text())["fitness"]
    assert results["selection_bias"] == pytest.approx(recorded - np.mean([r["val_metric"] for r in results["repeats"]]))
    info = json.loads((out / "model.json").read_text())
    name = metric_name({"_target_": "sklearn.metrics.f1_score", "average": "macro"})
    assert info["metric"] == name and 0 <= info["val_metric"] <= 1 and 0 <= info["test_metric"] <= 1
    card = (out / "MODEL.md").read_text()
    assert f"the run's fitness, {name}: validation {info['val_metric']:.4f}, test {info['test_metric']:.4f}" in card
