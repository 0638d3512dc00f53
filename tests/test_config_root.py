"""Which project's conf/ and params.yaml the stages and the service read (movierec.config.root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.config.root import config_root

ROOT = Path(__file__).resolve().parents[1]


def make_project(folder: Path) -> Path:
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "config.yaml").write_text("seed: 1\n")
    return folder


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in ("DVC_ROOT", "MOVIEREC_ROOT"):
        monkeypatch.delenv(key, raising=False)


def test_a_checkout_reads_its_own_conf_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(make_project(tmp_path / "cwd-project"))
    code = make_project(tmp_path / "checkout")
    assert config_root(code) == code.resolve()
    assert config_root(tmp_path / "site-packages") == ROOT   # not a project: the editable install's checkout


def test_movierec_root_names_the_project_of_an_installed_wheel(monkeypatch, tmp_path):
    project = make_project(tmp_path / "project")
    monkeypatch.setenv("MOVIEREC_ROOT", str(project))
    assert config_root(tmp_path / "site-packages") == project.resolve()
    monkeypatch.setenv("MOVIEREC_ROOT", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match=r"MOVIEREC_ROOT=.*nothing is not the project's checkout"):
        config_root(tmp_path / "site-packages")


def test_under_dvc_the_folder_the_stage_runs_in_wins(monkeypatch, tmp_path):
    """A --temp/queued experiment runs in a copy with its own params.yaml; DVC_ROOT names the parent."""
    parent, copy = make_project(tmp_path / "parent"), make_project(tmp_path / "copy")
    monkeypatch.setenv("DVC_ROOT", str(parent))
    monkeypatch.setenv("MOVIEREC_ROOT", str(make_project(tmp_path / "other")))
    monkeypatch.chdir(copy)
    assert config_root(tmp_path / "site-packages") == copy.resolve()


def test_the_stages_and_the_service_read_this_checkouts_conf():
    from pipeline.stage import CONF_DIR
    from serve.settings import CONF_DIR as SERVE_CONF_DIR

    assert CONF_DIR == SERVE_CONF_DIR == ROOT / "conf"
