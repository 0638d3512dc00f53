"""Progress of long steps at INFO: bytes copied, files extracted, synthetic chunks (issue 16, item 9)."""

from __future__ import annotations

import io
import logging
import zipfile

from movierec.data.release import copy_with_progress, extract_dataset
from movierec.data.synthetic import generate, write_release


def test_copy_logs_every_tenth_of_a_known_size(caplog):
    caplog.set_level(logging.INFO, logger="movierec.data.release")
    out = io.BytesIO()
    assert copy_with_progress(io.BytesIO(b"x" * 1000), out, 1000, "a.zip", chunk=50) == 1000
    assert out.getvalue() == b"x" * 1000
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10 and lines[0] == "a.zip: 0.0 MB of 0.0 MB (10%)" and lines[-1].endswith("(100%)")


def test_copy_of_an_unknown_size_logs_every_n_bytes(caplog):
    caplog.set_level(logging.INFO, logger="movierec.data.release")
    copy_with_progress(io.BytesIO(b"x" * 1000), io.BytesIO(), None, "a.zip", chunk=100, every_bytes=400)
    assert len(caplog.records) == 2


def test_extraction_counts_files(tmp_path, caplog):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("d/", "")
        zf.writestr("d/ratings.csv", "a,b\n")
        zf.writestr("d/movies.csv", "c\n")
    caplog.set_level(logging.INFO, logger="movierec.data.release")
    extract_dataset(archive, tmp_path / "out", "d")
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("extracting 2 files of d/") for line in lines)
    assert [line.split()[1] for line in lines if line.startswith("extracted ")] == ["1/2", "2/2"]


def test_synthetic_generation_logs_its_chunks(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="movierec.data.synthetic")
    ratings, movies = generate(n_users=50, n_movies=60, n_ratings=1500, seed=0, min_user_ratings=10)
    write_release(ratings, movies, tmp_path)
    lines = [r.getMessage() for r in caplog.records]
    assert f"synthetic: ratings {len(ratings)}/{len(ratings)}" in lines
    assert any(line.startswith("synthetic: writing") for line in lines)
