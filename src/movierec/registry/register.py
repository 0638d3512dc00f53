"""Log a bundle as an MLflow pyfunc model, register it, and move the alias by the promotion gate.

Registration is idempotent: a version is tagged with its bundle's content hash (and comes from
one training run), and registering the same bundle from the same run again returns that version
instead of a new one (DVC's run cache and a forced rerun replay the stage with the same inputs).
Every tag is written in the same call that creates the version, so a version never exists
half-described.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.alias import move_alias
from movierec.registry.promotion import UNKNOWN, Context, Decision, Evaluated, decide
from movierec.registry.tracking import EXPERIMENT_TAG, experiment_name, experiment_tags
from movierec.registry.training_run import folder_sha256
from movierec.registry.version_tags import (
    BUNDLE_HASH_TAG,
    CATALOGUE_TAG,
    FINGERPRINT_TAG,
    PROMOTION_TAG,
    SPLIT_TAG,
    metric_tags,
    metrics_from_tags,
)

log = logging.getLogger(__name__)

MODEL_CODE = Path(__file__).with_name("pyfunc.py")
PACKAGE_DIR = Path(__file__).parents[1]
PINNED = ("torch", "mlflow", "numpy", "pandas", "scipy", "pyarrow")



def signature_and_example(bundle_dir: Path):
    """(signature, input example) for the pyfunc: rows of (user_id, movie_id) -> predicted_rating,
    and a params schema ``method`` ("embedding" by default, or "user_user").

    The example is two of the bundle's own (user, movie) pairs, so MLflow's check of the example
    at log time (a prediction) answers with numbers.
    """
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    vocab = json.loads((Path(bundle_dir) / "vocabulary.json").read_text())
    users, movies = vocab["users"], vocab["movies"]
    example = pd.DataFrame({"user_id": np.asarray([users[0]] * min(2, len(movies)), dtype=np.int64),
                            "movie_id": np.asarray(movies[:2], dtype=np.int64)})
    output = pd.DataFrame({"predicted_rating": np.zeros(len(example), dtype=np.float64)})
    return infer_signature(example, output, params={"method": "embedding"}), example


def pip_requirements() -> list[str]:
    """Exact versions of what loading the bundle needs (explicit: inference takes ~10 s)."""
    return [f"{name}=={version(name).split('+')[0]}" for name in PINNED]


@dataclass(frozen=True)
class Registration:
    version: str
    run_id: str
    promoted: bool
    reason: str
    bundle_sha256: str = ""
    new_version: bool = True   # False: this bundle from this run was already registered


def bundle_sha256(bundle_dir: Path) -> str:
    """Content hash of a bundle folder: every file's relative path and bytes, in path order."""
    if not Path(bundle_dir).is_dir():
        raise FileNotFoundError(f"bundle folder {bundle_dir} does not exist")
    return folder_sha256(bundle_dir)


def movie_ids_sha256(movie_ids) -> str:
    """One id for a set of movie ids (order and dtype do not matter)."""
    import numpy as np

    ids = np.unique(np.asarray(movie_ids, dtype=np.int64))
    return hashlib.sha256(ids.astype("<i8").tobytes()).hexdigest()[:16]


def bundle_movie_ids_sha256(bundle_dir: Path) -> str:
    """:func:`movie_ids_sha256` of the bundle's movie vocabulary; "unknown" when it cannot be read."""
    try:
        movies = json.loads((Path(bundle_dir) / "vocabulary.json").read_text())["movies"]
    except (OSError, ValueError, KeyError, TypeError):
        return UNKNOWN
    return movie_ids_sha256(movies)


def evaluated(mv) -> Evaluated:
    """What a registered version was evaluated on, from its tags."""
    tags = dict(mv.tags or {})
    return Evaluated(metrics_from_tags(tags), tags.get(FINGERPRINT_TAG, UNKNOWN), tags.get(SPLIT_TAG, UNKNOWN),
                     str(mv.version))


