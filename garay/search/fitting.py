"""Genomes that fit the input, without biasing the search: sampling and repair.

Rejecting genomes that do not fit (a dimension shrinks below one step) biases the search
towards short, conv-poor networks: on 32-frame inputs more than half of all draws fail,
and the ones that fail are the long, conv-heavy ones. Instead:

Sampling (`sample_fitting_genome`) draws the length and the number of conv genes as the
blueprint says, then the conv genes' shape parameters uniformly among the sequences that
fit (exactly, by counting the fitting completions of every prefix). Everything else is
drawn as usual. So lengths, conv shares and non-shape parameters follow the blueprint, and
shape parameters follow it conditioned on fitting.

Repair (`repair`), for children of crossover and mutation, keeps what the operators drew
and fixes only what the input cannot hold, so that children stay close to their parents:

- The number of genes never changes. Conv genes beyond the most the input can hold at
  all (`Room.max_convs`) become dense genes, drawn from the blueprint.
- Walking the conv genes in order, a gene that leaves too little room for the convs after
  it gets the fewest changes to its shape parameters (kernel, stride, padding, pool) that
  restore that room, chosen at random among the equally small fixes. Filters and
  activations, and every dense gene, are never touched.

A genome that already fits is returned unchanged and draws no random numbers.
Pure: no I/O, no torch; every random choice comes from the generator passed in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from garay.search.blueprint import Blueprint, redraw_param, sample_dense_gene
from garay.search.genome import ConvGene, Gene, Genome

SHAPE_PARAMS = ("kernel_size", "stride", "padding", "pool_size")
Shape = tuple[int, int, int, int]  # (kernel, stride, padding, pool)


def conv_out(length: int, shape: Shape) -> int:
    """Steps left along one axis after a conv (kernel, stride, padding) and its max-pool;
    0 when nothing is left. The same arithmetic as garay.search.shapes."""
    kernel, stride, padding, pool = shape
    out = (length + 2 * padding - kernel) // stride + 1
    return out // pool if out >= 1 else 0


def gene_shape(gene: ConvGene) -> Shape:
    return (gene.kernel_size, gene.stride, gene.padding, gene.pool_size)


@dataclass(frozen=True)
class Room:
    """How many conv layers an input can hold, under a blueprint.

    `need[r]` is the shortest axis on which `r` more conv layers can still fit (with the
    gentlest shapes the blueprint allows). Conv output length is monotone in input length,
    so with 2-D convs the shorter of the two axes decides, and tracking it alone suffices.
    """

    shapes: tuple[Shape, ...]
    need: tuple[int, ...]
    size: int
    max_convs: int
    _counts: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, blueprint: Blueprint, input_shape: tuple[int, int], conv_dim: int, limit: int) -> "Room":
        """The room of `input_shape` = (channels, time); `limit` bounds the conv count
        considered (the longest genome the operators make)."""
        shapes = tuple(itertools.product(blueprint.kernel_sizes, blueprint.strides, blueprint.paddings,
                                         blueprint.pool_sizes))
        size = int(input_shape[1]) if conv_dim == 1 else int(min(input_shape))
        need = [1]
        while len(need) <= limit:
            shortest = _shortest(shapes, need[-1], size)
            if shortest is None:
                break
            need.append(shortest)
        return cls(shapes, tuple(need), size, len(need) - 1)

    def completions(self, layers: int, length: int) -> int:
        """How many sequences of `layers` conv shapes fit an axis of `length` steps."""
        if length < 1 or layers > self.max_convs or length < self.need[layers]:
            return 0
        if layers == 0:
            return 1
        key = (layers, length)
        if key not in self._counts:
            self._counts[key] = sum(self.completions(layers - 1, conv_out(length, s)) for s in self.shapes)
        return self._counts[key]


def _shortest(shapes: tuple[Shape, ...], target: int, size: int) -> int | None:
    """The shortest axis (at most `size`) from which some shape leaves `target` steps, by
    bisection: the best output over all shapes is monotone in the input length."""
    if not shapes or max(conv_out(size, s) for s in shapes) < target:
        return None
    low, high = 1, size
    while low < high:
        mid = (low + high) // 2
        if max(conv_out(mid, s) for s in shapes) >= target:
            high = mid
        else:
            low = mid + 1
    return low


def sample_fitting_genome(blueprint: Blueprint, conv_chance: float, room: Room,
                          rng: np.random.Generator) -> Genome:
    """A random initial genome that fits the room: length uniform in 1..max_layers, each
    gene a conv with probability `conv_chance` (convs beyond `room.max_convs` become dense),
    conv shapes uniform among the sequences that fit, all else uniform over the blueprint."""
    length = int(rng.integers(1, blueprint.max_layers + 1))
    n_conv = min(int(rng.binomial(length, conv_chance)), room.max_convs)
    convs = []
    steps = room.size
    for i in range(n_conv):
        weights = np.array([float(room.completions(n_conv - i - 1, conv_out(steps, s))) for s in room.shapes])
        shape = room.shapes[int(rng.choice(len(room.shapes), p=weights / weights.sum()))]
        steps = conv_out(steps, shape)
        kernel, stride, padding, pool = (int(v) for v in shape)
        convs.append(ConvGene(filters=redraw_param("filters", blueprint, rng), kernel_size=kernel, stride=stride,
                              padding=padding, pool_size=pool,
                              activation=redraw_param("activation", blueprint, rng)))
    denses = [sample_dense_gene(blueprint, rng) for _ in range(length - n_conv)]
    return Genome(tuple(convs) + tuple(denses))


def fits(genome: Genome, room: Room) -> bool:
    """True when every conv layer of `genome` leaves at least one step."""
    length = room.size
    for gene in genome.convs:
        length = conv_out(length, gene_shape(gene))
        if length < 1:
            return False
    return True


def repair(genome: Genome, room: Room, blueprint: Blueprint, rng: np.random.Generator) -> Genome:
    """`genome` changed as little as possible so that it fits the room (see the module
    docstring); the same genome when it already fits."""
    if fits(genome, room) and len(genome.convs) <= room.max_convs:
        return genome
    convs = list(genome.convs)
    surplus = len(convs) - room.max_convs
    extra: list[Gene] = []
    if surplus > 0:
        convs = convs[: room.max_convs]
        extra = [sample_dense_gene(blueprint, rng) for _ in range(surplus)]
    length = room.size
    for i, gene in enumerate(convs):
        need = room.need[len(convs) - i - 1]
        if conv_out(length, gene_shape(gene)) < need:
            gene = _refit(gene, length, need, room, rng)
            convs[i] = gene
        length = conv_out(length, gene_shape(gene))
    return Genome(tuple(convs) + tuple(extra) + genome.denses, genome.recipe)  # the training genes stay


def _refit(gene: ConvGene, length: int, need: int, room: Room, rng: np.random.Generator) -> ConvGene:
    """The gene with the fewest shape parameters changed so that `length` steps become at
    least `need`; ties broken at random."""
    current = gene_shape(gene)
    ok = [s for s in room.shapes if conv_out(length, s) >= need]
    distance = [sum(a != b for a, b in zip(s, current)) for s in ok]
    closest = [s for s, d in zip(ok, distance) if d == min(distance)]
    shape = closest[int(rng.integers(len(closest)))]
    return replace(gene, **{p: int(v) for p, v in zip(SHAPE_PARAMS, shape)})
