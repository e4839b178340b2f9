"""Multiruns: the ready experiments, the sweep summary callback, one Ray for all jobs."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from garay.search.distance import genome_distance, group_similar
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.results.report import main as report_main
from garay.results.runlog import read_history

TINY = ["ga.population_size=3", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
        "data.examples_per_class=20", "progress=false"]


def _multirun(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "garay.cli", "-m", *TINY, *args, f"hydra.sweep.dir={tmp_path}"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# The study's two sweeps; the first on Ray (one instance for every job), the second in
# process: the summary and its plot do not depend on the backend.
@pytest.mark.parametrize("experiment, key, values, backend", [
    ("mutation_rate", "ga.mutation_rate", ["0.1", "0.2", "0.3", "0.4"], "ray"),
    ("noise_level", "train.noise_level", ["0.001", "0.01", "0.1", "1.0"], "inprocess"),
])
def test_ready_experiment_writes_a_sweep_summary(tmp_path, experiment, key, values, backend):
    _multirun(tmp_path, f"+experiment={experiment}", f"cluster.backend={backend}")
    with open(tmp_path / "sweep_summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r[key] for r in rows] == values  # one row per job, in job order
    assert all(0 <= float(r["best_val_accuracy"]) <= 1 and r["best_architecture"] for r in rows)
    assert (tmp_path / f"sweep_{key.replace('.', '_')}.png").stat().st_size > 0
    if backend == "ray":  # one Ray instance served every job of the multirun
        nodes = {h["node_id"] for job in range(4) for h in read_history(tmp_path / str(job) / "history.jsonl")}
        assert len(nodes) == 1


def test_seed_sweep_groups_similar_best_architectures(tmp_path):
    proc = _multirun(tmp_path, "seed=0,1,2", "cluster.backend=inprocess")
    report = (tmp_path / "reproductions.txt").read_text()
    assert report.count("\n") >= 5 and "Groups of similar" in report and "closest pair" in report
    assert "layer pattern" in report
    with open(tmp_path / "sweep_summary.csv") as f:
        assert [r["seed"] for r in csv.DictReader(f)] == ["0", "1", "2"]
    assert "sweep summary of 3 jobs" in proc.stdout
    (tmp_path / "sweep_summary.csv").unlink()
    assert report_main([str(tmp_path)]) == 0  # garay-report on a sweep: table, CSV again
    assert (tmp_path / "sweep_summary.csv").exists()


def test_genome_distance():
    c1, c2 = ConvGene(8, 3, 1, 0, 2, "relu"), ConvGene(8, 3, 1, 0, 2, "swish")
    d1, d2 = DenseGene(64, "relu", 0.1), DenseGene(32, "relu", 0.1)
    a = Genome((c1, d1))
    assert genome_distance(a, a) == 0
    assert genome_distance(a, Genome((c2, d1))) == pytest.approx((1 / 6) / 2)
    assert genome_distance(a, Genome((c1, d1, d2))) == pytest.approx(1 / 3)
    assert genome_distance(Genome((c1,)), Genome((d1,))) == 1.0
    assert genome_distance(a, Genome((c2, d2))) == genome_distance(Genome((c2, d2)), a)
    groups = group_similar([a, Genome((c2, d1)), Genome((d2,)), Genome((c1, d1, d2))], threshold=0.25)
    assert groups[0] == [0, 1] and sorted(map(len, groups)) == [1, 1, 2]


def test_search_compare_writes_anytime_curves_and_the_comparison(tmp_path):
    proc = _multirun(tmp_path, "+experiment=search_compare", "seed=0,1", "cluster.backend=inprocess")
    with open(tmp_path / "sweep_summary.csv") as f:
        jobs = list(csv.DictReader(f))
    assert len(jobs) == 6 and {j["ga.mode"] for j in jobs} == {"generational", "async", "random"}
    with open(tmp_path / "anytime.csv") as f:
        curves = list(csv.DictReader(f))
    groups = {"ga.mode=generational", "ga.mode=async", "ga.mode=random"}
    assert {r["group"] for r in curves} == groups and {r["axis"] for r in curves} == {"evaluations", "worker_seconds"}
    for r in curves:
        assert r["runs"] == "2" and float(r["best_lo"]) <= float(r["best_mean"]) <= float(r["best_hi"])
    for group in groups:  # best so far never falls, along either axis
        for axis in ("evaluations", "worker_seconds"):
            means = [float(r["best_mean"]) for r in curves if r["group"] == group and r["axis"] == axis]
            assert means == sorted(means) and len(means) > 1
    with open(tmp_path / "compare.csv") as f:
        compare = {r["group"]: r for r in csv.DictReader(f)}
    assert set(compare) == groups
    for group in groups - {"ga.mode=random"}:
        assert compare[group]["baseline"] == "ga.mode=random" and compare[group]["test_vs_baseline"] != ""
    # The budget is the generational run's (3 + 1 x (3 - 2) = 4) in every mode.
    assert all(float(r["evaluations"]) <= 4 for r in compare.values())
    assert (tmp_path / "anytime.png").stat().st_size > 0
    assert "Methods compared" in proc.stdout
    (tmp_path / "compare.csv").unlink()
    assert report_main([str(tmp_path)]) == 0
    assert (tmp_path / "compare.csv").exists()


def test_search_compare_takes_early_stopping_as_an_arm(tmp_path):
    _multirun(tmp_path, "+experiment=search_compare", "seed=0,1", "ga.mode=generational,random",
              "train.early_stop=none,halving", "train.epochs=3", "train.grace_epochs=1", "ga.generations=20",
              "ga.budget_epochs=18", "cluster.backend=inprocess")
    with open(tmp_path / "compare.csv") as f:
        compare = {r["group"]: r for r in csv.DictReader(f)}
    arms = {f"ga.mode={m},train.early_stop={e}" for m in ("generational", "random") for e in ("none", "halving")}
    assert set(compare) == arms
    es = compare["ga.mode=generational,train.early_stop=halving"]
    assert es["baseline"] == "ga.mode=random,train.early_stop=halving"
    # The same epochs buy early stopping more genomes.
    assert float(es["evaluations"]) > float(compare["ga.mode=generational,train.early_stop=none"]["evaluations"])
    for job in (p for p in tmp_path.iterdir() if (p / "history.jsonl").exists()):
        assert sum(h["epochs"] for h in read_history(job / "history.jsonl")) >= 18
