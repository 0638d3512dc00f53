"""The download stage: mirror, checksum, atomic extraction, clear failures."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from movierec.data.release import DatasetError, download_dataset

URL = "https://files.grouplens.org/datasets/movielens/ml-tiny.zip"


@pytest.fixture
def archive_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = mirror / "ml-tiny.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-tiny/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n")
        zf.writestr("ml-tiny/movies.csv", "movieId,title,genres\n1,A (2000),Drama\n")
    return mirror, hashlib.sha256(path.read_bytes()).hexdigest()


def test_mirror_download_extracts_the_dataset_folder(tmp_path, archive_mirror):
    mirror, digest = archive_mirror
    out = download_dataset("ml-tiny", URL, digest, tmp_path / "raw", mirror=mirror)
    assert sorted(p.name for p in out.iterdir()) == ["movies.csv", "ratings.csv"]
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["ml-tiny"]  # no temp files left


def test_checksum_mismatch_names_both_sums_and_keeps_old_data(tmp_path, archive_mirror):
    mirror, digest = archive_mirror
    raw = tmp_path / "raw"
    (raw / "ml-tiny").mkdir(parents=True)
    (raw / "ml-tiny" / "ratings.csv").write_text("old")
    with pytest.raises(DatasetError) as info:
        download_dataset("ml-tiny", URL, "0" * 64, raw, mirror=mirror)
    assert "0" * 64 in str(info.value) and digest in str(info.value)
    assert (raw / "ml-tiny" / "ratings.csv").read_text() == "old"
    assert [p.name for p in raw.iterdir()] == ["ml-tiny"]


def test_truncated_archive_is_refused(tmp_path, archive_mirror):
    mirror, _ = archive_mirror
    data = (mirror / "ml-tiny.zip").read_bytes()
    (mirror / "ml-tiny.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="not a valid zip"):
        download_dataset("ml-tiny", URL, None, tmp_path / "raw", mirror=mirror)
    assert not (tmp_path / "raw" / "ml-tiny").exists()


def test_missing_mirror_file_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetError, match="ml-tiny.zip") as info:
        download_dataset("ml-tiny", URL, None, tmp_path / "raw", mirror=tmp_path)
    assert "MOVIEREC_DATA_MIRROR" in str(info.value)


def test_unreachable_url_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetError, match="could not download") as info:
        download_dataset("ml-tiny", "http://127.0.0.1:9/ml-tiny.zip", None, tmp_path / "raw")
    assert "MOVIEREC_DATA_MIRROR" in str(info.value)


def test_real_archive_from_mirror_matches_published_checksum(tmp_path, mirror):
    from pipeline.stage import compose_params

    data = compose_params()["data"]
    out = download_dataset(data["name"], data["url"], data["sha256"], tmp_path, mirror=mirror)
    assert (out / "ratings.csv").stat().st_size == 2483723
