"""Value checks of a composed config (types were checked by Hydra against garay.config.schema),
and what the checked values decide: validation rounds, the early-stopping rungs. Each bad
value raises ConfigError naming the key and what is allowed, before Ray starts."""

from __future__ import annotations

import importlib.util
from typing import Any

from garay.config.schema import BACKENDS, DATA_NAMES, FEATURES, FITS, GA_MODES, NORMALIZE, OBJECTIVES, POLICIES
from garay.errors import ConfigError
from garay.search.blueprint import ACTIVATIONS, CHOICE_FIELDS


SPEAKER_ROUNDS = 3  # fitness.rounds=null with data.split=speaker


def fitness_rounds(cfg: Any) -> int:
    """The number of validation rounds: `fitness.rounds`, or when it is null, SPEAKER_ROUNDS
    with data.split=speaker (at most one per development speaker) and 1 otherwise."""
    if cfg.fitness.rounds is not None:
        return int(cfg.fitness.rounds)
    return SPEAKER_ROUNDS if cfg.data.split == "speaker" else 1


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(key, message)


def validate(cfg: Any) -> None:
    """Check values (types were checked by Hydra). Raises ConfigError on the first bad key."""
    ga, train, bp, cl = cfg.ga, cfg.train, cfg.blueprint, cfg.cluster
    _check(0.0 <= ga.mutation_rate <= 1.0, "ga.mutation_rate", f"must be in [0, 1], got {ga.mutation_rate}")
    _check(0.0 <= ga.conv_chance <= 1.0, "ga.conv_chance", f"must be in [0, 1], got {ga.conv_chance}")
    _check(ga.population_size >= 2, "ga.population_size", f"must be at least 2, got {ga.population_size}")
    # Parents equal to the population leave no place for a child: nothing after generation 0.
    _check(
        2 <= ga.num_parents < ga.population_size,
        "ga.num_parents",
        f"must be in [2, ga.population_size - 1 = {ga.population_size - 1}] (children fill the other places), "
        f"got {ga.num_parents}",
    )
    _check(ga.generations >= 1, "ga.generations", f"must be at least 1, got {ga.generations}")
    _check(ga.mode in GA_MODES, "ga.mode", f"must be one of {', '.join(GA_MODES)}; got {ga.mode!r}")
    _check(ga.fit in FITS, "ga.fit", f"must be one of {', '.join(FITS)}; got {ga.fit!r}")
    _check(ga.max_redraws >= 1, "ga.max_redraws", f"must be at least 1, got {ga.max_redraws}")
    _check(ga.tournament_size >= 1, "ga.tournament_size", f"must be at least 1, got {ga.tournament_size}")
    _check(ga.reevaluate >= 0, "ga.reevaluate", f"must be 0 (off) or the genomes trained again, got {ga.reevaluate}")
    _check(ga.reevaluate == 0 or cfg.train.early_stop == "none", "ga.reevaluate",
           f"re-evaluations train in full: it needs train.early_stop=none, got {cfg.train.early_stop!r}")
    _check(ga.screen >= 0, "ga.screen", f"must be 0 (off) or the candidates bred per child, got {ga.screen}")
    _check(ga.mode != "tpe" or ga.screen <= 1, "ga.screen",
           f"ranks bred children, and ga.mode=tpe breeds none: set ga.screen=0, or another ga.mode (got {ga.screen})")
    objectives = list(ga.objectives)
    _check(bool(objectives) and objectives[0] == "fitness" and set(objectives) <= set(OBJECTIVES)
           and len(set(objectives)) == len(objectives), "ga.objectives",
           f"must be [fitness] followed by any of params, latency, each once; got {objectives}")
    _check(ga.mode != "tpe" or len(objectives) == 1, "ga.objectives",
           f"ga.mode=tpe maximises fitness alone: set ga.objectives=[fitness], or another ga.mode (got {objectives})")
    _check(ga.mode != "tpe" or importlib.util.find_spec("optuna") is not None, "ga.mode",
           "tpe needs Optuna (make install has it; elsewhere pip install optuna)")
    _check(ga.max_params is None or ga.max_params >= 1, "ga.max_params", f"must be >= 1 or null, got {ga.max_params}")
    _check(ga.budget_epochs is None or ga.budget_epochs >= 1, "ga.budget_epochs",
           f"must be at least 1, or null (generations decide), got {ga.budget_epochs}")
    fit = cfg.fitness
    _check(fit.rounds is None or fit.rounds >= 1, "fitness.rounds", f"must be at least 1, or null (auto), got {fit.rounds}")
    _check(fit.repeats >= 1, "fitness.repeats", f"must be at least 1, got {fit.repeats}")
    _check(train.epochs >= 1, "train.epochs", f"must be at least 1, got {train.epochs}")
    _check(train.early_stop in POLICIES, "train.early_stop",
           f"must be one of {', '.join(POLICIES)}; got {train.early_stop!r}")
    _check(train.eta >= 2, "train.eta", f"must be at least 2, got {train.eta}")
    _check(train.grace_epochs >= 1, "train.grace_epochs", f"must be at least 1, got {train.grace_epochs}")
    bad = [r for r in (train.rungs or []) if not 1 <= r < train.epochs]
    _check(not bad, "train.rungs", f"must be epochs in [1, train.epochs={train.epochs}), got {bad}")
    _check(train.batch_size >= 1, "train.batch_size", f"must be at least 1, got {train.batch_size}")
    _check(train.lr > 0, "train.lr", f"must be positive, got {train.lr}")
    _check(train.get("weight_decay", 0.0) >= 0, "train.weight_decay", f"must be >= 0, got {train.get('weight_decay')}")
    _check(train.noise_level >= 0, "train.noise_level", f"must be >= 0, got {train.noise_level}")
    _check(
        train.timeout_s is None or train.timeout_s > 0, "train.timeout_s", f"must be positive or null, got {train.timeout_s}"
    )
    _check_augment(cfg)
    _check_recipe(cfg)
    _check(bp.max_layers >= 1, "blueprint.max_layers", f"must be at least 1, got {bp.max_layers}")
    _check(bp.conv_dim in (1, 2), "blueprint.conv_dim", f"must be 1 or 2, got {bp.conv_dim}")
    for name in CHOICE_FIELDS:
        values = list(bp[name])
        _check(len(values) > 0, f"blueprint.{name}", "must list at least one value")
    for act in bp.activations:
        _check(act in ACTIVATIONS, "blueprint.activations", f"unknown activation {act!r}; allowed: {', '.join(ACTIVATIONS)}")
    for name, low in (("layer_sizes", 1), ("filters", 1), ("kernel_sizes", 1), ("strides", 1), ("pool_sizes", 1), ("paddings", 0)):
        bad = [v for v in bp[name] if v < low]
        _check(not bad, f"blueprint.{name}", f"values must be >= {low}, got {bad}")
    bad = [v for v in bp.dropouts if not 0 <= v < 1]
    _check(not bad, "blueprint.dropouts", f"values must be in [0, 1), got {bad}")
    _check(cl.backend in BACKENDS, "cluster.backend", f"must be one of {', '.join(BACKENDS)}; got {cl.backend!r}")
    _check(cl.num_workers is None or cl.num_workers >= 1, "cluster.num_workers", f"must be >= 1 or null, got {cl.num_workers}")
    _check(cl.gpus_per_worker > 0, "cluster.gpus_per_worker", f"must be positive (1, or a fraction like 0.5), got {cl.gpus_per_worker}")
    _check(
        cl.gpus_per_worker <= 1 or float(cl.gpus_per_worker).is_integer(),
        "cluster.gpus_per_worker",
        f"must be a fraction <= 1 or a whole number, got {cl.gpus_per_worker}",
    )
    _check(cl.cpus_per_worker >= 1, "cluster.cpus_per_worker", f"must be at least 1, got {cl.cpus_per_worker}")
    _check(cl.start_timeout_s > 0, "cluster.start_timeout_s", f"must be positive, got {cl.start_timeout_s}")
    _check(cl.min_workers is None or cl.min_workers >= 1, "cluster.min_workers", f"must be >= 1 or null, got {cl.min_workers}")
    _check(cl.min_workers is None or cl.num_workers is None or cl.min_workers <= cl.num_workers, "cluster.min_workers",
           f"must be at most cluster.num_workers={cl.num_workers}, got {cl.min_workers}")
    _check(cl.max_retries >= 0, "cluster.max_retries", f"must be >= 0, got {cl.max_retries}")
    data = cfg.data
    _check(data.name in DATA_NAMES, "data.name", f"must be one of {', '.join(DATA_NAMES)}; got {data.name!r}")
    _check(data.features in FEATURES, "data.features", f"must be one of {', '.join(FEATURES)}; got {data.features!r}")
    _check(data.name == "synthetic" or data.loader is not None or data.root is not None, "data.root",
           f"is required for data={data.name}")
    # The synthetic set reads no folder: a data.root without data=folder would silently run on made-up audio.
    _check(data.name != "synthetic" or data.loader is not None or data.root is None, "data.root",
           f"is read by data=folder (one sub-folder per class), data=fsdd or data=npz, not data=synthetic "
           f"(built-in made-up audio); add data=folder to use {data.root}")
    _check(data.sample_rate >= 1, "data.sample_rate", f"must be a positive number of Hz, got {data.sample_rate}")
    _check(data.duration > 0, "data.duration", f"must be positive (seconds), got {data.duration}")
    _check(data.n_mels >= 1, "data.n_mels", f"must be at least 1, got {data.n_mels}")
    _check(data.n_fft >= 2, "data.n_fft", f"must be at least 2, got {data.n_fft}")
    _check(data.hop_length >= 1, "data.hop_length", f"must be at least 1, got {data.hop_length}")
    _check(data.features != "mfcc" or 1 <= data.n_mfcc <= data.n_mels, "data.n_mfcc", f"must be in [1, data.n_mels={data.n_mels}], got {data.n_mfcc}")
    # Fitness is validation accuracy and the report is test accuracy: neither may be empty.
    _check(0 < data.val_fraction < 1, "data.val_fraction", f"must be in (0, 1), got {data.val_fraction}")
    _check(0 < data.test_fraction < 1, "data.test_fraction", f"must be in (0, 1), got {data.test_fraction}")
    _check(
        data.val_fraction + data.test_fraction < 1,
        "data.test_fraction",
        f"data.val_fraction + data.test_fraction must be < 1, got {data.val_fraction + data.test_fraction}",
    )
    splits = {"synthetic": ("random",), "folder": ("random", "speaker", "hash", "official"),
              "fsdd": ("official", "speaker", "random", "hash"),
              "npz": ("official", "speaker", "random", "hash")}.get(data.name, ("random",))
    if data.loader is not None:  # your arrays, split as data=npz splits them
        splits = ("official", "speaker", "random", "hash")
    _check(data.split in splits, "data.split", f"must be one of {', '.join(splits)} for data={data.name}; got {data.split!r}")
    if data.speaker_pattern is not None:
        from garay.data.folder import speaker_regex

        speaker_regex(data.speaker_pattern)  # a ConfigError naming the key, before anything runs
    _check(data.get("normalize", "dataset") in NORMALIZE, "data.normalize",
           f"must be one of {', '.join(NORMALIZE)}; got {data.get('normalize')!r}")
    _check(data.workers is None or data.workers >= 1, "data.workers", f"must be >= 1 or null (every core), got {data.workers}")
    _check(data.name != "folder" or data.loader is not None or data.split not in ("speaker", "hash")
           or data.speaker_pattern is not None, "data.speaker_pattern",
           f"is needed for data.split={data.split} with data=folder (a regex with (?P<speaker>...), or speech_commands)")
    if data.split == "speaker":
        _check(len(data.test_speakers) > 0, "data.test_speakers", "must name at least one speaker for data.split=speaker")
        both = sorted(set(data.test_speakers) & set(data.val_speakers))
        _check(not both, "data.val_speakers", f"must not share speakers with data.test_speakers; both hold {both}")


