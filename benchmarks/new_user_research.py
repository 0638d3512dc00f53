"""The new-user fold-in's ridge (``model.fold_in_scale``, ``model.fold_in_bias_scale``) on VALIDATION new users.

Protocol: ``data/processed/train.parquet`` only (the test split is never read). The new-user protocol
of the `new_user` stage (:func:`movierec.evaluation.protocol.new_user_split`: 10% of users held out,
each revealing 10 seeded random ratings) is drawn from train with seeds 7, 8, 9 (three draws: one has
~60 users, too few to choose on); per draw the embedding method (conf/, `train_hybrid`) trains on the
other users once and the fold-in is scored for each pair of scales (vector, bias; the fold-in is
closed form, so a pair costs no training). Mean over the draws; RMSE/MAE of the mean of the heads,
NDCG@10/P@10 of the blend.

    python benchmarks/new_user_research.py [--vector 1,2] [--bias 1,4] [hydra overrides ...]

Writes benchmarks/results/new_user_research.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from movierec.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from movierec.config import validate  # noqa: E402
from movierec.data.dataset import load_processed  # noqa: E402
from movierec.evaluation.protocol import evaluate, new_user_split  # noqa: E402
from movierec.models.embedding.hybrid import FoldIn  # noqa: E402
from pipeline.memory import prepare_training_process  # noqa: E402
from pipeline.stage import compose_params, configure_logging  # noqa: E402

DRAWS = (7, 8, 9)
KEYS = ("rmse", "mae", "ndcg@10", "precision@10")


def main(argv: list[str] | None = None) -> int:
    from movierec.models.embedding.train_hybrid import train_hybrid

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vector", default="0.5,1,1.5,2,3,4,6", help="fold_in_scale values")
    parser.add_argument("--bias", default="1,2,4,8,16", help="fold_in_bias_scale values")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    scales = [(float(v), float(b)) for v in args.vector.split(",") for b in args.bias.split(",")]
    cfg = validate(compose_params(args.overrides))
    prepare_training_process(cfg.trainer)
    configure_logging()
    data = load_processed(REPO_ROOT / cfg.paths.processed)
    rows: dict[tuple[float, float], list[dict]] = {s: [] for s in scales}
    n_users = []
    for draw in DRAWS:
        warm, cases = new_user_split(data.train, cfg.evaluate.new_user_fraction, cfg.evaluate.new_user_reveal, draw)
        n_users.append(len(cases))
        started = time.perf_counter()
        model = train_hybrid(warm, None, data.n_users, data.n_movies, cfg.model, cfg.trainer, cfg.seed).model
        print(f"draw {draw}: {len(cases)} validation new users, fit {time.perf_counter() - started:.0f} s", flush=True)
        for scale in scales:
            metrics = evaluate(model.with_fold_in(FoldIn(*scale)), cases, cfg.evaluate.k,
                               cfg.evaluate.relevance_threshold)
            rows[scale].append({k: float(metrics[k]) for k in KEYS})
    table = {f"{s[0]:g}, {s[1]:g}": {k: float(np.mean([r[k] for r in rs])) for k in KEYS}
             | {"per_draw_rmse": [r["rmse"] for r in rs]} for s, rs in rows.items()}
    best = min(table, key=lambda s: table[s]["rmse"])
    result = {"protocol": f"new-user protocol drawn from train with seeds {DRAWS} ({n_users} users); "
                          f"overrides {args.overrides}", "scales": table, "lowest_rmse": best}
    lines = ["# New-user fold-in ridge (model.fold_in_scale, model.fold_in_bias_scale) on validation new users", "",
             f"**Protocol:** {result['protocol']}; benchmarks/new_user_research.py. Mean over draws.", "",
             "| fold_in_scale, fold_in_bias_scale | RMSE | MAE | NDCG@10 | P@10 | RMSE per draw |",
             "|---:|---:|---:|---:|---:|---|"]
    ordered = sorted(table.items(), key=lambda kv: kv[1]["rmse"])
    lines += [f"| {s} | {v['rmse']:.4f} | {v['mae']:.4f} | {v['ndcg@10']:.4f} | {v['precision@10']:.4f} | "
              f"{', '.join(f'{x:.4f}' for x in v['per_draw_rmse'])} |" for s, v in ordered]
    lines += ["", f"Lowest mean RMSE: scales {best} (rows ordered by mean RMSE).", ""]
    out = REPO_ROOT / "benchmarks" / "results"
    atomic_write_json(out / "new_user_research.json", result)
    atomic_write_text(out / "new_user_research.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
