"""Shared set-up for the benchmark scripts (not timed tests: each prints ratios measured
in one run)."""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from garay.search.blueprint import Blueprint, sample_genome
from garay.data.dataset import Dataset
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.search.genome import Genome
from garay.search.shapes import is_valid


def valid_genomes(n: int, input_shape: tuple[int, int], num_classes: int = 10, seed: int = 0) -> list[Genome]:
    """`n` distinct genomes that fit the input, drawn like an initial population."""
    rng = np.random.default_rng(seed)
    out: dict[str, Genome] = {}
    while len(out) < n:
        g = sample_genome(Blueprint(), 0.8, rng)
        if is_valid(g, input_shape, num_classes):
            out[g.hash] = g
    return list(out.values())


@contextmanager
def timed(label: str, store: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    store[label] = time.perf_counter() - start
    print(f"  {label}: {store[label]:.2f} s", flush=True)


def real_workload(default_genomes: int, seed: int = 0) -> tuple[Dataset, TrainSettings, list[Genome]]:
    """The shared real-training workload (`--genomes`, `--epochs`): the default synthetic
    set, its training settings, and distinct valid genomes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--genomes", type=int, default=default_genomes)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    data = make_synthetic()
    genomes = valid_genomes(args.genomes, data.input_shape, seed=seed)
    print(f"{len(genomes)} genomes, {args.epochs} epochs, {data.sizes()['train']} training examples")
    return data, TrainSettings(epochs=args.epochs), genomes
