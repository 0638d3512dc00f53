"""The names of the tags a registered model version carries, and its test metrics as tags
(``test_metrics.ndcg_at_10``: MLflow tag keys cannot hold '@'), written at registration and read by
the promotion gate, the champion commands, reproduce and the service."""

from __future__ import annotations

from collections.abc import Mapping

METRIC_TAG = "test_metrics."
BUNDLE_HASH_TAG = "bundle_sha256"
CATALOGUE_TAG = "movie_ids_sha256"   # which movies the version knows (the service checks it)
SPLIT_TAG = "evaluated_split"        # the split its test metrics were measured on (canonical JSON)
FINGERPRINT_TAG = "data_fingerprint"  # written by lineage_tags
PROMOTION_TAG = "promotion"


def metric_tags(metrics: Mapping[str, float]) -> dict[str, str]:
    """``{"ndcg@10": 0.26}`` -> ``{"test_metrics.ndcg_at_10": "0.26"}`` (repr: exact round trip)."""
    return {f"{METRIC_TAG}{key.replace('@', '_at_')}": repr(float(value)) for key, value in metrics.items()}


def metrics_from_tags(tags: Mapping[str, str]) -> dict[str, float]:
    """The inverse of :func:`metric_tags`; other tags are ignored."""
    return {key[len(METRIC_TAG):].replace("_at_", "@"): float(value) for key, value in tags.items()
            if key.startswith(METRIC_TAG)}
