"""Stage `reindex`: contiguous user/movie indices (a saved vocabulary) and the train/test split.

Writes data/processed/{train,test,movies}.parquet and data/processed/vocabulary.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from movierec.atomic import atomic_write_parquet
from movierec.config import Config
from movierec.processed import build_processed
from pipeline.stage import stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> None:
    interim, out = Path(cfg.paths.interim), Path(cfg.paths.processed)
    ratings = pd.read_parquet(interim / "ratings.parquet")
    movies = pd.read_parquet(interim / "movies.parquet")
    data = build_processed(ratings, movies, cfg.split.strategy, cfg.split.test_fraction, cfg.seed)
    atomic_write_parquet(out / "train.parquet", data.train)
    atomic_write_parquet(out / "test.parquet", data.test)
    atomic_write_parquet(out / "movies.parquet", data.movies)
    data.vocab.save(out / "vocabulary.json")
    log.info("reindex: %d users, %d movies; train %d, test %d ratings",
             len(data.vocab.users), len(data.vocab.movies), len(data.train), len(data.test))


main = stage(run)

if __name__ == "__main__":
    main()
