"""Stage `train_user_user`: fit the user-user Pearson model (biases + sparse ratings) on train.

Writes models/user_user/model.npz (plain arrays) and models/user_user/config.json.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from movierec.atomic import atomic_path, atomic_write_json
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.models.user_user.model import UserUserRecommender
from pipeline.stage import stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    data = load_processed(cfg.paths.processed)
    uu_cfg = cfg.cf
    model = UserUserRecommender.fit(data.train["user_idx"].to_numpy(), data.train["movie_idx"].to_numpy(),
                                    data.train["rating"].to_numpy(), data.n_users, data.n_movies, uu_cfg)
    out = Path(cfg.paths.models) / "user_user"
    with atomic_path(out / "model.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **model.to_arrays())  # type: ignore[arg-type]  # numpy stubs: **arrays
    atomic_write_json(out / "config.json", asdict(uu_cfg))
    log.info("train_user_user: %d users x %d movies, %d ratings", data.n_users, data.n_movies, len(data.train))


main = stage(run)

if __name__ == "__main__":
    main()
