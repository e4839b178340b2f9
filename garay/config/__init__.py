"""garay's config: the schema dataclasses (the one source of defaults) and their checks."""

from garay.config.schema import (GA_MODES, OBJECTIVES, BestConfig, BlueprintConfig, ClusterConfig, Config, DataConfig,
                                 FitnessConfig, GAConfig, TrainConfig, register_configs)
from garay.config.validate import SPEAKER_ROUNDS, fitness_rounds, validate
from garay.errors import ConfigError

__all__ = ["GA_MODES", "OBJECTIVES", "BestConfig", "BlueprintConfig", "ClusterConfig", "Config", "DataConfig",
           "FitnessConfig", "GAConfig", "TrainConfig", "register_configs", "SPEAKER_ROUNDS", "fitness_rounds",
           "validate", "ConfigError"]
