"""`dvc metrics show` prints a headline that fits a terminal; metrics.json keeps everything (issue 22, item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from movierec.evaluation.summary import MAX_FIGURES, count_figures, headline
from tests.conftest import REPO_ROOT

CONTRACT = {"rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hit_rate@10", "coverage@10"}
# every configured method (params.yaml `methods`) and the popularity baseline
METHODS = set(yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["methods"]) | {"popularity"}


def full(rmse: float, ndcg: float) -> dict:
    return {"rmse": rmse, "mae": rmse - 0.2, "precision@10": 0.2, "recall@10": 0.3, "ndcg@10": ndcg,
            "hit_rate@10": 0.7, "coverage@10": 0.1, "novelty@10": 2.0, "ndcg@10_light": 0.1, "n_users": 61}


def test_headline_keeps_rmse_and_ndcg_per_method_and_for_new_users():
    metrics = {"embedding": full(0.8, 0.3), "popularity": full(0.9, 0.1), "new_user": {"embedding": full(0.7, 0.4)}}
    assert headline(metrics, 10) == {"embedding": {"rmse": 0.8, "ndcg@10": 0.3},
                                     "popularity": {"rmse": 0.9, "ndcg@10": 0.1},
                                     "new_user": {"embedding": {"rmse": 0.7, "ndcg@10": 0.4}}}
    assert headline({"embedding": full(0.8, 0.3)}, 5) == {"embedding": {"rmse": 0.8}}  # no ndcg@5 measured


def test_committed_summary_is_the_headline_of_the_committed_metrics():
    metrics = json.loads((REPO_ROOT / "reports/metrics.json").read_text())
    summary = json.loads((REPO_ROOT / "reports/summary.json").read_text())
    assert summary == headline(metrics, 10)
    assert count_figures(summary) == 4 * len(METHODS) <= MAX_FIGURES
    # metrics.json keeps its contract: every method, on the test split and for new users
    assert set(metrics) == METHODS | {"new_user"} and set(metrics["new_user"]) == METHODS
    for values in [metrics[m] for m in METHODS] + [metrics["new_user"][m] for m in METHODS]:
        assert set(values) >= CONTRACT


def test_dvc_declares_the_summary_as_its_only_metrics_file_and_metrics_json_as_a_tracked_output():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    declared = [next(iter(m)) if isinstance(m, dict) else m for s in stages.values() for m in s.get("metrics", [])]
    assert declared == ["${paths.reports}/summary.json"]
    outs = stages["evaluate"]["outs"]
    assert {"${paths.reports}/metrics.json": {"cache": False}} in outs


def test_dvc_metrics_show_prints_at_most_sixteen_figures():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    result = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    files = {path: entry["data"] for rev in shown.values() for path, entry in rev["data"].items()}
    assert list(files) == ["reports/summary.json"]
    assert count_figures(files) <= MAX_FIGURES
