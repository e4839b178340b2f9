"""Search spaces (garay.search.space): the protocol strategies use, and the study's
conv/dense genome over a blueprint."""

from garay.search.blueprint import Blueprint
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.search.space import GenomeSpace, SearchSpace

__all__ = ["Blueprint", "ConvGene", "DenseGene", "Genome", "GenomeSpace", "SearchSpace"]
