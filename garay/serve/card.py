"""A model package's model card (MODEL.md) and learning curve (curve.png): what the network
is, how well it did and on what, and how it was trained, from the retrain that made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garay.config.schema import RETRAIN_IGNORED
from garay.search.genome import Genome

CARD, CURVE = "MODEL.md", "curve.png"


def _spread(d: dict[str, float], n: int) -> str:
    """Mean, std and range over `n` retrains; the score alone for one (no spread to give)."""
    if n == 1:
        return f"{d['mean']:.4f} (one retrain: no spread)"
    return f"{d['mean']:.4f} ± {d['std']:.4f} (mean ± std; min {d['min']:.4f}, max {d['max']:.4f})"


def _data_lines(data: dict[str, Any]) -> list[str]:
    lines = [f"- data set: `{data.get('name')}`" + (f" from `{data['root']}`" if data.get("root") else "")]
    split = data.get("split")
    if split:
        lines.append(f"- split: `{split}`" + (f"; test speakers {', '.join(map(str, data['test_speakers']))}"
                                               if data.get("test_speakers") else "")
                     + (f"; validation speakers {', '.join(map(str, data['val_speakers']))}"
                        if data.get("val_speakers") else ""))
    rounds = data.get("round_val_speakers")
    if rounds:  # this network was trained in round one; the retrain's scores average every round
        lines.append("- validation rounds of the retrain's scores: "
                     + "; ".join(", ".join(map(str, r)) for r in rounds) + " (this network: round one)")
    return lines


def write_card(out: Path, model: dict[str, Any], retrain: dict[str, Any], files: dict[str, str]) -> None:
    """MODEL.md and curve.png in `out` from best_model.json (`model`) and retrain.json (`retrain`)."""
    from garay.execution.evaluation import Augmentation
    from garay.results.tables import genome_tables

    genome = Genome.from_dict(model["genome"])
    pre = model["preprocess"]
    feats = pre.get("features")
    train = retrain.get("train", {})
    n = len(retrain.get("repeats", []))
    lines = [
        f"# Model card: genome {retrain.get('hash', genome.hash)[:12]}", "",
        f"A network of {len(genome.convs)} convolutional and {len(genome.denses)} dense layers "
        f"(genome from {retrain.get('source', 'a genome file')}), {model['params']:,} parameters, "
        f"{len(model['classes'])} classes: {', '.join(model['classes'])}.", "",
        "## Architecture", "", "```", genome_tables(genome), "```", "",
        "## Scores", "",
        f"- this network (of the retrain's trainings on the split itself, the one with the best validation "
        f"accuracy): validation accuracy {model['val_accuracy']:.4f}, test accuracy {model['test_accuracy']:.4f}"
        + (f"; the run's fitness, {model['metric']}: validation {model['val_metric']:.4f}, test "
           f"{model['test_metric']:.4f}" if model.get("metric") else ""),
        *([f"- **warning: this network predicts `{model['predicts_one_class']}` for every validation and test "
           "example**: its training collapsed, and it has learned nothing to tell the classes apart"]
          if model.get("predicts_one_class") else []),
        f"- the genome retrained {n} time{'s' if n != 1 else ''}, each scored as the run's fitness "
        f"(the mean of {retrain.get('fitness', {}).get('rounds', 1)} validation round(s) x "
        f"{retrain.get('fitness', {}).get('repeats', 1)} training(s)):",
        f"  - validation accuracy {_spread(retrain['val_accuracy'], n)}",
        f"  - test accuracy {_spread(retrain['test_accuracy'], n)}",
    ]
    if "selection_bias" in retrain:
        lines.append(f"  - selection bias (the run's recorded fitness minus the retrained mean fitness): "
                     f"{retrain['selection_bias']:+.4f}")
    elif "shortfall" in retrain:
        lines.append(f"  - {retrain['shortfall']:+.4f} below the run's recorded fitness: retrains collapsed to one "
                     "class, so this is a failed training, not selection bias")
    lines += ["", "## Data", "", *_data_lines(model.get("data", {}))]
    if feats:
        lines.append(f"- input: mono audio at {feats['sample_rate']} Hz, padded or trimmed to {feats['duration']} s, "
                     f"{feats['kind']} features ({feats['n_mels']} mel bands, FFT {feats['n_fft']}, hop "
                     f"{feats['hop_length']}" + (f", {feats['n_mfcc']} coefficients" if feats["kind"] == "mfcc" else "")
                     + f"): {pre['input_shape'][0]} channels x {pre['input_shape'][1]} frames")
    else:
        lines.append(f"- input: features shaped {pre['input_shape']} (trained on given features, not audio)")
    per_utterance = pre.get("standardise", {}).get("normalize") == "utterance"
    augment = train.get("augment") or {}
    augmented = Augmentation.from_config(augment).active
    lines += [("- each example standardised per channel by its own mean and std over time (CMVN), then "
               if per_utterance else "- ") + "standardised per channel with the training set's mean and std "
              "(preprocess.json)", "", "## Training", "",
              *(["- this genome's training genes (the table above) set its learning rate, weight decay, batch "
                 "size, noise level and augmentations; the `train` values they override are the run's defaults"]
                if genome.recipe is not None else []),
              *[f"- `train.{k}`: {v}" for k, v in sorted(train.items())
                if not isinstance(v, (dict, list)) and k not in RETRAIN_IGNORED],
              *([f"- `train.augment.{k}`: {v}" for k, v in sorted(augment.items())] if augmented
                else [] if genome.recipe is not None else ["- no augmentation but `train.noise_level`"]),
              "", f"![learning curve]({CURVE})", "", "## Files", "",
              *[f"- `{name}`: {what}" for name, what in files.items()], ""]
    (out / CARD).write_text("\n".join(lines))
    _plot(out / CURVE, model)


def _plot(path: Path, model: dict[str, Any]) -> None:
    from garay.results.plots import epoch_axis, pyplot

    plt = pyplot()
    curve, losses = model.get("curve") or [], model.get("losses") or []
    fig, ax = plt.subplots(figsize=(6, 3.6))
    epochs = range(1, len(curve) + 1)
    ax.plot(epochs, curve, marker="o", label="validation accuracy")
    epoch_axis(ax, max(len(curve), len(losses)))
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    handles = ax.get_lines()
    if losses:  # markers: a one-epoch loss is one point, which a line alone would not draw
        ax2 = ax.twinx()
        handles += ax2.plot(range(1, len(losses) + 1), losses, color="tab:red", linestyle="--", marker="s", ms=4,
                            label="training loss")
        ax2.set_ylabel("training loss")
    ax.set_title("learning curve of this network")
    fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
