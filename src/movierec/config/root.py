"""Which project folder (the one holding ``conf/``, ``params.yaml``, ``dvc.yaml``) a command means.

Nothing here depends on where the code lives being a checkout, so the stages and the service run
from an installed wheel too; the project is then named by ``MOVIEREC_ROOT`` (or by DVC).

* :func:`find_project_root`: for commands about the project as a whole (the champion CLI, the
  tracking server): ``DVC_ROOT``, else ``MOVIEREC_ROOT``, else the checkout of an editable install.
* :func:`config_root`: for the stages and the service, which read ``conf/`` and ``params.yaml``.
  Under DVC that is the folder the stage runs in (a ``--temp``/queued experiment's copy, with its
  own ``params.yaml``, while ``DVC_ROOT`` names the parent repository), else ``MOVIEREC_ROOT``,
  else the checkout holding the calling code, else the checkout of an editable install.

Never the working directory outside DVC: a command run from another folder means the same project.
"""

from __future__ import annotations

import os
from pathlib import Path

DVC_ROOT_ENV = "DVC_ROOT"   # set by DVC for every stage command (the parent repo's root in experiments)
ROOT_ENV = "MOVIEREC_ROOT"  # the project folder, for code run from elsewhere (e.g. an installed wheel)


def is_project(folder: Path) -> bool:
    return (Path(folder) / "conf" / "config.yaml").is_file()


def _named(env: str) -> Path | None:
    """The folder `env` names (None when unset); a ValueError when it is not a project."""
    value = os.environ.get(env)
    if not value:
        return None
    root = Path(value).resolve()
    if not is_project(root):
        raise ValueError(f"{env}={value} is not the project's checkout (no conf/config.yaml)")
    return root


def installed_from() -> Path | None:
    """The checkout this package was installed from (editable: ``src/movierec`` two levels below it)."""
    candidate = Path(__file__).resolve().parents[3]
    return candidate if is_project(candidate) else None


def _not_found(where: Path) -> ValueError:
    return ValueError(f"cannot find the project (conf/config.yaml) from {where}: this is not a checkout "
                      f"(e.g. an installed wheel): set {ROOT_ENV} to the folder that holds conf/ and params.yaml")


def find_project_root() -> Path:
    """The project: ``DVC_ROOT`` (under DVC), else ``MOVIEREC_ROOT``, else the editable install's checkout."""
    for env in (DVC_ROOT_ENV, ROOT_ENV):
        named = _named(env)
        if named is not None:
            return named
    found = installed_from()
    if found is None:
        raise _not_found(Path(__file__).parent)
    return found


def config_root(code_root: Path | None = None) -> Path:
    """The project whose ``conf/`` and ``params.yaml`` a stage or the service reads (module docstring).

    `code_root`: the folder above the calling package (``pipeline/..``, ``serve/..``): the project
    when the code runs from a checkout; in an installed wheel it is site-packages, not a project.
    """
    cwd = Path.cwd()
    if os.environ.get(DVC_ROOT_ENV) and is_project(cwd):
        return cwd.resolve()
    named = _named(ROOT_ENV)
    if named is not None:
        return named
    for candidate in (code_root, installed_from()):
        if candidate is not None and is_project(candidate):
            return Path(candidate).resolve()
    raise _not_found(Path(code_root) if code_root is not None else Path(__file__).parent)
