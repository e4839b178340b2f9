"""Trained weights as .npz arrays (numpy, allow_pickle=False): loading never runs code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from garay.search.genome import Genome
from garay.execution.model import build_model


def save_weights(model: nn.Module, path: Path | str) -> None:
    arrays = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_weights(
    genome: Genome, input_shape: tuple[int, int], num_classes: int, path: Path | str, conv_dim: int = 1
) -> nn.Module:
    """Rebuild the genome's network and fill in the saved weights."""
    model = build_model(genome, input_shape, num_classes, conv_dim)
    with np.load(path, allow_pickle=False) as arrays:
        state = {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
    model.load_state_dict(state)
    return model.eval()