def _check_augment(cfg: Any) -> None:
    """train.augment: counts and widths whole and >= 0, fractions in range, and the mel-axis
    warp only where there is a mel axis."""
    aug = cfg.train.get("augment")
    if aug is None:
        return
    for key in ("time_masks", "time_width", "freq_masks", "freq_width"):
        _check(aug[key] >= 0, f"train.augment.{key}", f"must be >= 0 (0: off), got {aug[key]}")
    _check(0 <= aug.shift < 1, "train.augment.shift", f"must be a fraction of the frames in [0, 1) (0: off), got {aug.shift}")
    _check(0 <= aug.warp < 1, "train.augment.warp", f"must be in [0, 1) (0: off; 0.1 stretches the mel axis by "
                                                    f"0.9-1.1), got {aug.warp}")
    _check(aug.mixup >= 0, "train.augment.mixup", f"must be >= 0 (0: off; Beta(alpha, alpha), e.g. 0.2), got {aug.mixup}")
    data = cfg.data
    given = data.name == "npz" or data.get("loader") is not None
    _check(not aug.warp or (data.features == "logmel" and not given), "train.augment.warp",
           "warps the mel axis: it needs log-mel features (data.features=logmel, audio data), got "
           + ("given features (data=npz or data.loader)" if given else f"data.features={data.features}"))
    _check(not (aug.freq_masks and aug.freq_width) or data.features != "waveform" or given, "train.augment.freq_masks",
           "masks feature channels: data.features=waveform has one channel; use logmel or mfcc, or time masks")


