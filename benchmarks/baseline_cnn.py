"""For scale: a fixed small CNN (two conv layers, one dense) trained on the same data with
the same settings as `make run`, next to what evolution finds.

    python benchmarks/baseline_cnn.py [overrides, e.g. data=fsdd data.root=...]
"""

from __future__ import annotations

import sys

import torch

from garay.cli import register_configs  # noqa: F401 - structured configs
from garay.data import load_dataset
from garay.execution.evaluation import TrainSettings, evaluation_seed
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.execution.train import train_and_score

SMALL_CNN = Genome((ConvGene(32, 5, 1, 1, 2, "relu"), ConvGene(64, 3, 1, 1, 2, "relu"), DenseGene(64, "relu", 0.2)))


def main(overrides: list[str]) -> None:
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    torch.set_num_threads(cfg.cluster.cpus_per_worker)
    data = load_dataset(cfg.data)
    settings = TrainSettings(epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, lr=cfg.train.lr,
                             noise_level=cfg.train.noise_level)
    print(f"data {data.name} {data.sizes()}, {settings.epochs} epochs; genome {SMALL_CNN.describe()}")
    vals, tests = [], []
    for repeat in range(3):
        ev = train_and_score(SMALL_CNN, data, settings, "cpu", evaluation_seed(0, SMALL_CNN.hash, repeat))
        vals.append(ev.val_accuracy)
        tests.append(ev.test_accuracy)
        print(f"  repeat {repeat}: val {ev.val_accuracy:.4f} test {ev.test_accuracy:.4f} ({ev.seconds:.1f} s)")
    print(f"fixed small CNN: val {sum(vals) / 3:.4f}, test {sum(tests) / 3:.4f} (mean of 3)")


if __name__ == "__main__":
    main(sys.argv[1:])
