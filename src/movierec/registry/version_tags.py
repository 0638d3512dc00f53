"""Test metrics stored as model-version tags (``test_metrics.ndcg_at_10``): written at registration,
read by the promotion gate and by reproduce. MLflow tag keys cannot hold '@'."""

from __future__ import annotations

from collections.abc import Mapping

METRIC_TAG = "test_metrics."


def metric_tags(metrics: Mapping[str, float]) -> dict[str, str]:
    """``{"ndcg@10": 0.26}`` -> ``{"test_metrics.ndcg_at_10": "0.26"}`` (repr: exact round trip)."""
    return {f"{METRIC_TAG}{key.replace('@', '_at_')}": repr(float(value)) for key, value in metrics.items()}


def metrics_from_tags(tags: Mapping[str, str]) -> dict[str, float]:
    """The inverse of :func:`metric_tags`; other tags are ignored."""
    return {key[len(METRIC_TAG):].replace("_at_", "@"): float(value) for key, value in tags.items()
            if key.startswith(METRIC_TAG)}
