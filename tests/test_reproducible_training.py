"""Training is bit-identical between processes: same weights, same run.json, same hash (issue 22, item 1).

Two `python -m pipeline.train` processes on tiny synthetic data, from different working directories
with environments of different sizes (which shift where memory lands), write byte-identical model
folders; and a stage process runs with the pinned CPU code paths of pipeline/__init__.py.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.registry.training_run import MODEL_HASH_TAG, folder_sha256
from pipeline import PORTABLE_NUMERICS, pin_numerics
from tests.conftest import REPO_ROOT


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without DVC's or MLflow's run context, plus `extra`. (A pinned variable the
    environment sets, e.g. a machine's OPENBLAS_CORETYPE, stays: the stage keeps it too.)"""
    dropped = {"DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "MLFLOW_RUN_CONTEXT", "MLFLOW_TRACKING_URI"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]), **extra}


def train(out: Path, overrides: list[str], cwd: Path, **extra: str) -> Path:
    """One train stage process writing under `out`; returns its model folder."""
    cwd.mkdir(parents=True, exist_ok=True)
    data = [o for o in overrides if not o.startswith(("paths.models=", "paths.reports="))]
    cmd = [sys.executable, "-m", "pipeline.train", *data, "trainer.max_epochs=3",
           "model.embedding_dim=8", f"paths.models={out / 'models'}", f"paths.reports={out / 'reports'}"]
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{out / 'mlflow.db'}", **extra)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "models" / "methods" / "embedding"


def the_run(store: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
def test_two_training_processes_write_identical_models(tiny_processed, tmp_path):
    first = train(tmp_path / "a", tiny_processed, cwd=REPO_ROOT)
    second = train(tmp_path / "b", tiny_processed, cwd=tmp_path / "another" / "working" / "directory",
                   MOVIEREC_PADDING="x" * 5000, DVC_EXP_NAME="exp-b")
    files = sorted(p.name for p in first.iterdir())
    assert {"head0.pt", "head1.pt", "item_item_weights.npy", "run.json"} <= set(files)
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs between processes"
    assert (tmp_path / "a/reports/loss.csv").read_bytes() == (tmp_path / "b/reports/loss.csv").read_bytes()
    # the folder holds no run id (it would differ every run); the run is found by the folder's hash
    assert "run_id" not in json.loads((first / "run.json").read_text())
    digest = folder_sha256(first)
    first_run, second_run = the_run(tmp_path / "a/mlflow.db"), the_run(tmp_path / "b/mlflow.db")
    assert first_run.data.tags[MODEL_HASH_TAG] == second_run.data.tags[MODEL_HASH_TAG] == digest
    # item 4: runs are named by the experiment and what differs from conf/ (paths are no change)
    changed = "data=synthetic-100k,model.embedding_dim=8,trainer.max_epochs=3"
    assert first_run.info.run_name == changed
    assert second_run.info.run_name == f"exp-b:{changed}"


def has_avx2() -> bool:
    try:
        return " avx2 " in f" {Path('/proc/cpuinfo').read_text()} ".replace("\n", " ")
    except OSError:
        return False


@pytest.mark.skipif(not has_avx2(), reason="the pinned code paths are x86-64 AVX2 ones")
def test_a_stage_process_runs_the_pinned_code_paths():
    probe = ("import pipeline, json, torch, numpy, scipy.linalg, threadpoolctl\n"
             "blas = [i for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']\n"
             "print(json.dumps({'aten': torch.backends.cpu.get_cpu_capability(),\n"
             "                  'openblas': sorted({(i['architecture'], i['num_threads']) for i in blas}),\n"
             "                  'numpy_avx512': numpy._core._multiarray_umath.__cpu_features__['X86_V4']}))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=clean_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    expected = {key: os.environ.get(key, value) for key, value in PORTABLE_NUMERICS.items()}
    assert seen["aten"] == expected["ATEN_CPU_CAPABILITY"].upper()
    assert seen["openblas"] and all(arch.lower() == expected["OPENBLAS_CORETYPE"].lower()
                                    and threads == int(expected["OPENBLAS_NUM_THREADS"])
                                    for arch, threads in seen["openblas"])
    if "NPY_DISABLE_CPU_FEATURES" not in os.environ:
        assert seen["numpy_avx512"] is False


def test_pins_leave_a_process_alone_once_numpy_is_loaded(monkeypatch):
    import numpy  # noqa: F401  (loaded: too late for the pins to apply here)

    environ: dict[str, str] = {}
    assert pin_numerics(environ) == {} and environ == {}


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="pins are x86-64 ones")
def test_a_variable_the_environment_sets_is_kept(monkeypatch):
    monkeypatch.delitem(sys.modules, "numpy")  # as if nothing numerical were loaded yet
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "scipy", raising=False)
    environ = {"OPENBLAS_CORETYPE": "SkylakeX"}
    set_here = pin_numerics(environ)
    assert environ["OPENBLAS_CORETYPE"] == "SkylakeX" and "OPENBLAS_CORETYPE" not in set_here
    assert environ["MKL_CBWR"] == "COMPATIBLE"


def test_native_numerics_opt_out_sets_nothing():
    result = subprocess.run([sys.executable, "-c", "import os, pipeline; print(os.environ.get('MKL_CBWR'))"],
                            cwd=REPO_ROOT, env=clean_env(MOVIEREC_NUMERICS="native"), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "None", result.stderr
