"""A trained network's predictions, whatever runs it (torch, TorchScript, ONNX Runtime):
inputs from waveforms, files or features (garay.serve.preprocess), batched, as labels with
their probabilities. numpy only; a backend supplies `probabilities(x)` and says what it
`takes`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from garay.serve.preprocess import Preprocess

PREPROCESS, CLASSES, CARD_DATA = "preprocess.json", "classes.json", "model.json"
BATCH = 64  # files decoded and classified at a time: bounds memory on large folders


@dataclass(frozen=True)
class Prediction:
    """One input's class: its label and probability, and every class's probability. For a
    file that could not be read or decoded, `label` is None and `error` says why."""

    label: str | None
    probability: float
    probabilities: tuple[float, ...] = ()
    path: str | None = None
    error: str | None = None

    def to_dict(self, classes: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "label": self.label, "probability": self.probability}
        if self.error:
            out["error"] = self.error
        else:
            out["probabilities"] = dict(zip(classes, self.probabilities))
        return out


class Predictor:
    """The shared part of every backend: `classes`, `preprocess`, and predictions. A
    backend's `probabilities(x)` takes what `takes` names: "features" (standardised, the
    network's input) or "waves" (decoded, at the model's rate and length: the exported
    graph computes the features)."""

    takes = "features"

    def __init__(self, model_dir: Path | str):
        self.dir = Path(model_dir)
        for name in (PREPROCESS, CLASSES):
            if not (self.dir / name).exists():
                raise FileNotFoundError(f"{self.dir / name} is missing: is {self.dir} a model package "
                                        "(written by garay-export)?")
        self.preprocess = Preprocess.load(self.dir / PREPROCESS)
        self.classes: tuple[str, ...] = tuple(json.loads((self.dir / CLASSES).read_text()))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (examples, classes) of inputs as `takes` says."""
        raise NotImplementedError

    def _label(self, p: np.ndarray, path: str | None = None) -> Prediction:
        k = int(np.argmax(p))
        return Prediction(self.classes[k], float(p[k]), tuple(float(v) for v in p), path)

    def predict_features(self, features: np.ndarray) -> list[Prediction]:
        """Predictions for unstandardised features (examples, channels, frames), as data=npz gives them."""
        if self.takes != "features":
            raise ValueError("this backend's graph takes waveforms (its features are inside it): "
                             "use garay.load_model(DIR, backend='torch') for features")
        x = self.preprocess.standardise(features)
        return [self._label(p) for p in self._batched(x)]

    def predict(self, waves: Sequence[np.ndarray] | np.ndarray, sample_rate: int) -> list[Prediction]:
        """Predictions for mono waveforms (a list, or an array shaped (examples, samples)) at `sample_rate`."""
        fitted = self.preprocess.fit_waves(waves, sample_rate)
        x = fitted if self.takes == "waves" else self.preprocess.features_of(fitted)
        return [self._label(p) for p in self._batched(x)]

    def predict_files(self, paths: Sequence[str | Path], *, on_batch: Callable[[int], None] | None = None,
                      batch: int = BATCH) -> list[Prediction]:
        """One prediction per file, in order; a file that cannot be read or decoded gets a
        Prediction with its `error` (the others are still predicted). `on_batch(n)` is
        called after each batch of n files (a progress bar)."""
        read = self.preprocess.waves_from_files if self.takes == "waves" else self.preprocess.from_files
        out: list[Prediction] = []
        for start in range(0, len(paths), batch):
            chunk = [str(p) for p in paths[start:start + batch]]
            x, errors = read(chunk)
            probs = iter(self.probabilities(x) if len(x) else ())
            for path, error in zip(chunk, errors):
                out.append(Prediction(None, float("nan"), path=path, error=error) if error
                           else self._label(next(probs), path))
            if on_batch:
                on_batch(len(chunk))
        return out

    def _batched(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros((0, len(self.classes)), np.float32)
        return np.concatenate([self.probabilities(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])
