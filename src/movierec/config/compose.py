"""Compose conf/ with Hydra, validate it against the schema, flatten it for MLflow."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from movierec.config.errors import ConfigError, one_line, schema_error, with_suggestion
from movierec.config.schema import PREDEFINED_FOLDS, Config, SplitStrategy


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
        ("model.n_heads", cfg.model.n_heads >= 1, "must be >= 1"),
        ("model.implicit_l2", cfg.model.implicit_l2 >= 0, "must be >= 0"),
        ("model.epochs", cfg.model.epochs >= 0, "must be >= 0"),
        ("model.average_from", 0 <= cfg.model.average_from <= cfg.model.epochs,
         "must be in [0, model.epochs]"),
        ("model.average_every", cfg.model.average_every >= 0, "must be >= 0"),
        ("model.average_every", cfg.model.average_every == 0 or cfg.model.average_from > 0,
         "needs model.average_from > 0 (the epoch the step average starts)"),
        ("model.bias_l2_scale", cfg.model.bias_l2_scale >= 0, "must be >= 0"),
        ("model.bias_l2_scale", cfg.model.bias_l2_scale == 1 or cfg.model.epochs > 0,
         "needs model.epochs > 0 (it scales the stacked heads' bias L2)"),
        ("model.implicit_l2", cfg.model.implicit_l2 == 0 or cfg.model.epochs > 0,
         "needs model.epochs > 0 (the implicit terms train in the stacked heads)"),
        ("model.day_l2", cfg.model.day_l2 >= 0, "must be >= 0"),
        ("model.day_prior", cfg.model.day_prior >= 0, "must be >= 0"),
        ("model.l2_count_power", cfg.model.l2_count_power >= 0, "must be >= 0"),
        ("model.l2_count_power", cfg.model.l2_count_power == 0 or cfg.model.epochs > 0,
         "needs model.epochs > 0 (the frequency-aware L2 is the stacked heads')"),
        ("model.implicit_bias_l2", cfg.model.implicit_bias_l2 >= 0, "must be >= 0"),
        ("model.implicit_bias_l2", cfg.model.implicit_bias_l2 == 0 or cfg.model.epochs > 0,
         "needs model.epochs > 0 (the implicit bias terms train in the stacked heads)"),
        ("model.rating_link", not cfg.model.rating_link or cfg.model.epochs > 0,
         "needs model.epochs > 0 (the rating link trains in the stacked heads)"),
        ("model.fold_in_scale", cfg.model.fold_in_scale > 0, "must be > 0"),
        ("model.rating_stretch", cfg.model.rating_stretch > 0, "must be > 0"),
        ("model.fold_in_bias_scale", cfg.model.fold_in_bias_scale > 0, "must be > 0"),
        ("model.day_l2", cfg.model.day_l2 == 0 or cfg.model.epochs > 0,
         "needs model.epochs > 0 (the per-user-day biases train in the stacked heads)"),
        ("model.head_seed_offset", cfg.model.n_heads == 1 or cfg.model.head_seed_offset != 0,
         "must be != 0 when model.n_heads > 1"),
        ("model.item_item_lambda", cfg.model.item_item_lambda > 0, "must be > 0"),
        ("model.item_item_tilt", cfg.model.item_item_tilt >= 0, "must be >= 0"),
        ("model.item_item_max_movies", cfg.model.item_item_max_movies >= 0, "must be >= 0"),
        ("trainer.max_epochs", cfg.trainer.max_epochs >= 1, "must be >= 1"),
        ("trainer.num_threads", cfg.trainer.num_threads >= 1, "must be >= 1"),
        ("trainer.num_nodes", cfg.trainer.num_nodes >= 1, "must be >= 1"),
        ("evaluate.k", cfg.evaluate.k >= 1, "must be >= 1"),
        ("evaluate.new_user_fraction", 0.0 < cfg.evaluate.new_user_fraction < 1.0, "must be in (0, 1)"),
        ("evaluate.new_user_reveal", cfg.evaluate.new_user_reveal >= 1, "must be >= 1"),
        ("serve.registry_timeout", cfg.serve.registry_timeout >= 1, "must be >= 1"),
        ("serve.registry_retries", cfg.serve.registry_retries >= 0, "must be >= 0"),
        ("serve.registry_backoff", cfg.serve.registry_backoff >= 0, "must be >= 0"),
        ("serve.download_timeout", cfg.serve.download_timeout >= 1, "must be >= 1"),
        ("serve.drain_seconds", cfg.serve.drain_seconds >= 0, "must be >= 0"),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise ConfigError(f"config key '{key}' {rule}")
    _check_split(cfg)


def _check_split(cfg: Config) -> None:
    split = cfg.split
    if split.strategy is SplitStrategy.kfold:
        if split.n_folds < 2:
            raise ConfigError("config key 'split.n_folds' must be >= 2")
        if split.fold is None or not split.fold.isdigit() or not int(split.fold) < split.n_folds:
            raise ConfigError(f"config key 'split.fold' must be a fold index 0..{split.n_folds - 1} "
                             f"for split.strategy=kfold, got {split.fold!r}")
    elif split.strategy is SplitStrategy.predefined:
        if cfg.data.name != "ml-100k":
            raise ConfigError(f"config key 'split.strategy' predefined needs data=ml-100k (the only release "
                             f"with u1..u5/ua/ub files), got data.name={cfg.data.name!r}")
        if split.fold not in PREDEFINED_FOLDS:
            raise ConfigError(f"config key 'split.fold' must be one of {list(PREDEFINED_FOLDS)} for "
                             f"split.strategy=predefined, got {split.fold!r}")


def compose(conf_dir: str | Path, overrides: list[str] | None = None) -> dict:
    """Hydra-compose `conf_dir/config.yaml` with overrides; resolved, as a plain dict.

    This is exactly what `params.yaml` holds (and what DVC's own composition writes).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    try:
        with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=overrides or [])
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:  # bad override, unknown option, broken conf/ file
        raise ConfigError(with_suggestion(one_line(str(exc)), Config)) from None
    return OmegaConf.to_container(cfg)  # type: ignore[return-value]


