"""garay: distributed neural-architecture evolution on Ray."""

__version__ = "0.1.0"
