"""The champion CLI and `make ui` follow the configuration from any working directory (issue 21, item 5).

The store is ``MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` of the project's conf/; the
project is ``DVC_ROOT``, else ``MOVIEREC_ROOT``, else the checkout the package was installed from,
never the working directory. Every command names the store it uses and creates no ./mlflow.db.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.registry.store import configured_tracking_uri, display_uri, find_project_root
from tests.conftest import REPO_ROOT

ISOLATED = ("MLFLOW_TRACKING_URI", "MOVIEREC_ROOT", "DVC_ROOT", "DVC_EXP_NAME")


def make_project(folder: Path, tracking_uri: str | None) -> Path:
    """A project checkout as far as the CLI cares: conf/ with `mlflow.tracking_uri` set."""
    shutil.copytree(REPO_ROOT / "conf", folder / "conf")
    local = folder / "conf" / "mlflow" / "local.yaml"
    local.write_text(local.read_text().replace("tracking_uri: null", f"tracking_uri: {tracking_uri or 'null'}"))
    return folder


def cli(module: str, *args: str, cwd: Path, root: Path | None, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    if root is not None:
        env["MOVIEREC_ROOT"] = str(root)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def clean_env(monkeypatch):
    for key in ISOLATED:
        monkeypatch.delenv(key, raising=False)


def test_the_project_root_never_comes_from_the_working_directory(clean_env, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert find_project_root() == REPO_ROOT.resolve()   # the checkout the package was installed from
    project = make_project(tmp_path / "project", None)
    monkeypatch.setenv("MOVIEREC_ROOT", str(project))
    assert find_project_root() == project.resolve()
    dvc_root = make_project(tmp_path / "dvc-root", None)
    monkeypatch.setenv("DVC_ROOT", str(dvc_root))     # a stage under DVC: DVC's word wins
    assert find_project_root() == dvc_root.resolve()
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match=r"DVC_ROOT=.*nothing is not the project's checkout"):
        find_project_root()


def test_the_configured_store_relative_to_the_project_and_the_env_var_wins(clean_env, monkeypatch, tmp_path):
    project = make_project(tmp_path / "project", "sqlite:///stores/team.db")
    monkeypatch.chdir(tmp_path)
    assert configured_tracking_uri(project) == f"sqlite:///{project.resolve() / 'stores' / 'team.db'}"
    assert configured_tracking_uri(make_project(tmp_path / "p2", None)) == \
        f"sqlite:///{(tmp_path / 'p2').resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5002")
    assert configured_tracking_uri(project) == "http://127.0.0.1:5002"


def test_a_password_in_a_store_uri_is_never_printed():
    assert display_uri("postgresql+psycopg2://ml:s3cret@db:5432/mlflow") == "postgresql+psycopg2://ml:***@db:5432/mlflow"
    assert display_uri("http://127.0.0.1:5002") == "http://127.0.0.1:5002"
    assert display_uri("sqlite:////srv/mlflow.db") == "sqlite:////srv/mlflow.db"


def test_the_champion_cli_uses_the_configured_store_from_another_folder(tmp_path):
    from mlflow import MlflowClient

    from movierec.registry.alias import move_alias

    project = make_project(tmp_path / "project", "sqlite:///stores/team.db")
    (project / "stores").mkdir()
    store = f"sqlite:///{project / 'stores' / 'team.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    client.create_registered_model("movierec")
    client.create_model_version("movierec", "file:///nowhere")
    move_alias(client, "movierec", "champion", "1", "test")
    (project / "reports").mkdir()
    (project / "reports" / "registry.json").write_text(json.dumps({"model_name": "movierec", "version": "1"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    shown = cli("movierec.registry.champion", "show", cwd=elsewhere, root=project)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"name": "movierec", "alias": "champion", "version": "1", "store": store}
    assert f"store: {store}" in shown.stderr
    verified = cli("movierec.registry.champion", "verify", cwd=elsewhere, root=project)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["record"] == str(project / "reports" / "registry.json")
    assert not list(elsewhere.iterdir())   # no ./mlflow.db, no mlruns/ where it ran


def test_without_any_setting_the_cli_reads_the_installed_checkouts_store_and_creates_none(tmp_path):
    before = (REPO_ROOT / "mlflow.db").exists()
    shown = cli("movierec.registry.champion", "show", cwd=tmp_path, root=None)
    assert f"store: sqlite:///{REPO_ROOT.resolve() / 'mlflow.db'}" in shown.stderr
    assert json.loads(shown.stdout)["store"] == f"sqlite:///{REPO_ROOT.resolve() / 'mlflow.db'}"
    assert (REPO_ROOT / "mlflow.db").exists() == before   # reading never creates a store
    if not before:
        assert shown.returncode == 1 and "no MLflow store at" in shown.stderr
    assert not list(tmp_path.iterdir())


def test_the_ui_opens_the_configured_store_or_names_the_server(tmp_path):
    project = make_project(tmp_path / "project", "sqlite:///stores/team.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = cli("movierec.registry.ui", "--dry-run", cwd=elsewhere, root=project)
    assert missing.returncode == 1 and f"no MLflow store at {project / 'stores' / 'team.db'}" in missing.stderr
    (project / "stores").mkdir()
    sqlite3 = __import__("sqlite3")
    sqlite3.connect(project / "stores" / "team.db").close()
    planned = cli("movierec.registry.ui", "--dry-run", cwd=elsewhere, root=project)
    assert planned.returncode == 0, planned.stderr
    assert f"ui --backend-store-uri sqlite:///{project / 'stores' / 'team.db'} --host 127.0.0.1 --port 5001" \
        in planned.stdout
    server = cli("movierec.registry.ui", cwd=elsewhere, root=project,
                 env_extra={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5002"})
    assert server.returncode == 0 and "tracking server http://127.0.0.1:5002" in server.stdout, server.stderr
    assert not list(elsewhere.iterdir())


def test_the_server_option_composes_like_local_on_the_tracking_servers_port():
    from movierec.config.compose import compose
    from movierec.registry.tracking_server import DEFAULT_PORT
    from movierec.registry.ui import DEFAULT_PORT as UI_PORT

    local = compose(REPO_ROOT / "conf")["mlflow"]
    server = compose(REPO_ROOT / "conf", ["mlflow=server"])["mlflow"]
    assert local["tracking_uri"] is None   # the embedded sqlite file stays the default
    assert server.pop("tracking_uri") == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert server == {k: v for k, v in local.items() if k != "tracking_uri"}
    assert len({DEFAULT_PORT, UI_PORT, 5000, 8000}) == 4   # Flask's default, the UI, the server, the service


def test_the_tracking_server_says_what_is_missing(tmp_path):
    out = cli("movierec.registry.tracking_server", "start", "--folder", str(tmp_path / "state"), cwd=tmp_path,
              root=None, env_extra={"MOVIEREC_PG_BIN": str(tmp_path / "no-postgres")})
    assert out.returncode == 2 and f"MOVIEREC_PG_BIN={tmp_path / 'no-postgres'} holds no initdb" in out.stderr
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.pid"))


def test_reproduce_refuses_a_project_without_a_store_and_creates_none(tmp_path):
    """`python -m movierec.registry.reproduce 1` on a project that has no mlflow.db: a clear error, no empty
    store left behind (MLflow would create one at the configured path on first read)."""
    project = make_project(tmp_path / "project", None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = cli("movierec.registry.reproduce", "1", cwd=elsewhere, root=project)
    assert out.returncode == 2, out.stderr
    assert f"no MLflow store at {project.resolve() / 'mlflow.db'}" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (project / "mlflow.db").exists() and not list(elsewhere.iterdir())
    assert sorted(p.name for p in project.iterdir()) == ["conf"]
