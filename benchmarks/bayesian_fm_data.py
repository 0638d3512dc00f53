"""The Bayesian FM anchor (benchmarks/bayesian_fm.py) on another data group's split: rating error only.

    python benchmarks/bayesian_fm_data.py data=synthetic-1m [--rank 32] [--sweeps 512] [--validation]

The split is the one `benchmarks/embedding.py` uses for that data group (built by the pipeline's own
stages under .tmp/benchmarks/<data.name>/). (rank, sweeps) are fixed on the command line - by default
the point ml-latest-small's validation chose (benchmarks/results/accuracy.md), not re-tuned here - and
only RMSE/MAE are scored (ranking every movie for every test user from hundreds of kept samples is
out of reach on 2 cores at this size). With ``--validation`` the test split is not read: the FM
trains on 90% of train and is scored on the seeded 10% (seed 42) that
benchmarks/synthetic_research.py scores the embedding variants on. Needs ``myfm`` (the ``bench``
extra). Writes benchmarks/results/bayesian_fm-<data.name>[-validation].{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bayesian_fm import fit_bayesian_fm  # noqa: E402
from benchmarks.embedding import processed_data  # noqa: E402
from benchmarks.synthetic_research import validation_split  # noqa: E402
from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.config import validate  # noqa: E402
from pipeline.stage import compose_params  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--sweeps", type=int, default=512)
    parser.add_argument("--validation", action="store_true",
                        help="fit on 90%% of train, score its seeded 10%% (synthetic_research.py's slice)")
    parser.add_argument("overrides", nargs="+", help="Hydra overrides naming the data group, e.g. data=synthetic-1m")
    args = parser.parse_args(argv)
    cfg = validate(compose_params(args.overrides))
    data = processed_data(cfg, args.overrides)
    train, test = data.train, data.test
    if args.validation:
        train, test = validation_split(train)
    started = time.perf_counter()
    model = fit_bayesian_fm(train, data.n_users, data.n_movies, args.rank, args.sweeps)
    seconds = time.perf_counter() - started
    predicted = np.clip(model.predict_pairs(test["user_idx"].to_numpy(), test["movie_idx"].to_numpy()), 0.5, 5.0)
    error = predicted - test["rating"].to_numpy(np.float64)
    result = {"data": cfg.data.name, "rank": args.rank, "sweeps": args.sweeps, "fit_seconds": round(seconds, 1),
              "rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
              "train_ratings": len(train), "test_ratings": len(test), "validation": args.validation}
    scored_on = ("the seeded 10% validation slice of train (benchmarks/synthetic_research.py's), fitted on the other "
                 "90%" if args.validation else "the split of benchmarks/embedding.py")
    held_out = "validation" if args.validation else "test"
    text = (f"# Bayesian FM (myFM) on {cfg.data.name}\n\n{len(train):,} train / {len(test):,} {held_out} ratings "
            f"({scored_on}); rank {args.rank}, {args.sweeps} Gibbs sweeps (burn-in 1/4), "
            f"not re-tuned on this data.\n\n| RMSE | MAE | fit s |\n|---:|---:|---:|\n"
            f"| {result['rmse']:.4f} | {result['mae']:.4f} | {seconds:.0f} |\n")
    suffix = "-validation" if args.validation else ""
    out = REPO_ROOT / "benchmarks" / "results" / f"bayesian_fm-{cfg.data.name}{suffix}"
    atomic_write_json(out.with_suffix(".json"), result)
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
