"""Stage `bundle`: assemble the model bundle the service loads (both methods, ids, movie table).

Writes models/bundle/ atomically (a reader sees the old bundle or the new one, never half).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from movierec.atomic import atomic_dir
from movierec.config import Config, UserUserConfig
from movierec.data.dataset import load_processed
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.model_bundle import ModelBundle
from pipeline.stage import stage

log = logging.getLogger(__name__)


def load_models(models_dir: Path) -> tuple[HybridRecommender, UserUserRecommender]:
    embedding = HybridRecommender.load(models_dir / "embedding")
    uu_cfg = UserUserConfig.from_saved(json.loads((models_dir / "user_user" / "config.json").read_text()))
    with np.load(models_dir / "user_user" / "model.npz", allow_pickle=False) as arrays:
        user_user = UserUserRecommender.from_arrays({k: arrays[k] for k in arrays.files}, uu_cfg)
    return embedding, user_user


def run(cfg: Config) -> Path:
    data = load_processed(cfg.paths.processed)
    models_dir = Path(cfg.paths.models)
    embedding, user_user = load_models(models_dir)
    bundle = ModelBundle.build(data.vocab, data.movies, embedding, user_user)
    target = models_dir / "bundle"
    with atomic_dir(target) as tmp:
        bundle.save(tmp)
    log.info("bundle: %s (%d users, %d movies)", target, len(data.vocab.users), len(data.vocab.movies))
    return target


main = stage(run)

if __name__ == "__main__":
    main()
