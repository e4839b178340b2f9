"""Augmentations of a training batch, on the worker's device: SpecAugment-style masks, a
time shift, a warp of the mel axis, and mixup (`train.augment`).

Each works on the whole batch at once, examples shaped (channels, frames) as the dataset
holds them, with tensor ops only: nothing is copied to the host, and nothing is drawn when
an augmentation is off, so a run without augmentation trains bit for bit as before. The
random draws come from the training's own generator (mixup's Beta draw from torch's global
one, whose state early stopping saves as well), so a seed gives the same batches on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from garay.execution.evaluation import Augmentation


@dataclass(frozen=True)
class Mix:
    """A mixup batch: each example is `lam` of itself and `1 - lam` of example `perm`."""

    perm: torch.Tensor
    lam: float

    def loss(self, loss_fn: nn.Module, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mixed targets' loss: the same mix of the two labels' losses."""
        return self.lam * loss_fn(logits, y) + (1.0 - self.lam) * loss_fn(logits, y[self.perm])


def augment(x: torch.Tensor, aug: Augmentation, gen: torch.Generator, *, mean: torch.Tensor | None = None,
            std: torch.Tensor | None = None) -> tuple[torch.Tensor, Mix | None]:
    """The batch `x` (examples, channels, frames) augmented as `aug` says: warp, shift,
    frequency masks, time masks, then mixup. `mean` and `std` (1, channels, 1) are the
    standardisation the features went through: the warp moves unstandardised log-mel
    energies between bands, not z-scores of other bands."""
    if aug.warp:
        x = warp_channels(x, aug.warp, gen, mean=mean, std=std)
    if aug.shift:
        x = shift_time(x, aug.shift, gen)
    if aug.freq_masks and aug.freq_width:
        x = mask(x, 1, aug.freq_masks, aug.freq_width, gen)
    if aug.time_masks and aug.time_width:
        x = mask(x, 2, aug.time_masks, aug.time_width, gen)
    mix = None
    if aug.mixup:
        lam = float(torch.distributions.Beta(aug.mixup, aug.mixup).sample())
        perm = torch.randperm(len(x), generator=gen, device=x.device)
        x = lam * x + (1.0 - lam) * x[perm]
        mix = Mix(perm, lam)
    return x, mix


def mask(x: torch.Tensor, axis: int, count: int, width: int, gen: torch.Generator) -> torch.Tensor:
    """SpecAugment's masks: `count` stretches per example along `axis` (1: channels, 2:
    frames), each of a width drawn from 0..width and a start drawn uniformly where it
    fits, set to 0 (the training set's mean once standardised)."""
    b, size = len(x), x.shape[axis]
    widths = torch.randint(0, width + 1, (b, count), generator=gen, device=x.device).clamp(max=size)
    starts = (torch.rand((b, count), generator=gen, device=x.device) * (size - widths + 1)).long()
    pos = torch.arange(size, device=x.device).view(1, 1, size)
    hit = ((pos >= starts.unsqueeze(-1)) & (pos < (starts + widths).unsqueeze(-1))).any(dim=1)  # (b, size)
    return x.masked_fill(hit.view(b, size, 1) if axis == 1 else hit.view(b, 1, size), 0.0)


def shift_time(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Each example moved by a whole number of frames drawn from [-k, k], k = fraction of
    its frames; frames moved in from outside are 0."""
    b, c, t = x.shape
    k = int(fraction * t)
    if k < 1:
        return x
    shifts = torch.randint(-k, k + 1, (b, 1, 1), generator=gen, device=x.device)
    source = torch.arange(t, device=x.device).view(1, 1, t) - shifts
    inside = (source >= 0) & (source < t)
    return x.gather(2, source.clamp(0, t - 1).expand(b, c, t)) * inside


def warp_channels(x: torch.Tensor, amount: float, gen: torch.Generator, *, mean: torch.Tensor | None = None,
                  std: torch.Tensor | None = None) -> torch.Tensor:
    """A vocal-tract-length-like warp of the mel axis: each example's band c takes the
    energy at band c / alpha (linearly interpolated, clamped at the edges), alpha drawn
    uniformly from [1 - amount, 1 + amount]; alpha > 1 moves the spectrum up, as a shorter
    vocal tract does. Done on unstandardised values when `mean` and `std` are given."""
    b, c, t = x.shape
    if mean is not None and std is not None:
        x = x * std + mean
    alpha = 1.0 + (2.0 * torch.rand((b, 1), generator=gen, device=x.device) - 1.0) * amount
    source = (torch.arange(c, device=x.device, dtype=x.dtype).view(1, c) / alpha).clamp(0, c - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=c - 1)
    frac = (source - low).unsqueeze(-1)
    out = x.gather(1, low.unsqueeze(-1).expand(b, c, t)) * (1 - frac) + x.gather(1, high.unsqueeze(-1).expand(b, c, t)) * frac
    if mean is not None and std is not None:
        out = (out - mean) / std
    return out
