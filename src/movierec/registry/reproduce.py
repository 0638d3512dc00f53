"""Rebuild a registered version from its lineage and check that its test metrics come back.

    python -m movierec.registry.reproduce 3            # version 3 of `movierec`
    python -m movierec.registry.reproduce 3 --keep     # keep the checkout for inspection

Reads the version's `git_commit` tag, checks that commit out into a temporary git worktree,
runs `dvc repro` there (its own MLflow store, so nothing here changes) and compares the
embedding metrics it writes with the version's `test_metrics.*` tags. Exit 0 when they match.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from movierec.registry.version_tags import metrics_from_tags as expected_metrics


def compare(expected: dict[str, float], actual: dict[str, float], tolerance: float) -> list[str]:
    """Differences beyond `tolerance` (absolute), as readable lines; empty when they match."""
    problems = []
    for key, value in sorted(expected.items()):
        got = actual.get(key)
        if got is None or math.isnan(float(got)) != math.isnan(value) or abs(float(got) - value) > tolerance:
            problems.append(f"{key}: registered {value!r}, reproduced {got!r}")
    return problems


def reproduce(root: Path, commit: str, workdir: Path) -> dict[str, float]:
    """`git worktree add workdir commit`, then `dvc repro` in it; the embedding test metrics."""
    subprocess.run(["git", "worktree", "add", "--detach", str(workdir), commit], cwd=root, check=True,
                   capture_output=True, text=True)
    # its own store: neither an explicit URI nor a DVC_ROOT/experiment inherited from a caller under DVC
    dropped = {"MLFLOW_TRACKING_URI", "MLFLOW_RUN_CONTEXT", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"}
    env = {k: v for k, v in __import__("os").environ.items() if k not in dropped}
    # a sqlite file beside the worktree, whatever the commit's conf/ names (never the team's server)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir.resolve().parent / 'mlflow.db'}"
    subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=workdir, check=True, env=env)
    return json.loads((workdir / "reports" / "metrics.json").read_text())["embedding"]


def main(argv: list[str] | None = None) -> int:
    from mlflow.tracking import MlflowClient

    from movierec.registry.store import configured_tracking_uri, display_uri, find_project_root, missing_store
    from movierec.registry.tracking import use_store

    parser = argparse.ArgumentParser(prog="python -m movierec.registry.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("--name", default="movierec")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--keep", action="store_true", help="keep the temporary checkout")
    args = parser.parse_args(argv)

    try:
        root = find_project_root()
        uri = configured_tracking_uri(root)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"store: {display_uri(uri)}", file=sys.stderr)
    missing = missing_store(uri)
    if missing is not None:  # reading must not create an empty store (MLflow would, at that path)
        print(f"error: no MLflow store at {missing}: nothing registered to reproduce (run the pipeline first, "
              "or set mlflow.tracking_uri / MLFLOW_TRACKING_URI)", file=sys.stderr)
        return 2
    use_store(uri)
    tags = MlflowClient().get_model_version(args.name, args.version).tags
    commit = tags.get("git_commit", "unknown")
    if commit == "unknown":
        print(f"error: version {args.version} has no git_commit tag", file=sys.stderr)
        return 2
    if tags.get("git_dirty") == "true":
        print(f"warning: version {args.version} was built from a dirty tree at {commit}: "
              "uncommitted changes are not reproducible", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="movierec-reproduce-")) / "repo"
    try:
        actual = reproduce(root, commit, workdir)
        problems = compare(expected_metrics(tags), actual, args.tolerance)
    finally:
        if not args.keep:
            subprocess.run(["git", "worktree", "remove", "--force", str(workdir)], cwd=root, capture_output=True)
            shutil.rmtree(workdir.parent, ignore_errors=True)
    if problems:
        print("metrics differ:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"version {args.version} reproduced from {commit[:12]}: {len(expected_metrics(tags))} metrics match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
