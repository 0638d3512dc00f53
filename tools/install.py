"""Install into this interpreter's environment with uv, set up as pip is here; pip where uv can't.

    python3 tools/install.py --python .venv/bin/python -e .            # make install: what `make run` needs
    python3 tools/install.py --python .venv/bin/python -e '.[test]'    # make install-test: + the test tools

uv resolves and installs in parallel (27 s for this project with the test tools, 21 s of it
compiling bytecode, against pip's 2 minutes) but reads no pip configuration. This machine's pip is
configured (a local CPU build of torch among `find-links`, extra indexes, a constraints file, a CA
bundle): the same settings are read from `pip config list` and the PIP_* environment and handed to
uv, and versions are picked across all indexes as pip picks them (``--index-strategy
unsafe-best-match``). uv itself comes from the package index into the target environment (this
interpreter's `pip --python <target> install uv`), so the environment can be made without pip
(`python3 -m venv --without-pip`: 0.2 s, not 3-9 s); uv puts pip in it too. Where uv cannot be
installed or fails, the same arguments go to pip.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

LIST_SETTINGS = ("find-links", "extra-index-url", "constraint")
UV_FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
            "constraint": "--constraint"}


def is_virtual_environment(target: str) -> bool:
    probe = "import sys; print(sys.prefix != sys.base_prefix)"
    result = subprocess.run([target, "-c", probe], capture_output=True, text=True)
    return result.stdout.strip() == "True"


def pip_command(target: str) -> list[str]:
    """pip acting on `target`: this interpreter's pip with ``--python`` (pip >= 22.3), else the target's own
    (made with ensurepip when it has none)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "--python", target]
    if subprocess.run([target, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        subprocess.run([target, "-m", "ensurepip", "--upgrade"], check=True, capture_output=True)
    return [target, "-m", "pip"]


def pip_settings(pip: list[str]) -> dict[str, list[str]]:
    """pip's effective settings of interest: `pip config list` (files and PIP_* variables)."""
    result = subprocess.run([*pip, "config", "list"], capture_output=True, text=True)
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


def uv_executable(pip: list[str], target: str) -> str | None:
    """uv in the target environment, installed with pip when missing; None when that fails."""
    here = Path(target).parent / "uv"
    if not here.exists():
        result = subprocess.run([*pip, "install", "--quiet", "uv"], capture_output=True, text=True)
        if result.returncode != 0 or not here.exists():
            reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
            print(f"install: uv could not be installed ({reason}); using pip", file=sys.stderr)
            return None
    return str(here)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the environment's interpreter (default: this one)")
    args, requirements = parser.parse_known_args(argv)
    if not is_virtual_environment(args.python):  # never into a system interpreter
        print(f"install: {args.python} is not a virtual environment's interpreter", file=sys.stderr)
        return 2
    pip = pip_command(args.python)
    settings = pip_settings(pip)
    uv = uv_executable(pip, args.python)
    if uv is not None:
        env = dict(os.environ)
        if settings.get("cert") and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = settings["cert"][0]
        # --compile-bytecode: pip writes .pyc files as it installs, uv does not. Without them every process
        # compiles what it imports (torch, Lightning, MLflow: seconds per pipeline stage and test
        # subprocess), and where PYTHONDONTWRITEBYTECODE is set it does so every time
        cmd = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", args.python, *uv_arguments(settings),
               *requirements, "pip"]
        if subprocess.run(cmd, env=env).returncode == 0:
            return 0
        print("install: uv failed; trying pip", file=sys.stderr)
    return subprocess.run([*pip, "install", "--quiet", *requirements]).returncode


if __name__ == "__main__":
    sys.exit(main())
