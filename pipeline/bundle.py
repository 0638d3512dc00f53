"""Stage `bundle`: assemble the model bundle the service loads (every configured method, ids, movie table).

Each method's folder is copied from models/methods/<method>/ as its `train@<method>` stage wrote it
(nothing is loaded: no method is serialised twice, and the stage needs no torch); the evaluate
stage is the first to load the bundle. Writes models/bundle/ atomically (a reader sees the old
bundle or the new one, never half).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from movierec.atomic import atomic_dir
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.methods import check_method_name, trained_dir
from movierec.serving.model_bundle import assemble_bundle
from pipeline.stage import stage

log = logging.getLogger(__name__)


def known_ratings(train, n_users: int, n_movies: int) -> sp.csr_matrix:
    """The known users' profiles: train ratings as CSR, indices sorted within each user."""
    matrix = sp.csr_matrix((train["rating"].to_numpy(np.float32),
                            (train["user_idx"].to_numpy(np.int64), train["movie_idx"].to_numpy(np.int64))),
                           shape=(n_users, n_movies))
    matrix.sort_indices()
    return matrix


def run(cfg: Config) -> Path:
    for name in cfg.methods:  # by name only: loading the embedding method would import torch for a copy
        check_method_name(name)
    data = load_processed(cfg.paths.processed)
    models_dir = Path(cfg.paths.models)
    target = models_dir / "bundle"
    with atomic_dir(target) as tmp:
        assemble_bundle(tmp, data.vocab, data.movies, known_ratings(data.train, data.n_users, data.n_movies),
                        {name: trained_dir(models_dir, name) for name in cfg.methods})
    log.info("bundle: %s (%s; %d users, %d movies)", target, ", ".join(cfg.methods), len(data.vocab.users),
             len(data.vocab.movies))
    return target


main = stage(run, expected=(ValueError, FileNotFoundError))

if __name__ == "__main__":
    main()
