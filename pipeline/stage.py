"""How every stage gets its config: Hydra composes `conf/`, the schema validates it.

Under DVC the stage runs with no overrides and reads `params.yaml` - the values DVC tracks,
which `dvc exp run -S key=value` rewrites through its own Hydra composition. Run by hand
with overrides (`python -m pipeline.train model.embedding_dim=64`, or `-m` for a sweep),
the stage composes `conf/` plus those overrides instead.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from movierec.config import Config, compose, validate

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
PARAMS_FILE = REPO_ROOT / "params.yaml"

log = logging.getLogger("movierec")


def compose_params(overrides: list[str] | None = None) -> dict:
    """The composed, resolved `conf/` as a plain dict: exactly what `params.yaml` holds."""
    return compose(CONF_DIR, overrides)


def select_config(composed: DictConfig, overrides: list[str], params_file: Path = PARAMS_FILE) -> Config:
    """`params.yaml` when there are no overrides (DVC's run), else the composition."""
    if not overrides and params_file.exists():
        with params_file.open() as fh:
            params = yaml.safe_load(fh)
        if not isinstance(params, dict):
            raise ValueError(f"{params_file} does not hold a mapping; regenerate it with `make params`")
        return validate(params)
    return validate(OmegaConf.to_container(composed, resolve=True))  # type: ignore[arg-type]


def configure_logging() -> None:
    """One log format for every stage; Lightning's start-up banners and loader hints say nothing
    useful for a small model trained in-process, so they are quieted here, in the entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.accelerators.cuda").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


def _stage_name(task: Callable) -> str:
    """`download` for pipeline/download.py, also when it runs as `python -m pipeline.download`."""
    module = sys.modules.get(task.__module__)
    return Path(getattr(module, "__file__", None) or task.__module__).stem.rsplit(".", 1)[-1]


def stage(task: Callable[[Config], object], expected: tuple[type[Exception], ...] = ()) -> Callable[[], None]:
    """Wrap a stage function `task(cfg)` as a Hydra command-line entry point.

    An `expected` error (bad input the stage explains itself, e.g. a failed checksum) ends the
    process with its one-line message and exit status 1, not a traceback.
    """

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
    def main(composed: DictConfig) -> None:
        overrides = list(HydraConfig.get().overrides.task)
        cfg = select_config(composed, overrides)
        configure_logging()
        try:
            task(cfg)
        except expected as exc:
            sys.exit(f"{_stage_name(task)} failed: {exc}")

    return main
