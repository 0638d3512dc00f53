"""The champion alias and its audit log: every move is appended as a registered-model tag
(from, to, when, who, why), so the log lives in the registry beside the alias itself."""

from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import asdict, dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

LOG_PREFIX = "alias_log."


@dataclass(frozen=True)
class AliasMove:
    alias: str
    from_version: str | None
    to_version: str
    when: str
    who: str
    why: str


def _who() -> str:
    try:
        return os.environ.get("MOVIEREC_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def history(client: MlflowClient, name: str, alias: str) -> list[AliasMove]:
    """Every recorded move of `alias`, oldest first."""
    prefix = f"{LOG_PREFIX}{alias}."
    tags = client.get_registered_model(name).tags
    return [AliasMove(**json.loads(tags[key])) for key in sorted(k for k in tags if k.startswith(prefix))]


def move_alias(client: MlflowClient, name: str, alias: str, version: str, why: str) -> AliasMove:
    """Point `alias` at `version` and append the move to the log (the version must exist)."""
    if not why.strip():
        raise ValueError("a reason is required for moving an alias")
    client.get_model_version(name, version)  # raises if the version does not exist
    move = AliasMove(alias, current_version(client, name, alias), str(version),
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), _who(), why.strip())
    client.set_registered_model_alias(name, alias, str(version))
    count = len(history(client, name, alias))
    client.set_registered_model_tag(name, f"{LOG_PREFIX}{alias}.{count + 1:06d}", json.dumps(asdict(move)))
    return move


def previous_version(moves: list[AliasMove], current: str | None) -> str | None:
    """The version the alias held before it came to `current` (for a plain rollback)."""
    for move in reversed(moves):
        if move.to_version == current and move.from_version not in (None, current):
            return move.from_version
    return None
