"""Every config key's documentation, read from the schema dataclasses (garay.config.schema):
its type, its default, its attribute docstring and, for keys with a fixed set of values,
those values (`schema.ALLOWED`). The docs' reference page, each CLI's `--help` and the
"did you mean" of a mistyped key are all made from this, so none of them can drift from
the defaults the code runs with."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import inspect
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from garay.config.schema import ALLOWED, BestConfig, Config

# The top-level groups in the order the reference and the help list them.
GROUPS = ("ga", "train", "data", "fitness", "cluster", "blueprint")


@dataclass(frozen=True)
class Key:
    """One config key: its dotted name, type, default (as you would type it), allowed values
    (empty: any of its type) and meaning."""

    name: str
    type: str
    default: str
    allowed: tuple[str, ...]
    help: str

    @property
    def group(self) -> str:
        """The group it belongs to (`ga`, `train.augment`, ...), or '' for a top-level key."""
        return self.name.rpartition(".")[0]


def show(value: Any) -> str:
    """A value as it is written on the command line: null, true, [a, b], 0.001."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _type_name(annotation: str) -> str:
    """`Optional[list[int]]` -> `list[int] or null`; `Any` -> `any`."""
    optional = re.fullmatch(r"Optional\[(.*)\]", annotation)
    inner = optional.group(1) if optional else annotation
    inner = inner.replace("Any", "any")
    return f"{inner} or null" if optional else inner


@lru_cache(maxsize=None)
def docstrings(cls: type) -> dict[str, str]:
    """A dataclass's attribute docstrings (the string literal under each field), by field name,
    joined into one line each. Empty when the source cannot be read."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    out = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            out[node.target.id] = " ".join(after.value.value.split())
    return out


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings of a dataclass and its bases (a subclass's own win)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            out.update(docstrings(klass))
    return out


def _nested(cls: type, name: str) -> type | None:
    """The dataclass a field holds (a group or sub-group), or None for a plain value."""
    hint = cls.__dataclass_fields__[name].type
    hint = hint if isinstance(hint, str) else getattr(hint, "__name__", "")
    module = inspect.getmodule(cls)
    target = getattr(module, hint, None)
    return target if dataclasses.is_dataclass(target) else None


def keys(schema: type = Config, prefix: str = "") -> list[Key]:
    """Every key of `schema` (a dataclass), sub-groups included, as dotted names."""
    docs = _field_docs(schema)
    out, groups = [], []
    for f in dataclasses.fields(schema):
        name = f"{prefix}{f.name}"
        nested = _nested(schema, f.name)
        if nested is not None:
            groups.append((nested, f"{name}."))
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        allowed = tuple(show(v) for v in ALLOWED.get(name, ()))
        out.append(Key(name, _type_name(str(f.type)), show(default), allowed, docs.get(f.name, "")))
    for nested, sub in sorted(groups, key=lambda g: _order(g[1])):
        out += keys(nested, sub)
    return out


def _order(prefix: str) -> int:
    top = prefix.split(".")[0]
    return GROUPS.index(top) if top in GROUPS else len(GROUPS)


def best_keys() -> list[Key]:
    """garay-best's own keys (those BestConfig adds to garay's)."""
    own = {f.name for f in dataclasses.fields(Config)}
    return [k for k in keys(BestConfig) if "." not in k.name and k.name not in own]


def all_names(schema: type = BestConfig) -> list[str]:
    """Every dotted key of `schema` (garay's Config, or BestConfig: garay-best's, a superset),
    and the group names."""
    return sorted({k.name for k in keys(schema)} | set(GROUPS) | {"experiment"})


def nearest(name: str, schema: type = BestConfig) -> list[str]:
    """Known keys of `schema` that a mistyped `name` may have meant, closest first (at most 3)."""
    names = all_names(schema)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.75)
    if close:
        return close
    # a right leaf under a wrong group (train.population_size): the same leaf anywhere
    leaf = name.rpartition(".")[2]
    return [n for n in names if n.rpartition(".")[2] == leaf][:3]


# --- config groups: the options under garay/conf (conf/ in the source tree) --------------

def _conf() -> Any:
    return resources.files("garay.conf")


@lru_cache(maxsize=None)
def group_options() -> dict[str, list[str]]:
    """Each config group's options (file names under conf/GROUP/), `experiment` included."""
    out = {}
    for folder in sorted(_conf().iterdir(), key=lambda p: p.name):
        if folder.is_dir() and not folder.name.startswith("_"):
            names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
            if names:
                out[folder.name] = names
    return out


@lru_cache(maxsize=None)
def group_defaults(config_name: str = "config") -> dict[str, str]:
    """The option each group takes when the command line names none (conf/CONFIG.yaml)."""
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(OmegaConf.create(_conf().joinpath(f"{config_name}.yaml").read_text()))
    out = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            out.update({str(k): str(v) for k, v in entry.items()})
    return out


def option_settings(group: str, option: str) -> dict[str, str]:
    """What choosing `group=option` sets, as dotted keys and values (a sweep's values for
    `experiment`)."""
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(OmegaConf.create(_conf().joinpath(group, f"{option}.yaml").read_text()))
    data.pop("defaults", None)
    if group == "experiment":
        params = data.get("hydra", {}).get("sweeper", {}).get("params", {})
        return {str(k): str(v) for k, v in params.items()}
    return {f"{group}.{k}": show(v) for k, v in _flat(data)}


