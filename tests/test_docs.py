"""The documentation: the configuration reference holds every key the config has, the
site's pages are all in the navigation, the README stays short with links that resolve,
and the commands the README and the getting-started page show really run (with tiny
overrides). `make docs` (CI) builds the site with --strict: broken links fail there."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from garay.config import reference
from tests.conftest import REPO
from tests.ray_nodes import LocalCluster

BIN = Path(sys.executable).parent
DOCS = REPO / "docs"
GROUP_OPTIONS = reference.group_options()


def _flat_keys(data: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in data.items():
        if isinstance(v, dict) and v:
            out += _flat_keys(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def _cfg_job(prog: str, *overrides: str) -> list[str]:
    """The keys `PROG --cfg job` prints (Hydra's own composition, as a user sees it)."""
    proc = subprocess.run([str(BIN / prog), *overrides, "--cfg", "job"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return _flat_keys(yaml.safe_load(proc.stdout))


def _hook():
    spec = importlib.util.spec_from_file_location("docs_hook", DOCS / "hooks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_key_of_garay_cfg_job_is_in_the_generated_reference():
    page = (DOCS / "reference" / "config.md").read_text()
    built = _hook().on_page_markdown(page, None, None, None)  # what `make docs` renders
    assert "<!-- garay:" not in built
    keys = set(_cfg_job("garay"))
    # every option of every group composes the same schema: none may bring a key the reference lacks
    for group, options in GROUP_OPTIONS.items():
        if group != "experiment":
            for option in options:
                keys |= set(_cfg_job("garay", f"{group}={option}", "data.root=x"))
    keys |= set(_cfg_job("garay-best"))
    assert len(keys) > 90
    missing = sorted(k for k in keys if f"`{k}`" not in built)
    assert not missing, f"keys missing from the generated reference: {missing}"
    # ... with their real defaults and allowed values, not only their names
    assert "| `ga.population_size` | int | `10` |" in built
    assert "`generational`, `async`, `random`, `regularized`, `local`, `tpe`" in built
    for group in ("data", "ga", "experiment"):
        for option in GROUP_OPTIONS[group]:
            assert f"`{option}`" in built


def test_every_key_has_a_meaning():
    undocumented = [k.name for k in reference.keys() + reference.best_keys() if not k.help]
    assert not undocumented, f"schema fields without an attribute docstring: {undocumented}"


def _nav_files(nav) -> list[str]:
    out = []
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            out += _nav_files(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_navigation_and_exists():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert "docs/hooks/generate.py" in config["hooks"]
    assert config["strict"] is True
    nav = _nav_files(config["nav"])
    assert len(nav) == len(set(nav))
    missing = [p for p in nav if not (DOCS / p).is_file()]
    assert not missing, f"in the nav but not in docs/: {missing}"
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    orphans = sorted(pages - set(nav))
    assert not orphans, f"pages in docs/ that the nav does not list: {orphans}"
    for page in nav:
        text = (DOCS / page).read_text()
        generated = "<!-- garay:" in text  # the build fills it in (test above)
        assert text.startswith("# ") and (generated or len(text.splitlines()) > 10), f"{page} is a stub"


def test_readme_is_short_and_its_links_resolve():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert len(links) > 20
    broken = [link for link in links if "://" not in link and not (REPO / link).exists()]
    assert not broken, f"README links to files that do not exist: {broken}"


def test_no_code_line_scrolls_sideways():
    """A fenced code line over 95 characters scrolls sideways on the site at 1,400 px
    (```text blocks wrap by CSS): continue commands with ` \\`, move comments above."""
    pages = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
    too_long = [f"{page.relative_to(REPO)} ({len(line)}): {line}"
                for page in pages
                for block in re.finditer(r"```(\w*)[^\n]*\n(.*?)```", page.read_text(), re.S)
                if block.group(1) != "text"
                for line in block.group(2).splitlines() if len(line) > 95]
    assert not too_long, "code lines over 95 characters:\n" + "\n".join(too_long)


# --- the commands the README and the getting-started page show ----------------------------

# Commands shown but not run here, each for its reason.
NOT_RUN = {
    "make install": "installs: the suite runs inside that install",
    "make test": "the suite itself",
    "make docs": "CI builds the site (.ci/run)",
    "make docs-serve": "serves until stopped; the same build as make docs",
    "python3 -m venv": "installs",
    "pip install": "installs",
    "source .venv/bin/activate": "the test runs the commands from the .venv it runs in (BIN)",
}
TINY = ["ga.population_size=3", "ga.num_parents=2", "ga.generations=1", "train.epochs=1",
        "data.examples_per_class=10", "progress=false"]


def _commands(path: Path) -> list[str]:
    """Each command line of the page's bash blocks, comments cut."""
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), re.S)
    blocks = [block.replace("\\\n", " ") for block in blocks]  # a command continued with a backslash
    lines = [re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def _wav_folder(root: Path) -> Path:
    """my_words/: two classes of eight one-second 16 kHz clips (tones apart in pitch)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for word, freq in (("yes", 300.0), ("no", 900.0)):
        (root / word).mkdir(parents=True)
        for i in range(8):
            wave = 0.5 * np.sin(2 * np.pi * freq * (1 + 0.05 * i) * t) + 0.05 * rng.standard_normal(t.size)
            sf.write(root / word / f"{word}_{i}.wav", wave.astype(np.float32), 16000)
    return root


class Runner:
    """Runs a page's commands in order in one folder, as a user would from a fresh clone:
    placeholders (outputs/DATE/TIME, my_words/, seven.wav) become what earlier commands made."""

    def __init__(self, cwd: Path, cluster_env: dict[str, str] | None):
        self.cwd, self.cluster_env = cwd, cluster_env
        self.ran: list[str] = []

    def newest_run(self) -> str:
        runs = sorted((p for p in (self.cwd / "outputs").glob("*/*") if (p / "history.jsonl").exists()),
                      key=lambda p: p.stat().st_mtime)
        assert runs, "a command needs a run directory and no earlier command made one"
        return str(runs[-1].relative_to(self.cwd))

    def run(self, line: str) -> None:
        if any(line.startswith(prefix) for prefix in NOT_RUN):
            return
        run_dir = self.newest_run() if "outputs/DATE/TIME" in line else ""
        line = line.replace("outputs/DATE/TIME", run_dir)
        argv = shlex.split(line)
        if argv[:2] == ["make", "run"]:  # the Makefile's recipe: $(BIN)/garay $(ARGS)
            argv = ["garay", *shlex.split(line.partition("ARGS=")[2])]
        prog = Path(argv[0]).name
        assert prog.startswith("garay"), f"a command the test does not know how to run: {line!r}; add it to NOT_RUN with why"
        if "my_words/" in line and not (self.cwd / "my_words").exists():
            _wav_folder(self.cwd / "my_words")
        if "seven.wav" in argv and not (self.cwd / "seven.wav").exists():
            import soundfile as sf

            sf.write(self.cwd / "seven.wav", np.zeros(8000, np.float32) + 0.01, 8000)
        env = dict(os.environ)
        if prog == "garay":
            argv += TINY if "cluster.address=auto" in line else [*TINY, "cluster.backend=inprocess"]
            if "cluster.address=auto" in line:
                env = self.cluster_env
        elif prog == "garay-best":
            argv += ["progress=false"]
        proc = subprocess.run([str(BIN / prog), *argv[1:]], cwd=self.cwd, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{line!r} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        self.ran.append(line)

    def run_python(self, code: str) -> None:
        proc = subprocess.run([sys.executable, "-c", code], cwd=self.cwd, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"the README's Python failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert "test accuracy" in proc.stdout
        self.ran.append("python")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A running two-node Ray cluster this machine belongs to (`cluster.address=auto` finds it)."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), dashboard=False)
    cluster.start()
    yield cluster
    cluster.stop()


def test_every_page_runs_the_commands_one_way():
    """After the README's set-up (make install, then source .venv/bin/activate) a command is
    `garay ...`, never `.venv/bin/garay ...`: one form on every page."""
    pages = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
    mixed = [f"{p.relative_to(REPO)}: {line}" for p in pages for line in _commands(p)
             if re.match(r"(\S+/)?\.venv/bin/(?!activate)", line) or " .venv/bin/garay" in line]
    assert not mixed, mixed
    readme = _commands(REPO / "README.md")
    assert readme.index("source .venv/bin/activate") < min(i for i, c in enumerate(readme) if c.startswith("garay"))


def test_the_makefile_run_target_is_garay_with_args():
    recipe = re.search(r"^run:.*\n\t(.*)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert recipe.strip() == "$(BIN)/garay $(ARGS)"


def test_the_readme_commands_run(tmp_path, ray_cluster):
    runner = Runner(tmp_path, ray_cluster.env)
    commands = _commands(REPO / "README.md")
    for line in commands:
        runner.run(line)
    for code in _python_blocks(REPO / "README.md"):
        runner.run_python(code)
    assert any(c.startswith("garay-predict") for c in runner.ran)
    assert any("cluster.address=auto" in c for c in runner.ran)
    assert len(runner.ran) >= 8, runner.ran
    model = next((tmp_path / "outputs").glob("*/*/model/model.onnx"))
    assert model.stat().st_size > 0
    assert list((tmp_path / "multirun").glob("*/*/sweep_summary.csv"))


def test_the_getting_started_commands_run(tmp_path):
    runner = Runner(tmp_path, None)
    for line in _commands(DOCS / "getting-started.md"):
        runner.run(line)
    assert [c for c in runner.ran if c.startswith(("make run", "garay "))]
    assert list((tmp_path / "outputs").glob("*/*/best.json"))
