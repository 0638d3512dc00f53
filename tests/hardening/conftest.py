"""The service tests' fixtures (a small real model in a temporary MLflow store) and the benchmark modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_TESTS = REPO_ROOT / "tests" / "serve"
if str(SERVE_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVE_TESTS))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_serve = _load("hardening_serve_conftest", SERVE_TESTS / "conftest.py")
registry, web_dir, app, client = _serve.registry, _serve.web_dir, _serve.app, _serve.client


@pytest.fixture(scope="session")
def fuzz_module():
    return _load("bench_fuzz", REPO_ROOT / "benchmarks" / "fuzz.py")


@pytest.fixture(scope="session")
def load_module():
    return _load("bench_load", REPO_ROOT / "benchmarks" / "load.py")
