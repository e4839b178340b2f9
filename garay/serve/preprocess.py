"""What turns an audio file into a trained network's input, exactly as in training:
decode (mono, resampled, padded or trimmed: garay.data.audio), features (garay.data.features,
in the same batches and with one BLAS thread as garay.data.prepare computes them), then the
training set's per-channel standardisation.

Saved as a model package's preprocess.json. numpy, scipy, soundfile and soxr only: no torch,
so the ONNX predictor (garay.serve.onnx) runs without it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from garay.data.dataset import normalise_utterances
from garay.data.features import FeatureSettings

# data=npz and data.loader hand garay features, not audio: such a model takes features.
AUDIO_DATA = ("synthetic", "fsdd", "folder")


@dataclass(frozen=True)
class Preprocess:
    """The input pipeline of one trained network. `features` is None for a network trained
    on given features (data=npz, data.loader): it then takes features, never files."""

    input_shape: tuple[int, int]  # (channels, frames) of one example
    mean: tuple[float, ...]  # per channel, of the training set
    std: tuple[float, ...]  # per channel, of the training set, the 1e-6 training adds included
    features: FeatureSettings | None = None
    # What the exported graphs (TorchScript, ONNX) take, set by garay-export: "waves" (the
    # features are inside the graph: garay.serve.graph) or "features" (standardised).
    graph_input: str = "features"
    # data.normalize: "utterance" standardises each example by itself (CMVN) before mean and std
    normalize: str = "dataset"

    @classmethod
    def of(cls, data_cfg: Any, dataset: Any) -> "Preprocess":
        """From a composed `data` group and the Dataset trained on (its round one)."""
        features = FeatureSettings.from_config(data_cfg) if data_cfg.name in AUDIO_DATA and \
            data_cfg.get("loader") is None else None
        return cls(input_shape=tuple(dataset.input_shape), mean=tuple(float(v) for v in dataset.mean.ravel()),
                   std=tuple(float(v) for v in dataset.std.ravel()), features=features,
                   normalize=str(data_cfg.get("normalize", "dataset")))

    # --- preprocess.json -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"input": "audio" if self.features else "features", "graph_input": self.graph_input,
                "input_shape": list(self.input_shape),
                "features": asdict(self.features) if self.features else None,
                "standardise": {"mean": list(self.mean), "std": list(self.std), "normalize": self.normalize,
                                "how": "(x - mean) / std per channel, float32; std includes training's 1e-6"
                                       + ("; first each example per channel: (x - its mean over time) / (its std "
                                          "over time + 1e-6)" if self.normalize == "utterance" else "")}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocess":
        features = FeatureSettings(**d["features"]) if d.get("features") else None
        s = d["standardise"]
        return cls(input_shape=tuple(d["input_shape"]), mean=tuple(s["mean"]), std=tuple(s["std"]), features=features,
                   graph_input=d.get("graph_input", "features"), normalize=s.get("normalize", "dataset"))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Preprocess":
        return cls.from_dict(json.loads(Path(path).read_text()))

    # --- the pipeline -------------------------------------------------------------------

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Features (examples, channels, frames) standardised as training's were (float32,
        subtract then divide: the same bits)."""
        x = np.array(x, dtype=np.float32)  # a copy: the caller's array is left alone
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError(f"features shaped {x.shape[1:]} per example; this network takes {tuple(self.input_shape)}")
        if self.normalize == "utterance":
            normalise_utterances(x)
        x -= np.asarray(self.mean, dtype=np.float32).reshape(1, -1, 1)
        x /= np.asarray(self.std, dtype=np.float32).reshape(1, -1, 1)
        return x

    def _settings(self) -> FeatureSettings:
        if self.features is None:
            raise ValueError("this network was trained on given features (data=npz or data.loader), not audio: "
                             "pass features shaped (examples, channels, frames)")
        return self.features

    def fit_waves(self, waves: Sequence[np.ndarray] | np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono waveforms at `sample_rate` resampled to the model's rate and zero-padded or
        trimmed to its length, as decoding does: (examples, samples), float32."""
        from garay.data.audio import fit_length

        settings = self._settings()
        length = int(round(settings.sample_rate * settings.duration))
        out = []
        for w in waves:
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1:
                raise ValueError(f"a waveform is one mono channel of samples; got shape {w.shape}")
            if sample_rate != settings.sample_rate:
                import soxr

                w = soxr.resample(w, sample_rate, settings.sample_rate).astype(np.float32)
            out.append(fit_length(w, length))
        return np.stack(out) if out else np.zeros((0, length), np.float32)

    def features_of(self, waves: np.ndarray) -> np.ndarray:
        """Standardised features of fitted waves (examples, samples), computed as
        garay.data.prepare computes training's: the same batches, one BLAS thread."""
        from garay.data.prepare import featurise_waves

        settings = self._settings()
        if not len(waves):
            return np.zeros((0, *self.input_shape), np.float32)
        return self.standardise(featurise_waves(np.asarray(waves, dtype=np.float32), settings))

    def _read(self, paths: Sequence[str | Path]) -> tuple[list[tuple[int, str, str, bytes]], list[str | None]]:
        """The files' bytes as decode_and_featurise takes them, and per file a read error."""
        from garay.data.prepare import read_file

        todo, errors = [], [None] * len(paths)
        for i, path in enumerate(paths):
            data, errors[i] = read_file(path)
            if data is not None:
                todo.append((i, str(path), "", data))
        return todo, errors

    def waves_from_files(self, paths: Sequence[str | Path]) -> tuple[np.ndarray, list[str | None]]:
        """The decoded waves (examples, samples) of the files that decode, in order, and
        per file why it did not (None: it did): mono, resampled, padded or trimmed as in
        training (garay.data.audio)."""
        from garay.data.audio import decode
        from garay.data.errors import DataError

        settings = self._settings()
        todo, errors = self._read(paths)
        waves = []
        for i, path, _, data in todo:
            try:
                waves.append(decode(data, path, sample_rate=settings.sample_rate, duration=settings.duration))
            except DataError as exc:
                errors[i] = exc.detail
        length = int(round(settings.sample_rate * settings.duration))
        return (np.stack(waves) if waves else np.zeros((0, length), np.float32)), errors

    def from_files(self, paths: Sequence[str | Path]) -> tuple[np.ndarray, list[str | None]]:
        """Network inputs (standardised features) of the files that decode (in order), and
        per file why it did not (None: it did). Decoded and featurised as training's files
        were (garay.data.prepare.decode_and_featurise)."""
        from garay.data.prepare import decode_and_featurise

        settings = self._settings()
        todo, errors = self._read(paths)
        feats = []
        for (i, *_), (x, error) in zip(todo, decode_and_featurise((todo, settings))):
            if error is not None:
                errors[i] = error
            else:
                feats.append(x)
        x = np.stack(feats) if feats else np.zeros((0, *self.input_shape), np.float32)
        return self.standardise(x), errors
