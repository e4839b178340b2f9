"""Using a network garay found: export it as a model package (garay-export), load it
(garay.load_model), classify audio with it (garay-predict); ONNX Runtime without torch
(garay.serve.onnx)."""
