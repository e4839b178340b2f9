"""Kept for custom trainers written against the old path: garay.execution.evaluation holds these now."""
from garay.execution.evaluation import Evaluation, TrainSettings, evaluation_seed, training_seed  # noqa: F401
