"""Typed configuration: the schema that every composed Hydra config is validated against.

`conf/` holds the values; these dataclasses hold the names and types. Validation happens
before any stage touches a file, and errors name the offending key (OmegaConf's message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from omegaconf import MISSING

from movierec.config.synthetic import SyntheticSpec
from movierec.config.user_user import UserUserConfig


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


DEFAULT_METHODS = {"embedding": "model", "user_user": "user_user"}
PREDEFINED_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
# the MovieLens rating scale: what readers accept and where predictions are clipped
RATING_MIN, RATING_MAX = 0.5, 5.0


@dataclass
class DataConfig:
    """Which release; always from a conf/data/*.yaml file (no default data set in code)."""

    name: str = MISSING
    url: str = MISSING
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
        return int(self.fold) if self.strategy is SplitStrategy.kfold and self.fold is not None else 0


@dataclass
class ModelConfig:
    name: str = "embedding"
    embedding_dim: int = 48
    dropout: float = 0.2
    learning_rate: float = 0.006
    weight_decay: float = 0.0
    l2: float = 0.08
    batch_size: int = 1024
    implicit_weight: float = 0.1
    implicit_users: int = 64
    # 0: the choice softmax runs over every movie (exact); N > 0: over N negatives shared by the
    # step's users, drawn in proportion to count^0.75 (an importance-sampled estimate; large data)
    choice_negatives: int = 0
    rank_rating_weight: float = 1.0  # one model's own ranking (EmbeddingRecommender.rank_scores)
    # the served method (models/embedding/hybrid.py): n_heads models of the above (init seeds
    # seed + i x head_seed_offset, one validation carve), rating = their mean; ranking = the blend
    # blend_item_item z(x B) + blend_choice z(choice) + blend_rating z(rating), z per user over movies
    n_heads: int = 4
    head_seed_offset: int = 100
    # > 0: SVD++-style implicit terms on both sides (user + |N(u)|^-1/2 Σ y_j, movie + |R(m)|^-1/2 Σ z_v),
    # this L2 on y and z (models/embedding/stacked.py)
    implicit_l2: float = 0.3
    # > 0: every head trains at once (one stacked module) for this many epochs (capped by
    # trainer.max_epochs) on all of train, chosen earlier on validation (benchmarks/stacked_research.py);
    # 0: head 0 chooses the count by early stopping on a validation carve, then each head refits (the
    # lone-head trainer: large data, conf/model/large.yaml); the default (4): docs/results.md "Issue 24"
    epochs: int = 4
    # with epochs > 0, k > 0: the kept weights are their mean over the ends of epochs k..epochs (SWA)
    average_from: int = 2
    # ... n > 0: over every n-th training step from the start of epoch k instead (0: the epoch ends)
    average_every: int = 0
    # > 0 (with epochs > 0): a bias per (user, UTC day) of the training ratings, this L2 per rating
    # (models/embedding/day_bias.py); predictions with a rating's time add it, unseen days add 0
    day_l2: float = 0.1
    # ... plus this prior per (user, day): a day with n training ratings weighs its bias by
    # day_l2 + day_prior / n per rating, so a one-rating day barely gets one (no sessions, no bias)
    day_prior: float = 10.0
    # > 0 (stacked trainer): frequency-aware L2 - each rating's l2 on p_u, b_u is scaled by n_u^-power and
    # on q_m, b_m by n_m^-power (training counts; each normalised to mean 1 over the training ratings);
    # 1 is a MAP-like constant prior per user/movie, 0 the same l2 per rating
    l2_count_power: float = 0.0
    # stacked trainer: the L2 on the user and movie biases is l2 x this (1: the same as on the vectors)
    bias_l2_scale: float = 1.0
    # > 0 (stacked trainer): implicit bias terms, this L2 per rating - the implicit sets reach the biases as
    # well as the vectors: b_u + |N(u)|^-1/2 Σ w_j, b_m + |R(m)|^-1/2 Σ w'_v (models/embedding/stacked.py)
    implicit_bias_l2: float = 0.0
    # stacked trainer: ratings trained and served through the clipped-normal link (the expected rating of a
    # noisy score clipped to the scale, its noise σ learned per head; models/embedding/link.py)
    rating_link: bool = False
    # the served rating is mu + this x (the heads' mean rating - mu), mu the training mean: the average of
    # the heads is under-dispersed (models/embedding/hybrid.py); chosen on validation; 1: as averaged
    rating_stretch: float = 1.1
    # a new user's closed-form fold-in: its ridge on the vector is l2 x fold_in_scale, on the bias
    # l2 x fold_in_bias_scale (chosen on validation new users, benchmarks/new_user_research.py)
    fold_in_scale: float = 2.0
    fold_in_bias_scale: float = 8.0
    item_item_lambda: float = 300.0
    item_item_tilt: float = 0.25
    # dense item-item weights are n_movies^2 floats: above this many movies only the most rated are
    # modelled (15000: 0.9 GB float32; 20000 would be 1.6 GB); 0 = no cap
    item_item_max_movies: int = 15000
    blend_item_item: float = 1.0  # 0: no item-item model is fitted
    blend_choice: float = 0.75
    blend_rating: float = 0.5


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"
    devices: int = 1
    max_epochs: int = 40
    patience: int = 3
    val_fraction: float = 0.1
    num_threads: int = 2
    deterministic: bool = True
    refit: bool = True
    strategy: str = "auto"  # Lightning strategy: "ddp" across devices/nodes (conf/trainer/ddp.yaml)
    num_nodes: int = 1
    # large data: the rating loss with a closed-form backward (needs model.dropout=0; see docs/scaling.md)
    fused_rating_step: bool = False
    # keep freed memory in malloc's heap for the next step (glibc; pipeline.memory)
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
    worker_class: str = "gevent"
    worker_connections: int = 2000
    idle_timeout: int = 10
    body_timeout: float = 10.0
    registry_timeout: int = 2
    registry_retries: int = 1
    registry_backoff: int = 1
    download_timeout: int = 60
    model_cache: str | None = None
    drain_seconds: float = 5.0


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
    # method name -> its config section (conf/config.yaml `methods`); a section not declared below
    # (a method added later) is kept in `sections` and validated by the method's own config class
    methods: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_METHODS))
    sections: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    user_user: UserUserConfig = field(default_factory=UserUserConfig)  # keys user_user.*, validated by the class
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
