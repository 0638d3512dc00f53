"""Issue 23, item 4: ranking metrics are defined once, by name (`PER_USER_RANKING`), and the report
labels them from that definition, not from a second list or from positions."""

from __future__ import annotations

import numpy as np

from movierec.evaluation import metrics as m
from movierec.evaluation.report import LABELS, labelled, render_markdown


def _synthetic(seed=3, n_users=40, n_movies=30, k=5):
    rng = np.random.default_rng(seed)
    ranked = [rng.permutation(n_movies)[:k] for _ in range(n_users)]
    relevant = [set(rng.choice(n_movies, size=rng.integers(0, 6), replace=False).tolist()) for _ in range(n_users)]
    return ranked, relevant, n_movies, k


def test_each_metric_is_the_mean_of_its_own_function_over_users_with_a_relevant_item():
    ranked, relevant, n_movies, k = _synthetic()
    result = m.ranking_metrics(ranked, relevant, k, n_movies)
    users = [(r, rel) for r, rel in zip(ranked, relevant) if rel]
    assert 0 < len(users) < len(ranked)  # some users are skipped
    expected = {
        f"precision@{k}": np.mean([m.precision_at_k(r, rel, k) for r, rel in users]),
        f"recall@{k}": np.mean([m.recall_at_k(r, rel, k) for r, rel in users]),
        f"ndcg@{k}": np.mean([m.ndcg_at_k(r, rel, k) for r, rel in users]),
        f"hit_rate@{k}": np.mean([m.hit_rate_at_k(r, rel, k) for r, rel in users]),
        f"coverage@{k}": m.coverage(ranked, n_movies),
        "n_users": len(users),
    }
    assert list(result) == list(expected)
    for key, value in expected.items():
        assert abs(result[key] - value) <= 1e-12, key


def test_a_metric_added_by_name_is_computed_and_reported(monkeypatch):
    ranked, relevant, n_movies, k = _synthetic()

    def first_is_relevant(ranked_list, rel, k):
        return float(int(ranked_list[0]) in rel)

    monkeypatch.setitem(m.PER_USER_RANKING, "first_hit", first_is_relevant)
    monkeypatch.setitem(LABELS, "first_hit", ("first hit@{k}", "FH@{k}"))
    result = m.ranking_metrics(ranked, relevant, k, n_movies)
    users = [(r, rel) for r, rel in zip(ranked, relevant) if rel]
    assert result[f"first_hit@{k}"] == np.mean([first_is_relevant(r, rel, k) for r, rel in users])
    assert result[f"ndcg@{k}"] == np.mean([m.ndcg_at_k(r, rel, k) for r, rel in users])  # others unmoved
    text = render_markdown({"embedding": {"rmse": 0.9, "mae": 0.7, **result}}, k, "a protocol", [], {})
    assert f"FH@{k}" in text


def test_every_named_metric_has_a_label():
    names = [*m.ERROR_METRICS, *m.PER_USER_RANKING, *m.BEYOND_ACCURACY]
    assert set(names) <= set(LABELS)
    assert [key for key, _ in labelled(names, 10, 1)] == [
        "rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hit_rate@10",
        "coverage@10", "mean_popularity@10", "novelty@10", "diversity@10"]
