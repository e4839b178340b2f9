"""garay-best (retraining, weights without pickle), garay-report, TensorBoard tracking."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from garay.cli import run
from garay.data.synthetic import make_synthetic
from garay.search.genome import Genome
from garay.results.report import main as report_main
from garay.execution.weights import load_weights

TINY = ["ga.population_size=3", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
        "data.examples_per_class=20", "progress=false"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.conftest import compose_config

    path = tmp_path_factory.mktemp("run")
    run(compose_config(*TINY, "cluster.backend=inprocess", "tensorboard=true"), run_dir=path)
    return path


def test_garay_best_retrains_and_saves_loadable_weights(finished_run):
    proc = subprocess.run([sys.executable, "-m", "garay.best", str(finished_run), "repeats=2"],  # the run bare
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
    proc = subprocess.run([sys.executable, "-m", "garay.best", str(genome_file), "repeats=1", "train.epochs=1",
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
    fitness = [e.value for e in acc.Scalars("evaluation/fitness_val_accuracy")]
    assert fitness == pytest.approx([json.loads(line)["fitness"] for line in history])
    assert len(acc.Scalars("generation/population_best_val_accuracy")) == 2
    assert len(acc.Scalars("generation/new_genomes_median_val_accuracy")) == 2
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


# --- what the output says: the fitness by its name, statistics by what they are over, plots


def tone_arrays(cfg) -> dict[str, np.ndarray]:
    """A data.loader for tests: 4 classes of noisy (8, 32) arrays whose level is the class."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 20)
    return {"X": (rng.standard_normal((80, 8, 32)) + y[:, None, None]).astype(np.float32), "y": y}


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def metric_run(tmp_path_factory):
    """A multi-objective run with my_parts.macro_f1 as fitness and a loader of this module,
    TensorBoard on: (run directory, summary, printed output, log lines)."""
    import contextlib
    import io

    from tests.conftest import REPO, compose_config

    path = tmp_path_factory.mktemp("metric")
    lines, out = _Lines(), io.StringIO()
    logger = logging.getLogger("garay")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    try:
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
            mp.syspath_prepend(str(REPO / "examples" / "custom_parts"))
            summary = run(compose_config(
                "ga.population_size=4", "ga.generations=2", "ga.num_parents=2", "train.epochs=2", "progress=false",
                "cluster.backend=inprocess", "tensorboard=true", "fitness.metric=my_parts.macro_f1",
                "data.loader=tests.test_results.tone_arrays", "ga.objectives=[fitness,params]"), run_dir=path)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    return path, summary, out.getvalue(), lines.lines


