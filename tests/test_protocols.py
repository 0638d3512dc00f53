"""Canonical protocols: k-fold partitions and ml-100k's predefined u1..u5/ua/ub files (tiny fixtures)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from movierec.config import PREDEFINED_FOLDS, validate
from movierec.data.readers import U_ITEM_GENRES, read_predefined_split
from movierec.data.release import DatasetError
from movierec.data.split import drop_uncovered, kfold_test_mask, split_ratings
from pipeline.stage import compose_params
from tests.conftest import REPO_ROOT


def dense_ratings(n_users: int = 12, n_movies: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, movies = np.nonzero(rng.random((n_users, n_movies)) < 0.7)
    return pd.DataFrame({"user_id": users + 1, "movie_id": movies + 100,
                         "rating": (rng.integers(1, 11, users.size) / 2).astype(np.float32),
                         "timestamp": np.arange(users.size, dtype=np.int64)})


# -- k-fold -----------------------------------------------------------------------------------


def test_kfold_masks_partition_the_rows_into_near_equal_seeded_folds():
    masks = np.stack([kfold_test_mask(23, 5, fold, seed=7) for fold in range(5)])
    assert (masks.sum(axis=0) == 1).all()                  # every row in exactly one fold
    assert sorted(masks.sum(axis=1).tolist()) == [4, 4, 5, 5, 5]
    assert (kfold_test_mask(23, 5, 2, seed=7) == masks[2]).all()
    assert not (kfold_test_mask(23, 5, 2, seed=8) == masks[2]).all()
    with pytest.raises(ValueError, match="fold 5"):
        kfold_test_mask(23, 5, 5, seed=7)


def test_kfold_splits_cover_train_and_test_sets_are_disjoint_across_folds():
    ratings = dense_ratings()
    tests = []
    for fold in range(5):
        train, test = split_ratings(ratings, "kfold", 0.2, seed=42, n_folds=5, fold=fold)
        assert len(train) + len(test) == len(ratings)
        assert train.merge(test, on=["user_id", "movie_id"]).empty
        assert set(test["user_id"]) <= set(train["user_id"]) and set(test["movie_id"]) <= set(train["movie_id"])
        tests.append(set(zip(test["user_id"], test["movie_id"])))
    for i in range(5):
        for j in range(i + 1, 5):
            assert not tests[i] & tests[j]
    # cover_train moves a handful at most; the folds still hold almost every rating once
    assert sum(map(len, tests)) >= 0.9 * len(ratings)


def test_predefined_is_not_computed_by_split_ratings():
    with pytest.raises(ValueError, match="read from the release"):
        split_ratings(dense_ratings(), "predefined", 0.2, seed=0)


# -- config -----------------------------------------------------------------------------------


def test_protocol_configs_validate():
    cfg = validate(compose_params(["split=kfold", "split.fold=3"]))
    assert (cfg.split.strategy.value, cfg.split.n_folds, cfg.split.kfold_index()) == ("kfold", 5, 3)
    cfg = validate(compose_params(["data=ml-100k", "split=predefined", "split.fold=ub"]))
    assert (cfg.split.strategy.value, cfg.split.fold) == ("predefined", "ub")
    assert validate(compose_params([])).split.kfold_index() == 0


@pytest.mark.parametrize("overrides, message", [
    (["split=predefined"], "needs data=ml-100k"),
    (["data=ml-100k", "split=predefined", "split.fold=u6"], "split.fold"),
    (["split=kfold", "split.fold=5"], "fold index 0..4"),
    (["split=kfold", "split.fold=u1"], "fold index"),
    (["split=kfold", "split.n_folds=1"], "split.n_folds"),
])
def test_bad_protocol_configs_name_the_key(overrides, message):
    with pytest.raises(ValueError, match=message):
        validate(compose_params(overrides))


# -- predefined (ml-100k layout written in tmp_path) ----------------------------------------------

BASE = [(1, 1, 5, 10), (1, 2, 3, 11), (2, 1, 4, 12), (2, 3, 2, 13), (3, 2, 4, 14), (3, 3, 5, 15)]
TEST = [(1, 3, 4, 20), (2, 2, 1, 21), (3, 1, 3, 22), (3, 4, 5, 23), (4, 1, 4, 24)]  # movie 4, user 4 unseen


def write_ml100k(folder, folds=("u1", "u2")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    flags = {1: ["Animation", "Comedy"], 2: ["Drama"], 3: [], 4: ["Action"]}
    lines = []
    for movie, genres in flags.items():
        bits = "|".join("1" if g in genres else "0" for g in U_ITEM_GENRES)
        lines.append(f"{movie}|Movie {movie} (199{movie})|01-Jan-199{movie}||http://x|{bits}")
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in BASE + TEST))
    for fold in folds:
        (folder / f"{fold}.base").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in BASE))
        (folder / f"{fold}.test").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in TEST))


def test_read_predefined_split_reads_base_test_and_genres(tmp_path):
    write_ml100k(tmp_path / "ml-100k")
    base, test, movies = read_predefined_split(tmp_path / "ml-100k", "u1")
    assert len(base) == 6 and len(test) == 5
    assert base.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
    assert movies.set_index("movie_id").loc[1, "genres"] == ["Animation", "Comedy"]
    kept, dropped = drop_uncovered(base, test)
    assert dropped == 2 and set(kept["movie_id"]) <= {1, 2, 3} and set(kept["user_id"]) <= {1, 2, 3}


def test_read_predefined_split_errors_name_the_problem(tmp_path):
    write_ml100k(tmp_path / "ml-100k", folds=("u1",))
    with pytest.raises(DatasetError, match="u2.base"):
        read_predefined_split(tmp_path / "ml-100k", "u2")
    with pytest.raises(DatasetError, match="unknown predefined fold"):
        read_predefined_split(tmp_path / "ml-100k", "u9")
    assert set(PREDEFINED_FOLDS) == {"u1", "u2", "u3", "u4", "u5", "ua", "ub"}


def test_reindex_reads_the_predefined_files_instead_of_splitting(tmp_path):
    from pipeline.reindex import split_data

    write_ml100k(tmp_path / "raw" / "ml-100k")
    cfg = validate(compose_params(["data=ml-100k", "split=predefined", "split.fold=u2",
                                   f"paths.raw={tmp_path / 'raw'}", f"paths.interim={tmp_path / 'none'}"]))
    data = split_data(cfg)
    assert len(data.train) == 6 and len(data.test) == 3   # the two uncovered test rows dropped
    assert set(data.test["user_idx"]) <= set(data.train["user_idx"])
    assert set(data.test["movie_idx"]) <= set(data.train["movie_idx"])
    assert data.n_movies == 3 and data.movies["n_ratings"].tolist() == [2, 2, 2]


def test_reindex_kfold_uses_the_fold_of_the_config(tmp_path):
    from pipeline.reindex import split_data

    ratings = dense_ratings()
    movies = pd.DataFrame({"movie_id": np.arange(100, 110), "title": [f"m{i}" for i in range(10)],
                           "genres": [["Drama"]] * 10, "year": pd.array([2000] * 10, dtype="Int64")})
    ratings.to_parquet(tmp_path / "ratings.parquet")
    movies.to_parquet(tmp_path / "movies.parquet")

    def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
        return set(zip(frame["user_id"].tolist(), frame["movie_id"].tolist()))

    every = pairs(ratings)
    tests = []
    for fold in range(5):
        cfg = validate(compose_params(["split=kfold", f"split.fold={fold}", f"paths.interim={tmp_path}"]))
        data = split_data(cfg)
        expected_train, expected_test = split_ratings(ratings, "kfold", 0.2, cfg.seed, 5, fold)
        # the very rows of this fold (by (user, movie) id pairs), with their ratings, not just as many
        assert pairs(data.test) == pairs(expected_test) and pairs(data.train) == pairs(expected_train)
        assert pairs(data.test) | pairs(data.train) == every and not pairs(data.test) & pairs(data.train)
        fold_rows = pairs(ratings[kfold_test_mask(len(ratings), 5, fold, cfg.seed)])
        assert pairs(data.test) <= fold_rows and len(pairs(data.test)) >= len(fold_rows) - 2  # cover_train moves few
        merged = data.test.merge(ratings, on=["user_id", "movie_id"], suffixes=("", "_raw"))
        assert len(merged) == len(data.test) and (merged["rating"] == merged["rating_raw"]).all()
        # the indices are the vocabulary's for these ids
        assert (data.vocab.users.id_of(data.test["user_idx"]) == data.test["user_id"].to_numpy()).all()
        assert (data.vocab.movies.id_of(data.test["movie_idx"]) == data.test["movie_id"].to_numpy()).all()
        tests.append(pairs(data.test))
    for i in range(5):  # another fold gives other rows
        for j in range(i + 1, 5):
            assert tests[i] and not tests[i] & tests[j], (i, j)


# -- the fold benchmark, on the fixtures -----------------------------------------------------------


@pytest.fixture(scope="module")
def folds_benchmark():
    spec = importlib.util.spec_from_file_location("bench_folds", REPO_ROOT / "benchmarks" / "folds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fold_benchmark_predefined_reports_mean_and_std(tmp_path, folds_benchmark):
    write_ml100k(tmp_path / "raw" / "ml-100k")
    result = folds_benchmark.run("predefined", ["popularity", "user_user"], ["u1", "u2"], None, tmp_path / "out",
                                 None, [f"paths.raw={tmp_path / 'raw'}"])
    saved = json.loads((tmp_path / "out" / "folds_predefined.json").read_text())
    assert saved["strategy"] == "predefined" and [f["fold"] for f in saved["folds"]] == ["u1", "u2"]
    rmse = saved["summary"]["popularity"]["rmse"]
    assert rmse["values"][0] == rmse["values"][1] == pytest.approx(rmse["mean"]) and rmse["std"] == 0.0
    markdown = (tmp_path / "out" / "folds_predefined.md").read_text()
    assert "u1, u2 base/test files as published" in markdown and markdown.count(result["protocol"]) == 1
    assert "| popularity |" in markdown and " ± " in markdown


def test_fold_benchmark_kfold_on_a_csv_release(tmp_path, folds_benchmark):
    folder = tmp_path / "raw" / "ml-latest-small"
    folder.mkdir(parents=True)
    ratings = dense_ratings(n_users=20, n_movies=12, seed=3)
    ratings.rename(columns={"user_id": "userId", "movie_id": "movieId"}).to_csv(folder / "ratings.csv", index=False)
    pd.DataFrame({"movieId": np.arange(100, 112), "title": [f"M{i} (2001)" for i in range(12)],
                  "genres": ["Drama|War", "Comedy"] * 6}).to_csv(folder / "movies.csv", index=False)
    result = folds_benchmark.run("kfold", ["popularity", "ease"], None, None, tmp_path / "out", None,
                                 [f"paths.raw={tmp_path / 'raw'}", "filter.min_movie_ratings=1"])
    assert [f["fold"] for f in result["folds"]] == ["0", "1", "2", "3", "4"]
    assert sum(f["test"] for f in result["folds"]) >= 0.9 * len(ratings)
    ndcg = result["summary"]["popularity"]["ndcg@10"]
    values = [v for v in ndcg["values"] if np.isfinite(v)]
    assert ndcg["mean"] == pytest.approx(np.mean(values)) and ndcg["std"] == pytest.approx(np.std(values, ddof=1))
    assert "5-fold random partition" in (tmp_path / "out" / "folds.md").read_text()
    # EASE^R ranks (lambda chosen on each fold's validation slice) and predicts no ratings
    ease = result["summary"]["ease"]
    assert any(np.isfinite(ease["ndcg@10"]["values"])) and not any(np.isfinite(ease["rmse"]["values"]))


def test_fold_benchmark_bayesian_fm_is_tuned_per_fold(tmp_path, folds_benchmark):
    pytest.importorskip("myfm", reason="myfm is not installed (pip install -e '.[bench]')")
    write_ml100k(tmp_path / "raw" / "ml-100k")
    result = folds_benchmark.run("predefined", ["myfm"], ["u1", "u2"], None, tmp_path / "out", None,
                                 [f"paths.raw={tmp_path / 'raw'}"])
    rmse = result["summary"]["myfm"]["rmse"]
    assert all(np.isfinite(rmse["values"])) and len(rmse["values"]) == 2
    for fold in result["folds"]:  # rank and sweeps chosen on that fold's validation slice
        assert "val RMSE/MAE" in fold["tuning"]["myfm"]
    markdown = (tmp_path / "out" / "folds_predefined.md").read_text()
    assert "| myfm |" in markdown and "- fold u2, myfm: " in markdown
