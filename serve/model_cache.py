"""Where the service keeps downloaded model versions: one folder per version, shared by the workers.

A tracking server hands each version's files over HTTP; MLflow downloads them to a new temporary
folder per call unless told where, so every load used to leave a copy behind. Here every download
goes to one cache folder the service owns (``serve.model_cache``, default
``$XDG_CACHE_HOME/movierec/models``: it survives a restart, so a restarted service reuses the
download, and it is on disk rather than in a tmpfs ``/tmp`` that would hold the files in memory)::

    <cache>/.download.lock           held (exclusive) while a version is being downloaded
    <cache>/<model>/<version>/       a complete download (renamed into place: never half there)
    <cache>/<model>/<version>.lock   held (shared) by every process loading or serving the version
    <cache>/<model>/.partial-*       a download in progress (or left by a killed process)

The workers of one service share the folders, so a version is downloaded once and its
memory-mapped weights are the same pages of the page cache in every worker. The kernel counts the
users of a version through its lock (``flock``): a worker takes it before it looks for the folder
and keeps it while it serves the version; a worker that swapped to a new version removes every
version whose lock it can take exclusively, i.e. that no process loads or serves (a killed
process's locks go with it). Removing files that an old model still maps is safe on POSIX systems:
the space is freed when the last mapping goes.

Waits for a lock poll instead of blocking, so under gevent the worker keeps answering meanwhile.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COMPLETE = ".complete"           # inside a version folder: the model's path within it (JSON)
PARTIAL_PREFIX = ".partial-"
LOCK_WAIT_SECONDS = 900.0        # a download by another worker may take this long before we give up


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "movierec" / "models"


def _folder_name(name: str) -> str:
    """A file name for a model name or version (unchanged when it already is one)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass
class CachedVersion:
    """A version's files in the cache, with the lock that keeps them there (released by :meth:`release`)."""

    version: str
    model_dir: Path
    _fd: int | None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def _lock(path: Path, exclusive: bool, wait: float | None) -> int | None:
    """An open, locked descriptor of `path` (created if missing); None if `wait` ran out.

    Re-checks that `path` is still the file locked: a remover unlinks a lock file while holding it.
    """
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.05)  # cooperative under gevent
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # locked a file that was removed meanwhile: lock the current one


class ModelCache:
    """Versions of registered models on local disk, downloaded once, removed when nobody serves them."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def _model_dir(self, model_name: str) -> Path:
        return self.root / _folder_name(model_name)

    def acquire(self, model_name: str, version: str, download: Callable[[Path], Path]) -> CachedVersion:
        """The version's files, downloaded first unless another worker (or an earlier run) did.

        `download(folder)` fills the empty `folder` and returns the model's path inside it. The
        returned entry holds the version's lock: call :meth:`CachedVersion.release` once it is no
        longer loaded or served.
        """
        folder, version = self._model_dir(model_name), _folder_name(version)   # a number from the registry
        folder.mkdir(parents=True, exist_ok=True)
        fd = _lock(folder / f"{version}.lock", exclusive=False, wait=LOCK_WAIT_SECONDS)
        if fd is None:
            raise TimeoutError(f"model cache {folder}: version {version} stayed locked for {LOCK_WAIT_SECONDS:g} s")
        try:
            model_dir = self._complete(folder / version)
            if model_dir is None:
                model_dir = self._download(folder, version, download)
        except BaseException:
            os.close(fd)
            raise
        return CachedVersion(version, model_dir, fd)

    @staticmethod
    def _complete(path: Path) -> Path | None:
        try:
            relative = json.loads((path / COMPLETE).read_text())["model_dir"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return path / relative

    def _download(self, folder: Path, version: str, download: Callable[[Path], Path]) -> Path:
        gate = _lock(self.root / ".download.lock", exclusive=True, wait=LOCK_WAIT_SECONDS)
        if gate is None:
            raise TimeoutError(f"model cache {self.root}: another download took over {LOCK_WAIT_SECONDS:g} s")
        try:
            target = folder / version
            done = self._complete(target)     # another worker may have finished it while we waited
            if done is not None:
                return done
            for stale in folder.glob(f"{PARTIAL_PREFIX}*"):    # left by a killed download (we hold the gate)
                shutil.rmtree(stale, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)       # incomplete: not made by this code
            partial = folder / f"{PARTIAL_PREFIX}{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            partial.mkdir()
            try:
                model_dir = Path(download(partial)).resolve()
                relative = model_dir.relative_to(partial.resolve())
                (partial / COMPLETE).write_text(json.dumps({"model_dir": str(relative)}))
                os.rename(partial, target)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            return target / relative
        finally:
            os.close(gate)

    def prune(self, model_name: str) -> list[str]:
        """Remove the versions of `model_name` no process holds; the removed version numbers."""
        folder = self._model_dir(model_name)
        if not folder.is_dir():
            return []
        versions = {p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir()}
        versions |= {p.name[:-len(".lock")] for p in folder.glob("*.lock")}
        removed = []
        for version in sorted(versions):
            lock_path = folder / f"{version}.lock"
            fd = _lock(lock_path, exclusive=True, wait=0)
            if fd is None:
                continue                               # loaded or served by some process
            try:
                shutil.rmtree(folder / version, ignore_errors=True)
                lock_path.unlink(missing_ok=True)      # while held: a waiting locker re-checks the inode
                removed.append(version)
            finally:
                os.close(fd)
        return removed

    def size_bytes(self) -> int:
        """Bytes of the files under the cache folder (for tests and operators)."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else 0
