"""`--help` and `--version` of the five commands, where the user types. The key lines come
from garay.config.reference (the schema's attribute docstrings), so the help, the docs'
reference page and the defaults the code runs with are one source. The docs site renders
`help_text(prog)` for each command: nothing here needs Ray or a run."""

from __future__ import annotations

import difflib
import sys
import textwrap
from typing import NoReturn, Sequence

import garay
from garay.config import reference
from garay.config.reference import Key
from garay.config.schema import RETRAIN_IGNORED, BestConfig, Config
from garay.search.genome import shipped_genomes

PROGS = tuple(reference.COMMANDS)
HELP_FLAGS = ("-h", "--help")
# The top-level keys and the groups in the order garay --help lists them.
SECTIONS = ("", "ga", "train", "train.augment", "data", "fitness", "cluster", "blueprint", "blueprint.recipe")
# What a retrain reads besides garay-best's own keys (garay/best.py): the seed and the
# progress bars, the data, training and fitness settings, the convolutions' kind, and the
# torch threads; ga.*, the rest of cluster.* and the genome-drawing blueprint keys change nothing.
RETRAIN_SECTIONS = ("data", "train", "train.augment", "fitness")
RETRAIN_KEYS = ("seed", "progress", "blueprint.conv_dim", "cluster.cpus_per_worker")
RETRAIN_IGNORES = tuple(f"train.{k}" for k in RETRAIN_IGNORED)


def version_text() -> str:
    """What every command's `--version` prints."""
    return f"garay {garay.__version__}"


def help_text(prog: str, group: str | None = None) -> str:
    """What `prog --help` prints (`prog` one of PROGS); with `group` (garay and garay-best:
    `garay --help train`), that group's keys with their whole meaning and its options.
    Raises ValueError for an unknown command or group."""
    if prog not in PROGS:
        raise ValueError(f"no command {prog!r}; commands: {', '.join(PROGS)}")
    if group is not None:
        return _group_help(prog, group)
    if prog == "garay":
        return _garay_help()
    if prog == "garay-best":
        return _best_help()
    if prog == "garay-report":
        from garay.results.report import build_parser

        return build_parser().format_help()
    if prog == "garay-export":
        from garay.serve.export import help_text as export_help

        return export_help()
    from garay.serve.predict import build_parser as predict_parser

    return predict_parser().format_help()


def answer(prog: str, argv: Sequence[str]) -> None:
    """Before Hydra sees `argv`: `--help [GROUP]` / `-h` prints help_text, `--version` the
    version, and exits 0 (2 for an unknown group). Anything else (`--hydra-help` among it)
    returns and goes on to Hydra."""
    if "--version" in argv:
        print(version_text())
        sys.exit(0)
    flags = [i for i, a in enumerate(argv) if a in HELP_FLAGS]
    if not flags:
        return
    rest = [a for a in argv[flags[0] + 1:] if not a.startswith("-")]
    try:
        print(help_text(prog, rest[0] if rest else None), end="")
    except ValueError as exc:
        _refuse(prog, str(exc))
    sys.exit(0)


def _refuse(prog: str, message: str) -> NoReturn:
    print(f"{prog}: error: --help: {message}", file=sys.stderr)
    sys.exit(2)


# --- garay and garay-best: Hydra commands, their help made here ------------------------

def _section(rows: list[Key], name: str) -> list[Key]:
    return [k for k in rows if k.group == name]


def _keys_part(rows: list[Key], sections: Sequence[str]) -> list[str]:
    lines = []
    for name in sections:
        part = _section(rows, name)
        if part:
            lines += ["", f"{name} keys:" if name else "top-level keys:", *reference.key_lines(part)]
    return lines


def _groups_part(groups: Sequence[str], config_name: str) -> list[str]:
    """Each group's options, the default starred; experiment as a sweep."""
    defaults = reference.group_defaults(config_name)
    options = reference.group_options()
    lines = ["", "config groups (GROUP=OPTION; * the default; `--help GROUP`: what each option sets):"]
    for group in groups:
        if group not in options:
            continue
        names = "|".join(f"{o}*" if defaults.get(group) == o else o for o in options[group])
        if group == "experiment":
            lines.append(f"  +experiment={names} -m  (a ready sweep)")
        else:
            lines.append(f"  {group}={names}")
    return lines


def _usage(lines: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(u) for u, _ in lines) + 2
    return [f"  {u:<{width}}{what}".rstrip() for u, what in lines]


