"""Issue 23, item 5: the stages and the service run from an installed wheel, from another folder.

The wheel (`pip wheel .` of a copy of the sources) holds ``movierec``, ``pipeline`` and ``serve``; it
is installed into a fresh virtual environment with no access to the checkout. The third-party
dependencies (torch, mlflow, ... : gigabytes) are not reinstalled: a ``.pth`` file appends this
environment's site-packages after the new one's, so ``movierec``/``pipeline``/``serve`` resolve to the
wheel (asserted), everything else to what is installed here. The project (``conf/``) is a folder
named by ``MOVIEREC_ROOT``; the commands run in a third folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
ISOLATED = ("PYTHONPATH", "MOVIEREC_ROOT", "DVC_ROOT", "DVC_EXP_NAME", "MLFLOW_TRACKING_URI")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh venv with the wheel installed (deps borrowed from this environment)."""
    tmp = tmp_path_factory.mktemp("wheel")
    sources = tmp / "sources"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, sources / name)
    for name in ("src", "pipeline", "serve"):
        shutil.copytree(ROOT / name, sources / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist"), str(sources)], check=True, timeout=300, capture_output=True)
    (wheel,) = (tmp / "dist").glob("movierec-*.whl")
    venv.EnvBuilder(with_pip=False).create(tmp / "venv")
    python = tmp / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, timeout=300, capture_output=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "zz_movierec_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder that is not a checkout: conf/ only."""
    folder = tmp_path / "project"
    shutil.copytree(ROOT / "conf", folder / "conf")
    return folder


def run(python: Path, *args: str, cwd: Path, root: Path | None, timeout: float = 120):
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    if root is not None:
        env["MOVIEREC_ROOT"] = str(root)
    cwd.mkdir(exist_ok=True)
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_packages_come_from_the_wheel(installed, project, tmp_path):
    where = run(installed, "-c", "import json, movierec, pipeline.stage, serve.app; print(json.dumps("
                "[movierec.__file__, pipeline.stage.__file__, serve.app.__file__, str(pipeline.stage.REPO_ROOT)]))",
                cwd=tmp_path / "elsewhere", root=project)
    assert where.returncode == 0, where.stderr
    *files, root = json.loads(where.stdout)
    venv_dir = installed.parent.parent
    assert all(Path(f).is_relative_to(venv_dir) for f in files), files
    assert not any(Path(f).is_relative_to(ROOT) for f in files)
    assert Path(root) == project.resolve()


def test_without_a_project_the_stage_says_how_to_name_one(installed, tmp_path):
    result = run(installed, "-m", "pipeline.params", "--check", cwd=tmp_path / "elsewhere", root=None)
    assert result.returncode == 1
    assert "set MOVIEREC_ROOT to the folder that holds conf/" in result.stderr.strip().splitlines()[-1]


def test_the_stages_run_from_the_wheel_in_another_folder(installed, project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    wrote = run(installed, "-m", "pipeline.params", cwd=elsewhere, root=project)
    assert wrote.returncode == 0, wrote.stderr
    assert (project / "params.yaml").read_bytes() == (ROOT / "params.yaml").read_bytes()  # same conf, same bytes
    assert run(installed, "-m", "pipeline.params", "--check", cwd=elsewhere, root=project).returncode == 0
    data = project / "data"
    overrides = ["data=synthetic", "data.synthetic.n_users=60", "data.synthetic.n_movies=200",
                 "data.synthetic.n_ratings=3000", "data.synthetic.min_user_ratings=10",
                 f"paths.raw={data / 'raw'}", f"paths.interim={data / 'interim'}",
                 f"paths.reports={project / 'reports'}"]  # relative paths.* are the working directory's, as under DVC
    for stage in ("download", "filter"):
        result = run(installed, "-m", f"pipeline.{stage}", *overrides, cwd=elsewhere, root=project)
        assert result.returncode == 0, f"{stage}: {result.stderr[-2000:]}"
    assert (data / "interim" / "ratings.parquet").is_file() and (data / "interim" / "movies.parquet").is_file()
    assert json.loads((project / "reports" / "filter.json").read_text())["after"]["users"] == 60
    assert not any(elsewhere.iterdir())  # nothing written where the commands ran


def test_the_service_runs_from_the_wheel(installed, project, tmp_path):
    import mlflow

    from movierec.registry.register import register_bundle
    from movierec.registry.tracking import use_store
    from tests.synthetic import small_bundle

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    use_store(uri, "movierec")
    try:
        small_bundle().save(tmp_path / "bundle")
        with mlflow.start_run() as started:
            pass
        register_bundle(tmp_path / "bundle", started.info.run_id, "movierec", "champion",
                        {"rmse": 1.0, "ndcg@10": 0.1}, 0.005, 0.01)
    finally:
        mlflow.set_tracking_uri("")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<!DOCTYPE html><title>movierec</title>")
    script = ("import json, sys; from serve import create_app; "
              "app = create_app(tracking_uri=sys.argv[1], poll_seconds=0, web_dir=sys.argv[2]); "
              "c = app.test_client(); r = c.get('/recommend?user_id=1&k=3'); "
              "print(json.dumps([c.get('/readyz').status_code, r.status_code, r.get_json()]))")
    result = run(installed, "-c", script, uri, str(tmp_path / "web"), cwd=tmp_path / "elsewhere", root=project,
                 timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    ready, status, body = json.loads(result.stdout.strip().splitlines()[-1])
    assert (ready, status) == (200, 200), body
    assert len(body["recommendations"]) == 3 and body["user_id"] == 1
