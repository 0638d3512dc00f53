"""Canonical protocols: every method trained and evaluated on each fold, reported as mean ± std.

    kfold       (default) the configured data (ml-latest-small, filtered as in conf/), a seeded
                random partition of the ratings into 5 folds, each fold the test set once
                (``split.strategy=kfold``; test users/movies unseen in train move to train).
    predefined  MovieLens 100K's own u1..u5 base/test files as published (``split.strategy=predefined``;
                needs the extracted release in <paths.raw>/ml-100k, e.g. after
                ``python -m pipeline.params data=ml-100k && dvc repro download``).

Each fold: fit the chosen methods on train (popularity, user-user Pearson, the embedding method as the
train stage builds it with the conf/ hyper-parameters - its epoch count chosen on a seeded slice of
train - EASE^R with lambda chosen on that same slice, benchmarks/baselines.py, and, asked for with
``--methods ...,myfm``, myFM's Bayesian factorization machine with rank and Gibbs sweeps chosen on
validation RMSE on that slice, benchmarks/bayesian_fm.py, needs the ``bench`` extra), then
:func:`movierec.evaluation.protocol.evaluate` on the known-user cases with the movie table as catalogue -
the same metric code as ``reports/metrics.json``. std is the sample standard deviation (ddof=1)
over folds; "fit s/fold" includes a method's tuning on the slice. Writes ``<out>/<name>.json`` and
``<out>/<name>.md`` (what each tuned method chose, per fold, in both).

    python benchmarks/folds.py [--protocol kfold|predefined] [--methods popularity,user_user,embedding,ease,myfm]
                               [--max-epochs N] [--folds 0,1] [--out benchmarks/results] [hydra overrides...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # for pipeline.stage (the config composition)

from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.config import PREDEFINED_FOLDS, Config, SplitStrategy, validate  # noqa: E402
from movierec.data.count_filter import filter_ratings  # noqa: E402
from movierec.data.dataset import ProcessedData, build_processed, index_split  # noqa: E402
from movierec.data.readers import read_dataset, read_predefined_split  # noqa: E402
from movierec.data.split import drop_uncovered, random_fraction_mask  # noqa: E402
from movierec.evaluation.protocol import MovieStats, evaluate, known_user_cases  # noqa: E402
from movierec.models.popularity import PopularityRecommender  # noqa: E402
from pipeline.memory import prepare_training_process  # noqa: E402
from pipeline.stage import compose_params  # noqa: E402

log = logging.getLogger("benchmarks.folds")
METHODS = ("popularity", "user_user", "embedding", "ease", "myfm")
DEFAULT_METHODS = ("popularity", "user_user", "embedding", "ease")  # myfm: optional package, minutes per fold
TABLE_KEYS = ["rmse", "mae", "precision@{k}", "recall@{k}", "ndcg@{k}", "hit_rate@{k}", "coverage@{k}",
              "mean_popularity@{k}", "novelty@{k}", "diversity@{k}"]


def protocol_text(cfg: Config, protocol: str, folds: list[str]) -> str:
    if protocol == "predefined":
        data = (f"{cfg.data.name}, the release's own {', '.join(folds)} base/test files as published "
                f"(no rating filter; test ratings of movies absent from the base file dropped)")
    else:
        data = (f"{cfg.data.name}, movies with >= {cfg.filter.min_movie_ratings} ratings, {cfg.split.n_folds}-fold "
                f"random partition of the ratings (seed {cfg.seed}), folds {', '.join(folds)} each the test set "
                f"once; test users/movies unseen in train moved to train")
    return (f"{data}; top-{cfg.evaluate.k} over the movies a user has not rated in train; relevant = test rating "
            f">= {cfg.evaluate.relevance_threshold:g}; mean ± sample std (ddof=1) over folds")


def fold_data(cfg: Config, protocol: str, fold: str, ratings=None, movies=None) -> ProcessedData:
    if protocol == "predefined":
        base, test, all_movies = read_predefined_split(Path(cfg.paths.raw) / cfg.data.name, fold)
        test, dropped = drop_uncovered(base, test)
        log.info("fold %s: dropped %d test rating(s) of users/movies absent from %s.base", fold, dropped, fold)
        return index_split(base, test, all_movies)
    return build_processed(ratings, movies, SplitStrategy.kfold, cfg.split.test_fraction, cfg.seed,
                           cfg.split.n_folds, int(fold))


def fit(method: str, data: ProcessedData, cfg: Config) -> tuple[object, str]:
    """The fitted model and, for a method tuned on the validation slice, what it chose ("" otherwise)."""
    u, m, r = (data.train[c].to_numpy() for c in ("user_idx", "movie_idx", "rating"))
    if method == "popularity":
        return PopularityRecommender.fit(m, r, data.n_movies), ""
    if method == "user_user":
        from movierec.models.user_user.model import UserUserRecommender

        return UserUserRecommender.fit(u, m, r, data.n_users, data.n_movies, cfg.user_user), ""
    if method == "embedding":
        from movierec.models.embedding.train_hybrid import train_hybrid

        return train_hybrid(data.train, None, data.n_users, data.n_movies, cfg.model, cfg.trainer,
                            cfg.seed).model, ""
    if method in ("ease", "myfm"):
        from benchmarks.baselines import tuned_ease
        from benchmarks.bayesian_fm import tuned_bayesian_fm

        tune = tuned_ease if method == "ease" else tuned_bayesian_fm
        val = random_fraction_mask(len(data.train), cfg.trainer.val_fraction, cfg.seed)
        name, refit, account = tune(data.train[~val], data.train[val], data.n_users, data.n_movies)
        log.info("%s: %s", name, account)
        return refit(data.train), account
    raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")


def summarise(per_fold: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {metric: {mean, std, values}}} over the folds (undefined values left out)."""
    summary: dict = {}
    for row in per_fold:
        for method, metrics in row["metrics"].items():
            for key, value in metrics.items():
                summary.setdefault(method, {}).setdefault(key, []).append(float(value))

    def stats(values: list[float]) -> dict:
        defined = np.asarray([v for v in values if np.isfinite(v)])
        return {"mean": float(defined.mean()) if defined.size else float("nan"),
                "std": float(defined.std(ddof=1)) if defined.size > 1 else float("nan"), "values": values}

    return {method: {key: stats(v) for key, v in metrics.items()} for method, metrics in summary.items()}


