"""Help where the user types: every command's --help (made from the schema's docstrings,
garay.config.reference) and --version, a mistyped key's "did you mean", and the way past a
corrupt file. Fast: no training, no Ray."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import garay
from garay import cli
from garay.api import check_overrides
from garay.best import shipped_genomes
from garay.config import ConfigError, reference
from garay.config.schema import Config
from garay.data import load_dataset
from garay.help import PROGS, help_text
from tests.conftest import compose_config
from tests.test_audio import write_folder

PURPOSE = {
    "garay": "evolve audio-classifier architectures with a genetic algorithm",
    "garay-best": "report the mean and spread of its validation and test accuracy",
    "garay-report": "Print a garay run or sweep directory as tables",
    "garay-export": "one folder that runs without garay's search",
    "garay-predict": "Classify audio files with a model package written by garay-export",
}
KEY_LINE = re.compile(r"^  ([a-z_][a-z_.]*)=")
BEST_OWN = ["run_dir", "genome", "member", "repeats", "save_weights"]


def _cli(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name(name)  # the installed entry point
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def _key_names(text: str) -> list[str]:
    """The keys a help lists, in order (the config groups' lines after them are not keys)."""
    keys_part = text.split("\nconfig groups")[0]
    return [m.group(1) for line in keys_part.splitlines() if (m := KEY_LINE.match(line))]


def _entry(text: str, key: reference.Key) -> str:
    """A key's entry in a help: its line, and the lines under it at the meaning's column
    (where a long default pushes the meaning, and the allowed values, under it)."""
    lines = text.splitlines()
    [i] = [i for i, line in enumerate(lines) if line.startswith(f"  {key.name}={key.default}")]
    under = [line for line in lines[i + 1:i + 3] if line.startswith(" " * (reference.COLUMN + 1))]
    return " ".join([lines[i], *under[:2]])


@pytest.mark.parametrize("prog", PROGS)
def test_each_command_prints_its_help_and_exits_0(prog, tmp_path):
    proc = _cli(prog, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == help_text(prog)  # what the docs site renders is what the command prints
    text = proc.stdout
    assert PURPOSE[prog] in " ".join(text.split())
    assert "_schema" not in text and "Hydra (" not in text
    siblings = [p for p in PROGS if p != prog]
    assert all(re.search(rf"^  {p} +\S", text, re.M) for p in siblings), text
    assert "make docs-serve" in text and "Reference > Configuration" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("prog", PROGS)
def test_each_command_prints_garays_version(prog, tmp_path):
    proc = _cli(prog, "--version", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "garay 0.1.0\n"), proc.stderr[-2000:]
    assert garay.__version__ == "0.1.0"


def test_garay_help_lists_every_key_with_its_default_and_meaning():
    text = help_text("garay")
    for key in reference.keys(Config):
        entry = _entry(text, key)
        meaning = " ".join(reference.first_sentence(key.help).split()[:3])
        assert meaning and meaning in entry, (key.name, entry)
        assert all(a in entry for a in key.allowed), (key.name, entry)
    assert _key_names(text) == [k.name for k in reference.keys(Config)]  # each once, in the schema's order
    headings = [line for line in text.splitlines() if line.endswith(" keys:")]
    assert headings == [f"{g} keys:" for g in ("top-level", "ga", "train", "train.augment", "data", "fitness",
                                                 "cluster", "blueprint", "blueprint.recipe")]


def test_garay_help_lists_the_groups_their_options_and_sweeps():
    text = help_text("garay")
    lines = text.splitlines()
    for group, options in reference.group_options().items():
        [line] = [line for line in lines if line.startswith((f"  {group}=", f"  +{group}="))]
        assert line.split("=", 1)[1].split()[0].replace("*", "").split("|") == options, line
    assert "  data=folder|fsdd|npz|speech_commands|synthetic*" in text  # the default starred
    assert "+experiment=mutation_rate|noise_level|reproductions|search_compare -m" in text
    assert "garay --hydra-help" in text and "garay -m " in text


def test_garay_best_help_puts_its_own_keys_first_and_leaves_out_the_ga():
    text = help_text("garay-best")
    names = _key_names(text)
    assert names[:5] == BEST_OWN
    own = {k.name: k for k in reference.best_keys()}
    for name in BEST_OWN:
        assert reference.first_sentence(own[name].help)[:25] in _entry(text, own[name])
    assert not [n for n in names if n.startswith("ga.")]
    # what a retrain reads is there; what it ignores is not
    assert {"data.root", "train.epochs", "train.augment.mixup", "fitness.repeats", "blueprint.conv_dim",
            "cluster.cpus_per_worker", "seed"} <= set(names)
    ignored = {"cluster.backend", "cluster.num_workers", "blueprint.filters", "train.early_stop", "resume"}
    assert not ignored & set(names)
    assert ", ".join(shipped_genomes()) in text and "study_table1" in text


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("prog, module", [("garay", "garay.cli"), ("garay-best", "garay.best")])
def test_help_is_answered_before_hydra(prog, module, flag, monkeypatch, capsys):
    import importlib

    monkeypatch.setattr(sys, "argv", [prog, flag])
    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).main()
    assert done.value.code == 0 and capsys.readouterr().out == help_text(prog)


def test_help_of_one_group_gives_its_keys_in_full(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["garay", "--help", "train"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    out = capsys.readouterr().out
    names = _key_names(out)
    assert done.value.code == 0 and names and all(n.startswith("train.") for n in names)
    assert "train.augment.mixup" in names
    noise = next(k for k in reference.keys() if k.name == "train.noise_level")
    assert " ".join(noise.help.split()) in " ".join(out.split())  # the whole meaning, not its first sentence
    assert "robust: ga.population_size=16" in help_text("garay", "ga")


def test_help_of_an_unknown_group_exits_2_with_a_suggestion(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["garay", "--help", "trian"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1
    assert err[0].startswith("garay: error: --help: no group 'trian'") and err[0].endswith("did you mean train?")


def test_hydra_help_still_reaches_hydra(tmp_path):
    proc = _cli("garay", "--hydra-help", cwd=tmp_path)
    assert proc.returncode == 0 and "Hydra (" in proc.stdout and "--cfg" in proc.stdout, proc.stderr[-2000:]


def test_a_mistyped_key_suggests_the_nearest_and_writes_nothing(tmp_path):
    proc = _cli("garay", "ga.populaton_size=3", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "garay: error: ga.populaton_size: Key 'populaton_size' not in 'GAConfig'; did you mean ga.population_size?"]
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra


def test_garay_best_mistyped_key_is_one_line_exit_2(tmp_path):
    proc = _cli("garay-best", "genome=small_cnn", "repeat=2", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "garay-best: error: repeat: Key 'repeat' not in 'BestConfig'; did you mean repeats?"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("overrides, config_name, hint", [
    (["data=fssd"], "config", "available: folder, fsdd, npz, speech_commands, synthetic; did you mean fsdd?"),
    (["sed=3"], "config", "did you mean seed?"),
    (["repeats=2"], "config", "did you mean fitness.repeats?"),  # garay has no repeats: garay-best's is not offered
    (["train.population_size=4"], "config", "did you mean ga.population_size?"),  # the right leaf, wrong group
    (["repeat=2"], "best", "did you mean repeats?"),
])
def test_suggestions_come_from_the_commands_own_keys(overrides, config_name, hint):
    with pytest.raises(ConfigError) as err:
        check_overrides(overrides, config_name=config_name)
    assert str(err.value).endswith(hint)


def test_a_known_key_with_a_bad_value_gets_no_suggestion():
    with pytest.raises(ConfigError) as err:
        check_overrides(["ga.population_size=many"])
    assert err.value.key == "ga.population_size" and "did you mean" not in str(err.value)


def test_a_corrupt_file_error_says_how_to_skip_it(tmp_path):
    root = write_folder(tmp_path / "words", {"yes": 300, "no": 900})
    broken = root / "no" / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    cfg = compose_config("data=folder", f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", "data.workers=1",
                         "progress=false").data
    with pytest.raises(ConfigError) as err:
        load_dataset(cfg)
    message = str(err.value)
    assert str(broken) in message and "cannot decode as audio" in message and "\n" not in message
    assert message.endswith("(data.skip_bad=true skips such files with a warning)")
    skipped = load_dataset(compose_config("data=folder", f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}",
                                          "data.workers=1", "data.skip_bad=true").data)
    assert skipped.info["skipped"] == 1  # and the hint is true
