"""What an evaluation takes and gives back. Torch-free, so the driver and light workers
can import it without loading torch."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

STATUSES = ("ok", "diverged", "failed", "timeout")


@dataclass(frozen=True)
class TrainSettings:
    """What one evaluation needs to know (built from the `train` config group)."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    noise_level: float = 0.1
    timeout_s: float | None = None
    conv_dim: int = 1


@dataclass(frozen=True)
class Evaluation:
    """The outcome of training one genome. `fitness` is the validation accuracy (0 when
    the evaluation did not finish as `ok`)."""

    fitness: float
    val_accuracy: float
    test_accuracy: float
    status: str  # one of STATUSES
    error: str | None
    seconds: float
    params: int
    epochs: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def unfinished(cls, status: str, error: str, seconds: float = 0.0) -> "Evaluation":
        """An evaluation that produced no model (worker lost, timed out)."""
        return cls(0.0, 0.0, 0.0, status, error, seconds, 0, 0)


def evaluation_seed(run_seed: int, genome_hash: str, generation: int) -> int:
    """A 63-bit seed from (run seed, genome hash, generation or birth): independent of
    which worker trains the genome and when."""
    digest = hashlib.sha256(f"{run_seed}:{genome_hash}:{generation}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