def render_markdown(summary: dict, protocol: str, k: int, n_folds: int, seconds: dict[str, float],
                    per_fold: list[dict] | None = None) -> str:
    keys = [key.format(k=k) for key in TABLE_KEYS]
    keys = [key for key in keys if any(key in metrics for metrics in summary.values())]
    lines = [f"# Benchmark over {n_folds} folds", "", f"**Protocol:** {protocol}.", "",
             "| method | " + " | ".join(keys) + " | fit s/fold |", "|---|" + "---:|" * (len(keys) + 1)]
    for method, metrics in summary.items():
        cells = []
        for key in keys:
            stat = metrics.get(key)
            digits = 1 if key.startswith("mean_popularity") else 4
            cells.append("–" if stat is None or not np.isfinite(stat["mean"])
                         else f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}")
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {seconds.get(method, float('nan')):.1f} |")
    lines += ["", "Metric definitions: `src/movierec/evaluation/metrics.py` (the same code as "
              "`reports/metrics.json`). fit s/fold: mean wall seconds per fold, tuning on the validation "
              "slice included.", ""]
    tuning = [(row["fold"], method, account) for row in per_fold or [] for method, account in row["tuning"].items()]
    if tuning:
        lines += ["Chosen on each fold's validation slice of train:", ""]
        lines += [f"- fold {fold}, {method}: {account}" for fold, method, account in tuning]
        lines.append("")
    return "\n".join(lines)


