"""Each MovieLens format reader on tiny files written here, and the cleaning rules."""

from __future__ import annotations

import pandas as pd
import pytest

from movierec.data.readers import read_dataset, split_title_year
from movierec.data.release import DatasetError


def _check_common(ratings: pd.DataFrame, movies: pd.DataFrame) -> None:
    assert list(ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert str(ratings["rating"].dtype) == "float32" and str(ratings["user_id"].dtype) == "int64"
    assert list(movies.columns) == ["movie_id", "title", "genres", "year"]


def test_csv_reader(tmp_path):
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,1,5,964982224\n")
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,"Birdcage, The (1996)",(no genres listed)\n')
    ratings, movies = read_dataset(tmp_path, "csv")
    _check_common(ratings, movies)
    assert ratings["rating"].tolist() == [4.0, 3.5, 5.0]
    assert movies.loc[0, "title"] == "Toy Story" and movies.loc[0, "year"] == 1995
    assert movies.loc[0, "genres"] == ["Adventure", "Animation"]
    assert movies.loc[1, "title"] == "Birdcage, The" and movies.loc[1, "genres"] == []


def test_dat_reader_latin1(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n2::1193::3::978298413\n")
    (tmp_path / "movies.dat").write_bytes("1193::Am\xe9lie (2001)::Comedy|Romance\n".encode("latin-1"))
    ratings, movies = read_dataset(tmp_path, "dat")
    _check_common(ratings, movies)
    assert ratings["user_id"].tolist() == [1, 2] and ratings["rating"].tolist() == [5.0, 3.0]
    assert movies.loc[0, "title"] == "Amélie" and movies.loc[0, "year"] == 2001
    assert movies.loc[0, "genres"] == ["Comedy", "Romance"]


def test_u_data_reader_genre_flags(tmp_path):
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t242\t1\t891717742\n")
    flags = ["0"] * 19
    flags[3] = flags[5] = "1"  # Animation, Comedy
    line = "242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/x|" + "|".join(flags) + "\n"
    (tmp_path / "u.item").write_bytes(line.encode("latin-1"))
    ratings, movies = read_dataset(tmp_path, "u_data")
    _check_common(ratings, movies)
    assert ratings["movie_id"].tolist() == [242, 242]
    assert movies.loc[0, "genres"] == ["Animation", "Comedy"] and movies.loc[0, "year"] == 1996


@pytest.mark.parametrize("raw,title,year", [
    ("Toy Story (1995)", "Toy Story", 1995),
    ("Babylon 5", "Babylon 5", None),
    ("Fawlty Towers (1975-1979)", "Fawlty Towers", 1975),
    ("  City of God (Cidade de Deus) (2002) ", "City of God (Cidade de Deus)", 2002),
])
def test_split_title_year(raw, title, year):
    assert split_title_year(raw) == (title, year)


def _write_csv(folder, ratings_text, movies_text="movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Drama\n"):
    (folder / "ratings.csv").write_text(ratings_text)
    (folder / "movies.csv").write_text(movies_text)


def test_duplicate_pairs_keep_the_latest_rating(tmp_path):
    _write_csv(tmp_path, "userId,movieId,rating,timestamp\n1,1,2.0,10\n1,1,4.5,20\n1,2,3.0,5\n")
    ratings, _ = read_dataset(tmp_path, "csv")
    assert ratings.set_index("movie_id")["rating"].to_dict() == {1: 4.5, 2: 3.0}


def test_ratings_of_unknown_movies_are_dropped(tmp_path):
    _write_csv(tmp_path, "userId,movieId,rating,timestamp\n1,1,2.0,10\n1,99,4.5,20\n")
    ratings, _ = read_dataset(tmp_path, "csv")
    assert ratings["movie_id"].tolist() == [1]


@pytest.mark.parametrize("text,message", [
    ("userId,movieId,timestamp\n1,1,10\n", "missing column"),
    ("userId,movieId,rating,timestamp\n1,1,four,10\n", "non-numeric"),
    ("userId,movieId,rating,timestamp\n1,1,7.5,10\n", "outside"),
    ("userId,movieId,rating,timestamp\n1,,3.0,10\n", "non-numeric"),
    ("userId,movieId,rating,timestamp\n1.5,1,3.0,10\n", "fractional"),
    ("userId,movieId,rating,timestamp\n1,1,3.0,10\n1,2,3.0,10,7\n", "well-formed"),
])
def test_bad_ratings_files_name_the_problem(tmp_path, text, message):
    _write_csv(tmp_path, text)
    with pytest.raises(DatasetError, match=message) as info:
        read_dataset(tmp_path, "csv")
    assert "ratings.csv" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="ratings.csv is missing"):
        read_dataset(tmp_path, "csv")
