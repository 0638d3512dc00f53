"""Faults in the pipeline's inputs and writers that tests/test_download.py and test_datasets.py leave out:
a corrupted (not truncated) archive, an unsafe member path, a writer killed mid-write (SIGKILL at a
random point), a folder writer dying between its two renames. Readers only ever see a whole old or
whole new output, and a rerun recovers (and removes the dead writer's temporaries)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from movierec.atomic import atomic_dir, atomic_write_parquet, sweep_stale_temporaries
from movierec.data.release import DatasetError, download_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
URL = "https://files.grouplens.org/datasets/movielens/ml-tiny.zip"


def _stored_zip(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)


def test_corrupted_archive_without_a_checksum_is_refused_and_changes_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / "ml-tiny.zip"
    ratings = "userId,movieId,rating,timestamp\n" + "".join(f"{u},1,4.0,{u}\n" for u in range(1, 200))
    _stored_zip(archive, {"ml-tiny/ratings.csv": ratings, "ml-tiny/movies.csv": "movieId,title,genres\n1,A,Drama\n"})
    data = bytearray(archive.read_bytes())
    data[data.index(b"199,1,4.0")] ^= 0x01            # one flipped bit inside a member: structure intact
    archive.write_bytes(bytes(data))
    raw = tmp_path / "raw"
    (raw / "ml-tiny").mkdir(parents=True)
    (raw / "ml-tiny" / "ratings.csv").write_text("old")
    with pytest.raises(DatasetError, match="corrupt"):
        download_dataset("ml-tiny", URL, None, raw, mirror=mirror)
    assert (raw / "ml-tiny" / "ratings.csv").read_text() == "old"
    assert sorted(p.name for p in raw.iterdir()) == ["ml-tiny"]


def test_archive_member_escaping_the_folder_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _stored_zip(mirror / "ml-tiny.zip", {"ml-tiny/ratings.csv": "userId,movieId,rating,timestamp\n",
                                         "ml-tiny/../../evil.txt": "x"})
    with pytest.raises(DatasetError, match="unsafe path"):
        download_dataset("ml-tiny", URL, None, tmp_path / "raw", mirror=mirror)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "raw" / "ml-tiny").exists()


WRITER = textwrap.dedent("""
    import sys, numpy as np, pandas as pd
    from movierec.atomic import atomic_write_parquet
    target, n = sys.argv[1], int(sys.argv[2])
    version = 1
    print("ready", flush=True)
    while True:  # rewrite the output forever, each version a different, self-checking frame
        version += 1
        frame = pd.DataFrame({"version": np.full(n, version), "i": np.arange(n),
                              "x": np.random.default_rng(version).random(n)})
        atomic_write_parquet(target, frame)
""")


def _check_whole(path: Path, n: int) -> int:
    frame = pd.read_parquet(path)
    assert len(frame) == n and frame["version"].nunique() == 1 and (frame["i"].to_numpy() == range(n)).all()
    return int(frame["version"].iloc[0])


def test_writer_killed_at_random_points_never_leaves_a_half_written_output(tmp_path):
    target, n = tmp_path / "interim" / "ratings.parquet", 400_000
    atomic_write_parquet(target, pd.DataFrame({"version": [1] * n, "i": range(n), "x": [0.0] * n}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    rng = random.Random(0)
    leftovers = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(n)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.3, 2.0))                 # somewhere inside a write, or between two
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert _check_whole(target, n) >= 1               # readers see a whole version, old or new
        temps = [p for p in target.parent.iterdir() if p.name != target.name]
        assert all(p.name.startswith(f".{target.name}.{proc.pid}-") and p.name.endswith(".tmp") for p in temps)
        leftovers += len(temps)
    # the rerun: a new write succeeds and removes the killed writers' temporaries
    atomic_write_parquet(target, pd.DataFrame({"version": [99] * n, "i": range(n), "x": [1.0] * n}))
    assert _check_whole(target, n) == 99
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    print(f"kills that left a temporary: {leftovers} of 3")


def test_temporaries_of_live_writers_are_left_alone(tmp_path):
    target = tmp_path / "movies.parquet"
    mine = tmp_path / f".movies.parquet.{os.getpid()}-abc.tmp"
    parent = tmp_path / f".movies.parquet.{os.getppid()}-def.tmp"
    other = tmp_path / ".ratings.parquet.1-xyz.tmp"
    for p in (mine, parent, other):
        p.write_text("x")
    assert sweep_stale_temporaries(target) == []
    assert mine.exists() and parent.exists() and other.exists()


def test_folder_writer_dying_between_its_renames_is_recovered(tmp_path, monkeypatch):
    import movierec.atomic as atomic

    target = tmp_path / "models" / "bundle"
    with atomic_dir(target) as tmp:
        (tmp / "manifest.json").write_text('{"v": 1}')
    real_replace, calls = os.replace, []

    def dies_on_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the two renames")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", dies_on_second_rename)
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "manifest.json").write_text('{"v": 2}')
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert not target.exists() and (target.parent / ".bundle.old" / "manifest.json").exists()
    # the next writer first puts the old version back, so a failing rerun leaves version 1 in place...
    with pytest.raises(RuntimeError), atomic_dir(target):
        raise RuntimeError("the rerun fails too")
    assert (target / "manifest.json").read_text() == '{"v": 1}'
    # ...and a successful one replaces it
    with atomic_dir(target) as tmp:
        (tmp / "manifest.json").write_text('{"v": 3}')
    assert (target / "manifest.json").read_text() == '{"v": 3}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["bundle"]