SCHEMA_KEYS = frozenset(f.name for f in dataclasses.fields(Config))


def lift_method_sections(raw: DictConfig | dict) -> dict:
    """`raw` with the sections of methods the schema does not declare moved under `sections`.

    A method added later brings its own conf/ section (e.g. `item_mean.*`) and config class; the
    schema keeps it as a plain mapping and :func:`movierec.methods.method_config` validates it.
    A top-level key that is neither in the schema nor a listed method's section is still refused.
    """
    plain = OmegaConf.to_container(raw) if isinstance(raw, DictConfig) else dict(raw)
    assert isinstance(plain, dict)
    methods = plain.get("methods") or {}
    if not isinstance(methods, dict):
        raise ConfigError(f"config key 'methods' must map method names to config sections, got {methods!r}")
    extra = {section for section in methods.values() if section not in SCHEMA_KEYS and section in plain}
    if extra:
        plain["sections"] = {**(plain.get("sections") or {}), **{s: plain.pop(s) for s in sorted(extra)}}
    return plain


def validate(raw: DictConfig | dict) -> Config:
    """Merge a composed config into the schema: unknown keys, wrong types and bad ranges fail
    (:class:`ConfigError`, one line naming the key, the value and what is expected)."""
    schema = OmegaConf.structured(Config)
    try:
        merged = OmegaConf.merge(schema, lift_method_sections(raw))
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:  # one line: key, value, expected type (:class:`ConfigError`)
        raise schema_error(exc, Config) from None
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

    assert isinstance(container, dict)
    sections = container.pop("sections", None) or {}
    walk("", container)
    walk("", sections)  # a later method's section under its own name, as in params.yaml
    return flat
