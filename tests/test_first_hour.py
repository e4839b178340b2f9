"""A new user's first hour: what got in the way of a fresh clone's first runs, each held
as a contract. The wrong data refused, not run silently; a bar that counts every
genome; a reader that leaves a pipe early; plots of one epoch; one repeat is no spread;
help whose meanings start at one column; a quiet local Ray."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from garay.config import ConfigError, reference, validate
from garay.config.schema import Config
from garay.data import load_dataset
from garay.data.errors import DataError
from tests.conftest import TINY, compose_config
from tests.test_audio import write_folder


def _script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))  # the installed entry point


# --- 1. The wrong data, silently -----------------------------------------------------


def test_a_data_root_without_a_data_set_that_reads_it_is_refused_naming_data_folder(tmp_path):
    cfg = compose_config(*TINY, f"data.root={tmp_path}")  # data=synthetic, the default
    with pytest.raises(ConfigError, match=r"^data\.root: .*data=folder") as err:
        validate(cfg)
    assert err.value.key == "data.root"
    validate(compose_config(*TINY, "data=folder", f"data.root={tmp_path}"))  # what it meant


def test_fsdd_on_a_folder_of_class_folders_says_what_it_holds_and_suggests_data_folder(tmp_path):
    root = write_folder(tmp_path / "my_words", {"yes": 300.0, "no": 500.0}, per_class=2)
    with pytest.raises(DataError, match=r"2 sub-folder\(s\) \(no, yes\).*data=folder"):
        load_dataset(compose_config("data=fsdd", f"data.root={root}").data)


# --- 3. A validation set too small to tell networks apart; progress bars -------------


def test_a_tiny_validation_set_is_warned_of_and_every_bar_ends_at_its_total(tmp_path, caplog, capsys):
    from garay.cli import run

    cfg = compose_config(*TINY, "progress=true", "data.examples_per_class=8", "cluster.backend=inprocess")
    with caplog.at_level(logging.WARNING, logger="garay"):
        summary = run(cfg, run_dir=tmp_path)
    n_val = summary["data"]["sizes"]["val"]
    warned = [r.getMessage() for r in caplog.records if "validation set holds" in r.getMessage()]
    assert warned and f"holds {n_val} examples" in warned[0] and f"steps of {1 / n_val:.3f}" in warned[0]
    err = capsys.readouterr().err
    # tqdm redraws a bar in place: the last frame of each generation's bar is its end.
    last = {}
    for gen, done, total in re.findall(r"gen (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)", err):
        last[gen] = (int(done), int(total))
    assert set(last) == {"0", "1"}, err[-1500:]
    assert all(done == total for done, total in last.values()), last


# --- 4. One argument convention: the run directory bare ------------------------------


def test_garay_best_names_a_bare_argument_by_what_it_is(tmp_path):
    from garay.best import named_arguments

    assert named_arguments([str(tmp_path), "repeats=1"]) == [f"run_dir={tmp_path}", "repeats=1"]
    assert named_arguments(["small_cnn", "repeats=1"]) == ["genome=small_cnn", "repeats=1"]
    genome = tmp_path / "my genome.json"
    genome.write_text("{}")
    assert named_arguments([str(genome)]) == [f"genome='{genome}'"]  # quoted for Hydra's grammar
    assert named_arguments([f"run_dir={tmp_path}"]) == [f"run_dir={tmp_path}"]
    with pytest.raises(ConfigError, match="neither a run directory"):
        named_arguments([str(tmp_path / "nope")])
    with pytest.raises(ConfigError, match="takes one run directory or genome, got 2"):
        named_arguments([str(tmp_path), "small_cnn"])


# --- 6. A reader that leaves early ---------------------------------------------------


@pytest.mark.parametrize("prog", ["garay", "garay-best", "garay-report", "garay-export", "garay-predict"])
def test_a_reader_that_leaves_early_ends_the_command_quietly(prog, tmp_path):
    # `PROG --help | head -0`: the reader has gone before a line is written
    proc = subprocess.Popen([_script(prog), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode in (141, 0), (proc.returncode, err)  # 0: argparse's help ignores a closed stdout


# --- 7. Plots ------------------------------------------------------------------------


def test_plots_of_one_epoch_tick_that_epoch_and_their_title_names_the_run_directory(tmp_path, monkeypatch):
    from garay.results.plots import curves_figure, pyplot, run_title

    record = {"hash": "a" * 16, "status": "ok", "fitness": 0.5, "curve": [0.5], "params": 100, "val_accuracy": 0.5,
              "generation": 0}
    fig = curves_figure([record])
    assert list(fig.axes[0].get_xticks()) == [1]
    pyplot().close(fig)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert run_title(Path("outputs/2026-12-07/19-37-20")) == "garay run outputs/2026-12-07/19-37-20"
    assert run_title(tmp_path / "a" / "b") == f"garay run {tmp_path.name}/a/b"  # outside: its last three parts
    # A Ray job's driver can find its working directory removed under it (CI, `make submit`):
    # the title still names the run, from its last three parts.
    (tmp_path / "here").rmdir()
    assert run_title(tmp_path / "x" / "y" / "z") == "garay run x/y/z"


def test_the_card_plot_marks_each_epoch_of_the_loss(tmp_path, monkeypatch):
    from garay.results import plots
    from garay.serve import card

    drawn = {}
    save = plots.pyplot().Figure.savefig

    def keep(fig, *args, **kwargs):
        drawn["fig"] = fig
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(plots.pyplot().Figure, "savefig", keep)
    card._plot(tmp_path / "curve.png", {"curve": [0.5], "losses": [2.3]})
    accuracy_ax, loss_ax = drawn["fig"].axes
    assert list(accuracy_ax.get_xticks()) == [1]
    [loss] = loss_ax.get_lines()
    assert loss.get_marker() not in (None, "None", "")  # one point: visible only as a marker


# --- 8. Spreads of one ----------------------------------------------------------------


def _results(repeats: list[dict], **extra) -> dict:
    import statistics

    def spread(key):
        xs = [r[key] for r in repeats]
        return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
                "min": min(xs), "max": max(xs)}

    return {"repeats": repeats, "val_accuracy": spread("val_accuracy"), "test_accuracy": spread("test_accuracy"),
            "train": {"epochs": 1}, "sizes": {"train": 18, "val": 6, "test": 6}, "chance": 0.5, **extra}


def test_one_repeat_reports_its_scores_without_a_spread():
    from garay.best import scores_line
    from garay.serve.card import _spread

    one = _results([{"repeat": 0, "status": "ok", "val_accuracy": 0.5, "test_accuracy": 0.25}])
    assert "±" not in scores_line(one) and "0.5000" in scores_line(one) and "one repeat" in scores_line(one)
    assert "±" not in _spread(one["val_accuracy"], 1)
    two = _results([{"repeat": i, "status": "ok", "val_accuracy": v, "test_accuracy": v} for i, v in enumerate((.5, .7))])
    assert "0.6000 ± 0.1414" in scores_line(two) and "over 2 repeats" in scores_line(two)


def test_a_collapsed_retrain_is_said_to_be_one_not_selection_bias(capsys, tmp_path):
    from garay.best import _print
    from garay.search.genome import shipped_genomes, Genome
    import json

    genome = Genome.from_dict(json.loads(shipped_genomes()["small_cnn"].read_text()))
    recorded = {"fitness": 1.0, "val_accuracy": 1.0, "test_accuracy": 1.0}
    results = _results([{"repeat": 0, "status": "ok", "val_accuracy": 0.5, "test_accuracy": 0.5, "collapsed": 1}],
                       recorded=recorded, shortfall=0.5)
    _print(results, genome, tmp_path)
    out = capsys.readouterr().out
    assert "selection bias" not in out.replace("not selection bias", "")
    assert "collapsed: the network predicts one class for every example" in out
    assert "+0.5000 short of it: a collapsed training, not selection bias" in out


def test_the_model_card_leaves_out_what_a_retrain_does_not_use_and_gives_one_score(tmp_path):
    from garay.serve.card import write_card
    from garay.search.genome import shipped_genomes
    import json

    genome = json.loads(shipped_genomes()["small_cnn"].read_text())
    model = {"genome": genome, "params": 1000, "classes": ["no", "yes"], "val_accuracy": 0.5, "test_accuracy": 0.5,
             "curve": [0.5], "losses": [0.7], "predicts_one_class": "yes",
             "preprocess": {"features": None, "input_shape": [32, 63]}, "data": {"name": "folder"}}
    train = {"epochs": 1, "lr": 0.001, "early_stop": "none", "eta": 3, "rungs": None, "grace_epochs": 2}
    retrain = _results([{"repeat": 0, "status": "ok", "val_accuracy": 0.5, "test_accuracy": 0.5, "collapsed": 1}],
                       train=train, shortfall=0.5)
    write_card(tmp_path, model, retrain, {})
    card = (tmp_path / "MODEL.md").read_text()
    assert "`train.epochs`: 1" in card and "`train.lr`" in card
    for unused in ("train.eta", "train.rungs", "train.grace_epochs", "train.early_stop", "round-one", "± 0.0000"):
        assert unused not in card, unused
    assert "predicts `yes` for every validation and test example" in card
    assert "not selection bias" in card


# --- 9. Noise on a local run -----------------------------------------------------------


def test_ray_resources_read_as_a_person_would_say_them():
    from garay.execution.cluster import resources_text

    text = resources_text({"CPU": 2.0, "GPU": 0.0, "memory": 16373581415.0, "object_store_memory": 7017249177.0,
                           "node:10.0.0.1": 1.0, "node:__internal_head__": 1.0, "accelerator_type:T4": 1.0})
    assert text == "2 CPUs, 0 GPUs, 16.4 GB memory, 7.0 GB object store"


def test_a_bar_written_to_a_log_shows_its_end_once(capsys, tmp_path):
    from garay.data.synthetic import forget_rendered, make_synthetic

    forget_rendered()
    make_synthetic(examples_per_class=10, progress=True, cache_dir=tmp_path)  # capsys's stderr is no terminal
    frames = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert len([f for f in frames if f.startswith("synthesizing: 100%")]) == 1, frames


# --- 10. Help layout -----------------------------------------------------------------


def test_every_keys_meaning_starts_at_one_column():
    keys = reference.keys(Config)
    lines = reference.key_lines(keys)
    column = reference.COLUMN + 1
    for key in keys:
        meaning = reference.first_sentence(key.help)[:8]
        [i] = [i for i, line in enumerate(lines) if line.startswith(f"  {key.name}=")]
        if lines[i][column:].startswith(meaning) and lines[i][column - 1] == " ":
            continue  # on the key's line, at the column
        under = lines[i + 1]  # else under it, at the column (after the allowed values, where they did not fit)
        assert under[:column].strip() == "" and under[column] != " ", (key.name, lines[i:i + 2])
        assert all(len(line) <= reference.WIDTH for line in lines[i:i + 2])
