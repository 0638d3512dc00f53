"""The bundle stage copies each method's trained folder instead of loading and saving it again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec.methods.contract import TRAINING_RECORD
from movierec.serving.model_bundle import ModelBundle, assemble_bundle
from tests.synthetic import small_bundle


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_assembling_from_trained_folders_writes_what_saving_the_loaded_methods_writes(tmp_path):
    bundle = small_bundle()
    trained = {}
    for name, method in bundle.methods.items():  # each method as its train stage leaves it, with its record
        method.save(tmp_path / "methods" / name)
        (tmp_path / "methods" / name / TRAINING_RECORD).write_text(json.dumps({"epochs": 3}))
        trained[name] = tmp_path / "methods" / name
    bundle.save(tmp_path / "saved")
    assemble_bundle(tmp_path / "assembled", bundle.vocab, bundle.movies, bundle.ratings, trained)

    assert tree(tmp_path / "assembled") == tree(tmp_path / "saved")       # the record is not bundled
    loaded = ModelBundle.load(tmp_path / "assembled")
    assert loaded.method_names == list(bundle.methods)
    profile = bundle.profile_for_user(4)  # user ids are 1..60
    for name in bundle.methods:
        ours, theirs = loaded.recommend(name, profile, 5), bundle.recommend(name, profile, 5)
        assert np.array_equal(ours.movie_idx, theirs.movie_idx) and np.array_equal(ours.score, theirs.score)


def test_a_method_never_trained_is_named(tmp_path):
    bundle = small_bundle()
    with pytest.raises(FileNotFoundError, match="method 'embedding' has not been trained"):
        assemble_bundle(tmp_path / "bundle", bundle.vocab, bundle.movies, bundle.ratings,
                        {"embedding": tmp_path / "methods" / "embedding"})
