"""Stage `reindex`: contiguous user/movie indices (a saved vocabulary) and the train/test split.

`split.strategy=predefined` (ml-100k) reads the release's own <fold>.base/.test from the raw
folder instead of splitting the filtered ratings. Writes data/processed/{train,test,movies}.parquet
and data/processed/vocabulary.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from movierec.atomic import atomic_write_parquet
from movierec.config import Config, SplitStrategy
from movierec.data.dataset import ProcessedData, build_processed, index_split
from movierec.data.readers import read_predefined_split
from movierec.data.split import drop_uncovered
from pipeline.stage import stage

log = logging.getLogger(__name__)


def split_data(cfg: Config) -> ProcessedData:
    if cfg.split.strategy is SplitStrategy.predefined:
        base, test, movies = read_predefined_split(Path(cfg.paths.raw) / cfg.data.name, str(cfg.split.fold))
        test, dropped = drop_uncovered(base, test)
        log.info("reindex: predefined %s as published (no filter); dropped %d test rating(s) of users/movies "
                 "absent from %s.base", cfg.split.fold, dropped, cfg.split.fold)
        return index_split(base, test, movies)
    interim = Path(cfg.paths.interim)
    ratings = pd.read_parquet(interim / "ratings.parquet")
    movies = pd.read_parquet(interim / "movies.parquet")
    return build_processed(ratings, movies, cfg.split.strategy, cfg.split.test_fraction, cfg.seed,
                           cfg.split.n_folds, cfg.split.kfold_index())


def run(cfg: Config) -> None:
    out = Path(cfg.paths.processed)
    data = split_data(cfg)
    atomic_write_parquet(out / "train.parquet", data.train)
    atomic_write_parquet(out / "test.parquet", data.test)
    atomic_write_parquet(out / "movies.parquet", data.movies)
    data.vocab.save(out / "vocabulary.json")
    log.info("reindex: %d users, %d movies; train %d, test %d ratings",
             len(data.vocab.users), len(data.vocab.movies), len(data.train), len(data.test))


main = stage(run)

if __name__ == "__main__":
    main()
