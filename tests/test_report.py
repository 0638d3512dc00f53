"""The evaluation report: Markdown tables, PNG charts and the protocol sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.config import validate
from movierec.evaluation.report import protocol_text, write_report
from pipeline.stage import compose_params

PNG = b"\x89PNG"


def metrics_for(ndcg: float) -> dict:
    return {"rmse": 0.9, "mae": 0.7, "precision@10": 0.1, "recall@10": 0.2, "ndcg@10": ndcg, "hit_rate@10": 0.5,
            "coverage@10": 0.05, "n_users": 9, "mean_popularity@10": 120.5, "novelty@10": 2.25,
            "diversity@10": 0.75, "ndcg@10_light": ndcg / 2, "ndcg@10_heavy": ndcg * 2,
            "n_users_light": 4, "n_users_medium": 0, "n_users_heavy": 5}


@pytest.fixture
def metrics() -> dict:
    known = {"embedding": metrics_for(0.25), "user_user": metrics_for(0.2), "popularity": metrics_for(0.15)}
    new_user = {m: {k: v for k, v in values.items() if "popularity@" not in k} for m, values in known.items()}
    return {**known, "new_user": new_user}


def test_write_report_writes_markdown_and_every_chart(tmp_path, metrics):
    loss = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85],
                         "test_loss": [1.1, 0.95, 0.9]})
    n_ratings = np.array([1, 5, 50, 200, 0])
    path = write_report(tmp_path, metrics, 10, "the protocol", n_ratings,
                        {"embedding": np.array([1, 2, 4]), "user_user": np.array([3, 3]),
                         "popularity": np.array([3, 2])}, loss)
    text = path.read_text()
    assert path == tmp_path / "evaluation.md"
    assert "**Protocol:** the protocol." in text
    assert "| embedding | 0.9000 | 0.7000 | 0.1000 | 0.2000 | 0.2500 | 0.5000 | 9 |" in text
    assert "| popularity | 0.0500 | 120.5 | 2.2500 | 0.7500 |" in text
    # no method has a medium-bucket NDCG: that column is left out, its user count (0) stays
    assert "| embedding | 0.1250 | 0.5000 | 4 | 0 | 5 |" in text
    assert "Median train ratings of a movie: catalogue 5, embedding 5, user_user 200, popularity 125." in text
    assert "## New users (cold start)" in text
    for name in ("metrics_by_method", "popularity", "ndcg_by_activity", "loss"):
        assert f"(figures/{name}.png)" in text
        assert (tmp_path / "figures" / f"{name}.png").read_bytes()[:4] == PNG


def test_report_without_loss_leaves_the_chart_out_and_replaces_old_figures(tmp_path, metrics):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "loss.png").write_bytes(PNG)
    write_report(tmp_path, metrics, 10, "p", np.array([3, 4]), {"popularity": np.array([0, 1])})
    assert not (tmp_path / "figures" / "loss.png").exists()
    assert "figures/loss.png" not in (tmp_path / "evaluation.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("overrides, expected", [
    ([], "ml-latest-small, movies with >= 5 ratings, random 80%/20% split (seed 42)"),
    (["split=temporal"], "per-user temporal split, each user's latest 20% to test"),
    (["split=kfold", "split.fold=2"], "5-fold random partition of the ratings (seed 42), fold 2 as test"),
    (["data=ml-100k", "split=predefined", "split.fold=u3"], "ml-100k, predefined split u3.base / u3.test"),
])
def test_protocol_text_names_the_protocol(overrides, expected):
    text = protocol_text(validate(compose_params(overrides)))
    assert expected in text and "relevant = test rating >= 4" in text
