"""Issue 23, item 4: the promotion gate compares ``ndcg@<evaluate.k>``, not always ``ndcg@10``.

With ``evaluate.k=20`` the metrics hold ``ndcg@20`` only; a gate reading ``ndcg@10`` refused every
candidate once a champion existed. A champion evaluated at another k is not comparable: no
automatic promotion, with the reason; one with no recorded metrics at all is still replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from movierec.config import compose, validate
from movierec.registry.promotion import Context, Evaluated, decide, decide_promotion, split_key
from movierec.registry.register import Registration, register_bundle
from movierec.registry.tracking import use_store

ROOT = Path(__file__).resolve().parents[1]
CLEAN = Context(git_commit="a" * 40, git_dirty="false")
SPLIT = split_key({"split.strategy": "random", "seed": 42})
AT_20 = {"rmse": 0.83, "ndcg@20": 0.30}
AT_20_BETTER = {"rmse": 0.82, "ndcg@20": 0.31}
AT_20_WORSE = {"rmse": 0.83, "ndcg@20": 0.25}
AT_10 = {"rmse": 0.90, "ndcg@10": 0.10}


def test_the_rule_compares_the_configured_k():
    assert decide_promotion(AT_20_BETTER, AT_20, 0.005, 0.01, "ndcg@20").promote
    worse = decide_promotion(AT_20_WORSE, AT_20, 0.005, 0.01, "ndcg@20")
    assert not worse.promote and "ndcg@20 0.2500 < champion 0.3000" in worse.reason


def test_a_champion_evaluated_at_another_k_is_not_replaced_automatically():
    decision = decide(Evaluated(AT_20_BETTER, "fp", SPLIT, "2"), Evaluated(AT_10, "fp", SPLIT, "1"), CLEAN,
                      0.005, 0.01, "ndcg@20")
    assert not decision.promote
    assert "evaluated at another k: it has ndcg@10" in decision.reason and "champion promote" in decision.reason


def test_a_champion_with_some_metrics_but_not_the_compared_ones_is_not_replaced():
    decision = decide_promotion(AT_20_BETTER, {"mae": 0.6}, 0.005, 0.01, "ndcg@20")
    assert not decision.promote and "not comparable" in decision.reason


def test_a_champion_without_any_recorded_metrics_is_still_replaced():
    decision = decide_promotion(AT_20, {}, 0.005, 0.01, "ndcg@20")
    assert decision.promote and "no recorded test metrics" in decision.reason


@pytest.fixture
def store(tmp_path):
    from tests.synthetic import small_bundle

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    use_store(uri, "movierec")
    small_bundle().save(tmp_path / "bundle")
    yield uri, tmp_path / "bundle"
    mlflow.set_tracking_uri("")


def _register(bundle_dir, metrics, **kwargs):
    with mlflow.start_run() as run:
        pass
    return register_bundle(bundle_dir, run.info.run_id, "gate-k", "champion", metrics, 0.005, 0.01,
                           tags={"data_fingerprint": "fp"}, context=CLEAN, split=SPLIT, **kwargs)


def test_register_bundle_passes_the_key_to_the_gate(store):
    _, bundle_dir = store
    assert _register(bundle_dir, AT_20, ndcg_key="ndcg@20").promoted
    (bundle_dir / "extra.txt").write_text("another bundle")  # another content: a new version
    better = _register(bundle_dir, AT_20_BETTER, ndcg_key="ndcg@20")
    assert better.promoted, better.reason  # read ndcg@10, it was refused: "candidate has no ['ndcg@10']"
    assert "ndcg@20 0.3100 (champion 0.3000)" in better.reason


def test_the_register_stage_uses_evaluate_k(tmp_path, monkeypatch):
    import pipeline.register as stage

    cfg = validate(compose(ROOT / "conf", ["evaluate.k=20", f"paths.models={tmp_path / 'models'}",
                                           f"paths.reports={tmp_path / 'reports'}",
                                           f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"]))
    (tmp_path / "models" / "methods" / "embedding").mkdir(parents=True)
    (tmp_path / "models" / "methods" / "embedding" / "run.json").write_text(json.dumps({"run_id": "r1"}))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text(json.dumps({"embedding": AT_20}))
    seen = {}

    def fake_register(*args, **kwargs):
        seen.update(kwargs)
        return Registration("1", "r1", True, "test")

    monkeypatch.setattr(stage, "register_bundle", fake_register)
    try:
        stage.run(cfg)
    finally:
        mlflow.set_tracking_uri("")
    assert seen.get("ndcg_key") == "ndcg@20"
