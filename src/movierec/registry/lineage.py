"""Where a model came from: git commit (and whether the tree was dirty), data hashes, params.

Collected at registration and stored as tags on the model version (beside its test metrics),
so `/health` and anyone
looking at the registry can tell which code and which data produced the served model.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

DATA_STAGES = ("download", "reindex")  # their outputs are the data every model is trained on


def pipeline_outputs(lock_file: Path) -> set[str]:
    """Paths `dvc repro` itself rewrites: every stage's outs, dvc.lock, and the files dvc.yaml's
    top-level `plots` names (train@embedding's loss curve: written by a `foreach` stage whose other
    entries have no such file, so it is not one of its outs). Not "dirty" code."""
    if not lock_file.is_file():
        return set()
    lock = yaml.safe_load(lock_file.read_text()) or {}
    outs = {out["path"] for stage in (lock.get("stages") or {}).values() for out in (stage.get("outs") or [])}
    return outs | plot_files(lock_file.parent / "dvc.yaml") | {lock_file.name}


def plot_files(dvc_yaml: Path) -> set[str]:
    """The paths of dvc.yaml's top-level `plots` (entries are paths or `{path: options}`)."""
    if not dvc_yaml.is_file():
        return set()
    plots = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("plots") or []
    paths: set[str] = set()
    for entry in plots:
        keys = [entry] if isinstance(entry, str) else list(entry) if isinstance(entry, dict) else []
        paths.update(k for k in keys if "${" not in k)
    return paths


def is_ignored(path: str, ignore: set[str] | frozenset[str]) -> bool:
    """`path` is one of `ignore` or lies inside one of them (a folder output such as reports/figures)."""
    path = path.strip().rstrip("/")
    return any(path == item or path.startswith(item.rstrip("/") + "/") for item in ignore if item)


def changed_paths(porcelain_z: str) -> set[str]:
    """Paths in ``git status --porcelain -z`` output (both sides of a rename or copy)."""
    paths: set[str] = set()
    entries = porcelain_z.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC" or entry[1] in "RC":  # the source path follows as its own entry
            if i < len(entries) and entries[i]:
                paths.add(entries[i])
            i += 1
    return paths


def git_state(root: Path, ignore: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """``{"git_commit": sha, "git_dirty": "true"|"false"}``; "unknown" outside a git checkout.

    Dirty means a tracked file, other than those in `ignore` or inside a folder in `ignore`,
    differs from the commit (staged or not). Untracked files do not count.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    changed = {path for path in changed_paths(status) if not is_ignored(path, ignore)}
    return {"git_commit": commit, "git_dirty": "true" if changed else "false"}


def data_hashes(lock_file: Path) -> dict[str, str]:
    """Content hashes (DVC's md5) of the data stages' outputs, from `dvc.lock`: ``{path: md5}``."""
    if not lock_file.is_file():
        return {}
    lock = yaml.safe_load(lock_file.read_text()) or {}
    hashes = {}
    for stage in DATA_STAGES:
        for out in (lock.get("stages", {}).get(stage, {}) or {}).get("outs", []) or []:
            if "md5" in out:
                hashes[out["path"]] = out["md5"]
    return hashes


def data_fingerprint(hashes: dict[str, str]) -> str:
    """One short id for a set of data hashes (what `/health` shows)."""
    import hashlib

    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12] if hashes else "unknown"


def lineage_tags(root: Path, params: dict[str, Any]) -> dict[str, str]:
    """Commit, data hashes and params as version tags (the test metrics are tagged by the registry).

    Tag keys may hold letters, digits, `_ - . / :` and spaces.
    """
    hashes = data_hashes(root / "dvc.lock")
    tags = dict(git_state(root, ignore=pipeline_outputs(root / "dvc.lock")))
    tags["data_fingerprint"] = data_fingerprint(hashes)
    tags.update({f"data.{path}": md5 for path, md5 in hashes.items()})
    groups: dict[str, dict] = {}
    for key, value in params.items():
        group, _, rest = key.partition(".")
        if rest:
            groups.setdefault(group, {})[rest] = value
        else:
            groups.setdefault("top", {})[group] = value
    tags.update({f"params.{group}": json.dumps(values, sort_keys=True)[:5000] for group, values in groups.items()})
    return tags
