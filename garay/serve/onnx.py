"""A model package's ONNX model run by ONNX Runtime, without torch: for a service that
should not install PyTorch. Needs numpy, soundfile and soxr (decoding, as in training) and
onnxruntime; the features are inside the graph (garay.serve.graph), or, for a package
whose graph takes features, computed in numpy (scipy) exactly as training's.

    from garay.serve.onnx import OnnxModel
    model = OnnxModel("model/")
    print(model.predict_files(["seven.wav"])[0].label)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from garay.serve.predictor import Predictor

ONNX_FILE = "model.onnx"


class OnnxModel(Predictor):
    """`model.onnx` of a model package: input `waves` or `features` (preprocess.json's
    graph_input), output `probabilities`."""

    def __init__(self, model_dir: Path | str, *, threads: int | None = None):
        super().__init__(model_dir)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError("the ONNX predictor needs onnxruntime (make install has it; elsewhere "
                              "pip install onnxruntime)") from exc
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.dir / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.takes = self.preprocess.graph_input
        [graph_input] = self.session.get_inputs()
        if graph_input.name != self.takes:
            raise ValueError(f"{self.dir / ONNX_FILE} takes {graph_input.name!r}, preprocess.json says {self.takes!r}")

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(["probabilities"], {self.takes: np.ascontiguousarray(x, dtype=np.float32)})[0]
