"""Kept for custom trainers written against the old path: garay.execution holds these now."""
from garay.execution.inprocess import InProcessEvaluator  # noqa: F401
from garay.execution.protocol import Evaluator, Result, Task  # noqa: F401
from garay.execution.trainer import TorchTrainer, TrainerFactory, peak_rss_bytes, run_task  # noqa: F401
