"""A failed download under `dvc repro` keeps the data it had (issue 22, item 3).

DVC deletes a stage's outputs before it runs the stage, unless they are declared `persist: true`.
Offline, without a mirror, a rerun of `download` cannot fetch the archive again: it must fail with
its one-line message and leave data/raw/<name> as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

NAME = "ml-latest-small"
CODE = ("pipeline", "src", "conf")  # what `dvc repro download` runs; its other deps are listed in dvc.yaml
FILES = ("dvc.yaml", "params.yaml", ".dvcignore")


def run(cmd: list[str], cwd: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def downloaded(tmp_path, mirror) -> tuple[Path, dict]:
    """A git + DVC repository (the pipeline's code and config) whose download stage ran from the mirror."""
    work = tmp_path / "repo"
    work.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in CODE:
        shutil.copytree(REPO_ROOT / name, work / name, ignore=skip)
    for name in FILES:
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, work / name)
    shutil.copytree(REPO_ROOT / ".dvc", work / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_"))}
    env.update({"MOVIEREC_DATA_MIRROR": str(mirror), "PYTHONPATH": str(work / "src"),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    run(["git", "init", "-q"], work, env)
    run([sys.executable, "-m", "dvc", "repro", "download"], work, env)
    assert (work / "data/raw" / NAME / "ratings.csv").is_file()
    return work, env


def test_offline_rerun_without_a_mirror_fails_and_keeps_the_data(downloaded):
    work, env = downloaded
    before = {p.name: p.read_bytes() for p in (work / "data/raw" / NAME).iterdir()}
    # the archive moved (conf/ edited, params.yaml regenerated): DVC must run the stage again,
    # and nothing answers there (connection refused on loopback), nor is there a mirror
    conf = work / "conf/data" / f"{NAME}.yaml"
    spec = yaml.safe_load(conf.read_text())
    conf.write_text(conf.read_text().replace(spec["url"], f"http://127.0.0.1:9/{NAME}.zip"))
    offline = {k: v for k, v in env.items() if k != "MOVIEREC_DATA_MIRROR"}
    run([sys.executable, "-m", "pipeline.params"], work, offline)
    result = run([sys.executable, "-m", "dvc", "repro", "download"], work, offline, check=False)
    assert result.returncode != 0
    assert "download failed: could not download" in result.stderr and "Traceback" not in result.stderr
    assert f"data/raw/{NAME} is kept as it was" in result.stderr
    after = {p.name: p.read_bytes() for p in (work / "data/raw" / NAME).iterdir()}
    assert after == before, "the failed stage changed or deleted data/raw"
