"""Measure user-user Pearson variants (rating path and ranking path) on ml-latest-small.

Protocol (the project's default): movies with >= 5 ratings, random 80/20 split (RandomState(42)
permutation), validation = 10% of train rows (RandomState(0)); test users/movies unseen in
train are moved into train. RMSE on clipped predictions; NDCG@10 with binary gains over all
train movies the user has not rated in train, relevant = held-out rating >= 4.0.
Variants are chosen on validation; test is reported alongside. Writes
``benchmarks/results/user_user_variants.json``.

    python benchmarks/user_user_variants.py [--zip PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.config import UserUserConfig
from movierec.models.protocol import Profile, recommend
from movierec.models.user_user.model import UserUserRecommender

ZIP = Path("/work/shared/data/movielens/ml-latest-small.zip")
OUT = Path(__file__).parent / "results" / "user_user_variants.json"

RATING_VARIANTS = {
    "bias baseline only (damping -> inf)": dict(damping=1e12),
    "textbook-ish: k=40, no shrinkage, no damping": dict(n_neighbours=40, shrinkage=0.0, damping=0.0),
    "k=30, shrink 25, no damping": dict(damping=0.0),
    "k=30, shrink 25, damping 1 (prototype)": dict(),
    "k=50, shrink 25, damping 1": dict(n_neighbours=50),
    "k=30, shrink 50, damping 1": dict(shrinkage=50.0),
    "k=30, shrink 25, damping 2": dict(damping=2.0),
    "k=30, min co-rated 5, damping 1": dict(min_co_rated=5),
}
EARLIER = dict(rank_significance=25, rank_activity_power=0.0, rank_popularity_power=0.0)  # before issue 15
RANKING_VARIANTS = {
    "100 nbrs, >=5 co-rated, S=25, sim x rating (prototype)": dict(EARLIER),
    "30 nbrs, >=5, S=25, sim x rating": dict(EARLIER, rank_neighbours=30),
    "50 nbrs, >=5, S=25, sim x rating": dict(EARLIER, rank_neighbours=50),
    "150 nbrs, >=5, S=25, sim x rating": dict(EARLIER, rank_neighbours=150),
    "200 nbrs, >=5, S=25, sim x rating": dict(EARLIER, rank_neighbours=200),
    "100 nbrs, >=5, S=50, sim x rating": dict(EARLIER, rank_significance=50),
    "100 nbrs, >=10, S=25, sim x rating": dict(EARLIER, rank_min_co_rated=10),
    "100 nbrs, >=5, S=25, sim x 1": dict(EARLIER, rank_value="one"),
    "100 nbrs, >=5, S=25, sim x deviation": dict(EARLIER, rank_value="deviation"),
    "100 nbrs, >=5, S=1 (no significance), sim x rating": dict(EARLIER, rank_significance=1),
    # issue 15 (benchmarks/results/ranking_research.md): neighbours by weight x (n / n_v)^0.5, scores /
    # popularity^0.15, S=50; profiles under 15 ratings keep the prototype's settings
    "S=50, x (n/n_v)^0.5, / pop^0.15, light < 15 (default)": dict(),
    "S=50, x (n/n_v)^0.5, / pop^0.15, no light profiles": dict(rank_light_profile=0),
    "S=50, x (n/n_v)^0.5, no popularity damping": dict(rank_popularity_power=0.0),
    "S=50, / pop^0.15, no activity factor": dict(rank_activity_power=0.0),
}


def load_ratings(zip_path: Path) -> pd.DataFrame:
    """ratings.csv from the zip, movies with >= 5 ratings, users/movies reindexed to 0..n-1."""
    with zipfile.ZipFile(zip_path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("ratings.csv"))
        df = pd.read_csv(io.BytesIO(zf.read(name)))
    counts = df.groupby("movieId")["rating"].transform("size")
    df = df[counts >= 5].reset_index(drop=True)
    df["user"] = pd.factorize(df["userId"], sort=True)[0]
    df["movie"] = pd.factorize(df["movieId"], sort=True)[0]
    return df[["user", "movie", "rating"]]


def holdout(df: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random row split; held-out rows whose user or movie is absent from the rest go back."""
    perm = np.random.RandomState(seed).permutation(len(df))
    n_out = int(round(fraction * len(df)))
    out, keep = df.iloc[perm[:n_out]], df.iloc[perm[n_out:]]
    unseen = ~out["user"].isin(keep["user"]) | ~out["movie"].isin(keep["movie"])
    return pd.concat([keep, out[unseen]]), out[~unseen]


def ndcg_at_k(ranked: np.ndarray, relevant: set, k: int) -> float:
    gains = np.array([1.0 if m in relevant else 0.0 for m in ranked[:k]])
    dcg = float(np.sum(gains / np.log2(np.arange(2, gains.size + 2))))
    idcg = float(np.sum(1.0 / np.log2(np.arange(2, min(k, len(relevant)) + 2))))
    return dcg / idcg


