"""Commands in a test's own copy of the repository: run one (its output, or a clear failure) and commit."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run(cmd: list[str], cwd: Path, env: dict, timeout: float = 600) -> str:
    """`cmd` in `cwd`; its stdout + stderr. A non-zero exit fails the test with both outputs."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def commit(work: Path, env: dict, message: str) -> None:
    """Everything in `work` committed under a throwaway identity."""
    run(["git", "add", "-A"], work, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], work, env)
