"""A team's set-up end to end (issue 21): a real `mlflow server` on PostgreSQL, a DVC remote, two services.

One tiny synthetic project (a temporary git copy of this one) whose conf/ selects `mlflow: server`,
pointed at a tracking server this module starts (PostgreSQL in a temporary folder owned by the
``postgres`` user, proxied artifacts): `dvc repro` registers version 1 and sets @champion, `dvc push`
fills a local DVC remote, `dvc exp run` registers version 2 without the alias. A second clone pulls
(`make pipeline`), retrains nothing, and its register stage finds version 1 (nothing new). The champion CLI,
run from another folder, promotes and rolls back while two service instances follow the alias under
load. Nothing is written to a local mlflow.db or mlruns/. PostgreSQL missing: skipped on a developer's
machine, a failure under CI (CI=true; .ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.git_repo import commit, run

pytestmark = pytest.mark.slow

ANYWHERE = shutil.ignore_patterns(".git", ".venv", "node_modules", ".next", "__pycache__", ".pytest_cache",
                                  ".mypy_cache", ".ruff_cache", ".hypothesis", "*.parquet", "*.egg-info",
                                  "mlflow.db*", "test-artifacts", "out")
ROOT_ONLY = {"mlruns", "mlartifacts", "models", "multirun", "outputs", ".tracking", ".tmp"}
DVC_STATE = {"tmp", "cache", "config.local"}   # .dvc/: this machine's, not the project's
TINY = """
# tiny, for tests/test_team_server_e2e.py
data:
  synthetic: {n_users: 120, n_movies: 150, n_ratings: 4000, min_user_ratings: 10}
trainer:
  max_epochs: 2
