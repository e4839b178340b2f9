"""garay on one Ray worker vs. a plain PyTorch loop training the same genomes in one
process. Goal: ratio at most 1.05 (Ray start-up reported separately).

    python benchmarks/overhead.py [--genomes 12] [--epochs 5]
"""

from __future__ import annotations

import ray
import torch
from torch import nn

from _common import real_workload, timed
from garay.execution.evaluation import TrainSettings
from garay.execution.model import build_model
from garay.execution.scheduler import RayEvaluator
from garay.execution.protocol import Task, evaluate_all


def plain_loop(genomes, data, settings: TrainSettings) -> list[float]:
    """The textbook loop: tensors in memory, Adam, noise on every batch, accuracy on val."""
    torch.set_num_threads(1)
    x, y = torch.tensor(data.x_train), torch.tensor(data.y_train)
    xv, yv = torch.tensor(data.x_val), torch.tensor(data.y_val)
    accs = []
    for i, genome in enumerate(genomes):
        torch.manual_seed(i)
        model = build_model(genome, data.input_shape, data.num_classes)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(settings.epochs):
            order = torch.randperm(len(y))
            for b in range(0, len(y), settings.batch_size):
                idx = order[b:b + settings.batch_size]
                xb = x[idx] + settings.noise_level * torch.randn_like(x[idx])
                loss = loss_fn(model(xb), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            accs.append((model(xv).argmax(1) == yv).float().mean().item())
    return accs


def main() -> None:
    data, settings, genomes = real_workload(12)
    t: dict[str, float] = {}
    with timed("plain PyTorch loop (1 thread)", t):
        plain_loop(genomes, data, settings)
    with timed("Ray start-up", t):
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        ev = RayEvaluator(data, settings, num_workers=1, cpus_per_worker=1)
        ev.wait_ready()
    with timed("garay, 1 Ray worker", t):
        results = list(evaluate_all(ev, [Task(f"t{i}", g, i, 0) for i, g in enumerate(genomes)]))
    assert all(r.evaluation.status == "ok" for r in results)
    ev.close()
    ray.shutdown()
    print(f"overhead ratio (garay 1 worker / plain loop): {t['garay, 1 Ray worker'] / t['plain PyTorch loop (1 thread)']:.3f}"
          "  (goal <= 1.05)")


if __name__ == "__main__":
    main()
