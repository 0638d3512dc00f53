"""Why the embedding method trails the Bayesian FM on synthetic-1m: variants on VALIDATION data only.

Protocol: synthetic-1m's train split (built by benchmarks/embedding.py's stages under .tmp/benchmarks/);
a seeded 10% of it (seed 42) is the validation set, the other 90% trains each variant with the stacked
trainer for the configured epochs (`fit_stacked`, the default's settings replaced by the variant's);
RMSE of the served rating (mean of the heads plus the day bias at each rating's time) on the 10%.

    python benchmarks/synthetic_research.py --variants "name;name"

Appends rows to benchmarks/results/synthetic_research.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.embedding import processed_data  # noqa: E402
from benchmarks.rating_research import SEED, VALIDATION_FRACTION  # noqa: E402  (the slice accuracy.py tunes on)
from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.config import validate  # noqa: E402
from movierec.data.split import random_fraction_mask  # noqa: E402
from movierec.evaluation.protocol import known_user_cases, run_cases  # noqa: E402
from movierec.models.embedding.batches import Ratings  # noqa: E402
from movierec.models.embedding.hybrid import FoldIn, HybridRecommender  # noqa: E402
from movierec.models.embedding.stacked_fit import fit_stacked  # noqa: E402
from movierec.models.embedding.train_hybrid import training_days  # noqa: E402
from pipeline.memory import prepare_training_process  # noqa: E402
from pipeline.stage import compose_params, configure_logging  # noqa: E402

LARGE_BATCH = {"batch_size": 8192, "learning_rate": 0.017}  # what benchmarks/embedding.py ran on synthetic-1m
VARIANTS: dict[str, dict] = {
    "default, batch 8192, lr 0.017": LARGE_BATCH,
    "the same, dropout 0": {**LARGE_BATCH, "dropout": 0.0},
    "the same, dropout 0, l2 0.02": {**LARGE_BATCH, "dropout": 0.0, "l2": 0.02},
    "the same, 10 epochs, SWA from 4": {**LARGE_BATCH, "epochs": 10, "average_from": 4},
    "the same, dropout 0, no day biases": {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0},
    "the same, dropout 0, no day biases, no choice head": {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0,
                                                           "implicit_weight": 0.0},
    "the same, no day biases": {**LARGE_BATCH, "day_l2": 0.0},
    "the same, dropout 0, no day biases, l2 0.16": {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0, "l2": 0.16},
    "the same, day prior 10": {**LARGE_BATCH, "day_prior": 10.0},
    "the same, dropout 0, day prior 10": {**LARGE_BATCH, "dropout": 0.0, "day_prior": 10.0},
    "the same, dropout 0, no day biases, l2 0.04": {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0, "l2": 0.04},
    "the same, dropout 0, no day biases, dim 16": {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0, "embedding_dim": 16},
}
_PLAIN = {**LARGE_BATCH, "dropout": 0.0, "day_l2": 0.0}  # the best of the rounds above, then its neighbours
VARIANTS.update({
    "the same, dropout 0, no day biases, dim 8": {**_PLAIN, "embedding_dim": 8},
    "the same, dropout 0, no day biases, dim 32": {**_PLAIN, "embedding_dim": 32},
    "the same, dropout 0, no day biases, dim 16, 8 heads": {**_PLAIN, "embedding_dim": 16, "n_heads": 8},
    "the same, dropout 0, no day biases, dim 16, l2 0.04": {**_PLAIN, "embedding_dim": 16, "l2": 0.04},
    "the same, dropout 0, no day biases, dim 16, 8 epochs, SWA from 3": {**_PLAIN, "embedding_dim": 16, "epochs": 8,
                                                                          "average_from": 3},
    "the same, dropout 0, no day biases, dim 16, l2 0.02": {**_PLAIN, "embedding_dim": 16, "l2": 0.02},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3, implicit L2 0.1": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3, "implicit_l2": 0.1},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3, implicit L2 1": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3, "implicit_l2": 1.0},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 12 epochs, SWA from 4, lr 0.01": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 12, "average_from": 4, "learning_rate": 0.01},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3, batch 4096, lr 0.012": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3, "batch_size": 4096,
        "learning_rate": 0.012},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3, 8 heads": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3, "n_heads": 8},
    "the same, dropout 0, no day biases, dim 16, l2 0.04, 8 epochs, SWA from 3, 16 heads": {
        **_PLAIN, "embedding_dim": 16, "l2": 0.04, "epochs": 8, "average_from": 3, "n_heads": 16},
})
# frequency-aware L2 (model.l2_count_power): each rating's l2 scaled by count^-power of its user and movie
_SYNTH = {**_PLAIN, "embedding_dim": 16, "epochs": 8, "average_from": 3}  # model=synthetic but 4 heads, l2 free
for _power, _l2 in ((0.5, 0.04), (0.5, 0.08), (1.0, 0.04), (1.0, 0.08), (1.0, 0.16), (0.25, 0.04)):
    VARIANTS[f"the same, dropout 0, no day biases, dim 16, 8 epochs, SWA from 3, l2 {_l2:g} x count^-{_power:g}"] = {
        **_SYNTH, "l2": _l2, "l2_count_power": _power}

# the weight average over every n-th step of epochs 3..8 instead of their ends; the biases' L2 scaled
_NOW = {**_SYNTH, "l2": 0.04, "rating_stretch": 1.0}  # unstretched: stretches are scored with --stretches
for _heads, _every, _scale in ((4, 10, 1.0), (4, 1, 1.0), (4, 10, 0.25), (4, 10, 0.0), (4, 0, 0.25),
                               (16, 10, 0.25), (16, 10, 1.0)):
    _parts = [f"average every {_every} steps" if _every > 1 else "average every step"] if _every else []
    _parts += [f"bias L2 x {_scale:g}"] if _scale != 1 else []
    VARIANTS[f"model=synthetic with {_heads} heads, " + ", ".join(_parts)] = {
        **_NOW, "n_heads": _heads, "average_every": _every, "bias_l2_scale": _scale}

# with the rating stretch (scored with --stretches): more L2 and fewer dimensions, since the stretch undoes shrinkage
for _l2, _dim in ((0.06, 16), (0.08, 16), (0.04, 12), (0.06, 24), (0.06, 12), (0.04, 10), (0.03, 12)):
    for _heads in (4, 16):
        _name = f"model=synthetic with {_heads} heads, average every 10 steps, bias L2 x 0.25, l2 {_l2:g}, dim {_dim}"
        VARIANTS[_name] = {
            **_NOW, "n_heads": _heads, "average_every": 10, "bias_l2_scale": 0.25, "l2": _l2, "embedding_dim": _dim}

# more heads, more epochs (averaged over more of the trajectory) with the stretch
_SYNTH_NOW = {**_NOW, "average_every": 10, "bias_l2_scale": 0.25}  # model=synthetic at stop 31, unstretched
NAMES_NOTE = ("Rows named `model=synthetic with ...` start from that config as it was at stop 31 (16-dim embeddings, "
              "no rating link, no implicit bias terms, unstretched: `_SYNTH_NOW` in the script); "
              "`conf/model/synthetic.yaml` now holds the row "
              "\"model=synthetic with 16 heads, rating link, implicit bias L2 0.3, dim 12; rating stretch 1.03\".")
for _heads, _epochs in ((32, 8), (16, 12)):
    VARIANTS[f"model=synthetic with {_heads} heads, {_epochs} epochs"] = {
        **_SYNTH_NOW, "n_heads": _heads, "epochs": _epochs}

# a lower learning rate over more epochs, at 4 heads: the averaging sees a slower trajectory
for _lr, _epochs, _from in ((0.01, 12, 4), (0.007, 16, 5)):
    VARIANTS[f"model=synthetic with 4 heads, lr {_lr:g}, {_epochs} epochs, average from {_from}"] = {
        **_SYNTH_NOW, "n_heads": 4, "learning_rate": _lr, "epochs": _epochs, "average_from": _from}

# without the implicit sums (SVD++ terms), and without the choice head, at 4 heads
VARIANTS["model=synthetic with 4 heads, no implicit terms"] = {**_SYNTH_NOW, "n_heads": 4, "implicit_l2": 0.0}
VARIANTS["model=synthetic with 4 heads, no choice head"] = {**_SYNTH_NOW, "n_heads": 4, "implicit_weight": 0.0}

# both help (above): more weight on the choice head
for _weight in (0.05, 0.2, 0.4):
    VARIANTS[f"model=synthetic with 4 heads, choice weight {_weight:g}"] = {
        **_SYNTH_NOW, "n_heads": 4, "implicit_weight": _weight}

VARIANTS["model=synthetic with 4 heads, 256 choice users per step"] = {
    **_SYNTH_NOW, "n_heads": 4, "implicit_users": 256}

# the Bayesian FM's linear weights on the implicit features (implicit bias terms), and the clipped-normal
# rating link (models/embedding/link.py; synthetic ratings are clipped at 5 stars), alone and together
for _heads, _link, _ib in ((4, True, 0.0), (4, False, 0.3), (4, True, 0.1), (4, True, 0.3), (4, True, 1.0),
                            (16, True, 0.3)):
    _parts = (["rating link"] if _link else []) + ([f"implicit bias L2 {_ib:g}"] if _ib else [])
    VARIANTS[f"model=synthetic with {_heads} heads, " + ", ".join(_parts)] = {
        **_SYNTH_NOW, "n_heads": _heads, "rating_link": _link, "implicit_bias_l2": _ib}

# their neighbours, both on (at 4 heads)
_LINKED = {**_SYNTH_NOW, "n_heads": 4, "rating_link": True, "implicit_bias_l2": 0.3}
for _label, _change in (("l2 0.03", {"l2": 0.03}), ("l2 0.05", {"l2": 0.05}), ("dim 12", {"embedding_dim": 12}),
                        ("dim 20", {"embedding_dim": 20}),
                        ("10 epochs, average from 4", {"epochs": 10, "average_from": 4}),
                        ("implicit L2 0.1", {"implicit_l2": 0.1}), ("choice weight 0.05", {"implicit_weight": 0.05})):
    VARIANTS[f"model=synthetic with 4 heads, rating link, implicit bias L2 0.3, {_label}"] = {**_LINKED, **_change}

# fewer dimensions (the truth's rank is 8) with both on
for _dim, _l2 in ((8, 0.04), (10, 0.04), (12, 0.03), (12, 0.05)):
    VARIANTS[f"model=synthetic with 4 heads, rating link, implicit bias L2 0.3, dim {_dim}, l2 {_l2:g}"] = {
        **_LINKED, "embedding_dim": _dim, "l2": _l2}

for _dim in (10, 12):
    VARIANTS[f"model=synthetic with 16 heads, rating link, implicit bias L2 0.3, dim {_dim}"] = {
        **_LINKED, "n_heads": 16, "embedding_dim": _dim}


def validation_split(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the fit part, the validation slice) of `train`: the seeded 10% every variant is scored on
    (benchmarks/bayesian_fm_data.py --validation scores the Bayesian FM on the same slice)."""
    is_val = random_fraction_mask(len(train), VALIDATION_FRACTION, SEED)
    return train[~is_val], train[is_val]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", required=True, help="';'-separated variant names")
    parser.add_argument("--stretches", default="", help="','-separated rating stretches (model.rating_stretch) to "
                        "score too (the trained heads are reused)")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(";")]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {sorted(unknown)}; known: {sorted(VARIANTS)}")
    overrides = ["data=synthetic-1m"]
    cfg = validate(compose_params(overrides))
    prepare_training_process(cfg.trainer)
    configure_logging()
    data = processed_data(cfg, overrides)
    fit_part, val_part = validation_split(data.train)
    cases = list(known_user_cases(fit_part, val_part))
    out = REPO_ROOT / "benchmarks" / "results" / "synthetic_research"
    saved = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {"rows": []}
    for name in names:
        model_cfg = replace(cfg.model, **VARIANTS[name])
        days = training_days(fit_part, model_cfg)
        train_r, val_r = Ratings.from_frame(fit_part, days), Ratings.from_frame(val_part, days)
        seeds = [cfg.seed + i * model_cfg.head_seed_offset for i in range(model_cfg.n_heads)]
        started = time.perf_counter()
        heads, record, day_bias = fit_stacked(train_r, val_r, None, data.n_users,
                                              data.n_movies, model_cfg, cfg.trainer, seeds, model_cfg.epochs,
                                              average_from=model_cfg.average_from, user_days=days)
        seconds = time.perf_counter() - started
        model = HybridRecommender(heads, None, day_bias=day_bias, fold_in=FoldIn.from_config(model_cfg),
                                  rating_stretch=model_cfg.rating_stretch)
        actual = np.concatenate([c.heldout_rating for c in cases])
        curve = [round(r["val_loss"] ** 0.5, 4) for r in record.history]
        stretches = [float(x) for x in args.stretches.split(",") if x.strip()]
        for label, stretch in [(name, model_cfg.rating_stretch)] + [(f"{name}; rating stretch {x:g}", x)
                                                                     for x in stretches]:
            predicted = np.concatenate(run_cases(model.with_rating_stretch(stretch), cases, 1).predicted)
            error = np.clip(predicted, 0.5, 5.0) - actual
            row = {"variant": label, "val_rmse": float(np.sqrt(np.mean(error ** 2))), "per_epoch_val_rmse": curve,
                   "fit_seconds": round(seconds, 1), "model": {**VARIANTS[name], "rating_stretch": stretch}}
            print(json.dumps(row), flush=True)
            saved["rows"] = [r for r in saved["rows"] if r["variant"] != label] + [row]
    lines = ["# synthetic-1m: embedding variants on validation (why the Bayesian FM is ahead there)", "",
             "Protocol: benchmarks/synthetic_research.py (docstring). One seed per row.", "", NAMES_NOTE, "",
             "| variant | val RMSE | val RMSE per epoch (each epoch's own weights) | fit s |", "|---|---:|---|---:|"]
    lines += [f"| {r['variant']} | {r['val_rmse']:.4f} | {r['per_epoch_val_rmse']} | {r['fit_seconds']:.0f} |"
              for r in saved["rows"]]
    atomic_write_json(out.with_suffix(".json"), saved)
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
