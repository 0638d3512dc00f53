"""Stage `filter`: read the raw release, drop rarely rated movies and then empty users.

Writes data/interim/{ratings,movies}.parquet and reports/filter.json (counts before/after).
"""

from __future__ import annotations

import logging
from pathlib import Path

from movierec.atomic import atomic_write_json, atomic_write_parquet
from movierec.config import Config
from movierec.data.count_filter import filter_ratings, filter_report
from movierec.data.readers import read_dataset
from movierec.data.release import DatasetError
from pipeline.stage import stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    ratings, movies = read_dataset(Path(cfg.paths.raw) / cfg.data.name, cfg.data.format)
    kept = filter_ratings(ratings, cfg.filter.min_movie_ratings, cfg.filter.min_user_ratings)
    interim = Path(cfg.paths.interim)
    atomic_write_parquet(interim / "ratings.parquet", kept)
    atomic_write_parquet(interim / "movies.parquet", movies[movies["movie_id"].isin(kept["movie_id"])])
    report = filter_report(ratings, kept)
    atomic_write_json(Path(cfg.paths.reports) / "filter.json", report)
    log.info("filter: %s -> %s", report["before"], report["after"])
    return report


main = stage(run, expected=(DatasetError,))

if __name__ == "__main__":
    main()
