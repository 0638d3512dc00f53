"""The served model: loaded from the MLflow registry, swapped atomically when the alias moves.

One immutable :class:`LoadedModel` is referenced at a time; a request reads the reference once
and keeps using that model, so a swap never changes a request in flight. A failed load keeps the
old model serving and is reported in ``last_error``. MLflow and torch are imported on the first
load (in each gunicorn worker, after the fork), never when ``serve`` is imported.

Two kinds of failure: the registry not answering (down, locked, unreachable: the check or the
download fails) is retried at the next poll; a version that downloads but cannot be served
(broken, incompatible) is not retried until the alias moves. Every registry call is bounded
(:mod:`serve.registry_limits`), so ``last_checked`` advances on every poll, also during an outage,
and ``last_ok`` says when the registry last answered. Downloads go to :mod:`serve.model_cache`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from serve.catalogue import MovieCatalogue
from serve.model_cache import CachedVersion, ModelCache
from serve.registry_limits import RegistryLimits

if TYPE_CHECKING:
    from movierec.serving.model_bundle import ModelBundle

log = logging.getLogger(__name__)


def _missing_movierec_module(exc: BaseException) -> str | None:
    """The movierec module a failed model import looked for (MLflow wraps the ImportError), if any."""
    match = re.search(r"No module named '(movierec[\w.]*)'", str(exc))
    if match:
        return match.group(1)
    cause = exc.__cause__ or exc.__context__
    return _missing_movierec_module(cause) if cause is not None else None


class IncompatibleVersion(RuntimeError):
    """A registered version this code cannot load (kept out of service, with the reason in /health)."""


@dataclass(frozen=True)
class LoadedModel:
    bundle: ModelBundle
    catalogue: MovieCatalogue
    name: str
    alias: str
    version: str
    run_id: str
    loaded_at: float
    lineage: dict  # the version's tags: git_commit, git_dirty, data_fingerprint (see movierec.registry.lineage)


class ModelStore:
    """Holds the current champion; :meth:`refresh` loads a new one when the alias has moved."""

    def __init__(self, name: str, alias: str, tracking_uri: str, torch_threads: int = 1, *,
                 limits: RegistryLimits | None = None, cache: ModelCache | None = None) -> None:
        self.name, self.alias, self.tracking_uri = name, alias, tracking_uri
        self.torch_threads = torch_threads
        self.limits = limits or RegistryLimits()
        self.cache = cache or ModelCache()
        self._current: LoadedModel | None = None
        self._cached: CachedVersion | None = None   # the current version's cache entry (remote stores)
        self._lock = threading.Lock()       # one load at a time (poller and /admin/reload)
        self._failed_version: str | None = None
        self._failed_error: str | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_checked: float | None = None   # when the last check ended, whatever its outcome
        self.last_ok: float | None = None        # when the registry last answered a check

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    @staticmethod
    def prepare() -> None:
        """Import what loading needs (MLflow, torch, the model code: seconds of CPU, no registry call).

        A gevent worker runs the background load in a greenlet, which holds the event loop while it
        computes: importing here, before the worker serves, keeps that out of the requests' way.
        """
        import importlib

        for module in ("mlflow.artifacts", "mlflow.pyfunc", "mlflow.tracking", "pyarrow.parquet", "torch",
                       "movierec.registry.pyfunc", "movierec.registry.register", "movierec.serving.model_bundle"):
            importlib.import_module(module)

    def refresh(self, force: bool = False) -> bool:
        """Load the alias's version if it differs from the one served (or `force`); True if swapped.

        Never raises: an error is kept in ``last_error`` and the old model keeps serving. A version
        that failed to load is not retried until the alias moves again (or `force`); a registry that
        did not answer is asked again at the next call.
        """
        with self._lock:
            try:
                with self.limits.checks():
                    version = self._alias_version()
            except Exception as exc:  # noqa: BLE001 - the registry is down, locked or missing: retry later
                return self._failed(f"registry check failed: {type(exc).__name__}: {exc}")
            self.last_ok = time.time()
            number, current = str(version.version), self._current
            if not force and current is not None and current.version == number:
                return self._checked(None)
            if not force and number == self._failed_version:
                return self._checked(self._failed_error)
            cached = None
            try:
                self._refuse_other_movies(current, version)          # cheap: the version's tag
                with self.limits.downloads():
                    local, cached = self._fetch(version)
            except IncompatibleVersion as exc:
                return self._failed(f"{type(exc).__name__}: {exc}", number)
            except Exception as exc:  # noqa: BLE001 - download interrupted: retry at the next poll
                return self._failed(f"downloading version {number} failed: {type(exc).__name__}: {exc}")
            try:
                loaded = self._load(version, local)
                self._refuse_other_movies(current, version, loaded)  # exact: the loaded ids
            except Exception as exc:  # noqa: BLE001 - any failure must leave the old model serving
                if cached is not None and cached is not self._cached:
                    cached.release()
                return self._failed(f"{type(exc).__name__}: {exc}", number)
            self._current = loaded   # the one atomic swap
            self._keep(cached)
            self._failed_version, self._failed_error = None, None
            self._checked(None)
            log.info("serving %s version %s (run %s)", loaded.name, loaded.version, loaded.run_id)
            return True

    def _checked(self, error: str | None) -> bool:
        self.last_error, self.last_checked = error, time.time()
        return False

    def _failed(self, error: str, version: str | None = None) -> bool:
        """Record a failure (of `version` itself when given: not retried until the alias moves)."""
        error = error[:1000]
        if version is not None:
            self._failed_version, self._failed_error = version, error
        # once per new error: an outage would otherwise log every poll
        (log.debug if error == self.last_error else log.warning)(
            "%s@%s: %s; still serving %s", self.name, self.alias, error, self._current and self._current.version)
        return self._checked(error)

    def _keep(self, cached: CachedVersion | None) -> None:
        """Hold the new version's cache entry, let the old one go, and remove versions nobody serves."""
        previous, self._cached = self._cached, cached
        if previous is not None and previous is not cached:
            previous.release()
        if cached is not None:
            try:
                removed = self.cache.prune(self.name)
            except OSError as exc:  # a full or read-only disk must not take the new model down
                log.warning("model cache %s: pruning failed: %s", self.cache.root, exc)
            else:
                if removed:
                    log.info("model cache %s: removed %s versions %s", self.cache.root, self.name, removed)

    def _refuse_other_movies(self, current: LoadedModel | None, version, loaded: LoadedModel | None = None) -> None:
        """A version knowing other movie ids than the served one is refused: clients hold those ids
        (stored ratings, links), so it would silently serve another data set. A fresh start takes any."""
        if current is None or str(version.version) == current.version:
            return
        import numpy as np

        served = current.bundle.vocab.movies.ids
        if loaded is None:
            from movierec.registry.register import movie_ids_sha256
            from movierec.registry.version_tags import CATALOGUE_TAG

            tag = (version.tags or {}).get(CATALOGUE_TAG)
            if tag in (None, "", "unknown") or tag == movie_ids_sha256(served):
                return
            detail = "its registered movie ids differ"
        else:
            new = loaded.bundle.vocab.movies.ids
            if np.array_equal(new, served):
                return
            detail = (f"{len(np.setdiff1d(new, served))} of its {len(new)} movie ids are not served now and "
                      f"{len(np.setdiff1d(served, new))} served ones are missing")
        raise IncompatibleVersion(
            f"version {version.version} was built from other data than version {current.version}, which is "
            f"being served ({detail}); refused - move @{self.alias} back, or restart the service to serve "
            "another data set")

    def _client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _alias_version(self):
        self._check_store()
        return self._client().get_model_version_by_alias(self.name, self.alias)

    def _check_store(self) -> None:
        """A missing sqlite store is an error here: MLflow would create an empty one and say only 'not found'."""
        if self.tracking_uri.startswith("sqlite:///"):
            path = Path(self.tracking_uri[len("sqlite:///"):].split("?", 1)[0])
            if not path.is_file():
                raise FileNotFoundError(f"MLflow database {path} does not exist (tracking URI {self.tracking_uri}); "
                                        "run the pipeline to create it, or set MLFLOW_TRACKING_URI to the store")

    def _fetch(self, version) -> tuple[str, CachedVersion | None]:
        """The version's model folder on local disk: in place for a local artifact store, else in the cache."""
        from mlflow.artifacts import download_artifacts

        # this store's URIs passed explicitly: loading leaves MLflow's process-wide URIs alone
        source = self._client().get_model_version_download_uri(self.name, version.version)
        if urlparse(source).scheme in ("", "file"):   # a local artifact store gives its own path back
            return download_artifacts(artifact_uri=source, tracking_uri=self.tracking_uri), None
        cached = self.cache.acquire(
            self.name, str(version.version),
            lambda folder: Path(download_artifacts(artifact_uri=source, dst_path=str(folder),
                                                   tracking_uri=self.tracking_uri)))
        return str(cached.model_dir), cached

    def _load(self, version, local: str) -> LoadedModel:
        import mlflow
        import torch

        torch.set_num_threads(self.torch_threads)
        try:
            pyfunc = mlflow.pyfunc.load_model(local)
        except Exception as exc:
            missing = _missing_movierec_module(exc)
            if missing is None:
                raise
            # its model code imports the package as it was laid out then (e.g. movierec.bundle)
            raise IncompatibleVersion(
                f"version {version.version} was registered by an older movierec whose modules no longer exist "
                f"({missing}); register the current model (`dvc repro -s register`) or move "
                f"@{self.alias} to a version registered since") from exc
        bundle = pyfunc.unwrap_python_model().bundle
        tags = dict(version.tags or {})
        lineage = {key: tags.get(key, "unknown") for key in ("git_commit", "git_dirty", "data_fingerprint")}
        return LoadedModel(bundle, MovieCatalogue(bundle.movies, bundle.ratings), self.name, self.alias,
                           str(version.version), str(version.run_id), time.time(), lineage)

    # -- background polling ------------------------------------------------------------------

    def start_polling(self, interval: float, load_first: bool = False) -> None:
        """Check the alias every `interval` seconds in a daemon thread (idempotent).

        `load_first`: the thread starts with a check (the first load), so the caller does not wait
        for the registry; with `interval` <= 0 that one check is all it does.
        """
        if (interval <= 0 and not load_first) or (self._poller is not None and self._poller.is_alive()):
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, args=(interval, load_first), name="model-poller",
                                        daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)

    def _poll(self, interval: float, load_first: bool) -> None:
        if load_first:
            self.refresh()
        if interval <= 0:
            return
        while not self._stop.wait(interval):
            self.refresh()
