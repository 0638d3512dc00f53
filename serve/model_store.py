"""The served model: loaded from the MLflow registry, swapped atomically when the alias moves.

One immutable :class:`LoadedModel` is referenced at a time; a request reads the reference once
and keeps using that model, so a swap never changes a request in flight. A failed load keeps the
old model serving and is reported in ``last_error``. MLflow and torch are imported on the first
load (in each gunicorn worker, after the fork), never when ``serve`` is imported.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from serve.catalogue import MovieCatalogue

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

    def __init__(self, name: str, alias: str, tracking_uri: str, torch_threads: int = 1) -> None:
        self.name, self.alias, self.tracking_uri = name, alias, tracking_uri
        self.torch_threads = torch_threads
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()       # one load at a time (poller and /admin/reload)
        self._failed_version: str | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_checked: float | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def refresh(self, force: bool = False) -> bool:
        """Load the alias's version if it differs from the one served (or `force`); True if swapped.

        Never raises: an error is kept in ``last_error`` and the old model keeps serving. A version
        that failed to load is not retried until the alias moves again (or `force`).
        """
        with self._lock:
            self.last_checked = time.time()
            version = None
            try:
                version = self._alias_version()
                current = self._current
                if not force and ((current is not None and current.version == str(version.version))
                                  or str(version.version) == self._failed_version):
                    return False
                self._refuse_other_movies(current, version)          # cheap: the version's tag
                loaded = self._load(version)
                self._refuse_other_movies(current, version, loaded)  # exact: the loaded ids
            except Exception as exc:  # noqa: BLE001 - any failure must leave the old model serving
                self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                if version is not None:
                    self._failed_version = str(version.version)
                log.warning("loading %s@%s failed, still serving %s: %s", self.name, self.alias,
                            self._current and self._current.version, self.last_error)
                return False
            self._current = loaded   # the one atomic swap
            self.last_error, self._failed_version = None, None
            log.info("serving %s version %s (run %s)", loaded.name, loaded.version, loaded.run_id)
            return True

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

    def _load(self, version) -> LoadedModel:
        import mlflow
        import torch
        from mlflow.artifacts import download_artifacts

        torch.set_num_threads(self.torch_threads)
        # this store's URIs passed explicitly: loading leaves MLflow's process-wide URIs alone
        # (a local artifact store gives its own path back, nothing is copied)
        source = self._client().get_model_version_download_uri(self.name, version.version)
        local = download_artifacts(artifact_uri=source, tracking_uri=self.tracking_uri)
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

    def start_polling(self, interval: float) -> None:
        """Check the alias every `interval` seconds in a daemon thread (idempotent)."""
        if interval <= 0 or (self._poller is not None and self._poller.is_alive()):
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, args=(interval,), name="model-poller", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.refresh()