def _garay_help() -> str:
    rows = reference.keys(Config)
    lines = [f"garay {garay.__version__}: evolve audio-classifier architectures with a genetic algorithm; Ray",
             "workers train and score each generation's networks in parallel (GPUs, CPUs or a cluster).",
             "", "usage:"]
    lines += _usage([
        ("garay [KEY=VALUE ...] [GROUP=OPTION ...]", "one evolution (run directory: outputs/DATE/TIME)"),
        ("garay -m KEY=A,B,C [...]", "a Hydra multirun: one run per value (per combination)"),
        ("garay +experiment=NAME -m", "a ready sweep (see the experiment group)"),
        ("garay --help [GROUP]", "this help, or one group's keys and options in full"),
        ("garay --hydra-help", "Hydra's own flags (--cfg job, --info, --multirun, ...)"),
        ("garay --version", ""),
    ])
    lines += ["", "examples:"]
    lines += _usage([
        ("garay ga.population_size=6 ga.generations=2 train.epochs=3", "a small run on synthetic data"),
        ("garay data=fsdd data.root=recordings/", "the Free Spoken Digit Dataset"),
        ("garay -m ga.mutation_rate=0.1,0.2,0.3", "one run per mutation rate"),
        ("garay +experiment=noise_level -m", "the study's noise-level sweep"),
        ("garay cluster.address=auto cluster.gpus_per_worker=0.5", "join a Ray cluster, 2 workers a GPU"),
        ("garay hydra.run.dir=outputs/DATE/TIME resume=true", "continue a killed run"),
    ])
    lines += ["", "keys (KEY=DEFAULT [allowed values]  meaning; `garay --help GROUP`: a group in full):"]
    lines += _keys_part(rows, SECTIONS)
    lines += _groups_part([*reference.GROUPS, "experiment"], "config")
    lines += ["", "Hydra's own flags (--cfg, --info, --shell-completion, ...): garay --hydra-help.", ""]
    lines += [reference.commands_text("garay")]
    return "\n".join(lines) + "\n"


def retrain_keys() -> list[Key]:
    """garay-best's keys in its help's order: its own, then what a retrain reads."""
    rows = reference.keys(BestConfig)
    by_name = {k.name: k for k in rows}
    return [*reference.best_keys(), *(by_name[n] for n in RETRAIN_KEYS),
            *(k for k in rows if k.group in RETRAIN_SECTIONS and k.name not in RETRAIN_IGNORES)]


def _best_help() -> str:
    keys = retrain_keys()
    own = len(reference.best_keys())
    lines = [f"garay-best {garay.__version__}: retrain a genome (a run's best, any genome file, or a Pareto front's",
             "member) several times and report the mean and spread of its validation and test accuracy.",
             "", "usage:"]
    lines += _usage([
        ("garay-best RUN_DIR [repeats=N] [KEY=VALUE ...]", "a run's best genome, the run's settings"),
        ("garay-best FILE|NAME [repeats=N] [KEY=VALUE ...]", "a genome file or a shipped genome"),
        ("", "(or name it: run_dir=RUN_DIR, genome=FILE|NAME)"),
        ("garay-best --help [GROUP]", "this help, or one group's keys in full"),
        ("garay-best --version", ""),
    ])
    lines += ["", "examples:"]
    lines += _usage([
        ("garay-best outputs/DATE/TIME repeats=5", "a run's best genome, 5 times"),
        ("garay-best study_table1 data=fsdd data.root=recordings/", "a shipped genome on FSDD"),
        ("garay-best outputs/DATE/TIME/pareto.json member=2", "a Pareto front's member"),
    ])
    lines += ["", f"shipped genomes (genome=NAME): {', '.join(shipped_genomes())}",
              "", "its own keys:", *reference.key_lines(keys[:own]),
              "", "what a retrain reads (with run_dir, or a run's best.json or pareto.json, the data, train,",
              "fitness and blueprint settings come from that run; the command line's overrides win):",
              *reference.key_lines(keys[own:own + len(RETRAIN_KEYS)])]
    lines += _keys_part(keys[own + len(RETRAIN_KEYS):], RETRAIN_SECTIONS)
    lines += _groups_part(["data", "fitness", "train"], "best")
    lines += ["", "garay's other keys (ga.*, early stopping, train.trainer, the rest of cluster.* and blueprint.*)",
              "are accepted and change nothing in a retrain. Results: RUN_DIR/retrain/DATE_TIME with run_dir,",
              "else outputs/retrain/DATE_TIME.", ""]
    lines += [reference.commands_text("garay-best")]
    return "\n".join(lines) + "\n"


def _group_help(prog: str, group: str) -> str:
    """One group's keys with their whole meaning, and its options with what each sets."""
    if prog not in ("garay", "garay-best"):
        raise ValueError(f"{prog} has no config groups")
    rows = reference.keys(Config) if prog == "garay" else retrain_keys()
    options = reference.group_options()
    known = sorted({k.group for k in rows if k.group} | ({"experiment"} if prog == "garay" else set()))
    if group not in known:
        near = difflib.get_close_matches(group, known, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ValueError(f"no group {group!r}; groups: {', '.join(known)}{hint}")
    mine = [k for k in rows if k.group == group or k.group.startswith(f"{group}.")]
    lines = [f"{prog} --help {group}: its keys (KEY=DEFAULT [allowed values], then the meaning):", "",
             *reference.key_lines(mine, full=True)] if mine else [f"{prog} --help {group}: ready sweeps"]
    if group in options:
        default = reference.group_defaults("config" if prog == "garay" else "best").get(group)
        lines += ["", f"options ({'+experiment=NAME -m' if group == 'experiment' else f'{group}=OPTION'}"
                      f"{'; * the default' if default else ''}):"]
        for o in options[group]:
            sets = ", ".join(f"{k}={v}" for k, v in reference.option_settings(group, o).items())
            star = "*" if o == default else ""
            lines += textwrap.wrap(f"{o}{star}: {sets or 'the defaults above'}", reference.WIDTH,
                                   initial_indent="  ", subsequent_indent=" " * 6, break_on_hyphens=False)
    return "\n".join(lines) + "\n"
