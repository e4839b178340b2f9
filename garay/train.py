"""Train one genome's network and score it: the unit of work a worker runs."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace
from typing import Sequence

import torch
from torch import nn

from garay.data.dataset import Dataset
from garay.evaluation import Evaluation, TrainSettings, training_seed
from garay.genome import Genome
from garay.model import build_model, count_parameters


class DeviceData:
    """The dataset as tensors on one device, moved there once per worker."""

    def __init__(self, data: Dataset, device: torch.device | str):
        self.device = torch.device(device)
        self.input_shape = data.input_shape
        self.num_classes = data.num_classes

        def put(x, dtype):
            # A copy: arrays from the object store are read-only, and the copy happens once.
            return torch.tensor(x, dtype=dtype, device=self.device)

        self.x_train, self.y_train = put(data.x_train, torch.float32), put(data.y_train, torch.long)
        self.x_val, self.y_val = put(data.x_val, torch.float32), put(data.y_val, torch.long)
        self.x_test, self.y_test = put(data.x_test, torch.float32), put(data.y_test, torch.long)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size])
        correct += (logits.argmax(dim=1) == y[start:start + batch_size]).sum()
    model.train()
    return correct.item() / max(len(y), 1)


def evaluate_genome(
    genome: Genome, rounds: Sequence[DeviceData | Dataset], settings: TrainSettings, device: str | torch.device,
    seed: int
) -> Evaluation:
    """A genome's fitness: trained `settings.repeats` times on each validation round (the
    first round is the split itself), fitness the mean validation accuracy over all of
    them, test accuracy the mean test accuracy. One training: `train_and_score` exactly.
    The first training that does not end `ok` ends the evaluation with its status."""
    start = time.perf_counter()
    runs = []
    for r, data in enumerate(rounds):
        for j in range(settings.repeats):
            ev = train_and_score(genome, data, settings, device, training_seed(seed, r, j))
            if ev.status != "ok":
                return replace(ev, seconds=time.perf_counter() - start, val_scores=tuple(e.val_accuracy for e in runs))
            runs.append(ev)
    if len(runs) == 1:
        return replace(runs[0], val_scores=(runs[0].val_accuracy,))
    val = statistics.fmean(e.val_accuracy for e in runs)
    test = statistics.fmean(e.test_accuracy for e in runs)
    return Evaluation(val, val, test, "ok", None, time.perf_counter() - start, runs[0].params, runs[0].epochs,
                      tuple(e.val_accuracy for e in runs))


def train_and_score(
    genome: Genome, data: DeviceData | Dataset, settings: TrainSettings, device: str | torch.device, seed: int
) -> Evaluation:
    """Train `genome` with Adam on the training split, adding fresh Gaussian noise of std
    `settings.noise_level` to every batch of every epoch (the study's augmentation), then
    score validation (fitness) and test accuracy. Never raises for a bad genome: a NaN/inf
    loss ends as `diverged`, any exception as `failed`, an overrun as `timeout`."""
    return train_model(genome, data, settings, device, seed)[0]


def train_model(
    genome: Genome, data: DeviceData | Dataset, settings: TrainSettings, device: str | torch.device, seed: int
) -> tuple[Evaluation, nn.Module | None]:
    """`train_and_score`, also returning the trained model (None unless `ok`)."""
    start = time.perf_counter()
    if not isinstance(data, DeviceData):
        data = DeviceData(data, device)
    params = 0
    epochs_done = 0

    def result(status: str, error: str | None, val: float = 0.0, test: float = 0.0) -> Evaluation:
        fitness = val if status == "ok" else 0.0
        return Evaluation(fitness, val, test, status, error, time.perf_counter() - start, params, epochs_done)

    try:
        torch.manual_seed(seed)
        gen = torch.Generator(device=data.device).manual_seed(seed)
        model = build_model(genome, data.input_shape, data.num_classes, settings.conv_dim).to(data.device)
        params = count_parameters(model)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        loss_fn = nn.CrossEntropyLoss()
        n = len(data.y_train)
        for _ in range(settings.epochs):
            order = torch.randperm(n, generator=gen, device=data.device)
            epoch_loss = torch.zeros((), device=data.device)
            for b in range(0, n, settings.batch_size):
                idx = order[b:b + settings.batch_size]
                x = data.x_train[idx]
                if settings.noise_level > 0:
                    x = x + settings.noise_level * torch.randn(
                        x.shape, generator=gen, device=data.device, dtype=x.dtype
                    )
                loss = loss_fn(model(x), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                epoch_loss += loss.detach()
            epochs_done += 1
            # One host sync per epoch, not per batch: NaN/inf anywhere poisons the sum.
            if not math.isfinite(epoch_loss.item()):
                return result("diverged", f"loss became non-finite in epoch {epochs_done}"), None
            if settings.timeout_s is not None and time.perf_counter() - start > settings.timeout_s:
                return result("timeout", f"exceeded train.timeout_s={settings.timeout_s}"), None
        val, test = accuracy(model, data.x_val, data.y_val), accuracy(model, data.x_test, data.y_test)
        return result("ok", None, val, test), model
    except Exception as exc:  # noqa: BLE001 - any failure of one genome must not end the run
        return result("failed", f"{type(exc).__name__}: {exc}"), None
