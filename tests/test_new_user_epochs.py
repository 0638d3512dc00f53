"""The new_user stage trains its heads for the epoch counts the train stage chose (run.json)."""

from __future__ import annotations

import json

import pytest

from movierec.methods.embedding import TrainOutputError, chosen_epochs


def _write(tmp_path, info) -> None:
    (tmp_path / "embedding").mkdir()
    (tmp_path / "embedding" / "run.json").write_text(json.dumps(info))


def test_the_counts_come_from_run_json(tmp_path):
    _write(tmp_path, {"refit": True, "head_best_epochs": [5, 7]})
    assert chosen_epochs(tmp_path / "embedding", 2) == [6, 8]  # best epoch (0-based) + 1


def test_without_a_refit_the_stage_chooses_again(tmp_path):
    _write(tmp_path, {"refit": False, "head_best_epochs": [5, 5]})
    assert chosen_epochs(tmp_path / "embedding", 2) is None


def test_a_run_json_without_the_counts_means_choose_again(tmp_path):
    _write(tmp_path, {"refit": True, "best_epoch": 5})
    assert chosen_epochs(tmp_path / "embedding", 2) is None


def test_a_head_count_that_does_not_match_is_refused(tmp_path):
    _write(tmp_path, {"refit": True, "head_best_epochs": [5]})
    with pytest.raises(TrainOutputError, match="1 heads, model.n_heads is 2"):
        chosen_epochs(tmp_path / "embedding", 2)


def test_a_missing_or_broken_run_json_names_the_file(tmp_path):
    with pytest.raises(TrainOutputError, match="run.json is missing or unreadable"):
        chosen_epochs(tmp_path / "embedding", 2)
    (tmp_path / "embedding").mkdir()
    (tmp_path / "embedding" / "run.json").write_text("{not json")
    with pytest.raises(TrainOutputError, match="run the train stage first"):
        chosen_epochs(tmp_path / "embedding", 2)
