"""Kept for code that loads weights from the old path: garay.execution.weights holds it now."""
from garay.execution.weights import load_weights, save_weights  # noqa: F401