def champion_version(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def champion_metrics(client: MlflowClient, name: str, alias: str) -> tuple[str | None, dict[str, float] | None]:
    current = champion_version(client, name, alias)
    if current is None:
        return None, None
    return current.version, metrics_from_tags(current.tags)


def find_registered(client: MlflowClient, name: str, bundle_hash: str, run_id: str):
    """The version of `name` registered from this bundle content and run, or None (oldest if several)."""
    try:
        found = client.search_model_versions(
            f"name = '{name}' and run_id = '{run_id}' and tags.{BUNDLE_HASH_TAG} = '{bundle_hash}'")
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")):
            return None
        raise
    return min(found, key=lambda mv: int(mv.version)) if found else None


def register_bundle(bundle_dir: Path, run_id: str, name: str, alias: str, metrics: dict[str, float],
                    rmse_tolerance: float, ndcg_tolerance: float, tags: dict[str, str] | None = None,
                    context: Context | None = None, split: str = UNKNOWN,
                    ndcg_key: str = "ndcg@10") -> Registration:
    """Register `bundle_dir` (logged to run `run_id`) as a version of `name`; maybe move `alias`.

    `context` says whether the alias may move at all (an experiment never moves it, nor does a
    dirty or uncommitted workspace); the pipeline passes it. Without one (a direct library call)
    the git state is not checked and the data is not required to match, but a DVC experiment
    (``DVC_EXP_NAME`` set) still never moves the alias. `split` (canonical JSON, see
    :func:`~movierec.registry.promotion.split_key`) and the ``data_fingerprint`` tag say what the
    metrics were measured on; `ndcg_key` (``ndcg@<evaluate.k>``) is the ranking metric the gate compares.
    """
    client = MlflowClient()
    if context is None:
        context = Context(experiment=experiment_name(), check_git=False, check_data=False)
    digest = bundle_sha256(bundle_dir)
    client.get_run(run_id)  # raises (clearly) before anything is logged when the run does not exist
    existing = find_registered(client, name, digest, run_id)
    if existing is not None:
        for key, value in experiment_tags().items():  # a replay from another experiment: say so
            client.set_model_version_tag(name, existing.version, key, value)
        current = champion_version(client, name, alias)
        held = current is not None and str(current.version) == str(existing.version)
        reason = (f"already registered as version {existing.version} (same bundle {digest[:12]}, same run)"
                  + (f"; it holds @{alias}" if held else f"; {existing.tags.get(PROMOTION_TAG, '')}".rstrip("; ")))
        log.info("%s", reason)
        return Registration(str(existing.version), run_id, held, reason, digest, new_version=False)

    version_tags = {**metric_tags(metrics), **(tags or {}), **experiment_tags(),
                    BUNDLE_HASH_TAG: digest, CATALOGUE_TAG: bundle_movie_ids_sha256(bundle_dir), SPLIT_TAG: split}
    version_tags.setdefault(FINGERPRINT_TAG, UNKNOWN)
    current = champion_version(client, name, alias)
    candidate = Evaluated(dict(metrics), version_tags[FINGERPRINT_TAG], split)
    decision: Decision = decide(candidate, evaluated(current) if current is not None else None, context,
                                rmse_tolerance, ndcg_tolerance, ndcg_key)
    version_tags[PROMOTION_TAG] = decision.reason
    model_id, created_model = None, False
    try:
        model_id = new_logged_model(client, run_id)
        _log_bundle(client, bundle_dir, run_id, model_id)
        created_model = ensure_registered_model(client, name)
        # a tracking server checks that `model_id` holds the `models:/<id>` source (the local store does not)
        mv = client.create_model_version(name, f"models:/{model_id}", run_id=run_id, tags=version_tags,
                                         model_id=model_id)
    except BaseException:
        discard(client, name, model_id, created_model)
        raise
    if decision.promote:
        move_alias(client, name, alias, str(mv.version), f"registered: {decision.reason}")
        log.info("version %s is now @%s (%s)", mv.version, alias, decision.reason)
    else:
        log.warning("version %s registered WITHOUT @%s (still version %s): %s", mv.version, alias,
                    current.version if current is not None else None, decision.reason)
    return Registration(str(mv.version), run_id, decision.promote, decision.reason, digest)


def new_logged_model(client: MlflowClient, run_id: str) -> str:
    """A new (pending) logged model of run `run_id`, with the run's params as ``log_model`` gives them;
    its id. Created before the artifacts are logged, so :func:`discard` knows it if logging fails."""
    run = client.get_run(run_id)
    return mlflow.initialize_logged_model(name="model", source_run_id=run_id, params=dict(run.data.params),
                                          experiment_id=run.info.experiment_id).model_id


def _log_bundle(client: MlflowClient, bundle_dir: Path, run_id: str, model_id: str) -> None:
    """Log the bundle as the pyfunc model `model_id` of run `run_id` (its artifacts; READY after)."""
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        # ids are never missing, so MLflow's hint about integer columns and missing values does not apply
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column", category=UserWarning)
        signature, example = signature_and_example(bundle_dir)
        mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE), artifacts={"bundle": str(bundle_dir)},
            code_paths=[str(PACKAGE_DIR)], pip_requirements=pip_requirements(),  # explicit: no inference run
            signature=signature, input_example=example, model_id=model_id,
        )
        exp_tags = experiment_tags()
        if exp_tags and EXPERIMENT_TAG not in (client.get_run(run_id).data.tags or {}):
            mlflow.set_tags(exp_tags)


