"""Typed configuration: the schema that every composed Hydra config is validated against.

`conf/` holds the values; these dataclasses hold the names and types. Validation happens
before any stage touches a file, and errors name the offending key (OmegaConf's message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from movierec.synthetic import SyntheticSpec
from movierec.user_user import UserUserConfig


class RatingsFormat(str, Enum):
    """On-disk layouts of the MovieLens releases."""

    csv = "csv"        # ratings.csv / movies.csv (ml-latest*, ml-20m and later)
    dat = "dat"        # ratings.dat / movies.dat, `::`-separated, latin-1 (ml-1m, ml-10m)
    u_data = "u_data"  # u.data tab-separated, u.item pipe-separated latin-1 (ml-100k)


class SplitStrategy(str, Enum):
    random = "random"          # seeded permutation of the ratings; test_fraction to test
    temporal = "temporal"      # each user's latest test_fraction to test
    kfold = "kfold"            # seeded partition of the ratings into n_folds; fold `fold` is test
    predefined = "predefined"  # ml-100k's own <fold>.base / <fold>.test files, read as published


PREDEFINED_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


@dataclass
class DataConfig:
    name: str = "ml-latest-small"
    url: str = ""
    sha256: Optional[str] = None
    format: RatingsFormat = RatingsFormat.csv
    # set (with url synthetic://...) for a generated data set: the download stage generates it
    synthetic: Optional[SyntheticSpec] = None


@dataclass
class FilterConfig:
    min_movie_ratings: int = 5
    min_user_ratings: int = 1


@dataclass
class SplitConfig:
    """`test_fraction` serves random/temporal; `fold` names the test fold of kfold (0..n_folds-1)
    and predefined (u1..u5, ua, ub); `n_folds` serves kfold."""

    strategy: SplitStrategy = SplitStrategy.random
    test_fraction: float = 0.2
    n_folds: int = 5
    fold: Optional[str] = None

    def kfold_index(self) -> int:
        """The test fold of the kfold protocol as an int (0 when the strategy is another)."""
        return int(self.fold) if self.strategy is SplitStrategy.kfold else 0


@dataclass
class ModelConfig:
    name: str = "embedding"
    embedding_dim: int = 64
    dropout: float = 0.2
    learning_rate: float = 0.005
    weight_decay: float = 0.0
    l2: float = 1e-4
    batch_size: int = 1024
    implicit_weight: float = 0.1
    implicit_users: int = 64
    # 0: the choice softmax runs over every movie (exact); N > 0: over N negatives shared by the
    # step's users, drawn in proportion to count^0.75 (an importance-sampled estimate; large data)
    choice_negatives: int = 0
    rank_rating_weight: float = 1.0


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"
    devices: int = 1
    max_epochs: int = 30
    patience: int = 3
    val_fraction: float = 0.1
    num_threads: int = 1
    deterministic: bool = True
    refit: bool = True
    strategy: str = "auto"  # Lightning strategy: "ddp" across devices/nodes (conf/trainer/ddp.yaml)
    num_nodes: int = 1
    # large data: the rating loss with a closed-form backward (needs model.dropout=0; see docs/scaling.md)
    fused_rating_step: bool = False
    # keep freed memory in malloc's heap for the next step (glibc; movierec.allocator)
    reuse_freed_memory: bool = True


@dataclass
class EvaluateConfig:
    k: int = 10
    relevance_threshold: float = 4.0
    new_user_fraction: float = 0.1
    new_user_reveal: int = 10


@dataclass
class MlflowConfig:
    tracking_uri: Optional[str] = None
    experiment: str = "movierec"
    model_name: str = "movierec"
    alias: str = "champion"
    rmse_tolerance: float = 0.005
    ndcg_tolerance: float = 0.01


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    poll_seconds: float = 5.0
    max_content_length: int = 262144
    torch_threads: int = 1
    timeout: int = 120
    max_in_flight: int = 4
    queue_timeout: float = 2.0


@dataclass
class PathsConfig:
    raw: str = "data/raw"
    interim: str = "data/interim"
    processed: str = "data/processed"
    models: str = "models"
    reports: str = "reports"


@dataclass
class Config:
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    cf: UserUserConfig = field(default_factory=UserUserConfig)  # keys cf.*, validated by the class
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def _check_ranges(cfg: Config) -> None:
    checks = [
        ("filter.min_movie_ratings", cfg.filter.min_movie_ratings >= 1, "must be >= 1"),
        ("filter.min_user_ratings", cfg.filter.min_user_ratings >= 1, "must be >= 1"),
        ("split.test_fraction", 0.0 < cfg.split.test_fraction < 1.0, "must be in (0, 1)"),
        ("trainer.val_fraction", 0.0 < cfg.trainer.val_fraction < 1.0, "must be in (0, 1)"),
        ("model.embedding_dim", cfg.model.embedding_dim >= 1, "must be >= 1"),
        ("model.dropout", 0.0 <= cfg.model.dropout < 1.0, "must be in [0, 1)"),
        ("model.batch_size", cfg.model.batch_size >= 1, "must be >= 1"),
        ("model.learning_rate", cfg.model.learning_rate > 0, "must be > 0"),
        ("model.implicit_weight", cfg.model.implicit_weight >= 0, "must be >= 0"),
        ("model.implicit_users", cfg.model.implicit_users >= 1, "must be >= 1"),
        ("model.choice_negatives", cfg.model.choice_negatives >= 0, "must be >= 0"),
        ("trainer.max_epochs", cfg.trainer.max_epochs >= 1, "must be >= 1"),
        ("trainer.num_threads", cfg.trainer.num_threads >= 1, "must be >= 1"),
        ("trainer.num_nodes", cfg.trainer.num_nodes >= 1, "must be >= 1"),
        ("evaluate.k", cfg.evaluate.k >= 1, "must be >= 1"),
        ("evaluate.new_user_fraction", 0.0 < cfg.evaluate.new_user_fraction < 1.0, "must be in (0, 1)"),
        ("evaluate.new_user_reveal", cfg.evaluate.new_user_reveal >= 1, "must be >= 1"),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise ValueError(f"config key '{key}' {rule}")
    _check_split(cfg)


def _check_split(cfg: Config) -> None:
    split = cfg.split
    if split.strategy is SplitStrategy.kfold:
        if split.n_folds < 2:
            raise ValueError("config key 'split.n_folds' must be >= 2")
        if split.fold is None or not split.fold.isdigit() or not int(split.fold) < split.n_folds:
            raise ValueError(f"config key 'split.fold' must be a fold index 0..{split.n_folds - 1} "
                             f"for split.strategy=kfold, got {split.fold!r}")
    elif split.strategy is SplitStrategy.predefined:
        if cfg.data.name != "ml-100k":
            raise ValueError(f"config key 'split.strategy' predefined needs data=ml-100k (the only release "
                             f"with u1..u5/ua/ub files), got data.name={cfg.data.name!r}")
        if split.fold not in PREDEFINED_FOLDS:
            raise ValueError(f"config key 'split.fold' must be one of {list(PREDEFINED_FOLDS)} for "
                             f"split.strategy=predefined, got {split.fold!r}")


def compose(conf_dir: str | Path, overrides: list[str] | None = None) -> dict:
    """Hydra-compose `conf_dir/config.yaml` with overrides; resolved, as a plain dict.

    This is exactly what `params.yaml` holds (and what DVC's own composition writes).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=overrides or [])
    OmegaConf.resolve(cfg)
    return OmegaConf.to_container(cfg)  # type: ignore[return-value]


def validate(raw: DictConfig | dict) -> Config:
    """Merge a composed config into the schema: unknown keys, wrong types and bad ranges fail."""
    schema = OmegaConf.structured(Config)
    merged = OmegaConf.merge(schema, raw)
    cfg = OmegaConf.to_object(merged)
    assert isinstance(cfg, Config)
    _check_ranges(cfg)
    return cfg


def to_flat_dict(cfg: Config) -> dict[str, Any]:
    """`a.b.c -> value` pairs (enums as their values), e.g. for MLflow params."""
    container = OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = node

    walk("", container)
    return flat