"""
LOCAL_STORES = ("mlflow.db", "mlruns", "mlartifacts")
# the pipeline's own MLflow calls must fail in seconds if the server misbehaves, not retry for minutes
BOUNDED = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "120", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def ignore(folder: str, names: list[str]) -> set[str]:
    skipped = set(ANYWHERE(folder, names))
    here = Path(folder).resolve()
    if here == REPO_ROOT:
        skipped |= ROOT_ONLY & set(names)
    elif here == REPO_ROOT / ".dvc":
        skipped |= DVC_STATE & set(names)
    elif here == REPO_ROOT / "data" / "raw":
        skipped |= set(names) - {".gitignore"}
    return skipped


def postgres_or_skip() -> None:
    from movierec.registry.postgres import PostgresMissing, bin_dir

    try:
        bin_dir()
    except PostgresMissing as exc:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{exc}: CI must run the tracking-server test (.ci/run installs postgresql)")
        pytest.skip(f"no PostgreSQL on this machine ({exc})")


def local_stores(*folders: Path) -> list[str]:
    return [str(folder / name) for folder in folders for name in LOCAL_STORES if (folder / name).exists()]


@pytest.fixture(scope="module")
def server():
    """PostgreSQL + `mlflow server --serve-artifacts` on free loopback ports; (url, state folder)."""
    from movierec.registry.tracking_server import Layout, running_server
    from serve.process import free_port

    postgres_or_skip()
    # not pytest's tmp_path: its parent is private to root, and PostgreSQL runs as the postgres user
    folder = Path(tempfile.mkdtemp(prefix="movierec-tracking-"))
    folder.chmod(0o755)
    port, pg_port = free_port(), free_port()
    while pg_port == port:
        pg_port = free_port()
    started = time.monotonic()
    try:
        with running_server(folder, port, pg_port) as url:
            print(f"PostgreSQL + mlflow server up in {time.monotonic() - started:.0f} s")
            yield url, Layout(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def team(server, tmp_path_factory):
    """Clone A: repro, push to a local DVC remote, commit, `dvc exp run`. Clone B: `make pipeline`."""
    url, layout = server
    base = tmp_path_factory.mktemp("team")
    work, remote, elsewhere = base / "a" / "repo", base / "remote", base / "elsewhere"
    elsewhere.mkdir()
    root_store_before = {name: (REPO_ROOT / name).stat().st_mtime if (REPO_ROOT / name).exists() else None
                         for name in LOCAL_STORES}
    shutil.copytree(REPO_ROOT, work, ignore=ignore)
    for stale in ("dvc.lock", "reports/metrics.json", "reports/filter.json", "reports/registry.json"):
        (work / stale).unlink(missing_ok=True)
    config = work / "conf" / "config.yaml"
    text = config.read_text()
    assert "  - data: ml-latest-small\n" in text and "  - mlflow: local\n" in text
    config.write_text(text.replace("  - data: ml-latest-small\n", "  - data: synthetic\n")
                      .replace("  - mlflow: local\n", "  - mlflow: server\n") + TINY)
    server_conf = work / "conf" / "mlflow" / "server.yaml"
    server_conf.write_text(server_conf.read_text().replace("http://127.0.0.1:5002", url))
    raw_ignore = work / "data" / "raw" / ".gitignore"   # DVC adds it when the stage first writes: commit it now
    raw_ignore.write_text(raw_ignore.read_text() + "/synthetic-100k\n")
    inherited = ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_CONTEXT", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV",
                 "MOVIEREC_ROOT")
    env = {k: v for k, v in os.environ.items() if k not in inherited} | BOUNDED
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    dvc = [sys.executable, "-m", "dvc"]
    run([sys.executable, "-m", "pipeline.params"], work, env)
    run(["git", "init", "-q"], work, env)
    commit(work, env, "tiny copy on a tracking server")
    times = {}
    started = time.monotonic()
    first = run([*dvc, "repro"], work, env)
    times["repro"] = time.monotonic() - started
    record_1 = json.loads((work / "reports/registry.json").read_text())
    run([*dvc, "remote", "modify", "--local", "shared", "url", str(remote)], work, env)
    pushed = run([*dvc, "push"], work, env)
    commit(work, env, "baseline: dvc.lock")
    started = time.monotonic()
    experiment = run([*dvc, "exp", "run", "-n", "dim-8", "-S", "model.embedding_dim=8"], work, env)
    times["exp run"] = time.monotonic() - started
    record_exp = json.loads((work / "reports/registry.json").read_text())

    clone = base / "b" / "repo"
    run(["git", "clone", "-q", str(work), str(clone)], base, env)
    run([*dvc, "remote", "modify", "--local", "shared", "url", str(remote)], clone, env)
    # `make pipeline` in the clone, with this checkout's environment: never the install step
    stamp = Path(sys.prefix) / ".installed"
    make = ["make", "--no-print-directory", f"VENV={sys.prefix}", "-o", str(stamp), "pipeline"]
    planned = run([*make[:-1], "-n", "pipeline"], clone, env)
    assert "pip install" not in planned, planned
    started = time.monotonic()
    pulled = run(make, clone, env)
    times["clone B: make pipeline"] = time.monotonic() - started
    status = run([*dvc, "status"], clone, env)
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return dict(url=url, layout=layout, work=work, clone=clone, elsewhere=elsewhere, env=env,
                first=first, pushed=pushed, experiment=experiment, pulled=pulled, status=status,
                records=(record_1, record_exp), remote=remote, root_store_before=root_store_before)


@pytest.fixture(scope="module")
def load_module():
    """benchmarks/load.py: the bounded load client the reload-under-load test uses."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("team_bench_load", REPO_ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclasses look the module up while being built
    spec.loader.exec_module(module)
    return module


