"""Experiment tracking: TensorBoard, off by default, on with `tensorboard=true`.

The driver calls the tracker on every finished evaluation and every generation; it writes
to RUN_DIR/tensorboard (view with `tensorboard --logdir outputs`). Tags name what they
show: `fitness` is the validation score the GA optimised (fitness.metric, accuracy by
default; 0 for failed and early-stopped genomes), named in the run's `fitness` text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from garay.errors import ConfigError


class TensorBoardTracker:
    def __init__(self, log_dir: Path | str, metric: str = "accuracy"):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("tensorboard", "needs the tensorboard package (make install has it; elsewhere "
                                               "pip install tensorboard)") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))
        # fitness.metric's name (garay.plugins.metric_name) as a tag spells it: f1_score_average_macro
        self.metric = re.sub(r"[^\w.-]+", "_", metric).strip("_") or "metric"
        self.count = 0
        self.writer.add_text("fitness", f"validation {metric} (tags: val_{self.metric}); 0 for failed and "
                                        "early-stopped genomes")

    def evaluation(self, record: dict[str, Any]) -> None:
        self.writer.add_scalar(f"evaluation/fitness_val_{self.metric}", record["fitness"], self.count)
        self.writer.add_scalar("evaluation/val_accuracy", record["val_accuracy"], self.count)
        self.writer.add_scalar("evaluation/test_accuracy", record["test_accuracy"], self.count)
        if record.get("test_metric") is not None:
            self.writer.add_scalar(f"evaluation/test_{self.metric}", record["test_metric"], self.count)
        self.writer.add_scalar("evaluation/seconds", record["seconds"], self.count)
        self.writer.add_scalar("evaluation/params", record["params"], self.count)
        self.writer.add_scalar("evaluation/epochs", record["epochs"], self.count)
        # The learning curve, one run per genome (TensorBoard overlays them by tag).
        for epoch, (val, loss) in enumerate(zip(record.get("curve", []), record.get("losses", [])), start=1):
            self.writer.add_scalar(f"curve/val_accuracy/{record['hash'][:8]}", val, epoch)
            self.writer.add_scalar(f"curve/train_loss/{record['hash'][:8]}", loss, epoch)
        self.count += 1

    def generation(self, stats: dict[str, Any], new: dict[str, Any] | None = None) -> None:
        """A generation's fitness statistics: over the population after it (`stats`, as
        checkpoint.json's generation_stats) and over its new genomes (`new`)."""
        g = stats["generation"]
        for key in ("best", "median", "mean"):
            self.writer.add_scalar(f"generation/population_{key}_val_{self.metric}", stats[key], g)
        for key in ("best", "median"):
            if new is not None and new[key] is not None:
                self.writer.add_scalar(f"generation/new_genomes_{key}_val_{self.metric}", new[key], g)
        self.writer.add_scalar(f"generation/best_so_far_val_{self.metric}", stats["best_so_far"], g)

    def finish(self, hparams: dict[str, Any], best: dict[str, Any]) -> None:
        metrics = {f"best/fitness_val_{self.metric}": best.get("fitness", 0.0),
                   "best/val_accuracy": best.get("val_accuracy", 0.0),
                   "best/test_accuracy": best.get("test_accuracy", 0.0)}
        if best.get("test_metric") is not None:
            metrics[f"best/test_{self.metric}"] = best["test_metric"]
        self.writer.add_hparams(hparams, metrics, run_name=".")
        self.writer.close()
