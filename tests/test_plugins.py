"""Your own parts by config or through the API (garay.plugins): a data loader and a
metric from a package that is not installed (shipped to the Ray workers), a trainer; and
the default behaviour, whose histories stay what they were before plug-ins existed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import garay
from garay import plugins
from garay.config import ConfigError
from tests.conftest import TINY, compose_config

REPO = Path(__file__).resolve().parents[1]
PARTS = REPO / "examples" / "custom_parts"
SMALL = dict(ga={"population_size": 4, "generations": 2, "num_parents": 2}, train={"epochs": 2}, progress=False)


@pytest.fixture
def speaker_folder(tmp_path: Path) -> Path:
    """48 FSDD-named recordings: 4 words x 3 speakers x 4 takes (tones that differ by word
    and, a little, by speaker)."""
    root = tmp_path / "recordings"
    root.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    for w, word in enumerate(("one", "two", "three", "four")):
        for s, speaker in enumerate(("ann", "bob", "cyd")):
            for take in range(4):
                f = 300 + 350 * w + 25 * s + 5 * take
                wave = 0.5 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(len(t))
                sf.write(root / f"{word}_{speaker}_{take}.wav", wave.astype(np.float32), 8000)
    (root / "README.txt").write_text("not a recording")  # skipped by the loader
    return root


def test_a_user_loader_and_metric_evolve_on_ray(speaker_folder, tmp_path, monkeypatch):
    import ray

    ray.shutdown()  # garay starts Ray itself, and ships my_parts with it
    monkeypatch.syspath_prepend(str(PARTS))  # my_parts, for this driver only
    from my_parts import load_speaker_folder, macro_f1

    result = garay.evolve(
        data={"loader": load_speaker_folder, "root": str(speaker_folder), "split": "speaker", "test_speakers": ["cyd"],
              "val_speakers": ["bob"]},
        fitness={"metric": macro_f1, "rounds": 1}, cluster={"num_workers": 2}, run_dir=tmp_path / "run", **SMALL)
    cfg = result.summary["config"]
    assert cfg["data"]["loader"] == "my_parts.load_speaker_folder" and cfg["fitness"]["metric"] == "my_parts.macro_f1"
    assert plugins.modules_to_ship(garay.compose(**{"data": {"loader": "my_parts.load_speaker_folder"}})) == [
        str((PARTS / "my_parts").resolve())]
    assert result.summary["data"]["sizes"] == {"train": 16, "val": 16, "test": 16}  # one speaker each
    ok = [r for r in result.history if r["status"] == "ok"]
    assert ok and all(r["worker"] in ("w0", "w1") for r in result.history)  # trained by Ray actors
    for r in ok:  # the metric ran on the workers: my_parts reached them
        assert r["fitness"] == r["val_metric"] and 0 <= r["test_metric"] <= 1
    assert result.best["val_metric"] == max(r["val_metric"] for r in ok)


def test_a_mapping_spec_binds_keyword_arguments():
    f1 = plugins.resolve({"_target_": "sklearn.metrics.f1_score", "average": "macro"})
    assert f1(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_a_trainer_by_config_runs_on_the_workers(tmp_path, ray_local):
    spec = {"_target_": "garay.execution.standin.sleep_trainer", "seconds": 0.01}
    result = garay.evolve(train={"epochs": 1, "trainer": spec}, cluster={"num_workers": 2},
                          ga=SMALL["ga"], progress=False, run_dir=tmp_path)
    for r in result.history:  # the stand-in's fitness: a number derived from the genome's hash
        assert r["status"] == "ok" and r["fitness"] == int(r["hash"][:8], 16) / 16**8


@pytest.mark.parametrize("key, settings", [
    ("fitness.metric", {"fitness": {"metric": "my_missing_module.f1"}}),
    ("data.loader", {"data": {"loader": "numpy.no_such_function"}}),
    ("train.trainer", {"train": {"trainer": "notdotted"}}),
])
def test_a_part_that_cannot_be_imported_is_one_config_error_before_training(tmp_path, key, settings):
    with pytest.raises(ConfigError) as err:
        garay.evolve(cluster={"backend": "inprocess"}, run_dir=tmp_path, **{**SMALL, **settings})
    assert err.value.key == key and not (tmp_path / "history.jsonl").exists()


def test_a_function_the_workers_cannot_import_is_refused():
    def local_metric(y_true, y_pred):
        return 0.0

    with pytest.raises(ConfigError, match="importable by the workers"):
        garay.compose(fitness={"metric": local_metric})


def test_the_default_histories_are_unchanged(tmp_path):
    """Recorded before plug-ins (and multi-objective search) existed: the same genomes, the
    same numbers, the same fields, in generational, async and early-stopping runs."""
    from garay.cli import run
    from garay.results.runlog import read_history

    golden = json.loads((REPO / "tests" / "data" / "default_histories.json").read_text())
    extra = {"generational": [], "async": ["ga.mode=async"],
             "halving": ["train.early_stop=halving", "train.epochs=3", "train.grace_epochs=1"]}
    for name, records in golden.items():
        run(compose_config(*TINY, "cluster.backend=inprocess", "seed=7", *extra[name]), run_dir=tmp_path / name)
        now = list(read_history(tmp_path / name / "history.jsonl"))
        assert len(now) == len(records), name
        for old, new in zip(records, now):
            assert sorted(new) == old["fields"], (name, old["key"])
            for k, v in old.items():
                if k == "fields":
                    continue
                if isinstance(v, float) or (isinstance(v, list) and v and isinstance(v[0], float)):
                    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(np.atleast_1d(v), np.atleast_1d(new[k]))), (name, k)
                else:
                    assert new[k] == v, (name, k)
