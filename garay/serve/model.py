"""A model package loaded in Python: `garay.load_model(MODEL_DIR)`.

    import garay
    model = garay.load_model("outputs/.../model")
    model.module                                   # the torch network (eval mode)
    model.classes                                  # its labels, in output order
    model.predict(waves, sample_rate=8000)         # mono waveforms -> Predictions
    model.predict_files(["a.wav", "b.wav"])        # files -> Predictions (errors per file)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from garay.serve.predictor import CARD_DATA, Predictor

WEIGHTS, TORCHSCRIPT = "weights.npz", "model.torchscript.pt"
BACKENDS = ("torch", "torchscript", "onnx")


class TorchModel(Predictor):
    """The package's network in torch: rebuilt from its genome and weights.npz (backend
    "torch": `.module` is the network, fed training's numpy features), or its TorchScript
    module (backend "torchscript": the exported graph); on the CPU, no gradients."""

    def __init__(self, model_dir: Path | str, backend: str = "torch"):
        super().__init__(model_dir)
        import torch

        self.torch = torch
        self.info: dict[str, Any] = json.loads((self.dir / CARD_DATA).read_text())
        if backend == "torchscript":
            self.module = torch.jit.load(str(self.dir / TORCHSCRIPT), map_location="cpu").eval()
            self.takes = self.preprocess.graph_input  # the exported graph: features inside it, or not
            self._softmax = False  # the scripted module ends in a softmax
        else:
            from garay.execution.weights import load_weights
            from garay.search.genome import Genome

            self.module = load_weights(Genome.from_dict(self.info["genome"]), tuple(self.info["input_shape"]),
                                       len(self.classes), self.dir / WEIGHTS, int(self.info.get("conv_dim", 1)))
            self._softmax = True

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            if self._softmax:
                out = torch.softmax(out, dim=1)
        return out.numpy()


def load_model(model_dir: Path | str, backend: str = "torch") -> Predictor:
    """A model package (written by garay-export) ready to predict: backend "torch" (the
    network rebuilt from weights.npz; `.module` is a garay GenomeNet), "torchscript" or
    "onnx" (ONNX Runtime, no torch: garay.serve.onnx)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "onnx":
        from garay.serve.onnx import OnnxModel

        return OnnxModel(model_dir)
    return TorchModel(model_dir, backend)