def profiles(train: pd.DataFrame) -> dict[int, Profile]:
    return {int(u): Profile(g["movie"].to_numpy(), g["rating"].to_numpy(), user_idx=int(u))
            for u, g in train.groupby("user")}


def rmse(model: UserUserRecommender, profs: dict[int, Profile], held: pd.DataFrame) -> float:
    err = []
    for u, g in held.groupby("user"):
        pred = np.clip(model.predict(profs[int(u)], g["movie"].to_numpy()), 0.5, 5.0)
        err.append(pred - g["rating"].to_numpy())
    return float(np.sqrt(np.mean(np.concatenate(err) ** 2)))


def ndcg(model: UserUserRecommender, profs: dict[int, Profile], held: pd.DataFrame,
         allowed: np.ndarray, k: int = 10) -> tuple[float, int]:
    scores = []
    for u, g in held[held["rating"] >= 4.0].groupby("user"):
        ranked = recommend(model, profs[int(u)], k, allowed=allowed).movie_idx
        scores.append(ndcg_at_k(ranked, set(g["movie"].tolist()), k))
    return float(np.mean(scores)), len(scores)


def latency_ms(model: UserUserRecommender, profs: dict[int, Profile], allowed: np.ndarray) -> dict:
    times = []
    for _ in range(3):
        for prof in profs.values():
            t0 = time.perf_counter()
            recommend(model, prof, 10, allowed=allowed)
            times.append((time.perf_counter() - t0) * 1e3)
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=ZIP)
    args = parser.parse_args()
    df = load_ratings(args.zip)
    n_users, n_movies = int(df["user"].max()) + 1, int(df["movie"].max()) + 1
    train, test = holdout(df, 0.2, seed=42)
    subtrain, val = holdout(train, 0.1, seed=0)
    print(f"{len(df)} ratings, {n_users} users, {n_movies} movies; train {len(train)}, "
          f"test {len(test)}, subtrain {len(subtrain)}, validation {len(val)}")

    splits = {}
    for name, fit_rows, held in (("val", subtrain, val), ("test", train, test)):
        allowed = np.zeros(n_movies, bool)
        allowed[fit_rows["movie"].unique()] = True
        splits[name] = (fit_rows, held, profiles(fit_rows), allowed)

    def run(overrides: dict, what: str) -> dict:
        cfg = UserUserConfig(**overrides)
        row = {}
        for name, (fit_rows, held, profs, allowed) in splits.items():
            model = UserUserRecommender.fit(fit_rows["user"].to_numpy(), fit_rows["movie"].to_numpy(),
                                            fit_rows["rating"].to_numpy(), n_users, n_movies, cfg)
            if what == "rating":
                row[f"{name}_rmse"] = rmse(model, profs, held)
            else:
                row[f"{name}_ndcg10"], row[f"{name}_users"] = ndcg(model, profs, held, allowed)
        return row

    results = {"rating": {}, "ranking": {}}
    print(f"\n{'rating variant':58s} {'val RMSE':>9s} {'test RMSE':>9s}")
    for label, overrides in RATING_VARIANTS.items():
        results["rating"][label] = {"overrides": overrides, **run(overrides, "rating")}
        r = results["rating"][label]
        print(f"{label:58s} {r['val_rmse']:9.4f} {r['test_rmse']:9.4f}")
    print(f"\n{'ranking variant':58s} {'val NDCG':>9s} {'test NDCG':>9s}")
    for label, overrides in RANKING_VARIANTS.items():
        results["ranking"][label] = {"overrides": overrides, **run(overrides, "ranking")}
        r = results["ranking"][label]
        print(f"{label:58s} {r['val_ndcg10']:9.4f} {r['test_ndcg10']:9.4f}")

    default = UserUserConfig()
    fit_rows, held, profs, allowed = splits["test"]
    model = UserUserRecommender.fit(fit_rows["user"].to_numpy(), fit_rows["movie"].to_numpy(),
                                    fit_rows["rating"].to_numpy(), n_users, n_movies, default)
    final = {"config": dataclasses.asdict(default), "test_rmse": rmse(model, profs, held),
             "test_ndcg10": ndcg(model, profs, held, allowed)[0],
             "top10_latency_ms": latency_ms(model, profs, allowed)}
    results["default"] = final
    print(f"\ndefault config: test RMSE {final['test_rmse']:.4f}, NDCG@10 {final['test_ndcg10']:.4f}; "
          f"top-10 latency p50 {final['top10_latency_ms']['p50']:.2f} ms, "
          f"p95 {final['top10_latency_ms']['p95']:.2f} ms")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
