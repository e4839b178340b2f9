"""Experiment tracking: TensorBoard, off by default, on with `tensorboard=true`.

The driver calls the tracker on every finished evaluation and every generation; it writes
to RUN_DIR/tensorboard (view with `tensorboard --logdir outputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garay.config import ConfigError


class TensorBoardTracker:
    def __init__(self, log_dir: Path | str):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("tensorboard", "needs the tensorboard package: pip install 'garay[tracking]'") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))
        self.count = 0

    def evaluation(self, record: dict[str, Any]) -> None:
        self.writer.add_scalar("evaluation/fitness", record["fitness"], self.count)
        self.writer.add_scalar("evaluation/test_accuracy", record["test_accuracy"], self.count)
        self.writer.add_scalar("evaluation/seconds", record["seconds"], self.count)
        self.writer.add_scalar("evaluation/params", record["params"], self.count)
        self.writer.add_scalar("evaluation/epochs", record["epochs"], self.count)
        # The learning curve, one run per genome (TensorBoard overlays them by tag).
        for epoch, (val, loss) in enumerate(zip(record.get("curve", []), record.get("losses", [])), start=1):
            self.writer.add_scalar(f"curve/val_accuracy/{record['hash'][:8]}", val, epoch)
            self.writer.add_scalar(f"curve/train_loss/{record['hash'][:8]}", loss, epoch)
        self.count += 1

    def generation(self, stats: dict[str, Any]) -> None:
        for key in ("best", "median", "mean", "best_so_far"):
            self.writer.add_scalar(f"generation/{key}", stats[key], stats["generation"])

    def finish(self, hparams: dict[str, Any], best: dict[str, Any]) -> None:
        metrics = {"best/val_accuracy": best.get("val_accuracy", 0.0), "best/test_accuracy": best.get("test_accuracy", 0.0)}
        self.writer.add_hparams(hparams, metrics, run_name=".")
        self.writer.close()
