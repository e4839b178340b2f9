"""Genes and genomes: frozen dataclasses with a canonical hash and a JSON round trip.

A genome is a tuple of genes, one per hidden layer: a block of convolutional genes
followed by a block of fully connected (dense) genes. The output layer is not a gene.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Union

from garay.search.recipe import Recipe


@dataclass(frozen=True)
class ConvGene:
    """One convolution + activation + max-pool layer."""

    filters: int
    kernel_size: int
    stride: int
    padding: int
    pool_size: int
    activation: str
    kind: ClassVar[str] = "conv"


@dataclass(frozen=True)
class DenseGene:
    """One fully connected layer + activation + dropout."""

    neurons: int
    activation: str
    dropout: float
    kind: ClassVar[str] = "dense"


Gene = Union[ConvGene, DenseGene]
GENE_TYPES: dict[str, type] = {"conv": ConvGene, "dense": DenseGene}


def gene_to_dict(gene: Gene) -> dict[str, Any]:
    return {"kind": gene.kind, **asdict(gene)}


def gene_from_dict(data: dict[str, Any]) -> Gene:
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in GENE_TYPES:
        raise ValueError(f"gene kind must be one of {sorted(GENE_TYPES)}, got {kind!r}")
    cls = GENE_TYPES[kind]
    expected = {f.name for f in fields(cls)}
    if set(data) != expected:
        raise ValueError(f"{kind} gene needs exactly the keys {sorted(expected)}, got {sorted(data)}")
    return cls(**data)


@dataclass(frozen=True)
class Genome:
    """An architecture: conv genes first, then dense genes."""

    genes: tuple[Gene, ...]
    # Training genes (blueprint.train_genes): None trains with the `train` settings, and
    # leaves the genome's JSON and hash as they were before training genes existed.
    recipe: Recipe | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.genes, tuple):
            object.__setattr__(self, "genes", tuple(self.genes))
        if not self.genes:
            raise ValueError("a genome needs at least one gene")
        seen_dense = False
        for gene in self.genes:
            if isinstance(gene, DenseGene):
                seen_dense = True
            elif seen_dense:
                raise ValueError("conv genes must come before dense genes")

    def __len__(self) -> int:
        return len(self.genes)

    @property
    def convs(self) -> tuple[ConvGene, ...]:
        return tuple(g for g in self.genes if isinstance(g, ConvGene))

    @property
    def denses(self) -> tuple[DenseGene, ...]:
        return tuple(g for g in self.genes if isinstance(g, DenseGene))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"genes": [gene_to_dict(g) for g in self.genes]}
        if self.recipe is not None:
            out["recipe"] = self.recipe.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Genome":
        if not isinstance(data, dict) or "genes" not in data:
            raise ValueError("a genome is a mapping with a 'genes' list")
        recipe = Recipe.from_dict(data["recipe"]) if data.get("recipe") is not None else None
        return cls(tuple(gene_from_dict(g) for g in data["genes"]), recipe)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, so equal genomes give equal text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        return cls.from_dict(json.loads(text))

    @property
    def hash(self) -> str:
        """Stable content hash (16 hex digits of SHA-256 of the canonical JSON)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def describe(self) -> str:
        """A one-line summary such as `conv(32,k5)-conv(64,k3)-dense(128)`."""
        parts = [f"conv({g.filters},k{g.kernel_size})" for g in self.convs]
        parts += [f"dense({g.neurons})" for g in self.denses]
        return "-".join(parts) + (f" [{self.recipe.describe()}]" if self.recipe is not None else "")


def shipped_genomes() -> dict[str, Path]:
    """The genomes that come with garay (garay/genomes/*.json), by short name."""
    folder = Path(__file__).parents[1] / "genomes"
    return {p.stem: p for p in sorted(folder.glob("*.json"))}