def _flat(data: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in data.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


# --- the reference page ------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[Key]) -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for k in rows:
        meaning = k.help + (f" Allowed: {', '.join(f'`{a}`' for a in k.allowed)}." if k.allowed else "")
        lines.append(f"| `{k.name}` | {_cell(k.type)} | `{_cell(k.default)}` | {_cell(meaning)} |")
    return lines


def _section_title(group: str) -> str:
    """A group's heading, with an anchor other pages link to (reference/config.md#train-augment)."""
    return f"`{group}` {{ #{group.replace('.', '-')} }}" if group else "Top-level keys { #top-level }"


def markdown() -> str:
    """The configuration reference (docs/reference/config.md's generated part): the groups
    and their options, then every key of `garay` and `garay-best` in tables by group."""
    lines = ["## Config groups { #groups }", "",
             "Choose an option with `GROUP=OPTION` on the command line (`data=fsdd`); the default is in bold.",
             "", "| group | options | what an option sets |", "| --- | --- | --- |"]
    defaults = group_defaults()
    for group, options in group_options().items():
        names = ", ".join(f"**`{o}`**" if defaults.get(group) == o else f"`{o}`" for o in options)
        sets = []
        for o in options:
            settings = option_settings(group, o)
            if settings:
                sets.append(f"`{o}`: " + ", ".join(f"`{k}={v}`" for k, v in settings.items()))
        how = "`+experiment=NAME -m` runs a sweep of:<br>" if group == "experiment" else ""
        # one line an option (<br>: a line break inside a table cell)
        lines.append(f"| `{group}` | {names} | {how}{'<br>'.join(_cell(x) for x in sets) or 'the schema defaults'} |")
    by_group: dict[str, list[Key]] = {}
    for k in keys():
        by_group.setdefault(k.group, []).append(k)
    for group, rows in by_group.items():
        lines += ["", f"## {_section_title(group)}", ""]
        lines += _table(rows)
    lines += ["", "## `garay-best` { #garay-best }", "",
              "`garay-best` takes every key above (data, train and fitness settings matter for a retrain), "
              "and these of its own:", ""]
    lines += _table(best_keys())
    return "\n".join(lines) + "\n"


# --- help where the user types -----------------------------------------------------------

WIDTH = 100  # every help line fits in this many characters (the docs render the same text)
COLUMN = 36  # where a key's meaning starts

# The five commands, one line each: every help's "other commands" part.
COMMANDS = {
    "garay": "evolve architectures: one run, or a sweep with -m",
    "garay-best": "retrain a run's best genome N times: mean and spread of its accuracy",
    "garay-report": "print a run or sweep directory as tables; redraw its plots",
    "garay-export": "package a run's best network (TorchScript, ONNX, preprocessing, model card)",
    "garay-predict": "classify audio files with a package garay-export wrote",
}
DOCS = ('The docs site: `make docs-serve`; every config key in full: its page "Reference > '
        'Configuration".')


def first_sentence(text: str) -> str:
    """A help text's first sentence, without its full stop."""
    return re.split(r"(?<=[a-z)])\.\s+(?=[A-Z])", text)[0].rstrip(".")


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut at a word with '...' when it is longer."""
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0]
    if cut.count("(") > cut.count(")") and cut.rindex("(") > len(cut) - 24:  # no short half a parenthesis
        cut = cut[: cut.rindex("(")]
    return cut.rstrip(" ,;:.") + "..."


def key_lines(rows: Iterable[Key], width: int = WIDTH, full: bool = False) -> list[str]:
    """A key for `--help`: name=default, allowed values, the meaning's first sentence (cut at
    a word to the width), in one line; where name, default and allowed values reach the
    column, the meaning goes under them, at the column (and the allowed values under the
    meaning when they do not fit beside the default). `full`: the whole meaning, wrapped
    under it."""
    out = []
    for k in rows:
        allowed = f" [{'|'.join(k.allowed)}]" if k.allowed else ""
        text = f"  {k.name}={k.default}{allowed}"
        if full:
            out.append(text)
            out += textwrap.wrap(k.help, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
            continue
        meaning = first_sentence(k.help)
        if len(text) < COLUMN:
            out.append(_cut(f"{text:<{COLUMN}} {meaning}", width))
        elif len(text) <= width:  # a long default or list of allowed values: the meaning under it, at the column
            out += [_cut(text, width), _cut(" " * (COLUMN + 1) + meaning, width)]
        else:  # and no room for the allowed values beside the default: they go under the meaning
            out += [_cut(f"  {k.name}={k.default}", width), _cut(" " * (COLUMN + 1) + meaning, width),
                    _cut(" " * (COLUMN + 1) + allowed.strip(), width)]
    return out


def commands_text(prog: str) -> str:
    """The other commands (not `prog`), one line each, and where the docs are."""
    lines = ["other commands:"]
    lines += [f"  {name:<15}{what}" for name, what in COMMANDS.items() if name != prog]
    return "\n".join(lines + ["", DOCS])


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help at a fixed width (the docs render the same text whatever the
    terminal), the description and epilog as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=WIDTH, max_help_position=COLUMN)
