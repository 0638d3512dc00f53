"""The Bayesian FM anchor (benchmarks/bayesian_fm.py) on another data group's split: rating error only.

    python benchmarks/bayesian_fm_data.py data=synthetic-1m [--rank 32] [--sweeps 512] [--validation] [--seeds 42,43]

The split is the one `benchmarks/embedding.py` uses for that data group (built by the pipeline's own
stages under .tmp/benchmarks/<data.name>/). (rank, sweeps) are fixed on the command line - by default
the point ml-latest-small's validation chose (benchmarks/results/accuracy.md), not re-tuned here - and
only RMSE/MAE are scored (ranking every movie for every test user from hundreds of kept samples is
out of reach on 2 cores at this size). With ``--validation`` the test split is not read: the FM
trains on 90% of train and is scored on the seeded 10% (seed 42) that
benchmarks/synthetic_research.py scores the embedding variants on. Needs ``myfm`` (the ``bench``
extra). ``--seeds``: the sampler's seeds, one fit each (default 42); a seed run again replaces its row,
the others saved for the same (data, rank, sweeps, slice) are kept. Writes
benchmarks/results/bayesian_fm-<data.name>[-validation].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bayesian_fm import SEED, fit_bayesian_fm  # noqa: E402
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
    parser.add_argument("--seeds", default=str(SEED), help="','-separated sampler seeds, one fit each")
    parser.add_argument("overrides", nargs="+", help="Hydra overrides naming the data group, e.g. data=synthetic-1m")
    args = parser.parse_args(argv)
    cfg = validate(compose_params(args.overrides))
    data = processed_data(cfg, args.overrides)
    train, test = data.train, data.test
    if args.validation:
        train, test = validation_split(train)
    suffix = "-validation" if args.validation else ""
    out = REPO_ROOT / "benchmarks" / "results" / f"bayesian_fm-{cfg.data.name}{suffix}"
    setting = {"data": cfg.data.name, "rank": args.rank, "sweeps": args.sweeps, "train_ratings": len(train),
               "test_ratings": len(test), "validation": args.validation}
    runs = saved_runs(out.with_suffix(".json"), setting)
    for seed in [int(x) for x in args.seeds.split(",") if x.strip()]:
        started = time.perf_counter()
        model = fit_bayesian_fm(train, data.n_users, data.n_movies, args.rank, args.sweeps, seed)
        seconds = time.perf_counter() - started
        predicted = np.clip(model.predict_pairs(test["user_idx"].to_numpy(), test["movie_idx"].to_numpy()), 0.5, 5.0)
        error = predicted - test["rating"].to_numpy(np.float64)
        run = {"seed": seed, "rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
               "fit_seconds": round(seconds, 1)}
        print(json.dumps(run), flush=True)
        runs = sorted([r for r in runs if r["seed"] != seed] + [run], key=lambda r: r["seed"])
        result = {**setting, "runs": runs, "rmse": float(np.mean([r["rmse"] for r in runs])),
                  "mae": float(np.mean([r["mae"] for r in runs]))}
        atomic_write_json(out.with_suffix(".json"), result)
        atomic_write_text(out.with_suffix(".md"), markdown(result))
    print(out.with_suffix(".md").read_text())
    return 0


def saved_runs(path: Path, setting: dict) -> list[dict]:
    """The runs saved at `path` for the same setting (a file from before --seeds: its one run, seed 42)."""
    if not path.is_file():
        return []
    saved = json.loads(path.read_text())
    if any(saved.get(key, False) != value for key, value in setting.items()):
        return []
    return saved.get("runs") or [{"seed": SEED, "rmse": saved["rmse"], "mae": saved["mae"],
                                  "fit_seconds": saved["fit_seconds"]}]


def markdown(result: dict) -> str:
    scored_on = ("the seeded 10% validation slice of train (benchmarks/synthetic_research.py's), fitted on the other "
                 "90%" if result["validation"] else "the split of benchmarks/embedding.py")
    held_out = "validation" if result["validation"] else "test"
    lines = [f"# Bayesian FM (myFM) on {result['data']}", "",
             f"{result['train_ratings']:,} train / {result['test_ratings']:,} {held_out} ratings ({scored_on}); "
             f"rank {result['rank']}, {result['sweeps']} Gibbs sweeps (burn-in 1/4), not re-tuned on this data.", "",
             "| sampler seed | RMSE | MAE | fit s |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['seed']} | {r['rmse']:.4f} | {r['mae']:.4f} | {r['fit_seconds']:.0f} |" for r in result["runs"]]
    if len(result["runs"]) > 1:
        lines.append(f"| mean | {result['rmse']:.4f} | {result['mae']:.4f} | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
