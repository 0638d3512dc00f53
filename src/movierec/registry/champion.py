"""Who holds the `champion` alias, and the history of every move (MLflow keeps none).

Each move is an entry in an append-only log kept as tags on the registered model
(``alias_log.<alias>.<000001>`` = JSON: from, to, when, who, why), so the trail lives
wherever the registry lives. The service follows the alias by polling: no restart needed.

    python -m movierec.registry.champion show                # exit 1 when the alias points nowhere
    python -m movierec.registry.champion history
    python -m movierec.registry.champion rollback --reason "NDCG dropped in production"        # previous
    python -m movierec.registry.champion rollback --to 3 --reason "back to the March model"
    python -m movierec.registry.champion promote 4 --reason "experiment rank-0.9 reviewed"
    python -m movierec.registry.champion promote --experiment rank-0.9 --reason "reviewed"
    python -m movierec.registry.champion verify    # exit 1 unless reports/registry.json is in this store

The store is the configured one from any working directory (``MLFLOW_TRACKING_URI``, else
``mlflow.tracking_uri`` of the project's ``conf/``: :func:`~movierec.registry.store.configured_tracking_uri`);
every command names it on stderr, and `show` in its output too.

`promote` is the one deliberate way to move the alias to a version the automatic gate did not
promote (every `dvc exp run` version, or one evaluated on another split). It refuses a version
built from another data set (another set of movie ids) than the champion's: the service could
not serve it to the same clients (`--allow-other-data` overrides, for a deliberate switch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.alias import AliasMove, current_version, history, move_alias, previous_version

# MLflow's client retries a failing server for minutes by default; a command line should answer sooner
BOUNDED_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def get_version(client: MlflowClient, name: str, version: str):
    """The model version, or ValueError naming what exists (MLflow's own message is a stack of SQL)."""
    if not str(version).isdigit():
        raise ValueError(f"version must be a number, not {version!r}")
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        try:
            versions = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{name}'"))
        except MlflowException:
            versions = []
        known = f"known versions: {', '.join(map(str, versions))}" if versions else "it has no versions"
        raise ValueError(f"{name} has no version {version} ({known})") from None


def version_for_experiment(client: MlflowClient, name: str, experiment: str) -> str:
    """The version a `dvc exp run` experiment registered (tag ``dvc_exp_name``)."""
    from movierec.registry.tracking import EXPERIMENT_TAG

    found = client.search_model_versions(f"name = '{name}' and tags.{EXPERIMENT_TAG} = '{experiment}'")
    versions = sorted({str(mv.version) for mv in found}, key=int)
    if not versions:
        raise ValueError(f"no version of {name} was registered by experiment {experiment!r} "
                         "(`dvc exp show` lists experiments; `history` lists the alias's moves)")
    if len(versions) > 1:
        raise ValueError(f"experiment {experiment!r} registered versions {', '.join(versions)} of {name}; "
                         "promote one by number")
    return versions[0]


def check_same_data(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """ValueError when `version` knows other movies (or another data set) than the alias's version."""
    from movierec.registry.version_tags import CATALOGUE_TAG

    current = current_version(client, name, alias)
    if current is None:
        return
    new_tags = get_version(client, name, version).tags or {}
    old_tags = client.get_model_version(name, current).tags or {}
    for key, what in ((CATALOGUE_TAG, "movie ids"), ("dataset", "data set")):
        new, old = new_tags.get(key, "unknown"), old_tags.get(key, "unknown")
        if "unknown" not in (new, old) and new != old:
            raise ValueError(f"version {version} was built from other {what} ({key} {new}) than "
                             f"{name}@{alias} version {current} ({old}); the service would refuse it. "
                             "Pass --allow-other-data to switch data sets deliberately")


def promote(client: MlflowClient, name: str, alias: str, version: str, why: str,
            allow_other_data: bool = False) -> AliasMove:
    """Move `alias` to `version` deliberately (audited like every move)."""
    if not why.strip():
        raise ValueError("a reason is required for moving an alias")
    get_version(client, name, version)
    if current_version(client, name, alias) == str(version):
        raise ValueError(f"{name}@{alias} is already version {version}")
    if not allow_other_data:
        check_same_data(client, name, alias, str(version))
    return move_alias(client, name, alias, str(version), f"promoted: {why.strip()}")


def rollback(client: MlflowClient, name: str, alias: str, why: str, to_version: str | None = None,
             allow_other_data: bool = False) -> AliasMove:
    current = current_version(client, name, alias)
    target = to_version or previous_version(history(client, name, alias), current)
    if target is None:
        raise ValueError(f"{name}@{alias} has no previous version to roll back to; name one with --to")
    if str(target) == current:
        raise ValueError(f"{name}@{alias} is already version {current}")
    get_version(client, name, str(target))
    if not allow_other_data:
        check_same_data(client, name, alias, str(target))
    return move_alias(client, name, alias, str(target), why)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version `alias` points at; None when the model or the alias does not exist. Any other
    failure (a tracking server that cannot be reached) raises: "no champion" would be a wrong answer."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    from movierec.registry.store import (
        configured_tracking_uri,
        display_uri,
        find_project_root,
        missing_store,
        mlflow_config,
    )
    from movierec.registry.tracking import MLFLOW_ENV, use_store

    parser = argparse.ArgumentParser(prog="python -m movierec.registry.champion",
                                     description="Show, audit, move the alias.")
    parser.add_argument("--name", help="registered model (default: mlflow.model_name in conf/)")
    parser.add_argument("--alias", help="alias (default: mlflow.alias in conf/)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="the version the alias points at")
    sub.add_parser("history", help="every recorded move, oldest first")
    check = sub.add_parser("verify", help="exit 1 unless reports/registry.json names a version in this store")
    check.add_argument("record", nargs="?", help="default: <project root>/reports/registry.json")
    back = sub.add_parser("rollback", help="move the alias to the previous (or a named) version")
    back.add_argument("--to", help="version number (default: the one before the current)")
    back.add_argument("--reason", required=True)
    back.add_argument("--allow-other-data", action="store_true", help="allow a version of another data set")
    up = sub.add_parser("promote", help="move the alias to a named version (or an experiment's version)")
    which = up.add_mutually_exclusive_group(required=True)
    which.add_argument("version", nargs="?", help="version number")
    which.add_argument("--experiment", help="the DVC experiment whose registered version to promote")
    up.add_argument("--reason", required=True)
    up.add_argument("--allow-other-data", action="store_true", help="allow a version of another data set")
    args = parser.parse_args(argv)

    root: Path | None = None
    configured: dict = {}
    try:
        root = find_project_root()
        configured = mlflow_config(root)
    except ValueError as exc:  # no checkout to read conf/ from: only MLFLOW_TRACKING_URI can name the store
        if not os.environ.get(MLFLOW_ENV) or (args.command == "verify" and not args.record):
            print(f"error: {exc}", file=sys.stderr)
            return 2
    uri = configured_tracking_uri(root, configured)
    args.name = args.name or str(configured.get("model_name", "movierec"))
    args.alias = args.alias or str(configured.get("alias", "champion"))
    store = display_uri(uri)
    print(f"store: {store}", file=sys.stderr)
    if args.command == "verify" and not args.record:
        args.record = str(Path(root or ".") / "reports" / "registry.json")
    missing = missing_store(uri)
    if missing is not None:  # reading must not create an empty store (MLflow would, at that path)
        print(f"error: no MLflow store at {missing} (run the pipeline first, or set mlflow.tracking_uri / "
              f"{MLFLOW_ENV})", file=sys.stderr)
        if args.command == "show":
            print(json.dumps({"name": args.name, "alias": args.alias, "version": None, "store": store}))
        return 1 if args.command in ("show", "verify") else 2
    for key, value in BOUNDED_HTTP.items():  # a tracking server that is down: fail in seconds, not minutes
        os.environ.setdefault(key, value)
    use_store(uri)
    client = MlflowClient()
    try:
        if args.command == "show":
            version = alias_version(client, args.name, args.alias)
            print(json.dumps({"name": args.name, "alias": args.alias, "version": version, "store": store}))
            if version is None:
                return 1  # no champion in this store (e.g. a fresh clone: run `dvc repro -s register`)
        elif args.command == "history":
            for move in history(client, args.name, args.alias):
                print(json.dumps(asdict(move)))
        elif args.command == "verify":
            from movierec.registry.register import verify_record

            try:
                record = json.loads(Path(args.record).read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read {args.record}: {exc}") from None
            if record.get("tracking_uri") and record["tracking_uri"] != uri:
                print(f"note: {args.record} was written against {display_uri(str(record['tracking_uri']))}",
                      file=sys.stderr)
            problems = verify_record(client, record)
            for problem in problems:
                print(f"{args.record}: {problem}", file=sys.stderr)
            if problems:
                return 1
            print(json.dumps({"record": args.record, "version": record["version"], "ok": True}))
        elif args.command == "promote":
            version = args.version or version_for_experiment(client, args.name, args.experiment)
            print(json.dumps(asdict(promote(client, args.name, args.alias, version, args.reason,
                                            args.allow_other_data))))
        else:
            print(json.dumps(asdict(rollback(client, args.name, args.alias, args.reason, args.to,
                                             args.allow_other_data))))
    except (ValueError, MlflowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
