"""Evolve with your own parts: a data loader for a folder of FSDD-named recordings and a
macro-F1 fitness (my_parts/). On Ray: garay ships my_parts to the workers by itself.

    python examples/custom_parts/run.py ../shared/data/fsdd/recordings outputs/custom [theo]

The same from the command line:

    PYTHONPATH=examples/custom_parts garay data.loader=my_parts.load_speaker_folder \\
        data.root=../shared/data/fsdd/recordings data.duration=1.0 data.split=speaker \\
        'data.test_speakers=[theo]' fitness.metric=my_parts.macro_f1
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # my_parts, for this driver

from my_parts import load_speaker_folder, macro_f1  # noqa: E402

from garay import evolve  # noqa: E402

root, run_dir = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
test_speaker = sys.argv[3] if len(sys.argv) > 3 else "theo"
result = evolve(
    data={"loader": load_speaker_folder, "root": root, "duration": 1.0, "split": "speaker",
          "test_speakers": [test_speaker]},
    fitness={"metric": macro_f1},  # or "my_parts.macro_f1", or {"_target_": "sklearn.metrics.f1_score", "average": "macro"}
    ga={"population_size": 6, "generations": 2, "num_parents": 2},
    train={"epochs": 3},
    progress=False,
    run_dir=run_dir,
)
best = result.best
print(f"{len(result.history)} evaluations; best validation macro-F1 {best['val_metric']:.3f} "
      f"(accuracy {best['val_accuracy']:.3f}), test macro-F1 {best['test_metric']:.3f} on unseen speaker {test_speaker}")
print(f"run directory: {result.run_dir}")
