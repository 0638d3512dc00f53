"""What a multi-worker service holds in memory: N processes that each load one model bundle and
answer queries, as gunicorn's workers do, measured together (RSS, and PSS, which splits a shared
page between the processes mapping it: the sum of PSS is the memory the workers use together).

    python benchmarks/service_memory.py --bundle .tmp/scale/25m/models/bundle [--workers 2] [--queries 200]

The item-item weights load memory-mapped, so the workers share one copy through the page cache;
everything else is each worker's own. Writes benchmarks/results/service_memory.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from movierec.atomic import atomic_write_json  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "service_memory.json"


def worker(bundle_dir: str, queries: int, seed: int, ready, done) -> None:
    """Load the bundle, answer `queries` known users and 20 new users with each method, then wait."""
    import torch

    from benchmarks.scale import service_queries
    from movierec.models.protocol import recommend
    from movierec.serving.model_bundle import ModelBundle

    torch.set_num_threads(1)
    bundle = ModelBundle.load(Path(bundle_dir))
    known, new, _ = service_queries(bundle, queries, np.random.default_rng(seed))
    for method in ("embedding", "user_user"):
        for profile in known + new:
            recommend(bundle.method(method), profile, 10)
    ready.set()
    done.wait()


def main() -> int:
    import psutil

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="a model bundle folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200, help="known users queried per method and worker")
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        parser.error(f"{args.bundle} is not a model bundle (no manifest.json); run benchmarks/scale.py first")
    ctx = mp.get_context("spawn")
    done = ctx.Event()
    started = time.perf_counter()
    procs, readies = [], []
    for i in range(args.workers):
        ready = ctx.Event()
        proc = ctx.Process(target=worker, args=(str(args.bundle), args.queries, i, ready, done))
        proc.start()
        procs.append(proc)
        readies.append(ready)
    try:
        for ready in readies:
            if not ready.wait(timeout=900):
                raise SystemExit("a worker did not finish its queries in 15 min")
        memory = [psutil.Process(p.pid).memory_full_info() for p in procs]
    finally:
        done.set()
        for proc in procs:
            proc.join(timeout=60)
    mb = 2**20
    result = {"bundle": str(args.bundle), "workers": args.workers, "queries_per_method": args.queries,
              "seconds": time.perf_counter() - started,
              "per_worker": [{"rss_mb": m.rss / mb, "pss_mb": m.pss / mb, "uss_mb": m.uss / mb,
                              "shared_mb": m.shared / mb} for m in memory],
              "total_pss_mb": sum(m.pss for m in memory) / mb, "total_rss_mb": sum(m.rss for m in memory) / mb}
    atomic_write_json(RESULTS, result)
    for i, row in enumerate(result["per_worker"]):
        print(f"worker {i}: RSS {row['rss_mb']:.0f} MB, PSS {row['pss_mb']:.0f} MB, USS {row['uss_mb']:.0f} MB")
    print(f"{args.workers} workers together: PSS {result['total_pss_mb']:.0f} MB (RSS summed "
          f"{result['total_rss_mb']:.0f} MB counts shared pages once per worker); wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
