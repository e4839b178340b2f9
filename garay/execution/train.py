"""Train one genome's network and score it: the unit of work a worker runs."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from garay import plugins
from garay.data.dataset import Dataset
from garay.execution.augment import augment
from garay.execution.evaluation import Evaluation, TrainSettings, training_seed
from garay.search.genome import Genome
from garay.execution.model import build_model, count_parameters



def mean_curve(curves: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The epoch-wise mean of several trainings' curves (over their common length)."""
    if not curves:
        return ()
    n = min(len(c) for c in curves)
    return tuple(float(np.mean([c[i] for c in curves])) for i in range(n))


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
        # The standardisation the features went through (the mel-axis warp undoes it); None
        # for a Dataset made by hand without it.
        self.mean = put(data.mean, torch.float32) if data.mean is not None else None
        self.std = put(data.std, torch.float32) if data.std is not None else None


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Predicted class of every example (eval mode, then back to train mode)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[s:s + batch_size]).argmax(dim=1) for s in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size])
        correct += (logits.argmax(dim=1) == y[start:start + batch_size]).sum()
    model.train()
    return correct.item() / max(len(y), 1)


@torch.no_grad()
def latency_ms(model: nn.Module, x: torch.Tensor, repeats: int = 30) -> float:
    """Median milliseconds to classify one example (a batch of one, eval mode) on the
    model's device, after a warm-up. A deployment's latency, measured where the worker is
    (other workers on the same machine make it noisier)."""
    model.eval()
    sample, cuda = x[:1], x.device.type == "cuda"
    times = []
    for n in range(repeats + 5):
        if cuda:
            torch.cuda.synchronize(x.device)
        t0 = time.perf_counter()
        model(sample)
        if cuda:
            torch.cuda.synchronize(x.device)
        if n >= 5:
            times.append(time.perf_counter() - t0)
    model.train()
    return 1000 * statistics.median(times)


@dataclass
class TrainingState:
    """One training paused after `epoch` epochs, to be continued later (early stopping's
    rungs): weights, optimizer, both random generators, and the curve so far. Continuing
    from it gives exactly what training straight through gives (on CPU, bit for bit), so
    a lost state costs only time: training again from the seed reaches the same numbers.
    Tensors are on the CPU, so a state can travel through Ray's object store."""

    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    generator: torch.Tensor  # batch order and noise
    torch_rng: torch.Tensor  # the global generator: weight init and dropout draw from it
    cuda_rng: torch.Tensor | None
    curve: list[float]
    losses: list[float]
    seconds: float


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def evaluate_genome(
    genome: Genome, rounds: Sequence[DeviceData | Dataset], settings: TrainSettings, device: str | torch.device,
    seed: int, *, until: int | None = None, states: Sequence[TrainingState] | None = None,
) -> tuple[Evaluation, list[TrainingState] | None]:
    """A genome's fitness: trained `settings.repeats` times on each validation round (the
    first round is the split itself), fitness the mean validation accuracy over all of
    them, test accuracy the mean test accuracy, the curve the epoch-wise mean. One
    training: `train_and_score` exactly. The first training that does not end `ok` ends
    the evaluation with its status.

    `until` < settings.epochs trains only that far (a rung) and also returns the states to
    continue from; `states` (from such a call) continues instead of starting afresh."""
    start = time.perf_counter()
    runs, out_states = [], []
    k = 0
    for r, data in enumerate(rounds):
        for j in range(settings.repeats):
            state = states[k] if states is not None and k < len(states) else None
            ev, _, new_state = train_model(genome, data, settings, device, training_seed(seed, r, j),
                                           until=until, state=state)
            k += 1
            if ev.status != "ok":
                return replace(ev, seconds=time.perf_counter() - start,
                               val_scores=tuple(e.val_accuracy for e in runs)), None
            runs.append(ev)
            out_states.append(new_state)
    keep = out_states if all(s is not None for s in out_states) else None
    if len(runs) == 1:
        return replace(runs[0], val_scores=(runs[0].fitness,), seconds=time.perf_counter() - start), keep
    val = statistics.fmean(e.val_accuracy for e in runs)
    test = statistics.fmean(e.test_accuracy for e in runs)
    metrics = ((statistics.fmean(e.val_metric for e in runs), statistics.fmean(e.test_metric for e in runs))
               if settings.metric is not None else (None, None))
    latency = statistics.median(e.latency_ms for e in runs) if runs[0].latency_ms is not None else None
    return Evaluation(statistics.fmean(e.fitness for e in runs), val, test, "ok", None, time.perf_counter() - start,
                      runs[0].params, runs[0].epochs, tuple(e.fitness for e in runs), mean_curve([e.curve for e in runs]),
                      mean_curve([e.losses for e in runs]), *metrics, latency), keep


def train_and_score(
    genome: Genome, data: DeviceData | Dataset, settings: TrainSettings, device: str | torch.device, seed: int
) -> Evaluation:
    """Train `genome` with Adam on the training split, adding fresh Gaussian noise of std
    `settings.noise_level` to every batch of every epoch (the study's augmentation; the
    others of `settings.augment` before it: garay.execution.augment), then
    score validation (fitness) and test accuracy. Never raises for a bad genome: a NaN/inf
    loss ends as `diverged`, any exception as `failed`, an overrun as `timeout`."""
    return train_model(genome, data, settings, device, seed)[0]


