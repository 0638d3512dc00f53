"""The download cache: one download per version, shared by workers, removed once nobody serves it.

Two :class:`ModelCache` objects on one folder stand for two workers: `flock` locks belong to open
file descriptions, so two opens in one process conflict exactly as two processes do.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from serve.model_cache import ModelCache, default_cache_dir
from serve.registry_limits import RETRIES_ENV, TIMEOUT_ENV, RegistryLimits


class Downloads:
    """A fake registry download: writes `model/weights.bin` of `size` bytes, counts the calls."""

    def __init__(self, size: int = 1000, delay: float = 0.0, fail: bool = False) -> None:
        self.size, self.delay, self.fail = size, delay, fail
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, folder: Path) -> Path:
        with self._lock:
            self.calls.append(folder.name)
        model = folder / "model"
        model.mkdir()
        (model / "weights.bin").write_bytes(b"x" * (self.size // 2))
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("registry went away mid-download")
        (model / "MLmodel").write_bytes(b"y" * (self.size - self.size // 2))
        return model


def _versions(cache: ModelCache, name: str = "movierec") -> set[str]:
    folder = cache.root / name
    return {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")} if folder.is_dir() else set()


def test_a_version_is_downloaded_once_and_found_again(tmp_path):
    download = Downloads()
    first = ModelCache(tmp_path).acquire("movierec", "1", download)
    assert (first.model_dir / "weights.bin").is_file() and (first.model_dir / "MLmodel").is_file()
    second = ModelCache(tmp_path).acquire("movierec", "1", download)    # another worker, or a restart
    assert second.model_dir == first.model_dir and len(download.calls) == 1
    first.release()
    second.release()


def test_a_version_is_removed_only_when_no_worker_holds_it(tmp_path):
    worker_a, worker_b, download = ModelCache(tmp_path), ModelCache(tmp_path), Downloads()
    a1, b1 = worker_a.acquire("movierec", "1", download), worker_b.acquire("movierec", "1", download)
    a2 = worker_a.acquire("movierec", "2", download)
    a1.release()                                        # worker A now serves 2; B still serves 1
    assert worker_a.prune("movierec") == [] and _versions(worker_a) == {"1", "2"}
    b2 = worker_b.acquire("movierec", "2", download)
    b1.release()
    assert worker_b.prune("movierec") == ["1"] and _versions(worker_b) == {"2"}
    assert sorted(p.name for p in (tmp_path / "movierec").iterdir()) == ["2", "2.lock"]
    assert len(download.calls) == 2                     # one download per version, shared
    a2.release()
    b2.release()


def test_a_failed_download_leaves_nothing_and_is_retried(tmp_path):
    cache = ModelCache(tmp_path)
    with pytest.raises(ConnectionError, match="mid-download"):
        cache.acquire("movierec", "1", Downloads(fail=True))
    assert _versions(cache) == set() and not list((tmp_path / "movierec").glob(".partial-*"))
    entry = cache.acquire("movierec", "1", Downloads())
    assert (entry.model_dir / "MLmodel").is_file()
    entry.release()


def test_a_killed_downloads_leftovers_are_removed_by_the_next_download(tmp_path):
    cache = ModelCache(tmp_path)
    stale = tmp_path / "movierec" / ".partial-1-4242-deadbeef"
    stale.mkdir(parents=True)
    (stale / "half.bin").write_bytes(b"x" * 100)
    incomplete = tmp_path / "movierec" / "2"   # a folder without the completion mark is not trusted
    incomplete.mkdir()
    entry = cache.acquire("movierec", "2", Downloads())
    assert not stale.exists() and (entry.model_dir / "MLmodel").is_file()
    entry.release()


def test_two_workers_loading_the_same_version_at_once_download_it_once(tmp_path):
    download = Downloads(delay=0.5)
    entries: list = []
    threads = [threading.Thread(target=lambda: entries.append(ModelCache(tmp_path).acquire("m", "7", download)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(entries) == 3 and len(download.calls) == 1
    assert len({entry.model_dir for entry in entries}) == 1
    for entry in entries:
        entry.release()


def test_odd_model_names_get_their_own_safe_folder(tmp_path):
    cache = ModelCache(tmp_path)
    entry = cache.acquire("../team/recs", "1", Downloads())
    assert entry.model_dir.resolve().is_relative_to(tmp_path.resolve())
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()][0].startswith("_team_recs-")
    entry.release()


def test_the_default_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "movierec" / "models"


def test_registry_limits_hold_only_within_a_call(monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "120")
    monkeypatch.delenv(RETRIES_ENV, raising=False)
    limits = RegistryLimits(timeout=2, retries=1, download_timeout=60)
    with limits.checks():
        assert (os.environ[TIMEOUT_ENV], os.environ[RETRIES_ENV]) == ("2", "1")
    with limits.downloads():
        assert os.environ[TIMEOUT_ENV] == "60"
    assert os.environ[TIMEOUT_ENV] == "120" and RETRIES_ENV not in os.environ
    with pytest.raises(ValueError, match="timeouts must be >= 1"):
        RegistryLimits(timeout=0)
