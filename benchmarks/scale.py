"""How every part's cost grows with data: synthetic MovieLens-shaped sets of 100K to 25M ratings.

Per size, each step runs in its own subprocess (so its peak RSS is its own) on a work folder
under `.tmp/scale/<size>/`, through the stages' own `run(cfg)` with Hydra overrides:

    generate (download stage) -> filter -> reindex -> train (embedding, --epochs, no refit)
    -> train_user_user -> bundle -> service (load the bundle, query both methods, fold-in)
    -> quality (top-10 NDCG etc. of both methods and popularity on sampled test users)

Writes benchmarks/results/scale.{json,md,png}. Training uses the large-data settings of
docs/scaling.md at every size (same code path, so the growth is comparable).

    python benchmarks/scale.py --sizes 100k,1m,5m,25m [--epochs 6] [--queries 200] [--quality-users 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
RESULTS = REPO_ROOT / "benchmarks" / "results"
WORK = REPO_ROOT / ".tmp" / "scale"
DATA_GROUP = {"100k": "synthetic", "1m": "synthetic-1m", "5m": "synthetic-5m", "25m": "synthetic-25m"}
# the large-data training settings (docs/scaling.md): one code path at every size. conf/model/large.yaml:
# the lone-head trainer (the default's stacked heads recompute their implicit sums over all ratings each
# step, a cost that grows as the square of the data at a fixed batch size), big batches, sampled softmax
TRAIN_OVERRIDES = ["model=large", "trainer.fused_rating_step=true", "trainer.num_threads=2", "trainer.refit=false"]
STEPS = ("generate", "filter", "reindex", "train", "train_user_user", "bundle", "service", "quality")


def config(size: str, extra: list[str] | None = None):
    from movierec.config import compose, validate

    work = WORK / size
    overrides = [f"data={DATA_GROUP[size]}", f"paths.raw={work}/raw", f"paths.interim={work}/interim",
                 f"paths.processed={work}/processed", f"paths.models={work}/models",
                 f"paths.reports={work}/reports", *TRAIN_OVERRIDES, *(extra or [])]
    return validate(compose(REPO_ROOT / "conf", overrides))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---- the steps (each runs in a child process) ----------------------------------------------

def step_generate(cfg, args) -> dict:
    from pipeline.download import run

    run(cfg)
    return {}


def step_filter(cfg, args) -> dict:
    from pipeline.filter import run

    return {"after": run(cfg)["after"]}


def step_reindex(cfg, args) -> dict:
    from pipeline.reindex import run

    run(cfg)
    return {}


def step_train(cfg, args) -> dict:
    from movierec.atomic import atomic_dir
    from movierec.data.dataset import load_processed
    from movierec.data.split import random_fraction_mask
    from movierec.models.embedding.train_hybrid import train_hybrid
    from pipeline.memory import prepare_training_process

    prepare_training_process(cfg.trainer)

    data = load_processed(cfg.paths.processed)
    started = time.perf_counter()
    training = train_hybrid(data.train, None, data.n_users, data.n_movies, cfg.model, cfg.trainer, cfg.seed)
    result = training.heads[0]
    total = time.perf_counter() - started
    n_train = int((~random_fraction_mask(len(data.train), cfg.trainer.val_fraction, cfg.seed)).sum())
    with atomic_dir(Path(cfg.paths.models) / "methods" / "embedding") as tmp:
        training.model.save(tmp)
    epoch = result.median_epoch_seconds
    return {"epochs": len(result.history), "epoch_s": epoch, "train_ratings": n_train, "heads": len(training.heads),
            "item_item_fit_s": training.item_item_seconds,
            "ratings_per_s": n_train / epoch, "fit_s": total,
            "val_rmse": [round(float(np.sqrt(h["val_loss"])), 4) for h in result.history]}


def step_train_user_user(cfg, args) -> dict:
    """user_user and every other configured method but the embedding (step name kept for the results files)."""
    from pipeline.train_method import train

    for name in cfg.methods:
        if name != "embedding":
            train(cfg, name)
    return {}


def step_bundle(cfg, args) -> dict:
    from pipeline.bundle import run

    run(cfg)
    return {}


def service_queries(bundle, n_known: int, rng: np.random.Generator) -> tuple[list, list, int]:
    """What the service benchmarks ask: `n_known` known users' profiles (the heaviest 5% first, then a
    seeded sample), 20 new users who each rated 20 of the 1,000 most-rated movies, and how many heavy."""
    counts = np.diff(bundle.ratings.indptr)
    heavy = np.argsort(-counts, kind="stable")[: max(1, n_known // 20)]
    users = np.concatenate([heavy, rng.choice(len(counts), n_known - heavy.size, replace=False)])
    known = [bundle.profile_for_user(int(u)) for u in bundle.vocab.users.id_of(users)]
    popular = np.argsort(-bundle.movies["n_ratings"].to_numpy(), kind="stable")[:1000]
    new = [bundle.profile_from_ratings(bundle.vocab.movies.id_of(rng.choice(popular, 20, replace=False)),
                                       rng.integers(1, 11, 20) / 2)[0] for _ in range(20)]
    return known, new, int(heavy.size)


def step_service(cfg, args) -> dict:
    """What one service worker holds and how fast it answers (the bundle in a fresh process)."""
    import torch

    from movierec.models.protocol import recommend
    from movierec.serving.model_bundle import ModelBundle

    torch.set_num_threads(cfg.serve.torch_threads)
    before = current_rss_mb()
    started = time.perf_counter()
    bundle = ModelBundle.load(Path(cfg.paths.models) / "bundle")
    load_s = time.perf_counter() - started
    loaded = {"load_s": load_s, "rss_after_load_mb": current_rss_mb(), "rss_before_load_mb": before,
              "peak_rss_after_load_mb": peak_rss_mb()}
    rng = np.random.default_rng(0)
    profiles, new_profiles, n_heavy = service_queries(bundle, args.queries, rng)

    def timed(method, profs) -> list[float]:
        out = []
        for profile in profs:
            t = time.perf_counter()
            recommend(bundle.method(method), profile, 10)
            out.append((time.perf_counter() - t) * 1000)
        return out

    uu = timed("user_user", profiles)
    emb = timed("embedding", profiles)
    fold = timed("embedding", new_profiles)  # the fold-in of each head, then the blend
    new_uu = timed("user_user", new_profiles)

    def stats(ms: list[float]) -> dict:
        return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)} | \
            {"max_ms": round(float(np.max(ms)), 2), "n": len(ms)}

    return {**loaded, "user_user": stats(uu), "user_user_heavy": stats(uu[:n_heavy]),
            "heaviest_profile": int(np.diff(bundle.ratings.indptr).max()), "embedding": stats(emb),
            "fold_in": stats(fold),
            "user_user_new": stats(new_uu), "rss_end_mb": current_rss_mb()}


def quality_cases(data, n_users: int, seed: int) -> list:
    """Evaluation cases (profile = train ratings, held out = test ratings) of a seeded sample of
    test users: what the quality figures of this benchmark and choice_sampling.py score."""
    from movierec.evaluation.protocol import known_user_cases

    test_users = data.test["user_idx"].unique()
    users = np.random.default_rng(seed).choice(test_users, min(n_users, len(test_users)), replace=False)
    return list(known_user_cases(data.train[data.train["user_idx"].isin(users)],
                                 data.test[data.test["user_idx"].isin(users)]))


def step_quality(cfg, args) -> dict:
    """Is the fast model any good? Top-10 quality on a seeded sample of test users (the
    evaluate stage's protocol: candidates are movies unrated in train, relevant = rating >= 4)."""
    import torch

    from movierec.data.dataset import load_processed
    from movierec.evaluation.protocol import evaluate
    from movierec.models.popularity import PopularityRecommender
    from movierec.serving.model_bundle import ModelBundle

    torch.set_num_threads(cfg.serve.torch_threads)
    data = load_processed(cfg.paths.processed)
    cases = quality_cases(data, args.quality_users, cfg.seed)
    bundle = ModelBundle.load(Path(cfg.paths.models) / "bundle")
    popularity = PopularityRecommender.fit(data.train["movie_idx"].to_numpy(), data.train["rating"].to_numpy(),
                                           data.n_movies)
    keep = ("rmse", "ndcg@10", "precision@10", "recall@10", "coverage@10")
    out = {"users": len(cases)}
    for name, model in (("embedding", bundle.method("embedding")), ("user_user", bundle.method("user_user")),
                        ("popularity", popularity)):
        started = time.perf_counter()
        metrics = evaluate(model, cases, k=10, relevance_threshold=cfg.evaluate.relevance_threshold)
        out[name] = {k: round(float(metrics[k]), 4) for k in keep} | {"seconds": time.perf_counter() - started}
    return out


def child(size: str, step: str, args, out: Path) -> None:
    cfg = config(size, [f"trainer.max_epochs={args.epochs}"])
    started = time.perf_counter()
    result = globals()[f"step_{step}"](cfg, args)
    result.update({"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()})
    out.write_text(json.dumps(result))


# ---- the driver ------------------------------------------------------------------------------

def run_size(size: str, args) -> dict:
    results: dict = {}
    for step in STEPS:
        out = WORK / size / f"{step}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        cmd = [sys.executable, __file__, "--child", step, "--sizes", size, "--epochs", str(args.epochs),
               "--queries", str(args.queries), "--quality-users", str(args.quality_users)]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{size} {step} failed")
        results[step] = json.loads(out.read_text()) | {"load_avg_before": load}
        print(f"{size:>4} {step:<16} {results[step]['seconds']:8.1f} s  peak {results[step]['peak_rss_mb']:7.0f} MB",
              flush=True)
    return results


def _quality(r: dict) -> str:
    q = r.get("quality")
    if not q:
        return "-"
    return " / ".join(f"{q[m]['ndcg@10']:.3f}" for m in ("embedding", "user_user", "popularity"))


def table(all_results: dict) -> str:
    head = ("| ratings | generate s | filter s | reindex s | train epoch s | ratings/s | user-user fit s | bundle s "
            "| service RSS MB loaded / after queries | uu p50 ms | uu p95 ms | uu p99 ms | uu max ms | emb p50 ms "
            "| fold-in p50 ms | peak RSS MB (step) | NDCG@10 emb / uu / pop |")
    rows = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for size, r in all_results.items():
        peak = max(((s, v["peak_rss_mb"]) for s, v in r.items() if isinstance(v, dict) and "peak_rss_mb" in v),
                   key=lambda kv: kv[1])
        sv = r["service"]
        rows.append(f"| {size.upper()} | {r['generate']['seconds']:.1f} | {r['filter']['seconds']:.1f} "
                    f"| {r['reindex']['seconds']:.1f} | {r['train']['epoch_s']:.2f} "
                    f"| {r['train']['ratings_per_s'] / 1e6:.2f} M | {r['train_user_user']['seconds']:.1f} "
                    f"| {r['bundle']['seconds']:.1f} | {sv['rss_after_load_mb']:.0f} / {sv['rss_end_mb']:.0f} "
                    f"| {sv['user_user']['p50_ms']:.1f} | {sv['user_user']['p95_ms']:.1f} "
                    f"| {sv['user_user']['p99_ms']:.1f} | {sv['user_user']['max_ms']:.0f} "
                    f"| {sv['embedding']['p50_ms']:.1f} | {sv['fold_in']['p50_ms']:.1f} "
                    f"| {peak[1]:.0f} ({peak[0]}) | {_quality(r)} |")
    return "\n".join(rows) + "\n"


def plot(all_results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(all_results)
    n = [all_results[s]["filter"]["after"]["ratings"] for s in sizes]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100)
    for step in ("generate", "filter", "reindex", "train_user_user", "bundle"):
        ax.plot(n, [all_results[s][step]["seconds"] for s in sizes], "o-", label=f"{step} (stage)")
    ax.plot(n, [all_results[s]["train"]["epoch_s"] for s in sizes], "s-", label="train: one epoch")
    ax.plot(n, [all_results[s]["service"]["load_s"] for s in sizes], "^-", label="service: load bundle")
    ax.plot(n, [n_ / 1e6 for n_ in n], "k:", label="linear (1 s per 1M)")
    ax.set(xscale="log", yscale="log", xlabel="ratings", ylabel="seconds", title="Offline: time per part")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    for key, label in (("user_user", "user-user p50"), ("user_user", "user-user p99"),
                       ("embedding", "embedding p50"), ("fold_in", "embedding fold-in p50")):
        q = "p99_ms" if label.endswith("p99") else "p50_ms"
        bx.plot(n, [all_results[s]["service"][key][q] for s in sizes], "o-", label=label)
    bx.axhline(20, color="grey", ls="--", lw=0.8)
    bx.axhline(300, color="grey", ls=":", lw=0.8)
    bx.set(xscale="log", yscale="log", xlabel="ratings", ylabel="ms per top-10 query",
           title="Service: query latency (targets 20 ms p50, 300 ms p99)")
    bx.legend(fontsize=8)
    bx.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1m,5m,25m")
    parser.add_argument("--epochs", type=int, default=6,
                        help="training epochs per size (the quality columns need ~6; costs need 1-2)")
    parser.add_argument("--queries", type=int, default=200, help="known users queried per method")
    parser.add_argument("--quality-users", type=int, default=2000, help="test users sampled for top-10 quality")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    if args.child:
        child(sizes[0], args.child, args, WORK / sizes[0] / f"{args.child}.json")
        return
    path = RESULTS / "scale.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    results = saved.get("sizes", {})
    for size in sizes:
        results[size] = run_size(size, args)
        ordered = {s: results[s] for s in DATA_GROUP if s in results}
        payload = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                               "python": platform.python_version()},
                   "train_overrides": TRAIN_OVERRIDES, "epochs": args.epochs, "sizes": ordered}
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2) + "\n")
        (RESULTS / "scale.md").write_text(table(ordered))
        plot(ordered, RESULTS / "scale.png")
    print(table({s: results[s] for s in DATA_GROUP if s in results}))


if __name__ == "__main__":
    main()
