"""Rating-error, top-k ranking and beyond-accuracy metrics, defined once (binary gains).

For one user with ranked list ``ranked`` (movie indices, best first) and relevant set ``relevant``:

* precision@k = hits / k                      (k, not the list length: a short list is penalised)
* recall@k    = hits / |relevant|
* ndcg@k      = DCG / IDCG, DCG = Σ_{rank r hit} 1/log2(r+1), IDCG over min(|relevant|, k) hits
* hit_rate@k  = 1 if hits > 0 else 0
* coverage@k  = |∪ users' top-k| / n_movies   (catalogue coverage, over all evaluated users)

Users with no relevant item are skipped by the ranking metrics (their value is undefined).

Beyond accuracy, over the top-k lists of *all* evaluated users (relevant items or not), each a
per-user value averaged over users whose list is long enough for it to be defined:

* mean_popularity@k = mean train rating count n_i of the listed movies (a list of 0 is skipped)
* novelty@k         = mean self-information −log2(max(n_i, 1) / n_users) of the listed movies, in
  bits; n_users = users in train; a movie no train user rated counts as rated once
* diversity@k       = intra-list genre diversity: mean over the list's unordered pairs of the
  Jaccard distance 1 − |G_a ∩ G_b| / |G_a ∪ G_b| of the two movies' genre sets (two movies
  without genres are at distance 0); a list of fewer than 2 movies is skipped

NDCG by user activity: ndcg@k_light / _medium / _heavy is ndcg@k averaged over the users (with a
relevant item) whose profile holds < 30, 30–99 and ≥ 100 train ratings (:data:`ACTIVITY_EDGES`;
roughly the terciles of ml-latest-small). ``n_users_<bucket>`` counts them; a bucket with no
user has no ndcg key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import combinations

import numpy as np

from movierec.config import RATING_MAX, RATING_MIN

ACTIVITY_BUCKETS = ("light", "medium", "heavy")
ACTIVITY_EDGES = (30, 100)  # train ratings: light < 30 <= medium < 100 <= heavy


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error with predictions clipped to the rating scale."""
    err = np.clip(np.asarray(predicted, float), RATING_MIN, RATING_MAX) - np.asarray(actual, float)
    return float(np.sqrt(np.mean(err**2))) if err.size else float("nan")


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    err = np.clip(np.asarray(predicted, float), RATING_MIN, RATING_MAX) - np.asarray(actual, float)
    return float(np.mean(np.abs(err))) if err.size else float("nan")


def hits_at_k(ranked: np.ndarray, relevant: set[int] | np.ndarray, k: int) -> np.ndarray:
    """Boolean hit vector over the first k ranked items."""
    rel = relevant if isinstance(relevant, (set, frozenset)) else set(np.asarray(relevant).tolist())
    return np.fromiter((int(m) in rel for m in np.asarray(ranked)[:k]), dtype=bool)


def precision_at_k(ranked, relevant, k: int) -> float:
    return float(hits_at_k(ranked, relevant, k).sum() / k)


def recall_at_k(ranked, relevant, k: int) -> float:
    n_rel = len(relevant)
    return float(hits_at_k(ranked, relevant, k).sum() / n_rel) if n_rel else float("nan")


