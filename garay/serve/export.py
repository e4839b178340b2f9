"""`garay-export RUN_DIR [out=DIR] [repeats=N] [retrain=false]`: the network a run found, as
one folder that runs without garay's search (a model package):

    weights.npz           the weights (numpy arrays, no pickle)
    model.torchscript.pt  TorchScript: waveforms in, probabilities out (the features inside)
    model.onnx            the same in ONNX (ONNX Runtime runs it without torch)
    preprocess.json       file -> input: sample rate, duration, features, training set's mean, std
    classes.json          the labels, in output order
    model.json            genome, scores, data and training settings (what load_model reads)
    MODEL.md, curve.png   the model card and the learning curve

RUN_DIR is a run (its newest retrain with weights is packaged; a run with none is retrained
first, as `garay-best RUN_DIR` does) or a garay-best retrain folder. OUT defaults
to RUN_DIR/model. A refused call writes nothing. The graphs take waveforms when the
features computed inside them (float32) give training's probabilities within 1e-4 on probe
audio, else standardised features (garay.serve.graph; preprocess.json's graph_input says).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from garay.errors import ConfigError, reader_may_leave
from garay.serve.card import CARD, CURVE, write_card
from garay.serve.model import TORCHSCRIPT, WEIGHTS
from garay.serve.onnx import ONNX_FILE
from garay.serve.predictor import CARD_DATA, CLASSES, PREPROCESS

MODEL_JSON, RETRAIN_JSON = "best_model.json", "retrain.json"  # what garay-best writes
OPSET = 18
INPUTS = {"waves": "mono waveforms (batch, samples) at the model's rate and length; features, standardisation "
                   "and softmax inside",
          "features": "standardised features (batch, channels, frames); softmax inside"}


def _files(takes: str) -> dict[str, str]:
    """What each file of the package is (the card's list)."""
    return {WEIGHTS: "the weights (numpy arrays; garay.load_model rebuilds the network)",
            TORCHSCRIPT: f"TorchScript module: {INPUTS[takes]} -> probabilities",
            ONNX_FILE: f"ONNX (opset {OPSET}): input `{takes}`: {INPUTS[takes]}; output `probabilities`; any batch size",
            PREPROCESS: "how a file becomes the input (decode, features, standardisation)",
            CLASSES: "the labels in output order", CARD_DATA: "genome, scores, data and training settings",
            CARD: "this card", CURVE: "the learning curve"}


def find_trained(source: Path) -> Path | None:
    """The retrain folder to package: `source` itself when garay-best wrote it, else the
    newest of RUN/retrain/* that saved weights; None when there is none."""
    if (source / MODEL_JSON).exists():
        return source
    found = sorted((p.parent for p in source.glob(f"retrain/*/{MODEL_JSON}")), key=lambda p: p.name)
    return found[-1] if found else None


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def _retrain(run: Path, repeats: int) -> None:
    print(f"garay-export: {run} has no trained model yet; retraining its best genome {repeats} times, "
          f"as `garay-best {run} repeats={repeats}` does", flush=True)
    done = subprocess.run([sys.executable, "-m", "garay.best", f"run_dir={run}", f"repeats={repeats}"])
    if done.returncode != 0:
        raise ConfigError("run_dir", f"retraining {run} failed (exit status {done.returncode}); see above")


def _check_source(source: Path, retrain: bool) -> tuple[Path, dict[str, Any]] | None:
    """The retrain folder and its best_model.json, or None when one must be trained
    first; refuses a bad call."""
    if not source.is_dir():
        raise ConfigError("run_dir", f"{source} is not a folder (a garay run, or a garay-best retrain folder)")
    trained = find_trained(source)
    if trained is None:
        if not (source / "best.json").exists():
            raise ConfigError("run_dir", f"{source} is neither a garay run (no best.json) nor a garay-best retrain "
                                         f"folder (no {MODEL_JSON})")
        if not retrain:
            raise ConfigError("retrain", f"{source} has no trained model: `garay-best {source}` trains one "
                                         "(saving its weights), then export again; or leave retrain=true")
        return None
    info = json.loads((trained / MODEL_JSON).read_text())
    if "preprocess" not in info:
        raise ConfigError("run_dir", f"{trained} was retrained by an earlier garay that did not save its input "
                                     f"pipeline: run `garay-best {source}` again, then export")
    return trained, info


def export_model(source: Path | str, out: Path | str | None = None, *, retrain: bool = True,
                 repeats: int = 3) -> Path:
    """Write the model package of `source` (a run, or a retrain folder) into `out`
    (default source/model) and return its path. Checks that TorchScript and ONNX give the
    probabilities of training's own pipeline (within GRAPH_TOLERANCE) before the package
    appears."""
    source = Path(source)
    out = Path(out) if out is not None else source / "model"
    if out.exists() and any(out.iterdir()):
        raise ConfigError("out", f"{out} exists and is not empty: choose another out=DIR, or remove it")
    found = _check_source(source, retrain)
    if found is None:
        _retrain(source, repeats)
        found = _check_source(source, retrain=False)
    trained, model = found
    results = json.loads((trained / RETRAIN_JSON).read_text())
    # Written beside OUT, then renamed: a failure leaves no half-written package.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would make the package private
    try:
        checks = _write_networks(staging, trained / model["weights"], model)
        model["preprocess"] = {**model["preprocess"], "graph_input": checks["graph_input"]}
        (staging / PREPROCESS).write_text(json.dumps(model["preprocess"], indent=2) + "\n")
        (staging / CLASSES).write_text(json.dumps(model["classes"]) + "\n")
        import garay

        kept = ("hash", "source", "val_accuracy", "test_accuracy", "fitness", "train", "selection_bias", "shortfall")
        card = {"garay_version": garay.__version__, "exported_from": str(trained), **model, "weights": WEIGHTS,
                "retrain": {k: results[k] for k in kept if k in results}, "export_check": checks}
        (staging / CARD_DATA).write_text(json.dumps(card, indent=2) + "\n")
        write_card(staging, model, results, _files(checks["graph_input"]))
        if out.exists():
            out.rmdir()  # empty (checked above)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _probe(pre: Any, model: dict[str, Any]) -> np.ndarray:
    """Fitted waves to check the exported graph on: synthetic recordings, and up to 32 of
    the training folder's own files when it is still there."""
    import itertools

    from garay.serve.graph import probe_waves

    waves = [probe_waves(pre)]
    root = (model.get("data") or {}).get("root")
    if root and Path(root).is_dir():
        files = list(itertools.islice((f for f in sorted(Path(root).rglob("*.wav")) if f.is_file()), 32))
        real, _ = pre.waves_from_files(files)
        waves.append(real)
    return np.concatenate(waves)


def _write_networks(out: Path, weights: Path, model: dict[str, Any]) -> dict[str, Any]:
    """weights.npz, TorchScript and ONNX in `out`; returns what the check measured: the
    graph's input ("waves" when the features fit inside it within GRAPH_TOLERANCE, else
    "features"), and the largest difference of each exported file's probabilities from
    training's pipeline (raises above GRAPH_TOLERANCE)."""
    import torch

    from garay.execution.weights import load_weights
    from garay.search.genome import Genome
    from garay.serve.graph import GRAPH_TOLERANCE, build
    from garay.serve.preprocess import Preprocess

    pre = Preprocess.from_dict(model["preprocess"])
    net = load_weights(Genome.from_dict(model["genome"]), pre.input_shape, len(model["classes"]), weights,
                       int(model.get("conv_dim", 1)))
    shutil.copyfile(weights, out / WEIGHTS)
    checks: dict[str, Any] = {}
    if pre.features is not None:
        probe = torch.from_numpy(_probe(pre, model))
        with torch.inference_mode():
            want = torch.softmax(net(torch.from_numpy(pre.features_of(probe.numpy()))), dim=1).numpy()
            in_graph = build(net, pre, "waves")(probe).numpy()
        checks["features_in_graph_max_abs_diff"] = float(np.abs(in_graph - want).max())
        takes = "waves" if checks["features_in_graph_max_abs_diff"] <= GRAPH_TOLERANCE else "features"
        if takes == "features":
            print(f"garay-export: the features computed in the graph (float32) move the probabilities by "
                  f"{checks['features_in_graph_max_abs_diff']:.1e} (> {GRAPH_TOLERANCE:g}); the graphs take "
                  "standardised features, computed in numpy as in training", flush=True)
            probe = torch.from_numpy(pre.features_of(probe.numpy()))
    else:
        takes = "features"
        probe = torch.randn(32, *pre.input_shape, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            want = torch.softmax(net(probe), dim=1).numpy()
    graph = build(net, pre, takes)
    with torch.inference_mode():
        scripted = torch.jit.trace(graph, probe[:2], check_trace=False)
    scripted.save(str(out / TORCHSCRIPT))
    _export_onnx(graph, probe[:2], out / ONNX_FILE, takes)
    with torch.inference_mode():
        ts = torch.jit.load(str(out / TORCHSCRIPT))(probe).numpy()
    import onnxruntime as ort

    session = ort.InferenceSession(str(out / ONNX_FILE), providers=["CPUExecutionProvider"])
    onnx = session.run(["probabilities"], {takes: probe.numpy()})[0]
    checks.update({"graph_input": takes, "torchscript_max_abs_diff": float(np.abs(ts - want).max()),
                   "onnx_max_abs_diff": float(np.abs(onnx - want).max()), "probe_examples": len(probe)})
    for name in ("torchscript", "onnx"):
        if checks[f"{name}_max_abs_diff"] > GRAPH_TOLERANCE:
            raise RuntimeError(f"the exported {name} model's probabilities differ from the network's by "
                               f"{checks[f'{name}_max_abs_diff']:.2e} (more than {GRAPH_TOLERANCE:g}); nothing was "
                               "written")
    return checks


def _export_onnx(module: Any, example: Any, path: Path, takes: str) -> None:
    import torch

    try:
        import onnx  # noqa: F401 - the exporter writes through it
    except ImportError as exc:
        raise ConfigError("garay-export", "ONNX export needs onnx, onnxruntime and onnxscript (make install has "
                                          "them; elsewhere pip install onnx onnxruntime onnxscript)") from exc
    import logging
    import warnings

    batch = torch.export.Dim("batch", min=1)
    # The exporter's chatter (torchvision ops it skips, pytree deprecations) says nothing
    # about this model; what matters is checked after (_write_networks).
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            # external_data=False: one self-contained model.onnx (the weights inside, not
            # in a model.onnx.data beside it that a copy could leave behind)
            torch.onnx.export(module, (example,), str(path), input_names=[takes], output_names=["probabilities"],
                              dynamic_shapes={_arg_name(module): {0: batch}}, opset_version=OPSET, dynamo=True,
                              external_data=False, verbose=False)
    finally:
        quiet.setLevel(level)


def _arg_name(module: Any) -> str:
    """The forward argument's name (dynamic_shapes is keyed by it)."""
    import inspect

    return next(iter(inspect.signature(module.forward).parameters))


def settings() -> list[Any]:
    """garay-export's keys for its help, as garay.config.reference.Key rows (name, type,
    default, allowed values, meaning); `_parse` reads them."""
    from garay.config.reference import Key

    return [Key("run_dir", "str", "RUN_DIR", (), "A garay run, or a garay-best retrain folder (or the first "
                                                 "argument)."),
            Key("out", "str or null", "null", (), "Where the package goes; null: RUN_DIR/model. Must not exist, or be "
                                                  "empty."),
            Key("repeats", "int", "3", (), "Retrainings when the run has no saved weights yet (as garay-best's)."),
            Key("retrain", "bool", "true", ("true", "false"), "false: refuse a run without saved weights rather "
                                                              "than retrain it first.")]


def help_text() -> str:
    """What `garay-export --help` prints (garay.help renders it in the docs too)."""
    import garay
    from garay.config.reference import commands_text, key_lines

    body = __doc__.split("\n\n", 1)[1]  # the package's files, and where the model comes from
    return "\n".join([
        f"garay-export {garay.__version__}: the network a run found as one folder that runs without garay's search",
        "(a model package: TorchScript, ONNX, weights, preprocessing, labels, model card).",
        "", "usage:",
        "  garay-export RUN_DIR [out=DIR] [repeats=N] [retrain=false]",
        "  garay-export --help | --version",
        "", "examples:",
        "  garay-export outputs/DATE/TIME                      its newest retrain with weights, else retrain",
        "  garay-export outputs/DATE/TIME/retrain/DATE_TIME    one garay-best retrain folder",
        "  garay-export outputs/DATE/TIME out=models/digits retrain=false",
        "", "its keys:", *key_lines(settings()),
        "", "the package:", body.rstrip(),
        "", "Then classify files: garay-predict OUT FILE.wav (or garay.load_model(OUT) in Python).",
        "", commands_text("garay-export")]) + "\n"


def _parse(argv: Sequence[str]) -> dict[str, Any]:
    args: dict[str, Any] = {"out": None, "retrain": True, "repeats": 3}
    positional = []
    for a in argv:
        key, eq, value = a.partition("=")
        if not eq:
            positional.append(a)
        elif key in ("out", "run_dir"):
            args[key] = value
        elif key == "repeats":
            if not value.isdigit() or int(value) < 1:
                raise ConfigError("repeats", f"must be a whole number, at least 1; got {value!r}")
            args["repeats"] = int(value)
        elif key == "retrain":
            if value.lower() not in ("true", "false"):
                raise ConfigError("retrain", f"must be true or false, got {value!r}")
            args["retrain"] = value.lower() == "true"
        else:
            raise ConfigError(key, "is not a garay-export setting; allowed: run_dir (or the first argument), "
                                   "out, repeats, retrain")
    if len(positional) + ("run_dir" in args) != 1:
        raise ConfigError("run_dir", "give one run (or retrain folder): garay-export RUN_DIR [out=DIR]")
    args["run_dir"] = args.get("run_dir") or positional[0]
    return args


@reader_may_leave()
def main(argv: Sequence[str] | None = None) -> None:
    """The `garay-export` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--version" in argv:
        import garay

        print(f"garay {garay.__version__}")
        raise SystemExit(0)
    if not argv or "-h" in argv or "--help" in argv:
        print(help_text(), end="")
        raise SystemExit(0 if argv else 2)
    try:
        args = _parse(argv)
        out = export_model(args["run_dir"], args["out"], retrain=args["retrain"], repeats=args["repeats"])
    except ConfigError as exc:
        print(f"garay-export: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    info = json.loads((out / CARD_DATA).read_text())
    check = info["export_check"]
    inside = "with the features inside, " if check["graph_input"] == "waves" else ""
    print(f"model package: {out}\n  validation accuracy {info['val_accuracy']:.4f}, test accuracy "
          f"{info['test_accuracy']:.4f}; TorchScript and ONNX ({inside}input `{check['graph_input']}`) match "
          f"training's pipeline within {max(check['torchscript_max_abs_diff'], check['onnx_max_abs_diff']):.1e} "
          f"on {check['probe_examples']} probe inputs\n"
          f"  classify a file: garay-predict {out} FILE.wav")
    if info.get("predicts_one_class"):
        print(f"garay-export: warning: this network predicts {info['predicts_one_class']!r} for every validation and "
              "test example: its training collapsed (see MODEL.md); retrain with more data or epochs", file=sys.stderr)


if __name__ == "__main__":
    main()
