"""The headline of an evaluation: the figures `dvc metrics show` and `dvc exp show` print.

reports/metrics.json keeps everything (every metric per method, beyond-accuracy, user segments,
new users); reports/summary.json keeps RMSE and NDCG@k per method, on the test split and for new
users: four numbers per method (sixteen for four, a terminal's width).
"""

from __future__ import annotations

NEW_USER = "new_user"
MAX_FIGURES = 16


def headline_keys(k: int) -> tuple[str, ...]:
    return ("rmse", f"ndcg@{k}")


def headline(metrics: dict, k: int) -> dict[str, dict]:
    """{method: {rmse, ndcg@k}} for every method, and the same under "new_user" when it is there."""
    keys = headline_keys(k)

    def pick(values: dict) -> dict[str, float]:
        return {key: float(values[key]) for key in keys if key in values}

    summary: dict[str, dict] = {method: pick(values) for method, values in metrics.items() if method != NEW_USER}
    if isinstance(metrics.get(NEW_USER), dict):
        summary[NEW_USER] = {method: pick(values) for method, values in metrics[NEW_USER].items()}
    return summary


def count_figures(tree: object) -> int:
    """How many numbers a nested mapping holds."""
    if isinstance(tree, dict):
        return sum(count_figures(value) for value in tree.values())
    return int(isinstance(tree, (int, float)) and not isinstance(tree, bool))
