"""How every stage gets its config: Hydra composes `conf/`, the schema validates it.

Under DVC the stage runs with no overrides and reads `params.yaml` - the values DVC tracks,
which `dvc exp run -S key=value` rewrites through its own Hydra composition. Run by hand
with overrides (`python -m pipeline.train model.embedding_dim=64`, or `-m` for a sweep),
the stage composes `conf/` plus those overrides instead.

Plain `dvc repro` does not compose: a `params.yaml` that differs from `conf/` (conf/ edited and
`make params` not run, or an experiment `dvc exp run -S` applied to the workspace) stops the stage
with the differing keys and the commands that fix it (`make params`; `make keep-exp` / `make drop-exp`).
Under `dvc exp run` (DVC sets ``DVC_EXP_NAME``) `params.yaml` is conf/ plus the experiment's
`-S` overrides, legitimately different from conf/, so it is not compared.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from movierec.config import Config, ConfigError, compose, to_flat_dict, validate
from movierec.config.root import config_root

try:  # the checkout holding pipeline/; under DVC the folder it runs in; from a wheel $MOVIEREC_ROOT
    REPO_ROOT = config_root(Path(__file__).resolve().parent.parent)
except ValueError as exc:
    sys.exit(f"movierec: {exc}")
CONF_DIR = REPO_ROOT / "conf"
PARAMS_FILE = REPO_ROOT / "params.yaml"

log = logging.getLogger("movierec")


def compose_params(overrides: list[str] | None = None) -> dict:
    """The composed, resolved `conf/` as a plain dict: exactly what `params.yaml` holds."""
    return compose(CONF_DIR, overrides)


def conf_defaults() -> dict:
    """`conf/` composed without overrides (also inside a running Hydra app, e.g. a stage's main)."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return OmegaConf.to_container(hydra.compose(config_name="config"), resolve=True)  # type: ignore[return-value]
    return compose_params()


def changed_params(cfg: Config) -> dict[str, object]:
    """Dotted keys whose values in `cfg` differ from `conf/`'s (what `-S` or a command-line override changed)."""
    ours, defaults = to_flat_dict(cfg), to_flat_dict(validate(conf_defaults()))
    return {key: value for key, value in ours.items() if key not in defaults or defaults[key] != value}


EXPERIMENT_ENV = "DVC_EXP_NAME"  # set by `dvc exp run` for every stage command it runs


class StaleParams(ValueError):
    """`params.yaml` is not the composition of `conf/`."""


def differing_keys(left: object, right: object, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings (a key only one side has counts)."""
    if isinstance(left, dict) and isinstance(right, dict):
        keys = list(left) + [k for k in right if k not in left]
        return [key for k in keys
                for key in differing_keys(left.get(k), right.get(k), f"{prefix}.{k}" if prefix else str(k))]
    return [] if left == right else [prefix or "<root>"]


def check_params_current(params: dict, composed: dict, params_file: Path = PARAMS_FILE) -> None:
    """Raise :class:`StaleParams` naming the differing keys and `make params` when they differ."""
    keys = differing_keys(params, composed)
    if keys:
        shown = ", ".join(keys[:10]) + (f" (+{len(keys) - 10} more)" if len(keys) > 10 else "")
        raise StaleParams(f"{params_file.name} differs from conf/ at {shown}: an experiment applied by "
                          "`dvc exp run -S`? keep it (`make keep-exp` writes its values into conf/) or drop it "
                          "(`make drop-exp` restores the committed params and outputs); conf/ edited by hand? "
                          "run `make params`")


def select_config(composed: DictConfig | None, overrides: list[str], params_file: Path = PARAMS_FILE) -> Config:
    """`params.yaml` when there are no overrides (DVC's run), else the composition.

    Outside `dvc exp run`, `params.yaml` must equal the composition of `conf/` (:class:`StaleParams`).
    """
    if not overrides and params_file.exists():
        with params_file.open() as fh:
            params = yaml.safe_load(fh)
        if not isinstance(params, dict):
            raise ConfigError(f"{params_file} does not hold a mapping; regenerate it with `make params`")
        try:
            cfg = validate(params)
        except ConfigError as exc:  # e.g. `dvc exp run -S model.embedding_dim=ten` wrote it
            raise ConfigError(f"{params_file.name}: {exc}") from None
        if not os.environ.get(EXPERIMENT_ENV):
            fresh = (OmegaConf.to_container(composed, resolve=True) if composed is not None
                     else compose_params())
            check_params_current(params, fresh, params_file)  # type: ignore[arg-type]
        return cfg
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


def objective(result: object) -> float | None:
    """The number a sweeper minimises: `result["objective"]` when the task returned one, else None."""
    if isinstance(result, dict) and result.get("objective") is not None:
        return float(result["objective"])
    return None


def stage(task: Callable[[Config], object],
          expected: tuple[type[Exception], ...] = ()) -> Callable[[], float | None]:
    """Wrap a stage function `task(cfg)` as a Hydra command-line entry point.

    An `expected` error (bad input the stage explains itself, e.g. a failed checksum) ends the
    process with its one-line message and exit status 1, not a traceback. The entry point returns
    the task's objective (:func:`objective`), so that a Hydra sweeper which optimises
    (``hydra/sweeper=optuna``) gets each job's value; stages without one return None.
    """

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
    def main(composed: DictConfig) -> float | None:
        overrides = list(HydraConfig.get().overrides.task)
        try:
            cfg = select_config(composed, overrides)
        except (StaleParams, ConfigError) as exc:  # one line, no traceback: the key, the value, the fix
            sys.exit(f"{_stage_name(task)}: {exc}")
        configure_logging()
        try:
            return objective(task(cfg))
        except expected as exc:
            sys.exit(f"{_stage_name(task)} failed: {exc}")

    def entry() -> float | None:
        check_overrides(_stage_name(task), sys.argv[1:])
        return main()

    return entry


def check_overrides(name: str, args: list[str]) -> None:
    """Compose conf/ with plain command-line overrides first: a bad one (unknown key or option, bad
    syntax) ends the process with Hydra's message on one line instead of Hydra's report. Hydra's own
    flags (-m, --cfg, ...) and `hydra.*` overrides are left to Hydra."""
    if not args or any(arg.startswith("-") for arg in args):
        return
    plain = [arg for arg in args if not arg.lstrip("+~").startswith(("hydra.", "hydra/"))]
    try:
        compose_params(plain)
    except ConfigError as exc:
        sys.exit(f"{name}: {exc}")
