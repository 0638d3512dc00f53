"""The ground layer: the typed schema of conf/ and its composition. Imports nothing from movierec.

`conf/` holds every value (one source of defaults); the dataclasses here hold names, types and
the same defaults, which a test checks against conf/.
"""

from movierec.config.compose import compose, to_flat_dict, validate
from movierec.config.errors import ConfigError
from movierec.config.schema import (
    PREDEFINED_FOLDS,
    RATING_MAX,
    RATING_MIN,
    Config,
    DataConfig,
    EvaluateConfig,
    FilterConfig,
    MlflowConfig,
    ModelConfig,
    PathsConfig,
    RatingsFormat,
    ServeConfig,
    SplitConfig,
    SplitStrategy,
    TrainerConfig,
)
from movierec.config.synthetic import SyntheticSpec
from movierec.config.user_user import RANK_VALUES, UserUserConfig

__all__ = [
    "PREDEFINED_FOLDS", "RANK_VALUES", "RATING_MAX", "RATING_MIN", "Config", "ConfigError", "DataConfig",
    "EvaluateConfig", "FilterConfig", "MlflowConfig", "ModelConfig", "PathsConfig", "RatingsFormat", "ServeConfig",
    "SplitConfig", "SplitStrategy", "SyntheticSpec", "TrainerConfig", "UserUserConfig", "compose", "to_flat_dict",
    "validate",
]