def test_a_custom_metric_is_named_wherever_the_fitness_is_shown(metric_run, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from garay.results.runlog import read_history

    path, summary, printed, lines = metric_run
    history = list(read_history(path / "history.jsonl"))
    ok = [h for h in history if h["status"] == "ok"]
    assert ok and all(h["fitness"] == h["val_metric"] and "test_metric" in h for h in ok)
    best = summary["best"]
    assert best["fitness"] == best["val_metric"] != best["val_accuracy"]
    # The printed header: the metric that was optimised first, accuracy beside it.
    assert (f"Best architecture (validation macro_f1 {best['val_metric']:.4f}, accuracy {best['val_accuracy']:.4f}; "
            f"test macro_f1 {best['test_metric']:.4f}, accuracy {best['test_accuracy']:.4f};") in printed
    assert "fitness (val macro_f1)" in printed and "test macro_f1" in printed  # the front's table
    # The log names the loader, not the data group it stands in for, and the fitness.
    assert "preparing data: data.loader=tests.test_results.tone_arrays" in lines
    assert any("fitness: validation macro_f1" in line for line in lines)
    assert all("(validation macro_f1)" in line for line in lines if line.startswith("generation "))
    # Plots.
    from garay.results.plots import pareto_figure
    from garay.results.tables import pareto_table
    from garay.results.plots import curves_figure, fitness_figure

    fig = fitness_figure(history, metric="macro_f1")
    assert fig.axes[0].get_ylabel() == "fitness (validation macro_f1)"
    fig = curves_figure(history, metric="macro_f1")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels and all("macro_f1" in t and "accuracy" in t for t in labels)
    assert "by validation macro_f1" in fig.axes[0].get_title()
    fig = pareto_figure(history, summary["front"], metric="macro_f1")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "fitness (validation macro_f1)" and "test macro_f1" in ax.get_title()
    assert [t.get_text() for t in ax.texts] == [f"{r['test_metric']:.2f}" for r in
                                                sorted(summary["front"], key=lambda r: r["params"])]
    assert "fitness (val macro_f1)" in pareto_table(summary["front"], "macro_f1")
    # garay-report.
    assert report_main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "fitness (validation macro_f1) by generation" in out and "fitness: validation macro_f1" in out
    assert f"best: validation macro_f1 {best['val_metric']:.4f}, accuracy {best['val_accuracy']:.4f}" in out
    assert "learning curves of the best by validation macro_f1" in out and "fitness (val macro_f1)" in out
    # TensorBoard: the tag says what the fitness was.
    acc = EventAccumulator(str(path / "tensorboard"))
    acc.Reload()
    assert [e.value for e in acc.Scalars("evaluation/fitness_val_macro_f1")] == pytest.approx(
        [h["fitness"] for h in history])
    assert [e.value for e in acc.Scalars("evaluation/test_macro_f1")] == pytest.approx(
        [h["test_metric"] for h in history if "test_metric" in h])
    assert "evaluation/fitness" not in acc.Tags()["scalars"]


def test_metric_names():
    from garay.plugins import metric_name

    assert metric_name(None) == "accuracy" and metric_name("my_parts.macro_f1") == "macro_f1"
    assert metric_name({"_target_": "sklearn.metrics.f1_score", "average": "macro"}) == "f1_score(average=macro)"


def test_generation_statistics_say_what_they_are_over(make_cfg, tmp_path, caplog, capsys):
    """The log, checkpoint.json's generation_stats (over the population: parents and
    children) and garay-report agree, and each says which genomes its numbers are over."""
    import statistics

    from garay.results.runlog import read_history

    caplog.set_level(logging.INFO, logger="garay")
    run(make_cfg("cluster.backend=inprocess", "ga.generations=3"), run_dir=tmp_path)
    capsys.readouterr()
    history = list(read_history(tmp_path / "history.jsonl"))
    population = json.loads((tmp_path / "checkpoint.json").read_text())["generation_stats"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert report_main([str(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "new: best" in report and "population: best" in report
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("generation ")]
    assert len(logged) == len(population) == 3
    for stats, line in zip(population, logged):
        g = stats["generation"]
        new = [h["fitness"] for h in history if h["generation"] == g and h["status"] != "stopped"]
        fresh = (max(new), statistics.median(new))
        assert line == (f"generation {g} (validation accuracy): population best {stats['best']:.4f}, median "
                        f"{stats['median']:.4f}; new genomes ({len(new)}) best {fresh[0]:.4f}, median {fresh[1]:.4f};"
                        f" best so far {stats['best_so_far']:.4f}")
        row = next(r for r in report.splitlines() if r.startswith(f"| {g} "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells == [str(g), str(len(new)), "0", f"{fresh[0]:.4f}", f"{fresh[1]:.4f}", f"{stats['best']:.4f}",
                         f"{stats['median']:.4f}", f"{stats['best_so_far']:.4f}"]
        assert summary["new_genome_stats"][g] == {"generation": g, "evaluated": len(new), "stopped": 0,
                                                  "best": fresh[0], "median": fresh[1]}
    assert summary["generation_stats"] == population


def _drawn(monkeypatch, plot, *args, **kwargs):
    """The figure `plot` saves (the figure itself: what tests inspect, not its pixels)."""
    from matplotlib.figure import Figure

    saved, save = [], Figure.savefig

    def keep(fig, *a, **k):
        saved.append(fig)
        return save(fig, *a, **k)

    monkeypatch.setattr(Figure, "savefig", keep)
    plot(*args, **kwargs)
    monkeypatch.undo()
    [fig] = saved
    return fig


def _outside(fig) -> bool:
    """The figure's legend and its axes' box do not overlap (in display coordinates)."""
    ax = fig.axes[0]
    [legend] = fig.legends or [ax.get_legend()]
    fig.canvas.draw()
    box, axes = legend.get_window_extent(), ax.get_window_extent()
    return box.y1 <= axes.y0 or box.y0 >= axes.y1 or box.x1 <= axes.x0 or box.x0 >= axes.x1


def test_plots_keep_legends_off_the_data_epochs_whole_and_labels_readable(metric_run, finished_run, tmp_path,
                                                                          monkeypatch):
    from garay.results.plots import plot_pareto
    from garay.results.plots import plot_curves, plot_fitness
    from garay.results.runlog import read_history

    path, summary, _, _ = metric_run
    history = list(read_history(path / "history.jsonl"))
    figures = {"fitness": _drawn(monkeypatch, plot_fitness, history, tmp_path / "f.png"),
               "curves": _drawn(monkeypatch, plot_curves, history, tmp_path / "c.png"),
               "pareto": _drawn(monkeypatch, plot_pareto, history, summary["front"], tmp_path / "p.png"),
               "fitness, one epoch": _drawn(monkeypatch, plot_fitness, list(read_history(finished_run / "history.jsonl")),
                                            tmp_path / "f1.png")}
    for name, fig in figures.items():
        assert _outside(fig), name
        legend = (fig.legends or [fig.axes[0].get_legend()])[0]
        assert all(t.get_fontsize() >= 8 for t in legend.get_texts()), name
    for name in ("fitness", "curves"):  # generations and epochs are whole numbers
        ax = figures[name].axes[0]
        assert all(float(t).is_integer() for t in ax.get_xticks()), name
    labels = figures["pareto"].axes[0].texts  # test scores beside the front's points
    assert labels and all(t.get_fontsize() >= 8 for t in labels)


def _best(*args, cwd):
    return subprocess.run([sys.executable, "-m", "garay.best", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def test_garay_best_genome_file_retrains_into_outputs_and_says_the_data_is_the_default(tmp_path):
    proc = _best("genome=small_cnn", "repeats=1", "train.epochs=1", "data.examples_per_class=20", "progress=false",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [out] = list((tmp_path / "outputs" / "retrain").iterdir())  # not ./None/retrain
    assert (out / "retrain.json").is_file() and [p.name for p in tmp_path.iterdir()] == ["outputs"]
    [line] = [line for line in (out / "garay-best.log").read_text().splitlines() if "retraining on" in line]
    assert "data=synthetic, the default" in line and "small_cnn.json" in line


@pytest.mark.parametrize("args, key", [
    ([], "run_dir"),  # neither run_dir nor genome
    (["genome=bad.json"], "genome"),  # not a genome
    (["genome=study_table1", "data.examples_per_class=20"], "genome"),  # does not fit: refused after the data loads
])
def test_a_refused_garay_best_makes_no_folder(tmp_path, args, key):
    (tmp_path / "bad.json").write_text('{"layers": []}')
    proc = _best(*args, "progress=false", cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"garay-best: error: {key}:"), proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]


def test_garay_best_on_a_runs_best_json_uses_the_runs_settings(finished_run, tmp_path):
    proc = _best(f"genome={finished_run / 'best.json'}", "repeats=1", "train.lr=0.002", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [out] = list((tmp_path / "outputs" / "retrain").iterdir())
    results = json.loads((out / "retrain.json").read_text())
    assert results["train"]["epochs"] == 1 and results["train"]["lr"] == 0.002  # the run's epochs, this lr
    assert results["settings_from"] == str(finished_run) and "selection_bias" in results
    assert results["input_shape"] == json.loads((finished_run / "summary.json").read_text())["data"]["input_shape"]


@pytest.fixture(scope="module")
def front_run(tmp_path_factory):
    from tests.conftest import compose_config

    path = tmp_path_factory.mktemp("front")
    run(compose_config(*TINY, "ga.population_size=4", "cluster.backend=inprocess", "ga.objectives=[fitness,params]"),
        run_dir=path)
    return path


def test_garay_best_picks_a_pareto_front_member_by_index_or_hash(front_run, tmp_path):
    front = json.loads((front_run / "pareto.json").read_text())["front"]
    pareto = f"genome={front_run / 'pareto.json'}"
    proc = _best(pareto, cwd=tmp_path)  # no choice: one line listing the members
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("garay-best: error: member:"), proc.stderr
    for i, r in enumerate(front):
        assert f"{i}: {r['hash'][:8]} fitness {r['fitness']:.4f} params {r['params']}" in lines[0]
    assert not any(tmp_path.iterdir())
    last = len(front) - 1
    prefix = f"'{front[0]['hash'][:8]}'"  # quoted: a hash prefix may read as a number
    for choice, retrain_dir in ((f"member={last}", tmp_path / "by_index"), (f"member={prefix}", tmp_path / "by_hash")):
        proc = _best(pareto, choice, "repeats=1", "progress=false", f"hydra.run.dir={retrain_dir}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "by_index" / "retrain.json").read_text())["hash"] == front[last]["hash"]
    by_hash = json.loads((tmp_path / "by_hash" / "retrain.json").read_text())
    assert by_hash["hash"] == front[0]["hash"] and by_hash["train"]["epochs"] == 1  # the run's settings
    proc = _best(f"run_dir={front_run}", "member=zzzz", cwd=tmp_path)
    assert proc.returncode == 2 and "'zzzz' matches no member" in proc.stderr
