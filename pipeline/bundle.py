"""Stage `bundle`: assemble the model bundle the service loads (every configured method, ids, movie table).

Each method is loaded from models/methods/<method>/ (what its `train@<method>` stage wrote). Writes
models/bundle/ atomically (a reader sees the old bundle or the new one, never half).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from movierec.atomic import atomic_dir
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.methods import Method, configured_methods, method_class, trained_dir
from movierec.serving.model_bundle import ModelBundle
from pipeline.stage import stage

log = logging.getLogger(__name__)


def load_methods(models_dir: Path, names: list[str]) -> dict[str, Method]:
    return {name: method_class(name).load(trained_dir(models_dir, name)) for name in names}


def known_ratings(train, n_users: int, n_movies: int) -> sp.csr_matrix:
    """The known users' profiles: train ratings as CSR, indices sorted within each user."""
    matrix = sp.csr_matrix((train["rating"].to_numpy(np.float32),
                            (train["user_idx"].to_numpy(np.int64), train["movie_idx"].to_numpy(np.int64))),
                           shape=(n_users, n_movies))
    matrix.sort_indices()
    return matrix


def run(cfg: Config) -> Path:
    data = load_processed(cfg.paths.processed)
    models_dir = Path(cfg.paths.models)
    methods = load_methods(models_dir, configured_methods(cfg))
    bundle = ModelBundle.build(data.vocab, data.movies, known_ratings(data.train, data.n_users, data.n_movies),
                               methods)
    target = models_dir / "bundle"
    with atomic_dir(target) as tmp:
        bundle.save(tmp)
    log.info("bundle: %s (%s; %d users, %d movies)", target, ", ".join(methods), len(data.vocab.users),
             len(data.vocab.movies))
    return target


main = stage(run)

if __name__ == "__main__":
    main()
