"""Shape inference without torch: decides whether a genome fits an input before any worker
sees it, and counts its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from garay.search.genome import ConvGene, Genome


class InvalidGenome(ValueError):
    """The genome cannot process inputs of the given shape (a dimension shrinks below 1)."""


@dataclass(frozen=True)
class LayerShape:
    name: str
    shape: tuple[int, ...]  # per-example output shape
    params: int


def _conv_len(length: int, gene: ConvGene) -> int:
    out = (length + 2 * gene.padding - gene.kernel_size) // gene.stride + 1
    return out // gene.pool_size if out >= 1 else 0


def infer_shapes(
    genome: Genome, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1
) -> list[LayerShape]:
    """Per-layer output shapes and parameter counts for a genome on inputs of
    `input_shape` = (channels, time). With `conv_dim=2` the input is read as a one-channel
    image (channels x time). Raises InvalidGenome when a dimension drops below 1."""
    if conv_dim not in (1, 2):
        raise ValueError(f"conv_dim must be 1 or 2, got {conv_dim}")
    channels, time = input_shape
    spatial = [time] if conv_dim == 1 else [channels, time]
    ch = channels if conv_dim == 1 else 1
    layers: list[LayerShape] = []
    for i, gene in enumerate(genome.convs):
        spatial = [_conv_len(n, gene) for n in spatial]
        if min(spatial) < 1:
            raise InvalidGenome(
                f"conv layer {i + 1} (kernel {gene.kernel_size}, stride {gene.stride}, "
                f"pool {gene.pool_size}) shrinks the input {input_shape} below one step"
            )
        params = ch * gene.filters * gene.kernel_size**conv_dim + gene.filters
        ch = gene.filters
        layers.append(LayerShape(f"conv{i + 1}", (ch, *spatial), params))
    features = ch
    for n in spatial:
        features *= n
    for i, gene in enumerate(genome.denses):
        layers.append(LayerShape(f"dense{i + 1}", (gene.neurons,), features * gene.neurons + gene.neurons))
        features = gene.neurons
    layers.append(LayerShape("output", (num_classes,), features * num_classes + num_classes))
    return layers


def is_valid(genome: Genome, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1) -> bool:
    try:
        infer_shapes(genome, input_shape, num_classes, conv_dim)
    except InvalidGenome:
        return False
    return True


def param_count(genome: Genome, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1) -> int:
    return sum(layer.params for layer in infer_shapes(genome, input_shape, num_classes, conv_dim))
