"""Fitness that selects networks rather than luck: validation rounds (other speakers) and
repeated trainings, from the data split to the history line and garay-best."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from garay.best import genome_path
from garay.search.blueprint import Blueprint
from garay.cli import run
from garay.config import ConfigError, fitness_rounds
from garay.data.splits import speaker_split, stratified_split, validation_rounds
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.search.genome import Genome
from garay.results.runlog import read_history
from garay.search.shapes import is_valid
from garay.execution.train import evaluate_genome, train_and_score

SPEAKERS = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 20)
LABELS = np.tile(np.arange(4), 30)


def test_speaker_rounds_validate_on_other_speakers_and_never_on_training_ones():
    parts = speaker_split(SPEAKERS, ["f"], [], 0.2, seed=0)[:3]
    rounds = validation_rounds(parts, 5, LABELS, SPEAKERS, seed=0)
    assert len(rounds) == 5 and all(np.array_equal(a, b) for a, b in zip(rounds[0], parts))
    held = []
    for train, val, test in rounds:
        assert np.array_equal(test, parts[2])  # the test speaker never moves
        assert not set(SPEAKERS[train]) & set(SPEAKERS[val])
        assert set(SPEAKERS[train]) | set(SPEAKERS[val]) == {"a", "b", "c", "d", "e"}
        held.append(tuple(sorted(set(SPEAKERS[val]))))
    assert len(set(held)) == 5  # every development speaker validates once
    with pytest.raises(ConfigError, match="fitness.rounds"):
        validation_rounds(parts, 6, LABELS, SPEAKERS, seed=0)


def test_random_rounds_hold_out_as_much_of_each_class_and_keep_the_test_set():
    parts = stratified_split(LABELS, (0.2, 0.2), seed=0)
    rounds = validation_rounds(parts, 3, LABELS, None, seed=0)
    for train, val, test in rounds:
        assert np.array_equal(test, parts[2]) and not set(train) & set(val)
        assert sorted(np.concatenate([train, val])) == sorted(np.concatenate(parts[:2]))
        assert np.array_equal(np.bincount(LABELS[val]), np.bincount(LABELS[parts[1]]))
    assert not np.array_equal(rounds[1][1], rounds[0][1])


def test_rounds_are_standardised_with_their_own_training_data():
    data = make_synthetic(examples_per_class=20, rounds=3)
    assert len(data.rounds) == 2
    for d in (data, *data.rounds):
        assert np.abs(d.x_train.mean(axis=(0, 2))).max() < 1e-4
        assert d.x_test.shape == data.x_test.shape


def test_auto_rounds_depend_on_the_split(make_cfg):
    assert fitness_rounds(make_cfg()) == 1
    assert fitness_rounds(make_cfg("data=fsdd", "data.root=x", "data.split=speaker")) == 3
    assert fitness_rounds(make_cfg("fitness=study", "data=fsdd", "data.root=x", "data.split=speaker")) == 1
    assert fitness_rounds(make_cfg("fitness.rounds=2")) == 2


GENOME = Genome.from_json(genome_path("small_cnn").read_text())


def test_one_training_scores_as_before_and_more_are_averaged():
    data = make_synthetic(examples_per_class=20, rounds=2)
    settings = TrainSettings(epochs=1)
    single, _ = evaluate_genome(GENOME, [data], settings, "cpu", seed=7)
    plain = train_and_score(GENOME, data, settings, "cpu", seed=7)
    assert (single.fitness, single.test_accuracy) == (plain.fitness, plain.test_accuracy)
    assert single.val_scores == (plain.val_accuracy,)
    many, _ = evaluate_genome(GENOME, [data, *data.rounds], TrainSettings(epochs=1, repeats=2), "cpu", seed=7)
    assert len(many.val_scores) == 4 and many.val_scores[0] == plain.val_accuracy
    assert many.fitness == pytest.approx(np.mean(many.val_scores))
    assert len(set(many.val_scores)) > 1  # different data or seeds, different scores


def test_a_run_records_every_training_of_a_genome(make_cfg, tmp_path):
    summary = run(make_cfg("cluster.backend=inprocess", "fitness.rounds=2", "fitness.repeats=2"), run_dir=tmp_path)
    history = list(read_history(tmp_path / "history.jsonl"))
    assert summary["evaluations"] == len(history) > 0
    for h in history:
        if h["status"] == "ok":
            assert len(h["val_scores"]) == 4 and h["fitness"] == pytest.approx(np.mean(h["val_scores"]))


def _best(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "garay.best", *args, "repeats=1", "train.epochs=1", "progress=false",
                           "data.examples_per_class=20", f"hydra.run.dir={tmp_path / 'out'}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_garay_best_takes_a_shipped_genome_by_name(tmp_path):
    proc = _best(tmp_path, "genome=small_cnn", "fitness.rounds=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "retrain.json").read_text())
    assert result["hash"] == GENOME.hash and len(result["repeats"][0]["val_scores"]) == 2
    # Table 1 needs 130 frames; the synthetic default has 32: one line naming the genome.
    proc = _best(tmp_path, "genome=study_table1")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "genome" in lines[0] and "(32, 32)" in lines[0]
    proc = _best(tmp_path, "genome=no_such_net")
    assert proc.returncode == 2 and "study_table1" in proc.stderr


def test_shipped_genomes_are_the_studys_tables_and_fit_where_they_say():
    from garay.best import genome_path, shipped_genomes

    assert {"study_table1", "study_table2", "study_table3", "small_cnn"} <= set(shipped_genomes())
    table1 = Genome.from_json(genome_path("study_table1").read_text())
    assert [g.kind for g in table1.genes] == ["conv"] * 4 + ["dense"] * 2
    assert (table1.convs[1].filters, table1.convs[1].kernel_size, table1.convs[1].stride) == (16, 7, 2)
    for name, path in shipped_genomes().items():
        data = json.loads(path.read_text())
        genome = Genome.from_dict(data)
        assert all(Blueprint().contains(g) for g in genome.genes), name
        frames = data["min_frames_1d"]
        assert is_valid(genome, (32, frames), 10) and not is_valid(genome, (32, frames - 1), 10), name
