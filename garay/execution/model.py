"""Genome + input shape -> torch.nn.Module."""

from __future__ import annotations

import torch
from torch import nn

from garay.search.blueprint import ACTIVATIONS
from garay.search.genome import Genome
from garay.search.shapes import infer_shapes

def activation(name: str) -> nn.Module:
    """The torch module of a blueprint activation (garay.search.blueprint.ACTIVATIONS)."""
    try:
        return getattr(nn, ACTIVATIONS[name])()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {sorted(ACTIVATIONS)}") from None


class GenomeNet(nn.Module):
    """Conv blocks (conv, activation, max-pool), flatten, dense blocks (linear, activation,
    dropout), then a linear output layer to the class count. Inputs are (batch, channels,
    time); with `conv_dim=2` they are treated as one-channel images."""

    def __init__(self, genome: Genome, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1):
        super().__init__()
        infer_shapes(genome, input_shape, num_classes, conv_dim)  # raises InvalidGenome early
        self.conv_dim = conv_dim
        conv_cls, pool_cls = (nn.Conv1d, nn.MaxPool1d) if conv_dim == 1 else (nn.Conv2d, nn.MaxPool2d)
        layers: list[nn.Module] = []
        ch = input_shape[0] if conv_dim == 1 else 1
        for g in genome.convs:
            layers += [
                conv_cls(ch, g.filters, g.kernel_size, stride=g.stride, padding=g.padding),
                activation(g.activation),
                pool_cls(g.pool_size),
            ]
            ch = g.filters
        layers.append(nn.Flatten())
        for g in genome.denses:
            layers += [nn.LazyLinear(g.neurons), activation(g.activation), nn.Dropout(g.dropout)]
        layers.append(nn.LazyLinear(num_classes))
        self.body = nn.Sequential(*layers)
        # Materialise the lazy layers now, on the CPU, so the module is complete.
        with torch.no_grad():
            self.body.eval()
            self.forward(torch.zeros(1, *input_shape))
            self.body.train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv_dim == 2:
            x = x.unsqueeze(1)
        return self.body(x)


def build_model(genome: Genome, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1) -> GenomeNet:
    """The torch module for `genome` on inputs of shape (channels, time)."""
    return GenomeNet(genome, input_shape, num_classes, conv_dim)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