def train_model(
    genome: Genome, data: DeviceData | Dataset, settings: TrainSettings, device: str | torch.device, seed: int,
    *, until: int | None = None, state: TrainingState | None = None,
) -> tuple[Evaluation, nn.Module | None, TrainingState | None]:
    """`train_and_score`, also returning the trained model (None unless `ok`) and, when
    training stopped at `until` before settings.epochs, the state to continue from.
    Validation accuracy and mean training loss are recorded after every epoch (the
    learning curve); evaluating does not touch any random generator, so the curve costs
    one validation pass per epoch and changes nothing in the training."""
    start = time.perf_counter()
    settings = settings.for_recipe(genome.recipe)  # a genome's training genes, when it has them
    if not isinstance(data, DeviceData):
        data = DeviceData(data, device)
    target = settings.epochs if until is None else min(until, settings.epochs)
    params = 0
    epochs_done = 0
    curve: list[float] = []
    losses: list[float] = []
    spent_before = 0.0

    def result(status: str, error: str | None, val: float = 0.0, test: float = 0.0,
               metrics: tuple[float, float] | None = None) -> Evaluation:
        fitness = (val if metrics is None else metrics[0]) if status == "ok" else 0.0
        return Evaluation(fitness, val, test, status, error, time.perf_counter() - start, params, epochs_done,
                          (), tuple(curve), tuple(losses), *(metrics or (None, None)))

    try:
        torch.manual_seed(seed)
        gen = torch.Generator(device=data.device).manual_seed(seed)
        model = build_model(genome, data.input_shape, data.num_classes, settings.conv_dim).to(data.device)
        params = count_parameters(model)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        if state is not None:
            model.load_state_dict(state.model)
            opt.load_state_dict(state.optimizer)
            gen.set_state(state.generator)
            torch.set_rng_state(state.torch_rng)
            if state.cuda_rng is not None and data.device.type == "cuda":
                torch.cuda.set_rng_state(state.cuda_rng, data.device)
            epochs_done, spent_before = state.epoch, state.seconds
            curve, losses = list(state.curve), list(state.losses)
        loss_fn = nn.CrossEntropyLoss()
        augmenting = settings.augment.active
        n = len(data.y_train)
        batches = max(1, math.ceil(n / settings.batch_size))
        while epochs_done < target:
            order = torch.randperm(n, generator=gen, device=data.device)
            epoch_loss = torch.zeros((), device=data.device)
            for b in range(0, n, settings.batch_size):
                idx = order[b:b + settings.batch_size]
                x, y, mix = data.x_train[idx], data.y_train[idx], None
                if augmenting:
                    x, mix = augment(x, settings.augment, gen, mean=data.mean, std=data.std)
                if settings.noise_level > 0:
                    x = x + settings.noise_level * torch.randn(
                        x.shape, generator=gen, device=data.device, dtype=x.dtype
                    )
                logits = model(x)
                loss = loss_fn(logits, y) if mix is None else mix.loss(loss_fn, logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                epoch_loss += loss.detach()
            epochs_done += 1
            # One host sync per epoch, not per batch: NaN/inf anywhere poisons the sum.
            mean_loss = epoch_loss.item() / batches
            if not math.isfinite(mean_loss):
                return result("diverged", f"loss became non-finite in epoch {epochs_done}"), None, None
            losses.append(mean_loss)
            curve.append(accuracy(model, data.x_val, data.y_val))
            if settings.timeout_s is not None and spent_before + time.perf_counter() - start > settings.timeout_s:
                return result("timeout", f"exceeded train.timeout_s={settings.timeout_s}"), None, None
        val, test = curve[-1], accuracy(model, data.x_test, data.y_test)  # train.epochs >= 1: a curve
        paused = None
        if epochs_done < settings.epochs:
            cuda_rng = torch.cuda.get_rng_state(data.device) if data.device.type == "cuda" else None
            paused = TrainingState(epochs_done, _to_cpu(model.state_dict()), _to_cpu(opt.state_dict()),
                                   gen.get_state(), torch.get_rng_state(), cuda_rng, list(curve), list(losses),
                                   spent_before + time.perf_counter() - start)
        metrics = None
        if settings.metric is not None:  # one host copy of the predictions per training, not per batch
            metric = plugins.cached(settings.metric)
            metrics = (float(metric(data.y_val.cpu().numpy(), predict(model, data.x_val).cpu().numpy())),
                       float(metric(data.y_test.cpu().numpy(), predict(model, data.x_test).cpu().numpy())))
        ev = result("ok", None, val, test, metrics)
        if settings.latency and paused is None:
            ev = replace(ev, latency_ms=latency_ms(model, data.x_val))
        return ev, model, paused
    except Exception as exc:  # noqa: BLE001 - any failure of one genome must not end the run
        return result("failed", f"{type(exc).__name__}: {exc}"), None, None