def run(protocol: str, methods: list[str], folds: list[str] | None, max_epochs: int | None, out: Path,
        name: str | None, overrides: list[str]) -> dict:
    if protocol == "predefined" and not any(o.startswith("data=") for o in overrides):
        overrides = ["data=ml-100k", *overrides]
    split = ["split=predefined"] if protocol == "predefined" else ["split=kfold"]
    cfg = validate(compose_params([*split, *overrides]))
    prepare_training_process(cfg.trainer)
    cfg.paths.raw = str(REPO_ROOT / cfg.paths.raw)  # an absolute paths.raw stays as it is
    if max_epochs is not None:
        cfg.trainer = replace(cfg.trainer, max_epochs=max_epochs)
    if folds is None:
        folds = list(PREDEFINED_FOLDS[:5]) if protocol == "predefined" else [str(i) for i in range(cfg.split.n_folds)]
    ratings = movies = None
    if protocol == "kfold":
        raw, all_movies = read_dataset(Path(cfg.paths.raw) / cfg.data.name, cfg.data.format)
        ratings = filter_ratings(raw, cfg.filter.min_movie_ratings, cfg.filter.min_user_ratings)
        movies = all_movies[all_movies["movie_id"].isin(ratings["movie_id"])]
    per_fold, seconds = [], {m: [] for m in methods}
    for fold in folds:
        data = fold_data(cfg, protocol, fold, ratings, movies)
        cases = list(known_user_cases(data.train, data.test))
        catalogue = MovieStats.from_movie_table(data.movies, data.n_users)
        row = {"fold": fold, "train": len(data.train), "test": len(data.test), "metrics": {}, "tuning": {}}
        for method in methods:
            start = time.perf_counter()
            model, account = fit(method, data, cfg)
            seconds[method].append(time.perf_counter() - start)
            if account:
                row["tuning"][method] = account
            row["metrics"][method] = evaluate(model, cases, cfg.evaluate.k, cfg.evaluate.relevance_threshold,
                                              catalogue)
            log.info("fold %s %-10s rmse=%.4f ndcg@%d=%.4f (fit %.1fs)", fold, method, row["metrics"][method]["rmse"],
                     cfg.evaluate.k, row["metrics"][method][f"ndcg@{cfg.evaluate.k}"], seconds[method][-1])
        per_fold.append(row)
    text = protocol_text(cfg, protocol, folds)
    summary = summarise(per_fold)
    mean_seconds = {m: float(np.mean(s)) for m, s in seconds.items()}
    result = {"protocol": text, "strategy": protocol, "data": cfg.data.name, "folds": per_fold,
              "summary": summary, "fit_seconds": mean_seconds,
              "max_epochs": cfg.trainer.max_epochs if "embedding" in methods else None}
    name = name or ("folds" if protocol == "kfold" else "folds_predefined")
    atomic_write_json(out / f"{name}.json", result)
    atomic_write_text(out / f"{name}.md", render_markdown(summary, text, cfg.evaluate.k, len(folds), mean_seconds,
                                                         per_fold))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=["kfold", "predefined"], default="kfold")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated subset of " + ",".join(METHODS) + " (default: all but myfm)")
    parser.add_argument("--folds", default=None, help="comma-separated folds (default: all; 0.. or u1..u5)")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap the embedding model's epochs")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default=None, help="output file stem (default folds / folds_predefined)")
    parser.add_argument("overrides", nargs="*",
                        help="Hydra overrides, e.g. split.n_folds=10 filter.min_movie_ratings=1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("lightning").setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown method(s) {sorted(unknown)}; choose from {list(METHODS)}")
    folds = [f.strip() for f in args.folds.split(",")] if args.folds else None
    result = run(args.protocol, methods, folds, args.max_epochs, args.out, args.name, args.overrides)
    print(render_markdown(result["summary"], result["protocol"], 10, len(result["folds"]), result["fit_seconds"],
                          result["folds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