def ensure_registered_model(client: MlflowClient, name: str) -> bool:
    """Create the registered model `name` unless it exists; True when this call created it."""
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(getattr(exc, "error_code", "")) and "already exists" not in str(exc):
            raise
        return False
    return True


def discard(client: MlflowClient, name: str, model_id: str | None, created_model: bool) -> None:
    """Undo a registration that failed before its version existed: the logged model (its artifacts
    too: a bundle is tens of MB) and the registered model when this call created it and it is empty.

    Best effort: the registration's own error is what the caller raises; a clean-up that fails
    (e.g. the server went away) is logged with what is left behind.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    if model_id is not None:
        try:
            location = client.get_logged_model(model_id).artifact_location
            try:
                get_artifact_repository(location).delete_artifacts()
            except (MlflowException, OSError) as exc:
                log.warning("could not delete the artifacts of logged model %s at %s: %s", model_id, location, exc)
            client.delete_logged_model(model_id)
        except MlflowException as exc:
            log.warning("registration failed; could not delete its logged model %s: %s", model_id, exc)
    if created_model:
        try:
            if not client.search_model_versions(f"name = '{name}'"):
                client.delete_registered_model(name)
        except MlflowException as exc:
            log.warning("registration failed; could not delete the empty registered model %s: %s", name, exc)


def verify_record(client: MlflowClient, record: dict) -> list[str]:
    """Why a `reports/registry.json` record does not describe a registration in this store (empty: it does).

    A record restored by DVC (run cache, or a checkout) without the stage running may name a version
    this store never got, or another bundle's.
    """
    name, number = record.get("model_name"), record.get("version")
    if not name or not number:
        return ["the record names no model version"]
    try:
        mv = client.get_model_version(name, str(number))
    except MlflowException:
        return [f"{name} version {number} does not exist in this store"]
    problems = []
    recorded, actual = record.get("bundle_sha256"), (mv.tags or {}).get(BUNDLE_HASH_TAG)
    if recorded and actual != recorded:
        problems.append(f"{name} version {number} holds bundle {str(actual)[:12]}, the record {recorded[:12]}")
    if record.get("run_id") and mv.run_id != record["run_id"]:
        problems.append(f"{name} version {number} comes from run {mv.run_id}, the record {record['run_id']}")
    return problems
