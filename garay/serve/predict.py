"""`garay-predict MODEL_DIR FILE_OR_FOLDER... [--format text|csv|json] [--backend torch|torchscript|onnx]`:
classify audio files with a model package (garay-export), decoded, featurised and
standardised exactly as in training. One line per file (path, label, probability), or CSV
or JSON. A file that cannot be read or decoded gets one line on stderr naming it; the
others are still predicted, and the exit status is 1. Folders are searched for audio
files (recursively). The onnx backend needs no torch.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Sequence

BACKENDS = ("torch", "torchscript", "onnx")  # garay.serve.model.BACKENDS (imported lazily: torch)
FORMATS = ("text", "csv", "json")
# Taken from a folder: what soundfile (libsndfile) decodes. A file named on the command
# line is tried whatever its name.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64")
PROGRESS_FROM = 200  # files: a progress bar on stderr from this many on


def audio_files(targets: Sequence[str]) -> list[Path]:
    """The files named, and the audio files under the folders named, in order."""
    from garay.data.folder import visible_files  # as data=folder lists a class folder

    out: list[Path] = []
    for t in targets:
        p = Path(t)
        if p.is_dir():
            out += [f for f in visible_files(p) if f.suffix.lower() in AUDIO_EXTENSIONS]
        else:
            out.append(p)  # a missing file is reported as one
    return out


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _load(model_dir: str, backend: str):  # noqa: ANN202 - a Predictor
    if backend == "onnx":  # without importing torch
        from garay.serve.onnx import OnnxModel

        return OnnxModel(model_dir)
    from garay.serve.model import load_model

    return load_model(model_dir, backend)


def build_parser() -> argparse.ArgumentParser:
    """garay-predict's command line; its help is what `garay-predict --help` prints (garay.help)."""
    import garay
    from garay.config.reference import HelpFormatter, commands_text

    ap = argparse.ArgumentParser(
        prog="garay-predict", formatter_class=HelpFormatter,
        description="Classify audio files with a model package written by garay-export: each file decoded,\n"
                    "featurised and standardised as in training. One line a file (path, label, probability),\n"
                    "or CSV or JSON. An unreadable file gets a line on stderr (exit status 1); the rest are\n"
                    "still classified.",
        epilog="examples:\n  garay-predict outputs/DATE/TIME/model seven.wav\n"
               "  garay-predict outputs/DATE/TIME/model recordings/ --format csv > predictions.csv\n\n"
               "Export a model first: garay-export RUN_DIR.\n\n" + commands_text("garay-predict"))
    ap.add_argument("model_dir", help="a model package written by garay-export")
    ap.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER", help="audio files, or folders of them (searched "
                                                                        "recursively)")
    ap.add_argument("--format", choices=FORMATS, default="text", help="text (tab-separated lines), csv or json")
    ap.add_argument("--backend", choices=BACKENDS, default="onnx",
                    help="what runs the network: onnx (ONNX Runtime, the default; no torch needed), torchscript "
                         "or torch")
    ap.add_argument("--batch-size", type=_positive, default=64, help="files decoded and classified at a time "
                                                                      "(default 64)")
    ap.add_argument("--version", action="version", version=f"garay {garay.__version__}")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """The `garay-predict` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        model = _load(args.model_dir, args.backend)
    except (FileNotFoundError, ImportError, ValueError) as exc:
        print(f"garay-predict: {exc}", file=sys.stderr)
        return 2
    if model.preprocess.features is None:
        print(f"garay-predict: {args.model_dir} was trained on given features (data=npz or data.loader), not "
              "audio: use garay.load_model(...).predict_features(X) from Python", file=sys.stderr)
        return 2
    files = audio_files(args.inputs)
    if not files:
        print(f"garay-predict: no audio files in {' '.join(args.inputs)}", file=sys.stderr)
        return 2
    from garay.progress import progress_bar

    bar = progress_bar(len(files), "classifying", len(files) >= PROGRESS_FROM, unit="file")
    start = time.perf_counter()
    try:
        predictions = model.predict_files(files, batch=args.batch_size, on_batch=bar.update)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    bad = [p for p in predictions if p.error]
    for p in bad:
        print(f"garay-predict: {p.path}: {p.error}", file=sys.stderr)
    good = [p for p in predictions if not p.error]
    _write(good, model.classes, args.format)
    if len(files) >= PROGRESS_FROM:
        print(f"garay-predict: {len(good)} files classified in {seconds:.1f} s ({len(good) / seconds:.0f} files/s)"
              + (f"; {len(bad)} could not be read" if bad else ""), file=sys.stderr)
    return 1 if bad else 0


def _write(predictions: list, classes: Sequence[str], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        json.dump([p.to_dict(classes) for p in predictions], out, indent=1)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(["path", "label", "probability", *(f"p_{c}" for c in classes)])
        for p in predictions:
            w.writerow([p.path, p.label, f"{p.probability:.6f}", *(f"{v:.6f}" for v in p.probabilities)])
    else:
        for p in predictions:
            out.write(f"{p.path}\t{p.label}\t{p.probability:.4f}\n")


def cli() -> None:
    """The `garay-predict` command."""
    from garay.errors import reader_may_leave

    with reader_may_leave():
        raise SystemExit(main())


if __name__ == "__main__":
    cli()