def _check_recipe(cfg: Any) -> None:
    """blueprint.recipe (with blueprint.train_genes=true): non-empty lists of allowed values,
    and augmentations only where the data have the axis they act on."""
    bp = cfg.blueprint
    if not bp.get("train_genes", False):
        return
    recipe = bp.recipe
    for gene, ok, allowed in (("lr", lambda v: v > 0, "> 0"), ("weight_decay", lambda v: v >= 0, ">= 0"),
                              ("batch_size", lambda v: v >= 1, ">= 1"), ("noise_level", lambda v: v >= 0, ">= 0"),
                              ("time_masks", lambda v: v >= 0, ">= 0"), ("freq_masks", lambda v: v >= 0, ">= 0"),
                              ("shift", lambda v: 0 <= v < 1, "in [0, 1)"), ("warp", lambda v: 0 <= v < 1, "in [0, 1)"),
                              ("mixup", lambda v: v >= 0, ">= 0")):
        values = list(recipe[gene])
        _check(len(values) > 0, f"blueprint.recipe.{gene}", "must list at least one value")
        bad = [v for v in values if not ok(v)]
        _check(not bad, f"blueprint.recipe.{gene}", f"values must be {allowed}, got {bad}")
    data = cfg.data
    given = data.name == "npz" or data.get("loader") is not None
    _check(not any(recipe.warp) or (data.features == "logmel" and not given), "blueprint.recipe.warp",
           "warps the mel axis: it needs log-mel features (data.features=logmel, audio data); set it to [0]")
    _check(not any(recipe.freq_masks) or data.features != "waveform" or given, "blueprint.recipe.freq_masks",
           "masks feature channels: data.features=waveform has one channel; set it to [0]")
