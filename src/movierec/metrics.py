"""Rating-error and top-k ranking metrics, defined once (binary gains).

For one user with ranked list ``ranked`` (movie indices, best first) and relevant set ``relevant``:

* precision@k = hits / k                      (k, not the list length: a short list is penalised)
* recall@k    = hits / |relevant|
* ndcg@k      = DCG / IDCG, DCG = Σ_{rank r hit} 1/log2(r+1), IDCG over min(|relevant|, k) hits
* hit_rate@k  = 1 if hits > 0 else 0
* coverage@k  = |∪ users' top-k| / n_movies   (catalogue coverage, over all evaluated users)

Users with no relevant item are skipped by the ranking metrics (their value is undefined).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

RATING_MIN, RATING_MAX = 0.5, 5.0


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


def ranking_metrics(ranked_lists: list[np.ndarray], relevant_sets: list[set[int]], k: int,
                    n_movies: int) -> dict[str, float]:
    """Mean per-user metrics over users with at least one relevant item, plus coverage."""
    rows = [(precision_at_k(r, rel, k), recall_at_k(r, rel, k), ndcg_at_k(r, rel, k), hit_rate_at_k(r, rel, k))
            for r, rel in zip(ranked_lists, relevant_sets) if len(rel)]
    means = np.mean(rows, axis=0) if rows else [float("nan")] * 4
    return {
        f"precision@{k}": float(means[0]),
        f"recall@{k}": float(means[1]),
        f"ndcg@{k}": float(means[2]),
        f"hit_rate@{k}": float(means[3]),
        f"coverage@{k}": coverage(ranked_lists, n_movies),
        "n_users": len(rows),
    }