def ndcg_at_k(ranked, relevant, k: int) -> float:
    n_rel = len(relevant)
    if not n_rel:
        return float("nan")
    hits = hits_at_k(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((hits * discounts[: hits.size]).sum())
    idcg = float(discounts[: min(n_rel, k)].sum())
    return dcg / idcg


def hit_rate_at_k(ranked, relevant, k: int) -> float:
    return float(hits_at_k(ranked, relevant, k).any()) if len(relevant) else float("nan")


def coverage(ranked_lists: Iterable[np.ndarray], n_movies: int) -> float:
    seen: set[int] = set()
    for ranked in ranked_lists:
        seen.update(np.asarray(ranked).tolist())
    return len(seen) / n_movies if n_movies else float("nan")


# -- the metrics by name: one list that ranking_metrics computes and the report labels ------------

ERROR_METRICS = ("rmse", "mae")  # over every held-out rating
#: per-user top-k metrics (``<name>@k``), averaged over users with a relevant item, in report order
PER_USER_RANKING: dict[str, Callable[..., float]] = {
    "precision": precision_at_k, "recall": recall_at_k, "ndcg": ndcg_at_k, "hit_rate": hit_rate_at_k,
}
#: ``<name>@k`` over every evaluated user's list: coverage (ranking_metrics), the rest beyond_accuracy_metrics
BEYOND_ACCURACY = ("coverage", "mean_popularity", "novelty", "diversity")


def ranking_metrics(ranked_lists: list[np.ndarray], relevant_sets: list[set[int]], k: int,
                    n_movies: int) -> dict[str, float]:
    """Mean per-user metrics (:data:`PER_USER_RANKING`) over users with at least one relevant item,
    plus coverage."""
    rows = [[metric(r, rel, k) for metric in PER_USER_RANKING.values()]
            for r, rel in zip(ranked_lists, relevant_sets) if len(rel)]
    means = np.mean(rows, axis=0) if rows else [float("nan")] * len(PER_USER_RANKING)
    return {
        **{f"{name}@{k}": float(mean) for name, mean in zip(PER_USER_RANKING, means, strict=True)},
        f"coverage@{k}": coverage(ranked_lists, n_movies),
        "n_users": len(rows),
    }


# -- beyond accuracy -------------------------------------------------------------------------


def mean_popularity(ranked, n_ratings: np.ndarray) -> float:
    """Mean train rating count of the listed movies (nan for an empty list)."""
    ranked = np.asarray(ranked, dtype=np.int64)
    return float(np.asarray(n_ratings, float)[ranked].mean()) if ranked.size else float("nan")


def novelty(ranked, n_ratings: np.ndarray, n_users: int) -> float:
    """Mean self-information −log2(max(n_i, 1) / n_users) of the listed movies, in bits."""
    ranked = np.asarray(ranked, dtype=np.int64)
    if not ranked.size:
        return float("nan")
    share = np.maximum(np.asarray(n_ratings, float)[ranked], 1.0) / n_users
    return float(np.mean(-np.log2(share)))


def jaccard_distance(a: frozenset | set, b: frozenset | set) -> float:
    """1 − |a ∩ b| / |a ∪ b|; two empty sets are identical (distance 0)."""
    union = len(a | b)
    return 1.0 - len(a & b) / union if union else 0.0


def intra_list_diversity(ranked, genres: Sequence[frozenset]) -> float:
    """Mean pairwise Jaccard distance of the listed movies' genre sets (nan under 2 movies)."""
    sets = [genres[int(m)] for m in np.asarray(ranked)]
    pairs = list(combinations(sets, 2))
    return float(np.mean([jaccard_distance(a, b) for a, b in pairs])) if pairs else float("nan")


def _mean_defined(values: list[float]) -> float:
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def beyond_accuracy_metrics(ranked_lists: list[np.ndarray], k: int, n_ratings: np.ndarray,
                            genres: Sequence[frozenset], n_users: int) -> dict[str, float]:
    """Per-user mean popularity, novelty and genre diversity of the top-k lists, averaged."""
    lists = [np.asarray(r, dtype=np.int64)[:k] for r in ranked_lists]
    return {
        f"mean_popularity@{k}": _mean_defined([mean_popularity(r, n_ratings) for r in lists]),
        f"novelty@{k}": _mean_defined([novelty(r, n_ratings, n_users) for r in lists]),
        f"diversity@{k}": _mean_defined([intra_list_diversity(r, genres) for r in lists]),
    }


def activity_bucket(n_train_ratings: int, edges: tuple[int, int] = ACTIVITY_EDGES) -> str:
    """'light' below edges[0] train ratings, 'heavy' from edges[1], 'medium' between."""
    return ACTIVITY_BUCKETS[int(np.searchsorted(edges, n_train_ratings, side="right"))]


def ndcg_by_activity(ranked_lists: list[np.ndarray], relevant_sets: list[set[int]], activity: Sequence[int],
                     k: int, edges: tuple[int, int] = ACTIVITY_EDGES) -> dict[str, float]:
    """ndcg@k per user-activity bucket (users with a relevant item), with the users counted."""
    per_bucket: dict[str, list[float]] = {b: [] for b in ACTIVITY_BUCKETS}
    for ranked, rel, n in zip(ranked_lists, relevant_sets, activity):
        if len(rel):
            per_bucket[activity_bucket(n, edges)].append(ndcg_at_k(ranked, rel, k))
    result: dict[str, float] = {}
    for bucket, values in per_bucket.items():
        if values:
            result[f"ndcg@{k}_{bucket}"] = float(np.mean(values))
    result.update({f"n_users_{bucket}": len(values) for bucket, values in per_bucket.items()})
    return result
