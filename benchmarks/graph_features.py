"""Could the features live inside the ONNX graph? Measures how far log-mel features
computed in the graph (float32 STFT, mel filters, dB, then the standardisation, exported
with the network and run by ONNX Runtime) are from training's numpy features, and what that
does to the probabilities. garay-export keeps the features in numpy when the difference
is above ~1e-4 (issue 24).

    python benchmarks/graph_features.py MODEL_DIR FILE_OR_FOLDER... [--files 200]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def graph_module(model_dir: Path):  # noqa: ANN201 - a torch module and the package
    """The package's network behind garay.serve.graph's features (what garay-export
    exports when they agree), built afresh from weights.npz."""
    from garay.serve.graph import build
    from garay.serve.model import load_model

    model = load_model(model_dir, "torch")
    assert model.preprocess.features is not None, "this check needs a package trained on audio"
    return build(model.module, model.preprocess, "waves"), model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--files", type=int, default=200)
    args = ap.parse_args()
    import torch

    from garay.data.audio import decode
    from garay.serve.predict import audio_files

    graph, model = graph_module(args.model_dir)
    f = model.preprocess.features
    files = audio_files(args.inputs)[: args.files]
    waves = np.stack([decode(p.read_bytes(), p, sample_rate=f.sample_rate, duration=f.duration) for p in files])
    want_x, _ = model.preprocess.from_files(files)
    want_p = model.probabilities(want_x)
    with torch.inference_mode():
        torch_x = graph.features(torch.from_numpy(waves)).numpy()
    print(f"{len(files)} files; training's features in numpy (float64 window, complex64 spectrum); the graph's in "
          "float32")
    d = np.abs(torch_x - want_x)
    print(f"standardised features, torch float32 vs numpy: max |diff| {d.max():.2e}, 99.9th percentile "
          f"{np.quantile(d, 0.999):.2e}, median {np.median(d):.2e}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "graph.onnx"
        example = torch.from_numpy(waves[:2])
        try:
            torch.onnx.export(graph, (example,), str(path), input_names=["waves"], output_names=["probabilities"],
                              dynamic_shapes={"waves": {0: torch.export.Dim("batch", min=1)}}, opset_version=18,
                              dynamo=True, external_data=False)
            import onnxruntime as ort

            got_p = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
                ["probabilities"], {"waves": waves})[0]
            dp = np.abs(got_p - want_p)
            agree = np.mean(got_p.argmax(1) == want_p.argmax(1))
            print(f"probabilities, ONNX graph with features vs the package's numpy path: max |diff| {dp.max():.2e}, "
                  f"median {np.median(dp):.2e}; same label for {agree:.1%} of files")
            verdict = "in the graph" if dp.max() <= 1e-4 else "in numpy (the graph is off by more than 1e-4)"
            print(f"features belong {verdict}")
        except Exception as exc:  # an exporter that cannot take the STFT is itself an answer
            print(f"ONNX export of the features failed: {type(exc).__name__}: {str(exc)[:300]}")


if __name__ == "__main__":
    main()
