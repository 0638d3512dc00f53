"""Stacked heads with implicit terms (issue 24, item 2) on VALIDATION data only.

Same protocol as benchmarks/rating_research.py: ``data/processed/train.parquet`` only; a seeded
10% of it (seed 42) is the validation set, the other 90% trains. Each variant trains all its
heads at once (:func:`movierec.models.embedding.stacked_fit.fit_stacked`) for its ``epochs``
(weights averaged from ``average_from``), logging the validation RMSE of each epoch's own weights;
the final weights are scored (RMSE/MAE of the mean of the heads, NDCG@10/P@10/coverage@10 of the
served blend with the item-item model fitted on the same 90%). Epoch counts and averaging windows
were read off these validation curves.

    python benchmarks/stacked_research.py --variants "name;name"

Appends rows to benchmarks/results/rating_research.{json,md} (a variant run again replaces its row).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.rating_research import KEYS, SEED, VALIDATION_FRACTION, markdown  # noqa: E402
from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.config import validate  # noqa: E402
from movierec.data.dataset import load_processed  # noqa: E402
from movierec.data.split import random_fraction_mask  # noqa: E402
from movierec.evaluation.protocol import evaluate, known_user_cases  # noqa: E402
from movierec.models.embedding.batches import Ratings  # noqa: E402
from movierec.models.embedding.hybrid import Blend, FoldIn, HybridRecommender  # noqa: E402
from movierec.models.embedding.stacked_fit import fit_stacked  # noqa: E402
from movierec.models.embedding.train_hybrid import fit_item_item, training_days  # noqa: E402
from pipeline.memory import prepare_training_process  # noqa: E402
from pipeline.stage import compose_params, configure_logging  # noqa: E402

# name -> ModelConfig fields replaced (n_heads, implicit_l2, epochs, average_from, ...)
IMPLICIT = {"implicit_l2": 0.3}
VARIANTS: dict[str, dict] = {
    "stacked: implicit L2 0.3, 2 heads, 4 epochs": {**IMPLICIT, "n_heads": 2, "epochs": 4},
    "stacked: implicit L2 0.3, 16 heads, 3 epochs": {**IMPLICIT, "n_heads": 16, "epochs": 3},
    "stacked: implicit L2 0.3, 4 heads, 5 epochs, SWA from 2": {**IMPLICIT, "n_heads": 4, "epochs": 5,
                                                                 "average_from": 2},
    "stacked: implicit L2 0.3, 8 heads, 5 epochs, SWA from 2": {**IMPLICIT, "n_heads": 8, "epochs": 5,
                                                                 "average_from": 2},
    "stacked: implicit L2 0.3, 16 heads, 5 epochs, SWA from 2": {**IMPLICIT, "n_heads": 16, "epochs": 5,
                                                                  "average_from": 2},
}
for _heads in (4, 16):
    for _l2 in (0.03, 0.1, 0.3, 1.0):
        VARIANTS[f"stacked: implicit L2 0.3, {_heads} heads, 5 epochs, SWA from 2, day bias L2 {_l2:g}"] = {
            **IMPLICIT, "n_heads": _heads, "epochs": 5, "average_from": 2, "day_l2": _l2}
# the default with larger batches (fewer steps: each step's sums over every rating cost the same at any batch)
_DEFAULT = {**IMPLICIT, "n_heads": 4, "epochs": 5, "average_from": 2, "day_l2": 0.1}
for _batch, _lr, _users in ((2048, 0.006, 64), (2048, 0.0085, 64), (2048, 0.012, 64), (2048, 0.0085, 128),
                            (4096, 0.012, 128), (4096, 0.017, 256)):
    VARIANTS[f"default, batch {_batch}, lr {_lr:g}, choice users {_users}"] = {
        **_DEFAULT, "batch_size": _batch, "learning_rate": _lr, "implicit_users": _users}
# a prior per (user, day) pair on top of the per-rating L2 (a day's bias grows only with its ratings' evidence)
for _l2, _prior in ((0.1, 2.0), (0.1, 5.0), (0.1, 10.0), (0.1, 20.0), (0.03, 5.0), (0.03, 10.0)):
    VARIANTS[f"default, day bias L2 {_l2:g} + prior {_prior:g} per day"] = {
        **_DEFAULT, "day_l2": _l2, "day_prior": _prior}
# the cold-repro budget (issue 24, item 3): fewer, larger steps or fewer heads, with the day prior
_PRIOR = {**_DEFAULT, "day_prior": 10.0}
for _batch, _lr, _users in ((2048, 0.0085, 64), (2048, 0.0085, 128), (2048, 0.012, 128), (2048, 0.012, 256),
                            (3072, 0.012, 192)):
    VARIANTS[f"default with prior 10, batch {_batch}, lr {_lr:g}, choice users {_users}"] = {
        **_PRIOR, "batch_size": _batch, "learning_rate": _lr, "implicit_users": _users}
VARIANTS["default with prior 10, 3 heads"] = {**_PRIOR, "n_heads": 3}
VARIANTS["default with prior 10, 4 epochs, SWA from 2"] = {**_PRIOR, "epochs": 4}
for _epochs, _lr in ((4, 0.008), (3, 0.006), (3, 0.008), (3, 0.01)):
    VARIANTS[f"default with prior 10, {_epochs} epochs, SWA from 2, lr {_lr:g}"] = {
        **_PRIOR, "epochs": _epochs, "learning_rate": _lr}
VARIANTS["default with prior 10, 4 epochs, SWA from 2, batch 2048, lr 0.0085"] = {
    **_PRIOR, "epochs": 4, "batch_size": 2048, "learning_rate": 0.0085}
for _epochs, _dim in ((4, 32), (4, 48), (5, 32), (3, 32)):
    VARIANTS[f"default with prior 10, {_epochs} epochs, SWA from 2, dim {_dim}"] = {
        **_PRIOR, "epochs": _epochs, "embedding_dim": _dim}
# frequency-aware L2 (model.l2_count_power) on the default now (4 epochs, dim 48)
for _power, _l2 in ((0.25, 0.08), (0.5, 0.08), (0.5, 0.04), (1.0, 0.04)):
    VARIANTS[f"default now, l2 {_l2:g} x count^-{_power:g}"] = {
        **_PRIOR, "epochs": 4, "embedding_dim": 48, "l2": _l2, "l2_count_power": _power}

# the weight average over every n-th step of epochs 2..4 instead of their ends; the biases' L2 scaled
_NOW = {**_PRIOR, "epochs": 4, "embedding_dim": 48}
for _every, _scale in ((1, 1.0), (10, 1.0), (0, 0.25), (0, 0.0), (10, 0.25)):
    _parts = [f"average every {_every} steps" if _every > 1 else "average every step"] if _every else []
    _parts += [f"bias L2 x {_scale:g}"] if _scale != 1 else []
    VARIANTS["default now, " + ", ".join(_parts)] = {**_NOW, "average_every": _every, "bias_l2_scale": _scale}

# the clipped-normal rating link and the implicit bias terms (chosen on synthetic-1m; here on MovieLens)
for _link, _ib in ((True, 0.0), (False, 0.3), (True, 0.3)):
    _parts = (["rating link"] if _link else []) + ([f"implicit bias L2 {_ib:g}"] if _ib else [])
    VARIANTS["default now, " + ", ".join(_parts)] = {**_NOW, "rating_link": _link, "implicit_bias_l2": _ib}


def run(name: str, cfg, fit_part, val_part, cases, n_users: int, n_movies: int,
        blends: list[Blend] | None = None, stretches: list[float] | None = None) -> list[dict]:
    fields = VARIANTS[name]
    model_cfg = replace(cfg.model, **fields)
    seeds = [cfg.seed + i * model_cfg.head_seed_offset for i in range(model_cfg.n_heads)]
    wall, cpu = time.perf_counter(), time.process_time()
    user_days = training_days(fit_part, model_cfg)
    train_r, val_r = Ratings.from_frame(fit_part, user_days), Ratings.from_frame(val_part, user_days)
    heads, record, day_bias = fit_stacked(train_r, val_r, None, n_users, n_movies, model_cfg, cfg.trainer, seeds,
                                          model_cfg.epochs, average_from=model_cfg.average_from, user_days=user_days)
    item_item = fit_item_item(fit_part, n_users, n_movies, model_cfg)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    curve = [round(row["val_loss"] ** 0.5, 4) for row in record.history]
    rows = []
    default = HybridRecommender(heads, item_item, Blend.from_config(model_cfg), day_bias, FoldIn.from_config(model_cfg),
                                model_cfg.rating_stretch)
    for blend in [default.blend] + (blends or []):
        model = HybridRecommender(heads, item_item, blend, day_bias, default.fold_in, default.rating_stretch)
        metrics = evaluate(model, cases, cfg.evaluate.k, cfg.evaluate.relevance_threshold)
        label = name if not rows else f"{name}; blend ii {blend.item_item:g}, c {blend.choice:g}, r {blend.rating:g}"
        rows.append(row(label, metrics, model_cfg, fields, cpu, wall, curve))
    for stretch in stretches or []:  # the same heads, the served rating stretched (the ranking is unchanged)
        metrics = evaluate(default.with_rating_stretch(stretch), cases, cfg.evaluate.k,
                           cfg.evaluate.relevance_threshold)
        rows.append(row(f"{name}; rating stretch {stretch:g}", metrics, model_cfg,
                        {**fields, "rating_stretch": stretch}, cpu, wall, curve))
    return rows


def row(name: str, metrics: dict, model_cfg, fields: dict, cpu: float, wall: float, curve: list[float]) -> dict:
    return {"variant": name, **{k: float(metrics[k]) for k in KEYS},
            "epochs": [model_cfg.epochs], "fit_cpu_seconds": round(cpu, 1), "fit_wall_seconds": round(wall, 1),
            "model": fields, "trainer": {},
            "research": f"stacked heads; val RMSE of each epoch's own weights {curve}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", required=True, help="';'-separated variant names")
    parser.add_argument("--blends", default="", help="';'-separated ITEM_ITEM,CHOICE,RATING ranking blends to "
                        "score too (the trained heads are reused)")
    parser.add_argument("--stretches", default="", help="','-separated rating stretches (model.rating_stretch) to "
                        "score too with the default blend (the trained heads are reused)")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(";")]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {sorted(unknown)}; known: {sorted(VARIANTS)}")
    cfg = validate(compose_params())
    prepare_training_process(cfg.trainer)
    configure_logging()
    data = load_processed(REPO_ROOT / cfg.paths.processed)
    is_val = random_fraction_mask(len(data.train), VALIDATION_FRACTION, SEED)
    fit_part, val_part = data.train[~is_val], data.train[is_val]
    cases = list(known_user_cases(fit_part, val_part))
    out = REPO_ROOT / "benchmarks" / "results"
    saved = json.loads((out / "rating_research.json").read_text())
    blends = [Blend(*(float(x) for x in b.split(","))) for b in args.blends.split(";") if b.strip()]
    stretches = [float(x) for x in args.stretches.split(",") if x.strip()]
    rows = [row for name in names for row in run(name, cfg, fit_part, val_part, cases, data.n_users,
                                                   data.n_movies, blends, stretches)]
    for row in rows:
        print(f"{row['variant']}: val RMSE {row['rmse']:.4f} MAE {row['mae']:.4f} NDCG@10 {row['ndcg@10']:.4f} "
              f"P@10 {row['precision@10']:.4f} cov {row['coverage@10']:.4f} epochs {row['epochs']} "
              f"({row['fit_cpu_seconds']:.0f} CPU s) {row['research']}", flush=True)
        saved["rows"] = [r for r in saved["rows"] if r["variant"] != row["variant"]] + [row]
    atomic_write_json(out / "rating_research.json", saved)
    atomic_write_text(out / "rating_research.md", markdown(saved["rows"], saved["protocol"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
