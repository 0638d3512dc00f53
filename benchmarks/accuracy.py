"""Our two methods against standard baselines, on the project's own split and evaluation code.

Rows: popularity, Surprise BaselineOnly, Surprise SVD (defaults, and tuned on validation RMSE),
Surprise SVD++ (tuned on validation RMSE), Surprise KNNWithMeans (user-based Pearson, k=40), a Bayesian
factorization machine (``myfm``, Gibbs sampling, with the SVD++ idea on both sides; rank and sweeps
tuned on validation RMSE, ``benchmarks/bayesian_fm.py``), implicit ALS (confidence variant chosen on
validation NDCG@10), the strong top-N baselines of ``benchmarks/baselines.py`` - EASE^R, RP3beta
and implicit ALS with a small grid of factors / regularization / alpha, each chosen on validation
NDCG@10 - and our embedding and user-user models from ``models/bundle``. Every
method is scored by :func:`movierec.evaluation.protocol.evaluate` on ``known_user_cases(train, test)``,
ranking through :func:`movierec.models.protocol.recommend` - the numbers are those of ``reports/``.

Validation for tuning = a seeded 10% of train rows (:func:`movierec.models.embedding.fit.random_fraction_mask`);
test is never used to choose anything. Fit time is the final fit on all of train (tuning not
included; it is given in the row's ``params``). Recommendation time is the median time of one
``recommend(model, profile, 10)`` call over 200 users. Both are measured as CPU and wall time;
the Markdown table shows CPU time (every method runs on one thread, so it is the wall time of an
idle machine and does not depend on what else the machine is running).

Needs the optional extra: ``pip install -e '.[bench]'`` (scikit-surprise, implicit, myfm); without
it those rows are skipped. Writes ``<out>/accuracy.json`` (a list of rows) and ``<out>/accuracy.md``.

    python benchmarks/accuracy.py [--data data/processed] [--out benchmarks/results]
                                  [--skip-embedding-fit] [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns (and slows down) otherwise

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # for pipeline.stage (the config composition)
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # for baselines (EASE^R, RP3beta, tuned ALS)

from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.data.dataset import ProcessedData, load_processed  # noqa: E402
from movierec.data.split import random_fraction_mask  # noqa: E402
from movierec.evaluation.protocol import UserCase, evaluate, known_user_cases  # noqa: E402
from movierec.models.popularity import PopularityRecommender  # noqa: E402
from movierec.models.protocol import Profile, recommend  # noqa: E402
from movierec.models.user_user.model import UserUserRecommender  # noqa: E402

K = 10
RELEVANCE_THRESHOLD = 4.0
SEED = 42
VALIDATION_FRACTION = 0.1
TIMED_USERS = 200
PROTOCOL = ("ml-latest-small, movies with >= 5 ratings, random 80/20 split (seed 42); top-10 over the movies "
            "a user has not rated in train; relevant = test rating >= 4; tuning on a seeded 10% of train")
REPRO_HINT = ("run `dvc repro` first (offline: `MOVIEREC_DATA_MIRROR=/work/shared/data/movielens "
              ".venv/bin/dvc repro`)")

# 12 points around the best region of a wider search on the same validation part (long training, reg ~0.1)
SVD_GRID = [dict(n_factors=f, reg_all=reg, lr_all=lr, n_epochs=epochs)
            for f in (100, 200) for reg in (0.05, 0.1, 0.15) for lr, epochs in ((0.005, 150), (0.01, 60))]
QUICK_SVD_GRID = [dict(n_factors=20, reg_all=0.1, lr_all=lr, n_epochs=10) for lr in (0.005, 0.01)]
# SVD++ costs about 1 CPU s per epoch at 20 factors here (each rating updates every y_j of its user):
# a small grid around Surprise's defaults (20 factors, reg 0.02, lr 0.007, 20 epochs)
SVDPP_GRID = [dict(n_factors=f, reg_all=reg, lr_all=0.007, n_epochs=30, cache_ratings=True)
              for f in (20, 50) for reg in (0.05, 0.1)]
QUICK_SVDPP_GRID = [dict(n_factors=5, reg_all=reg, lr_all=0.007, n_epochs=2, cache_ratings=True)
                    for reg in (0.05, 0.1)]
ALS_VARIANTS = {  # confidence of an observed rating; unobserved pairs have confidence 1
    "binary, c=1+2": lambda r: np.full_like(r, 3.0),
    "binary, c=1+10": lambda r: np.full_like(r, 11.0),
    "c=1+1*rating": lambda r: 1.0 + r,
    "c=1+5*rating": lambda r: 1.0 + 5.0 * r,
}


@dataclass(frozen=True)
class Elapsed:
    """Wall and CPU seconds of one call. Every method here runs on one thread, so on an idle
    machine the two agree; on a shared one the CPU time is the figure that reproduces."""

    wall: float
    cpu: float


@dataclass
class Fitted:
    """A fitted method ready for evaluation, how long its final fit took, and what was chosen."""

    model: object
    fit_time: Elapsed | None
    params: str = ""


def timed(call: Callable[[], object]) -> tuple[object, Elapsed]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, Elapsed(time.perf_counter() - wall, time.process_time() - cpu)


# -- adapters: third-party models behind the project's Recommender protocol ---------------------

class SurpriseRecommender:
    """A fitted Surprise algorithm (raw ids = our user_idx/movie_idx).

    ``predict`` is Surprise's own ``algo.predict(...).est``; ``rank_scores`` is the same estimate
    (unclipped) for every movie at once, vectorised per algorithm from its fitted parameters.
    """

    predicts_ratings = True

    def __init__(self, algo, n_movies: int) -> None:
        self.algo, self.n_movies = algo, n_movies
        trainset = algo.trainset
        self.inner_item = np.full(n_movies, -1, dtype=np.int64)
        for inner in trainset.all_items():
            self.inner_item[int(trainset.to_raw_iid(inner))] = inner
        self.known_item = self.inner_item >= 0
        self.estimate_all = self._estimator()

    def _estimator(self) -> Callable[[int], np.ndarray]:
        from surprise import SVD, BaselineOnly, KNNWithMeans, SVDpp

        mu = self.algo.trainset.global_mean
        if isinstance(self.algo, SVD):
            a = self.algo
            return lambda u: mu + a.bu[u] + a.bi + a.qi @ a.pu[u]
        if isinstance(self.algo, SVDpp):
            return SvdppScores(self.algo)
        if isinstance(self.algo, BaselineOnly):
            return lambda u: mu + self.algo.bu[u] + self.algo.bi
        if isinstance(self.algo, KNNWithMeans) and self.algo.sim_options.get("user_based", True):
            return UserKnnWithMeansScores(self.algo)
        raise TypeError(f"no vectorised estimate for {type(self.algo).__name__}")

    def rank_scores(self, profile: Profile) -> np.ndarray:
        scores = np.full(self.n_movies, -np.inf)
        inner_user = self.algo.trainset.to_inner_uid(profile.user_idx)
        scores[self.known_item] = self.estimate_all(inner_user)[self.inner_item[self.known_item]]
        return scores

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return np.array([self.algo.predict(profile.user_idx, int(m)).est for m in movie_idx], dtype=np.float64)


class SvdppScores:
    """SVDpp.estimate for one user and every item: mu + b_u + b_i + q_i . (p_u + |I_u|^-1/2 sum_{j in I_u} y_j)."""

    def __init__(self, algo) -> None:
        self.algo = algo

    def __call__(self, user: int) -> np.ndarray:
        a = self.algo
        rated = np.fromiter((j for j, _ in a.trainset.ur[user]), dtype=np.int64)
        implicit = a.yj[rated].sum(axis=0) / np.sqrt(len(rated))
        return a.trainset.global_mean + a.bu[user] + a.bi + a.qi @ (a.pu[user] + implicit)


class UserKnnWithMeansScores:
    """KNNWithMeans.estimate (user-based) for one user and every item in one pass.

    Per item: the k raters most similar to the user (ties kept in Surprise's order), those with
    positive similarity vote with their mean-centred rating; no positive neighbour -> user mean.
    """

    def __init__(self, algo) -> None:
        self.algo = algo
        users, items, positions, ratings = [], [], [], []
        for item, raters in algo.trainset.ir.items():
            for position, (user, rating) in enumerate(raters):
                users.append(user), items.append(item), positions.append(position), ratings.append(rating)
        self.users, self.items = np.asarray(users), np.asarray(items)
        self.positions = np.asarray(positions)
        self.deviation = np.asarray(ratings) - algo.means[self.users]
        self.n_items = algo.trainset.n_items

    def __call__(self, user: int) -> np.ndarray:
        sim = self.algo.sim[user][self.users]
        order = np.lexsort((self.positions, -sim, self.items))  # by item, then most similar first
        items = self.items[order]
        starts = np.searchsorted(items, np.arange(self.n_items))
        in_top_k = np.arange(items.size) - starts[items] < self.algo.k
        weight = np.where(in_top_k & (sim[order] > 0), sim[order], 0.0)
        votes = np.bincount(items, weight * self.deviation[order], minlength=self.n_items)
        total = np.bincount(items, weight, minlength=self.n_items)
        mean = self.algo.means[user]
        return mean + np.divide(votes, total, out=np.zeros_like(votes), where=total > 0)


class ImplicitAlsRecommender:
    """implicit's ALS: rank by user_factors[u] . item_factors; it predicts no ratings (NaN)."""

    predicts_ratings = False

    def __init__(self, als, n_movies: int) -> None:
        self.user_factors = np.asarray(als.user_factors)
        self.item_factors = np.asarray(als.item_factors)
        self.n_movies = n_movies

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.item_factors @ self.user_factors[profile.user_idx]

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return np.full(len(movie_idx), np.nan)


# -- fitting each method --------------------------------------------------------------------------

def surprise_trainset(ratings: pd.DataFrame):
    from surprise import Dataset, Reader

    frame = ratings[["user_idx", "movie_idx", "rating"]]
    return Dataset.load_from_df(frame, Reader(rating_scale=(0.5, 5.0))).build_full_trainset()


def fit_surprise(algo, ratings: pd.DataFrame, n_movies: int) -> SurpriseRecommender:
    algo.fit(surprise_trainset(ratings))
    return SurpriseRecommender(algo, n_movies)


def validation_rmse(model: SurpriseRecommender, heldout: pd.DataFrame) -> float:
    predicted = [model.algo.predict(u, m).est for u, m in zip(heldout["user_idx"], heldout["movie_idx"])]
    return float(np.sqrt(np.mean((np.asarray(predicted) - heldout["rating"].to_numpy()) ** 2)))


def tune_surprise(algo_class, fit_part: pd.DataFrame, val_part: pd.DataFrame, n_movies: int,
                  grid: list[dict]) -> tuple[dict, str]:
    """The grid point of `algo_class` (SVD, SVDpp) with the lowest validation RMSE, and a one-line
    account of the search."""
    started = time.perf_counter()
    scored = [(validation_rmse(fit_surprise(algo_class(random_state=SEED, **point), fit_part, n_movies), val_part), i)
              for i, point in enumerate(grid)]
    best_rmse, best = min(scored)
    return grid[best], (f"{grid[best]}; val RMSE {best_rmse:.4f}; {len(grid)} configs searched in "
                        f"{time.perf_counter() - started:.0f}s")


def confidence_matrix(ratings: pd.DataFrame, n_users: int, n_movies: int,
                      confidence: Callable[[np.ndarray], np.ndarray]) -> sp.csr_matrix:
    values = confidence(ratings["rating"].to_numpy(np.float32)).astype(np.float32)
    return sp.csr_matrix((values, (ratings["user_idx"], ratings["movie_idx"])), shape=(n_users, n_movies))


def fit_als(ratings: pd.DataFrame, n_users: int, n_movies: int,
            confidence: Callable[[np.ndarray], np.ndarray]) -> ImplicitAlsRecommender:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # when numpy was imported before OPENBLAS_NUM_THREADS could be set
        als = AlternatingLeastSquares(factors=64, regularization=0.05, iterations=15, random_state=SEED,
                                      num_threads=1)
        als.fit(confidence_matrix(ratings, n_users, n_movies, confidence), show_progress=False)
    return ImplicitAlsRecommender(als, n_movies)


def choose_als_variant(fit_part: pd.DataFrame, val_part: pd.DataFrame, n_users: int, n_movies: int,
                       variants: dict) -> tuple[str, str]:
    """The confidence variant with the best validation NDCG@10, and a one-line account."""
    cases = list(known_user_cases(fit_part, val_part))
    ndcg = {name: evaluate(fit_als(fit_part, n_users, n_movies, confidence), cases, K, RELEVANCE_THRESHOLD)
            [f"ndcg@{K}"] for name, confidence in variants.items()}
    best = max(ndcg, key=ndcg.get)
    return best, "factors 64, reg 0.05, 15 iters; val NDCG@10 " + ", ".join(
        f"{name}: {value:.4f}" for name, value in ndcg.items()) + f" -> {best}"


def fit_embedding_timed() -> Elapsed:
    """Seconds to retrain the embedding exactly as the pipeline's `train` stage does."""
    from movierec.config import validate
    from movierec.models.embedding.train_hybrid import train_hybrid
    from pipeline.memory import prepare_training_process
    from pipeline.stage import compose_params

    cfg = validate(compose_params())
    prepare_training_process(cfg.trainer)
    data = load_processed(REPO_ROOT / cfg.paths.processed)
    _, elapsed = timed(lambda: train_hybrid(data.train, None, data.n_users, data.n_movies,
                                            cfg.model, cfg.trainer, cfg.seed))
    return elapsed


def surprise_methods(train: pd.DataFrame, fit_part: pd.DataFrame, val_part: pd.DataFrame, n_movies: int,
                     quick: bool) -> dict[str, Fitted]:
    """BaselineOnly, SVD with defaults and tuned on validation RMSE, SVD++ tuned likewise,
    user-based Pearson KNNWithMeans."""
    from surprise import SVD, BaselineOnly, KNNWithMeans, SVDpp

    best, account = tune_surprise(SVD, fit_part, val_part, n_movies, QUICK_SVD_GRID if quick else SVD_GRID)
    best_pp, account_pp = tune_surprise(SVDpp, fit_part, val_part, n_movies,
                                        QUICK_SVDPP_GRID if quick else SVDPP_GRID)
    candidates = [
        ("Surprise BaselineOnly", lambda: BaselineOnly(verbose=False), "ALS baselines, Surprise defaults"),
        ("Surprise SVD (default)", lambda: SVD(random_state=SEED), "Surprise defaults"),
        ("Surprise SVD (tuned)", lambda: SVD(random_state=SEED, **best), account),
        ("Surprise SVD++ (tuned)", lambda: SVDpp(random_state=SEED, **best_pp), account_pp),
        ("Surprise KNNWithMeans (user Pearson)",
         lambda: KNNWithMeans(k=40, sim_options={"name": "pearson", "user_based": True}, verbose=False),
         "k=40, user-based Pearson"),
    ]
    methods = {}
    for name, make, params in candidates:
        model, elapsed = timed(lambda make=make: fit_surprise(make(), train, n_movies))
        methods[name] = Fitted(model, elapsed, params)
    return methods


def als_method(train: pd.DataFrame, fit_part: pd.DataFrame, val_part: pd.DataFrame, n_users: int,
               n_movies: int, quick: bool) -> Fitted:
    variants = dict(list(ALS_VARIANTS.items())[:1]) if quick else ALS_VARIANTS
    best, account = choose_als_variant(fit_part, val_part, n_users, n_movies, variants)
    model, elapsed = timed(lambda: fit_als(train, n_users, n_movies, ALS_VARIANTS[best]))
    return Fitted(model, elapsed, account)


def baseline_methods(data: ProcessedData, quick: bool) -> dict[str, Fitted]:
    """Popularity, then the Surprise and implicit rows when those packages are installed."""
    train, n_users, n_movies = data.train, data.n_users, data.n_movies
    popularity, elapsed = timed(lambda: PopularityRecommender.fit(
        train["movie_idx"].to_numpy(), train["rating"].to_numpy(), n_movies))
    methods = {"popularity": Fitted(popularity, elapsed, "count of train ratings; predicts damped movie mean")}
    is_val = random_fraction_mask(len(train), VALIDATION_FRACTION, SEED)
    fit_part, val_part = train[~is_val], train[is_val]
    try:
        import surprise  # noqa: F401
    except ImportError:
        print("scikit-surprise is not installed (pip install -e '.[bench]'): Surprise rows skipped")
    else:
        methods.update(surprise_methods(train, fit_part, val_part, n_movies, quick))
    try:
        from bayesian_fm import import_myfm

        import_myfm()
    except ImportError:
        print("myfm is not installed (pip install -e '.[bench]'): Bayesian FM row skipped")
    else:
        methods.update(bayesian_fm_method(train, fit_part, val_part, n_users, n_movies, quick))
    try:
        import implicit  # noqa: F401
    except ImportError:
        print("implicit is not installed (pip install -e '.[bench]'): ALS row skipped")
    else:
        methods["implicit ALS"] = als_method(train, fit_part, val_part, n_users, n_movies, quick)
        methods.update(strong_baseline_methods(train, fit_part, val_part, n_users, n_movies, quick))
    return methods


def bayesian_fm_method(train: pd.DataFrame, fit_part: pd.DataFrame, val_part: pd.DataFrame, n_users: int,
                       n_movies: int, quick: bool) -> dict[str, Fitted]:
    """myFM's Bayesian FM (benchmarks/bayesian_fm.py), rank and sweeps chosen on validation RMSE."""
    from bayesian_fm import GRID, QUICK_GRID, tuned_bayesian_fm

    name, fit, params = tuned_bayesian_fm(fit_part, val_part, n_users, n_movies, QUICK_GRID if quick else GRID)
    model, elapsed = timed(lambda: fit(train))
    return {name: Fitted(model, elapsed, params)}


def strong_baseline_methods(train: pd.DataFrame, fit_part: pd.DataFrame, val_part: pd.DataFrame, n_users: int,
                            n_movies: int, quick: bool) -> dict[str, Fitted]:
    """EASE^R, RP3beta, tuned implicit ALS (benchmarks/baselines.py), chosen on validation NDCG@10."""
    from baselines import strong_baselines

    methods = {}
    for name, fit, params in strong_baselines(fit_part, val_part, n_users, n_movies, quick):
        model, elapsed = timed(lambda fit=fit: fit(train))
        methods[name] = Fitted(model, elapsed, params)
    return methods


def our_methods(data: ProcessedData, bundle_dir: Path, refit_embedding: bool) -> dict[str, Fitted]:
    """The bundle's embedding and user-user models; their fit times measured by refitting."""
    from movierec.serving.model_bundle import ModelBundle

    try:
        bundle = ModelBundle.load(bundle_dir)
    except ValueError as err:  # a bundle written by an older version of the code
        sys.exit(f"{err}: rebuild it - {REPRO_HINT}")
    train = data.train
    _, user_user_time = timed(lambda: UserUserRecommender.fit(
        train["user_idx"].to_numpy(), train["movie_idx"].to_numpy(), train["rating"].to_numpy(),
        data.n_users, data.n_movies, bundle.method("user_user").model.config))
    embedding_time = fit_embedding_timed() if refit_embedding else None
    return {
        "embedding (ours)": Fitted(bundle.method("embedding"), embedding_time,
                                   "the bundle's model; fit = heads (epochs chosen on validation, refit on all "
                                   "train) + item-item"
                                   + ("" if refit_embedding else " (not timed)")),
        "user-user Pearson (ours)": Fitted(bundle.method("user_user"), user_user_time,
                                           "the bundle's model; fit = biases + sparse matrix "
                                           "(neighbours found per query)"),
    }


# -- measuring and reporting ----------------------------------------------------------------------

def median_recommend_ms(model, cases: list[UserCase]) -> Elapsed:
    """Median wall and CPU milliseconds of one user's top-k (first ``TIMED_USERS`` cases)."""
    recommend(model, cases[0].profile, K)  # warm-up (lazy caches, first-call overheads)
    calls = [timed(lambda case=case: recommend(model, case.profile, K))[1] for case in cases[:TIMED_USERS]]
    return Elapsed(1000.0 * float(np.median([c.wall for c in calls])),
                   1000.0 * float(np.median([c.cpu for c in calls])))


def measure(name: str, fitted: Fitted, cases: list[UserCase]) -> dict:
    metrics = evaluate(fitted.model, cases, K, RELEVANCE_THRESHOLD)
    if not getattr(fitted.model, "predicts_ratings", True):
        metrics["rmse"] = metrics["mae"] = None
    fit, rec = fitted.fit_time, median_recommend_ms(fitted.model, cases)
    return {"method": name, **metrics,
            "fit_cpu_seconds": None if fit is None else round(fit.cpu, 3),
            "fit_wall_seconds": None if fit is None else round(fit.wall, 3),
            "recommend_cpu_ms": round(rec.cpu, 3), "recommend_wall_ms": round(rec.wall, 3),
            "params": fitted.params}


COLUMNS = [("method", "method", "{}"), ("RMSE", "rmse", "{:.4f}"), ("MAE", "mae", "{:.4f}"),
           (f"P@{K}", f"precision@{K}", "{:.4f}"), (f"R@{K}", f"recall@{K}", "{:.4f}"),
           (f"NDCG@{K}", f"ndcg@{K}", "{:.4f}"), ("coverage", f"coverage@{K}", "{:.4f}"),
           ("fit s", "fit_cpu_seconds", "{:.2f}"), ("rec ms/user", "recommend_cpu_ms", "{:.2f}")]


def markdown_table(rows: list[dict], n_users: int) -> str:
    lines = [f"Protocol: {PROTOCOL}; {n_users} test users. Times: CPU seconds of the final fit on all of "
             f"train, median CPU ms of one user's top-{K} over {TIMED_USERS} users (one thread each; "
             "wall times are in accuracy.json).", "",
             "| " + " | ".join(title for title, _, _ in COLUMNS) + " |",
             "|" + "|".join("---" if key == "method" else "---:" for _, key, _ in COLUMNS) + "|"]
    for row in rows:
        cells = ["–" if row[key] is None else fmt.format(row[key]) for _, key, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "What was chosen (on validation only):", ""]
    lines += [f"- **{row['method']}**: {row['params']}" for row in rows]
    return "\n".join(lines) + "\n"


def check_inputs(data_dir: Path, bundle_dir: Path) -> None:
    missing = [str(p) for p in (data_dir / "train.parquet", data_dir / "test.parquet",
                                data_dir / "vocabulary.json", bundle_dir / "manifest.json") if not p.is_file()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: {REPRO_HINT}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "processed")
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "models" / "bundle")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--skip-embedding-fit", action="store_true",
                        help="do not retrain the embedding to time it (its fit time is then left empty)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40 test users, 2 small SVD, SVD++ and Bayesian FM configs, 1 ALS variant, "
                             "no embedding fit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    check_inputs(args.data, args.bundle)
    started = time.perf_counter()
    data = load_processed(args.data)
    cases = list(known_user_cases(data.train, data.test))
    if args.quick:
        cases = cases[:40]
    methods = {**baseline_methods(data, args.quick),
               **our_methods(data, args.bundle, refit_embedding=not (args.skip_embedding_fit or args.quick))}
    rows = []
    for name, fitted in methods.items():
        rows.append(measure(name, fitted, cases))
        print(f"{name}: ndcg@{K}={rows[-1][f'ndcg@{K}']:.4f}", flush=True)
    table = markdown_table(rows, rows[0]["n_users"])
    atomic_write_json(args.out / "accuracy.json", rows)
    atomic_write_text(args.out / "accuracy.md", table)
    print(table)
    print(f"total {time.perf_counter() - started:.0f}s; wrote {args.out / 'accuracy.json'} and accuracy.md")
    return rows


if __name__ == "__main__":
    main()
