"""`python -m pipeline.train_method <method>`: the per-method training stage's command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_a_method_not_configured_is_refused_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "pipeline.train_method", "nonexistent"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "method 'nonexistent' is not in `methods`" in proc.stderr and "Traceback" not in proc.stderr


def test_the_usage_line_without_a_method():
    proc = subprocess.run([sys.executable, "-m", "pipeline.train_method"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "usage: python -m pipeline.train_method <method>" in proc.stderr
