"""Kept for code that imports genomes from the old path: garay.search.genome holds them now."""
from garay.search.genome import ConvGene, DenseGene, Gene, Genome, gene_from_dict, gene_to_dict  # noqa: F401
