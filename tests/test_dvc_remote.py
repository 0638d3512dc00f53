"""The DVC remote and `make pipeline`'s pull-or-repro line (issue 21, item 7), on a two-stage toy project.

The toy project carries this repository's `.dvc/config` (default remote `shared`, a folder beside
the checkout) and runs the exact line `make pipeline` runs: with nothing pushed (the remote folder
absent, as offline on a first run) every stage runs; after `dvc push` a second clone pulls and runs
nothing; with no remote configured it is plain `dvc repro`. The real pipeline against a tracking
server: tests/test_team_server_e2e.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TOY = """stages:
  make:
    cmd: mkdir -p out && echo "$RANDOM $RANDOM" > out/x && echo make >> runs.log
    outs: [out]
  use:
    cmd: cat out/x > y.txt && echo use >> runs.log
    deps: [out]
    outs: [y.txt]
"""


def run(cmd: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def pipeline_line() -> str:
    """The shell line `make pipeline` pulls or reproduces with (this checkout's Makefile, dry run)."""
    stamp = Path(sys.prefix) / ".installed"
    planned = subprocess.run(["make", "-n", "--no-print-directory", f"VENV={sys.prefix}", "-o", str(stamp),
                              "pipeline"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    lines = [line for line in planned.stdout.splitlines() if "dvc repro --pull" in line]
    assert len(lines) == 1, planned.stdout
    return lines[0]


@pytest.fixture
def env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def toy_project(folder: Path, env: dict) -> Path:
    folder.mkdir(parents=True)
    run(["git", "init", "-q"], folder, env)
    run([sys.executable, "-m", "dvc", "init", "-q"], folder, env)
    shutil.copy(REPO_ROOT / ".dvc" / "config", folder / ".dvc" / "config")
    (folder / "dvc.yaml").write_text(TOY)
    (folder / ".gitignore").write_text("runs.log\n")
    return folder


def commit(folder: Path, env: dict) -> None:
    run(["git", "add", "-A"], folder, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], folder, env)


def runs(folder: Path) -> list[str]:
    log = folder / "runs.log"
    return log.read_text().split() if log.exists() else []


def test_the_default_remote_is_a_folder_beside_the_checkout(env, tmp_path):
    project = toy_project(tmp_path / "a" / "repo", env)
    listed = run([sys.executable, "-m", "dvc", "remote", "list"], project, {**env, "COLUMNS": "1000"})
    assert listed.split()[:3] == ["shared", str(tmp_path / "a" / "movierec-dvc-remote"), "(default)"], listed


def test_pull_or_repro_runs_what_the_remote_lacks_and_pulls_what_it_has(pipeline_line, env, tmp_path):
    first = toy_project(tmp_path / "a" / "repo", env)
    remote = tmp_path / "a" / "movierec-dvc-remote"
    assert not remote.exists()
    run(["bash", "-c", pipeline_line], first, env)          # nothing pushed yet: every stage runs
    assert runs(first) == ["make", "use"]
    assert "pushed" in run([sys.executable, "-m", "dvc", "push"], first, env)   # what `make push` runs
    assert any(p.is_file() for p in remote.rglob("*"))
    commit(first, env)

    second = tmp_path / "a" / "clone"                       # beside the first: the same default remote
    run(["git", "clone", "-q", str(first), str(second)], tmp_path, env)
    out = run(["bash", "-c", pipeline_line], second, env)
    assert runs(second) == [] and "Pulling data for stage: 'make'" in out, out
    assert (second / "y.txt").read_text() == (first / "y.txt").read_text()   # the pushed result, not a rerun
    assert "up to date" in run([sys.executable, "-m", "dvc", "status"], second, env)

    third = tmp_path / "b" / "clone"                        # elsewhere: its remote named with --local
    run(["git", "clone", "-q", str(first), str(third)], tmp_path, env)
    run([sys.executable, "-m", "dvc", "remote", "modify", "--local", "shared", "url", str(remote)], third, env)
    run(["bash", "-c", pipeline_line], third, env)
    assert runs(third) == [] and (third / "y.txt").read_text() == (first / "y.txt").read_text()


def test_without_a_remote_it_is_plain_repro(pipeline_line, env, tmp_path):
    project = toy_project(tmp_path / "repo", env)
    run([sys.executable, "-m", "dvc", "remote", "remove", "shared"], project, env)
    out = run(["bash", "-c", pipeline_line], project, env)
    assert runs(project) == ["make", "use"] and "Pulling" not in out, out
