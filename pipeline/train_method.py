"""Stage `train@<method>`: train one configured method on train and save it to models/methods/<method>/.

`python -m pipeline.train_method <method> [overrides]`. dvc.yaml runs it once per entry of
`methods` (conf/config.yaml), so a new method needs no stage of its own. The embedding method keeps
its own entry point, :mod:`pipeline.train` (per-epoch MLflow logging, the loss curve, run.json with
the epoch counts the new-user protocol reuses, Hydra sweeps); every other method is trained here
from its config section through the method contract (movierec.methods).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

from movierec.atomic import atomic_dir
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.methods import TrainingData, UnknownMethod, fit_method, trained_dir
from pipeline.stage import stage

log = logging.getLogger(__name__)

OWN_ENTRY_POINT = {"embedding": "pipeline.train"}  # methods whose training logs to MLflow as it goes
USAGE = "usage: python -m pipeline.train_method <method> [hydra overrides]"


def train(cfg: Config, name: str) -> Path:
    if name not in cfg.methods:  # not configured_methods(cfg): that imports every method (torch for one)
        raise UnknownMethod(f"method {name!r} is not in `methods` ({list(cfg.methods)})")
    data = load_processed(cfg.paths.processed)
    method = fit_method(name, TrainingData(data.train, data.n_users, data.n_movies), cfg)
    target = trained_dir(cfg.paths.models, name)
    with atomic_dir(target) as tmp:
        method.save(tmp)
    log.info("train %s: %d users x %d movies, %d ratings -> %s", name, data.n_users, data.n_movies,
             len(data.train), target)
    return target


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1].startswith("-") or "=" in argv[1]:
        sys.exit(USAGE)
    name = argv.pop(1)
    if name in OWN_ENTRY_POINT:
        importlib.import_module(OWN_ENTRY_POINT[name]).main()
        return
    stage(lambda cfg: train(cfg, name), expected=(ValueError,))()


if __name__ == "__main__":
    main()