def client_for(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def test_repro_registers_version_1_as_champion_on_the_server(team):
    record, _ = team["records"]
    assert record["version"] == "1" and record["promoted"] and record["new_version"], record
    assert record["tracking_uri"] == team["url"]
    client = client_for(team["url"])
    assert str(client.get_model_version_by_alias("movierec", "champion").version) == "1"
    version = client.get_model_version("movierec", "1")
    assert version.source.startswith("models:/m-"), version.source   # a server checks it against model_id
    assert version.tags["git_dirty"] == "false" and version.tags["promotion"] == "no current champion"
    # the model's files went through the server into its artifacts folder, not into a local mlruns/
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.artifact_location.startswith("mlflow-artifacts:/"), logged.artifact_location
    assert list(team["layout"].artifacts.rglob("MLmodel"))


def test_registering_the_same_bundle_again_adds_nothing(team):
    """Clone B's register stage (always run) met version 1's bundle and run: same version, no new model."""
    record = json.loads((team["clone"] / "reports/registry.json").read_text())
    assert record["version"] == "1" and record["new_version"] is False and record["promoted"], record
    client = client_for(team["url"])
    experiment = client.get_experiment_by_name("movierec")
    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert len(models) == 2, [m.model_id for m in models]   # version 1's and the experiment's: no orphans


def test_an_experiment_registers_without_the_alias(team):
    _, record = team["records"]
    assert record["version"] == "2" and not record["promoted"] and record["experiment"] == "dim-8", record
    client = client_for(team["url"])
    version = client.get_model_version("movierec", "2")
    assert version.tags["dvc_exp_name"] == "dim-8"
    assert "experiments never move the alias" in version.tags["promotion"]
    assert str(client.get_model_version_by_alias("movierec", "champion").version) in ("1", "2")  # CLI test moves it
    assert sorted(int(v.version) for v in client.search_model_versions("name = 'movierec'")) == [1, 2]


def test_a_second_clone_pulls_instead_of_retraining(team):
    assert "pushed" in team["pushed"] and any(p.is_file() for p in team["remote"].rglob("*")), team["pushed"]
    out = team["pulled"]
    ran = [line for line in out.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'register':"], out
    assert "Pulling data for stage: 'train@embedding'" in out, out
    assert (team["clone"] / "models" / "bundle").is_dir() and (team["clone"] / "data" / "processed").is_dir()
    # nothing differs from dvc.lock but register, which always runs
    changed = [line for line in team["status"].splitlines() if line and not line.startswith((" ", "\t"))]
    assert changed == ["register:"], team["status"]


def champion_cli(team, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The champion CLI from a folder outside the project, the project named by MOVIEREC_ROOT alone."""
    env = {**team["env"], "MOVIEREC_ROOT": str(team["work"]), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "movierec.registry.champion", *args], cwd=team["elsewhere"],
                          env=env, capture_output=True, text=True, timeout=300)


def test_two_services_follow_the_champion_cli_with_no_failed_request(team, tmp_path, load_module):
    import threading

    from serve.process import serve_subprocess

    url = team["url"]
    shown = champion_cli(team, "show")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"name": "movierec", "alias": "champion", "version": "1", "store": url}
    assert f"store: {url}" in shown.stderr

    def promote_by_cli(phase, t0):
        time.sleep(1.0)
        moved = champion_cli(team, "promote", "2", "--reason", "reviewed dim-8")
        phase.events["alias_moved_at_s"] = round(time.monotonic() - t0, 2)
        phase.events["cli"] = (moved.returncode, moved.stdout, moved.stderr)

    with serve_subprocess(tmp_path / "a.log", url, workers=1, timeout=240) as first, \
            serve_subprocess(tmp_path / "b.log", url, workers=1, timeout=240) as second:
        users, movies = load_module.discover(first.port, max_users=40)
        phases: dict = {}

        def load(server, name, during=None):
            # long enough for the CLI (seconds to start), a poll (5 s) and a download and load of version 2
            phases[name] = load_module.run_phase(server, name, 2, 30.0, users, movies, sample_every=2.0,
                                                 during=during)

        threads = [threading.Thread(target=load, args=(first, "first", promote_by_cli)),
                   threading.Thread(target=load, args=(second, "second"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        code, out, err = phases["first"].events["cli"]
        assert code == 0, err
        assert json.loads(out)["to_version"] == "2"
        for name, phase in phases.items():
            verdict, summary = load_module.reload_verdict(phase, "1", "2"), phase.summary()
            assert summary["requests"] > 10, (name, summary)
            assert verdict["failed_requests"] == 0 and summary["errors"] == 0, (name, summary["error_examples"])
            assert verdict["foreign_versions"] == [] and verdict["switched"], \
                (name, verdict, summary["versions"], phases["first"].events)

        back = champion_cli(team, "rollback", "--reason", "back to the baseline")
        assert back.returncode == 0, back.stderr
        assert (json.loads(back.stdout)["from_version"], json.loads(back.stdout)["to_version"]) == ("2", "1")
        for server in (first, second):   # each follows the rollback within a few poll intervals (5 s)
            deadline, version = time.monotonic() + 60, None
            while time.monotonic() < deadline and version != "1":
                status, payload = load_module.get_json(server.port, f"/recommend-simple?user_id={users[0]}&k=3")
                version = payload.get("model_version") if status == 200 and payload else version
                time.sleep(0.5)
            assert version == "1", server.log_path.read_text()[-2000:]
    history = champion_cli(team, "history")
    moves = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(None, "1"), ("1", "2"), ("2", "1")]


def test_register_is_idempotent_and_leaves_nothing_behind_on_failure(team):
    """In-process against the server: the same bundle and run again is the same version; a registration
    the server refuses (a tag value over its limit) leaves no logged model, no artifacts, no empty model."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from movierec.registry.register import register_bundle
    from movierec.registry.tracking import use_store
    from movierec.registry.training_run import find_training_run, folder_sha256

    url, work = team["url"], team["work"]
    client = client_for(url)
    experiment = client.get_experiment_by_name("movierec")
    before = {m.model_id for m in client.search_logged_models(experiment_ids=[experiment.experiment_id])}
    files_before = {p for p in team["layout"].artifacts.rglob("*") if p.is_file()}
    previous = mlflow.get_tracking_uri()
    try:
        use_store(url, "movierec")
        # the experiment's run: found by the model folder's hash (run.json holds no run id)
        run_id = find_training_run("movierec", folder_sha256(work / "models/methods/embedding"))
        assert run_id is not None
        again = register_bundle(work / "models/bundle", run_id, "movierec", "champion", {"rmse": 0.9}, 0.005, 0.01)
        assert again.version == "2" and again.new_version is False and not again.promoted
        with pytest.raises(MlflowException, match="exceeds the maximum length"):
            register_bundle(work / "models/bundle", run_id, "movierec-refused", "champion", {"rmse": 0.9},
                            0.005, 0.01, tags={"note": "x" * 100_001})
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous)
    after = {m.model_id for m in client.search_logged_models(experiment_ids=[experiment.experiment_id])}
    assert after == before
    assert [m.name for m in client.search_registered_models()] == ["movierec"]
    assert {p for p in team["layout"].artifacts.rglob("*") if p.is_file()} == files_before


def test_the_cli_follows_the_configured_server_from_anywhere(team):
    verify = champion_cli(team, "verify")
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["record"] == str(team["work"] / "reports" / "registry.json")
    ui = subprocess.run([sys.executable, "-m", "movierec.registry.ui"], cwd=team["elsewhere"],
                        env={**team["env"], "MOVIEREC_ROOT": str(team["work"])}, capture_output=True, text=True,
                        timeout=120)
    assert ui.returncode == 0 and f"tracking server {team['url']}" in ui.stdout, ui.stdout + ui.stderr


def test_nothing_was_written_to_a_local_store(team):
    work, clone = team["work"], team["clone"]
    assert local_stores(work, clone, team["elsewhere"], work.parent, clone.parent) == []
    assert not [p for p in (work / ".dvc").rglob("*") if p.name in LOCAL_STORES]
    after = {name: (REPO_ROOT / name).stat().st_mtime if (REPO_ROOT / name).exists() else None
             for name in LOCAL_STORES}
    assert after == team["root_store_before"]
