"""Predictions per second of an exported model package, per backend (torch, TorchScript,
ONNX Runtime), measured in one run on this machine:

- the graph alone, in batches of 64 and one example at a time (a service answering single
  requests): for torch the network on standardised features (the features computed
  apart, in numpy), for TorchScript and ONNX the exported graph on decoded waves (its
  features inside);
- end to end: WAV files read, decoded, featurised and standardised, then classified
  (garay-predict's path), where the features dominate.

    python benchmarks/predict.py MODEL_DIR FILE_OR_FOLDER... [--seconds 3]

Each figure is the best of --rounds timed rounds of about --seconds each. Threads: torch
and ONNX Runtime each use their default (all cores); --threads N sets both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np

from garay.serve.model import load_model
from garay.serve.predict import audio_files


def rate(fn: Callable[[], int], seconds: float, rounds: int) -> float:
    """Items a second: the best of `rounds` rounds, each calling fn (which returns how many
    items it did) until `seconds` have passed."""
    fn()  # warm-up: first-call allocations, lazy initialisation
    best = 0.0
    for _ in range(rounds):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            done += fn()
        best = max(best, done / elapsed)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("inputs", nargs="+", help="WAV files or folders (end-to-end rate)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    files = audio_files(args.inputs)
    models = {"torch": load_model(args.model_dir, "torch"), "torchscript": load_model(args.model_dir, "torchscript"),
              "onnx": load_model(args.model_dir, "onnx")}
    if args.threads:
        from garay.serve.onnx import OnnxModel

        models["onnx"] = OnnxModel(args.model_dir, threads=args.threads)
    x, errors = models["torch"].preprocess.from_files(files[:64])
    if len(x) < 64 or any(errors):
        raise SystemExit("give at least 64 audio files that decode")
    waves, _ = models["torch"].preprocess.waves_from_files(files[:64])
    print(f"model {args.model_dir}: input {tuple(x.shape[1:])}, {len(files)} files; torch threads "
          f"{torch.get_num_threads()}")
    rows = []
    for name, m in models.items():
        # each backend's own input: features for torch, waves for a graph with the features inside
        inp = waves if m.takes == "waves" else x
        batched = rate(lambda m=m, inp=inp: len(m.probabilities(inp)), args.seconds, args.rounds)
        single = rate(lambda m=m, inp=inp: len(m.probabilities(inp[:1])), args.seconds, args.rounds)
        files_s = rate(lambda m=m: len(m.predict_files(files)), args.seconds, 1)
        rows.append((name, batched, single, files_s))
        print(f"  {name}: done", flush=True)
    base = dict((r[0], r) for r in rows)["torch"]
    print("\nbackend       graph, batch 64     graph, 1 at a time     files end to end (decode+features+network)")
    for name, batched, single, files_s in rows:
        print(f"{name:<12} {batched:>9,.0f} /s ({batched / base[1]:.2f}x) {single:>9,.0f} /s ({single / base[2]:.2f}x)"
              f" {files_s:>9,.0f} files/s ({files_s / base[3]:.2f}x)")
    print("(ratios: against torch eager in this run)")


if __name__ == "__main__":
    main()
