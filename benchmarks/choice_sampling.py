"""The choice head at 25M ratings: exact softmax vs sampled negatives, speed against ranking quality.

Trains the embedding model on the synthetic 25M set of `benchmarks/scale.py` (run that first: it
generates the data under `.tmp/scale/25m/`) with the large-data settings and each variant below,
`--epochs` epochs, no refit; scores RMSE and top-10 metrics on a seeded sample of test users.
These settings are chosen on synthetic test users: a benchmark setting for large data, never a
choice behind the reported ml-latest-small figures.

    python benchmarks/choice_sampling.py [--epochs 6] [--users 2000] [--only 3,7]

Writes benchmarks/results/choice_sampling.{json,md}. About 2-3 minutes per variant on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # benchmarks/scale.py: the 25M config and work folder

from pipeline.memory import prepare_training_process  # noqa: E402

RESULTS = scale.RESULTS
BASE = [o for o in scale.TRAIN_OVERRIDES if not o.startswith(("model.implicit_users=", "model.choice_negatives="))]
POWER = "sampling_power="
VARIANTS = [
    ("none (implicit_weight=0)", ["model.implicit_weight=0"]),
    ("exact, 64 users a step", ["model.implicit_users=64", "model.choice_negatives=0"]),
    ("exact, 256 users a step", ["model.implicit_users=256", "model.choice_negatives=0"]),
    ("sampled, 1,024 users x 512 negatives", ["model.implicit_users=1024", "model.choice_negatives=512"]),
    ("sampled, 2,048 users x 1,024 negatives", ["model.implicit_users=2048", "model.choice_negatives=1024"]),
    ("sampled, 1,024 users x 2,048 negatives", ["model.implicit_users=1024", "model.choice_negatives=2048"]),
    ("sampled, 1,024 users x 4,096 negatives", ["model.implicit_users=1024", "model.choice_negatives=4096"]),
    ("sampled, 512 users x 4,096 negatives", ["model.implicit_users=512", "model.choice_negatives=4096"]),
    ("sampled, 512 users x 8,192 negatives", ["model.implicit_users=512", "model.choice_negatives=8192"]),
    # Draw probabilities (a benchmark-only knob, not a config key): q ∝ (count + 1)^power.
    ("sampled, 1,024 users x 512 negatives, uniform draws",
     ["model.implicit_users=1024", "model.choice_negatives=512", f"{POWER}0"]),
    ("sampled, 1,024 users x 512 negatives, draws ∝ count",
     ["model.implicit_users=1024", "model.choice_negatives=512", f"{POWER}1"]),
    ("sampled, 512 users x 4,096 negatives, uniform draws",
     ["model.implicit_users=512", "model.choice_negatives=4096", f"{POWER}0"]),
]


def run_variant(overrides: list[str], epochs: int, n_users: int) -> dict:
    import torch

    from movierec.data.dataset import load_processed
    from movierec.data.split import random_fraction_mask
    from movierec.evaluation.protocol import evaluate
    from movierec.models.embedding.batches import ChoiceTargets
    from movierec.models.embedding.fit import train_embedding

    for o in overrides:
        if o.startswith(POWER):
            ChoiceTargets.SAMPLING_POWER = float(o[len(POWER):])
    hydra = [o for o in overrides if not o.startswith(POWER)]
    cfg = scale.config("25m", [*BASE, *hydra, f"trainer.max_epochs={epochs}", "trainer.patience=100"])
    prepare_training_process(cfg.trainer)
    data = load_processed(cfg.paths.processed)
    cases = scale.quality_cases(data, n_users, cfg.seed)
    started = time.perf_counter()
    result = train_embedding(data.train, None, data.n_users, data.n_movies, cfg.model, cfg.trainer, cfg.seed)
    fit_s = time.perf_counter() - started
    n_train = int((~random_fraction_mask(len(data.train), cfg.trainer.val_fraction, cfg.seed)).sum())
    torch.set_num_threads(cfg.trainer.num_threads)
    metrics = evaluate(result.model, cases, k=10, relevance_threshold=cfg.evaluate.relevance_threshold)
    return {"overrides": overrides, "epochs": len(result.history), "fit_s": round(fit_s, 1),
            "epoch_s": round(result.median_epoch_seconds, 2),
            "ratings_per_s": n_train / result.median_epoch_seconds,
            "val_rmse": [round(float(np.sqrt(h["val_loss"])), 4) for h in result.history],
            "users": len(cases), "load_avg_before": os.getloadavg()[0],
            **{k: round(float(metrics[k]), 4) for k in ("rmse", "ndcg@10", "precision@10", "coverage@10")}}


def table(rows: dict) -> str:
    lines = ["| choice head | ratings/s | RMSE | NDCG@10 | P@10 | coverage@10 |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['ratings_per_s'] / 1e6:.2f} M | {r['rmse']:.3f} | {r['ndcg@10']:.3f} "
                     f"| {r['precision@10']:.3f} | {r['coverage@10']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--users", type=int, default=2000, help="test users sampled for the top-10 metrics")
    parser.add_argument("--only", help="comma-separated variant numbers (0-based) to run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (scale.WORK / "25m" / "processed" / "train.parquet").is_file():
        raise SystemExit("no 25M data: run `python benchmarks/scale.py --sizes 25m` first")
    if args.child is not None:  # one variant per process: its own RNG, threads and memory
        name, overrides = VARIANTS[args.child]
        print(json.dumps(run_variant(overrides, args.epochs, args.users)))
        return
    import subprocess

    path = RESULTS / "choice_sampling.json"
    saved = json.loads(path.read_text())["variants"] if path.exists() else {}
    chosen = range(len(VARIANTS)) if not args.only else [int(i) for i in args.only.split(",")]
    for i in chosen:
        name = VARIANTS[i][0]
        out = subprocess.run([sys.executable, __file__, "--child", str(i), "--epochs", str(args.epochs),
                              "--users", str(args.users)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        saved[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:42s} {saved[name]['ratings_per_s'] / 1e6:5.2f} M/s  RMSE {saved[name]['rmse']:.4f}  "
              f"NDCG@10 {saved[name]['ndcg@10']:.4f}", flush=True)
        ordered = {n: saved[n] for n, _ in VARIANTS if n in saved}
        path.write_text(json.dumps({"base": BASE, "variants": ordered}, indent=2) + "\n")
        (RESULTS / "choice_sampling.md").write_text(table(ordered))
    print(table({n: saved[n] for n, _ in VARIANTS if n in saved}))


if __name__ == "__main__":
    main()
