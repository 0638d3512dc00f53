"""Install into this interpreter's environment with uv, set up as pip is here; pip where uv can't.

    .venv/bin/python tools/install.py -e .            # make install: what `make run` needs
    .venv/bin/python tools/install.py -e '.[test]'    # make install-test: + the test tools

uv resolves and installs in parallel (about 10 s for this project against pip's 2 minutes) but
reads no pip configuration. This machine's pip is configured (a local CPU build of torch among
`find-links`, extra indexes, a constraints file, a CA bundle): the same settings are read from
`pip config list` and the PIP_* environment and handed to uv, and versions are picked across all
indexes as pip picks them (``--index-strategy unsafe-best-match``). uv itself comes from the
package index into the environment (`pip install uv`). Where uv cannot be installed or fails, the
same arguments go to `pip install`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

LIST_SETTINGS = ("find-links", "extra-index-url", "constraint")
UV_FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
            "constraint": "--constraint"}


def pip_settings() -> dict[str, list[str]]:
    """pip's effective settings of interest: `pip config list` (files and PIP_* variables)."""
    result = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    settings: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name, _, raw = line.partition("=")
        key = name.rsplit(".", 1)[-1]
        if key not in UV_FLAGS and key != "cert":
            continue
        values = shlex.split(raw)[0].split() if raw.strip() else []
        for value in values:
            if value not in settings.setdefault(key, []):
                settings[key].append(value)
    for key in UV_FLAGS:  # PIP_FIND_LINKS etc. (pip config list shows them too; kept in case it does not)
        for value in os.environ.get(f"PIP_{key.upper().replace('-', '_')}", "").split():
            if value not in settings.setdefault(key, []):
                settings[key].append(value)
    return settings


def reachable(value: str) -> bool:
    """A local location that is not there is left out (pip only warns about it; uv would fail)."""
    path = value[len("file://"):] if value.startswith("file://") else value
    return "://" in value and not value.startswith("file://") or Path(path).exists()


def uv_arguments(settings: dict[str, list[str]]) -> list[str]:
    args = ["--index-strategy", "unsafe-best-match"]
    for key, flag in UV_FLAGS.items():
        for value in settings.get(key, []):
            if reachable(value):
                args += [flag, value]
    return args


def uv_executable() -> str | None:
    """uv in this environment, installed with pip when missing; None when that fails."""
    here = Path(sys.executable).parent / "uv"
    if here.exists():
        return str(here)
    quiet = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], capture_output=True, text=True)
    if quiet.returncode == 0 and here.exists():
        return str(here)
    print(f"install: uv could not be installed ({quiet.stderr.strip().splitlines()[-1:] or 'no reason given'}); "
          "using pip", file=sys.stderr)
    return shutil.which("uv")


def main(argv: list[str]) -> int:
    settings = pip_settings()
    uv = uv_executable()
    if uv is not None:
        env = dict(os.environ)
        if settings.get("cert") and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = settings["cert"][0]
        cmd = [uv, "pip", "install", "--quiet", "--python", sys.executable, *uv_arguments(settings), *argv]
        if subprocess.run(cmd, env=env).returncode == 0:
            return 0
        print("install: uv failed; trying pip", file=sys.stderr)
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *argv]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
