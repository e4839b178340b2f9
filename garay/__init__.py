"""garay: distributed neural-architecture evolution on Ray.

    from garay import evolve
    result = evolve(ga={"population_size": 6, "generations": 2, "num_parents": 2})
    print(result.best_genome, result.test_accuracy, result.run_dir)

    model = garay.load_model("outputs/.../model")   # a package written by garay-export
    print(model.predict_files(["seven.wav"])[0].label)
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["evolve", "compose", "RunResult", "AskTell", "Genome", "ConfigError", "load_model"]


def __getattr__(name: str) -> Any:
    # Lazy: `import garay` (and every Ray worker that unpickles a garay class) stays light;
    # Hydra and the driver load only when the API is used.
    if name in ("evolve", "compose", "RunResult"):
        from garay import api

        return getattr(api, name)
    if name == "AskTell":
        from garay.asktell import AskTell

        return AskTell
    if name == "Genome":
        from garay.search.genome import Genome

        return Genome
    if name == "load_model":
        from garay.serve.model import load_model

        return load_model
    if name == "ConfigError":
        from garay.config import ConfigError

        return ConfigError
    raise AttributeError(f"module 'garay' has no attribute {name!r}")
