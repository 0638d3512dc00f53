"""The evaluation report: `evaluation.md` and its PNG charts, from the evaluate stage's results.

    evaluation.md                   protocol, metric tables, charts, definitions
    figures/metrics_by_method.png   accuracy and beyond-accuracy metrics, one panel each
    figures/popularity.png          train popularity of recommended movies against the catalogue
    figures/ndcg_by_activity.png    NDCG@k by user activity bucket
    figures/loss.png                the embedding model's loss curves (when loss.csv exists)

Pure plotting on arrays passed in; the only I/O is the atomic write of the report folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_dir, atomic_write_text
from movierec.config import Config, SplitStrategy
from movierec.evaluation.loss_curve import write_loss_png
from movierec.evaluation.metrics import (
    ACTIVITY_BUCKETS,
    ACTIVITY_EDGES,
    BEYOND_ACCURACY,
    ERROR_METRICS,
    PER_USER_RANKING,
)

METHOD_COLOURS = {"embedding": "#1f77b4", "user_user": "#ff7f0e", "popularity": "#7f7f7f"}
FIGURES = ("metrics_by_method", "popularity", "ndcg_by_activity", "loss")
#: each metric's chart title (None: not charted) and table header, by its name in metrics.py; {k}: the cut-off
LABELS: dict[str, tuple[str | None, str]] = {
    "rmse": ("RMSE (lower is better)", "RMSE"), "mae": (None, "MAE"),
    "precision": ("precision@{k}", "P@{k}"), "recall": ("recall@{k}", "R@{k}"), "ndcg": ("NDCG@{k}", "NDCG@{k}"),
    "hit_rate": ("hit rate@{k}", "HR@{k}"), "coverage": ("catalogue coverage@{k}", "coverage@{k}"),
    "mean_popularity": ("mean popularity@{k} (train ratings)", "mean popularity@{k}"),
    "novelty": ("novelty@{k} (bits)", "novelty@{k}"), "diversity": ("genre diversity@{k}", "diversity@{k}"),
}


def metric_key(name: str, k: int) -> str:
    """The key in metrics.json: ``rmse``, ``mae``, else ``<name>@k``."""
    return name if name in ERROR_METRICS else f"{name}@{k}"


def labelled(names, k: int, which: int) -> list[tuple[str, str]]:
    """(metrics.json key, label) for `names`: `which` 0 the chart titles (uncharted left out), 1 table headers."""
    pairs = [(name, LABELS[name][which]) for name in names]
    return [(metric_key(name, k), label.format(k=k)) for name, label in pairs if label is not None]


def protocol_text(cfg: Config) -> str:
    """One sentence naming the protocol that produced the numbers."""
    split = cfg.split
    if split.strategy is SplitStrategy.predefined:
        data = (f"{cfg.data.name}, predefined split {split.fold}.base / {split.fold}.test as published "
                f"(no rating filter; test ratings of movies absent from the base file dropped)")
    else:
        kept = f"{cfg.data.name}, movies with >= {cfg.filter.min_movie_ratings} ratings"
        if split.strategy is SplitStrategy.kfold:
            how = f"{split.n_folds}-fold random partition of the ratings (seed {cfg.seed}), fold {split.fold} as test"
        elif split.strategy is SplitStrategy.temporal:
            how = f"per-user temporal split, each user's latest {split.test_fraction:.0%} to test"
        else:
            how = f"random {1 - split.test_fraction:.0%}/{split.test_fraction:.0%} split (seed {cfg.seed})"
        data = f"{kept}, {how}; every test user and movie also in train"
    return (f"{data}; top-{cfg.evaluate.k} over the movies a user has not rated in train; "
            f"relevant = test rating >= {cfg.evaluate.relevance_threshold:g}")


def _bucket_labels(edges: tuple[int, int]) -> dict[str, str]:
    low, high = edges
    return {"light": f"< {low}", "medium": f"{low}–{high - 1}", "heavy": f">= {high}"}


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.4f}"


def _table(rows: dict[str, dict], columns: list[tuple[str, str]]) -> str:
    """Markdown table: one row per method, `columns` = [(metric key, header)], missing keys as –."""
    columns = [(key, head) for key, head in columns if any(key in values for values in rows.values())]
    lines = ["| method | " + " | ".join(head for _, head in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for method, values in rows.items():
        lines.append(f"| {method} | " + " | ".join(_fmt(values.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas

    return Figure(figsize=(width, height), dpi=100)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png")


def plot_metrics_by_method(metrics: dict[str, dict], k: int, path: Path) -> None:
    keys = labelled([*ERROR_METRICS, *PER_USER_RANKING, *BEYOND_ACCURACY], k, 0)
    keys = [(key, title) for key, title in keys if any(key in v for v in metrics.values())]
    methods = list(metrics)
    n_cols = 3
    n_rows = -(-len(keys) // n_cols)
    fig = _new_figure(11, 3.0 * n_rows)
    for i, (key, title) in enumerate(keys):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        values = [metrics[m].get(key, np.nan) for m in methods]
        bars = ax.bar(methods, values, color=[METHOD_COLOURS.get(m, "#2ca02c") for m in methods])
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8, padding=2)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, np.nanmax(values) * 1.2 if np.any(np.isfinite(values)) else 1)
        ax.tick_params(axis="x", labelsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Test metrics by method (known users)", fontsize=12)
    _save(fig, path)


def plot_popularity(catalogue_n_ratings: np.ndarray, recommended: dict[str, np.ndarray], path: Path) -> None:
    """ECDFs of train rating counts: every catalogue movie once vs every recommendation slot."""
    fig = _new_figure(7.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)

    def ecdf(values, label, **style):
        x = np.sort(np.maximum(np.asarray(values, float), 1.0))
        ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=f"{label} (median {np.median(values):.0f})",
                **style)

    ecdf(catalogue_n_ratings, "catalogue: every movie once", color="black", linestyle="--")
    for method, movie_idx in recommended.items():
        ecdf(np.asarray(catalogue_n_ratings)[movie_idx], f"{method}: recommended slots",
             color=METHOD_COLOURS.get(method, "#2ca02c"))
    ax.set_xscale("log")
    ax.set_xlabel("train ratings of the movie (log scale)")
    ax.set_ylabel("share with at most this many ratings")
    ax.set_title("Popularity of recommended movies against the catalogue")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, path)


def plot_ndcg_by_activity(metrics: dict[str, dict], k: int, path: Path,
                          edges: tuple[int, int] = ACTIVITY_EDGES) -> None:
    labels = _bucket_labels(edges)
    methods = list(metrics)
    any_method = metrics[methods[0]]
    fig = _new_figure(7.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(ACTIVITY_BUCKETS))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        values = [metrics[method].get(f"ndcg@{k}_{b}", np.nan) for b in ACTIVITY_BUCKETS]
        bars = ax.bar(x + (i - (len(methods) - 1) / 2) * width, values, width, label=method,
                      color=METHOD_COLOURS.get(method, "#2ca02c"))
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=7, padding=2)
    ax.set_xticks(x, [f"{b} ({labels[b]} train ratings)\n{any_method.get(f'n_users_{b}', 0)} users"
                      for b in ACTIVITY_BUCKETS])
    ax.set_ylabel(f"NDCG@{k}")
    ax.set_title(f"NDCG@{k} by user activity")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9)
    _save(fig, path)


DEFINITIONS = """\
- **RMSE / MAE** over every held-out rating, predictions clipped to [0.5, 5].
- **precision@{k}** = hits / {k}; **recall@{k}** = hits / |relevant|; **hit rate@{k}** = 1 if any hit;
  **NDCG@{k}** = DCG / IDCG with binary gains, IDCG over min(|relevant|, {k}) hits. Averaged over users
  with at least one relevant test movie.
- **coverage@{k}**: distinct movies in all users' top-{k} lists / movies in the catalogue.
- **mean popularity@{k}**: mean train rating count of a user's top-{k} movies, averaged over users.
- **novelty@{k}**: mean self-information −log2(max(n, 1) / n_users) of a user's top-{k} movies (n = the
  movie's train ratings, n_users = users in train), in bits, averaged over users. Higher = less popular.
- **diversity@{k}**: intra-list genre diversity, the mean Jaccard distance 1 − |A ∩ B| / |A ∪ B| between
  the genre sets of every pair in a user's top-{k} (two genre-less movies: distance 0), averaged over users.
- **NDCG@{k} by activity**: NDCG@{k} over users whose profile holds {light} (light), {medium} (medium) or
  {heavy} (heavy) train ratings.

Beyond-accuracy metrics average over every evaluated user's list; definitions are pinned by
hand-computed tests (`tests/test_metrics.py`, `tests/test_beyond_accuracy.py`).
"""


def render_markdown(metrics: dict, k: int, protocol: str, figures: list[str],
                    popularity_medians: dict[str, float], edges: tuple[int, int] = ACTIVITY_EDGES) -> str:
    known = {m: v for m, v in metrics.items() if m != "new_user"}
    accuracy = labelled([*ERROR_METRICS, *PER_USER_RANKING], k, 1) + [("n_users", "users")]
    beyond = labelled(BEYOND_ACCURACY, k, 1)
    labels = _bucket_labels(edges)
    buckets = [(f"ndcg@{k}_{b}", f"NDCG@{k} {b} ({labels[b]})") for b in ACTIVITY_BUCKETS] + \
              [(f"n_users_{b}", f"users {b}") for b in ACTIVITY_BUCKETS]
    parts = [
        "# Evaluation report",
        "",
        f"**Protocol:** {protocol}.",
        "",
        "Written by the `evaluate` stage (`dvc repro`) from `reports/metrics.json`; every method ranks "
        "through the model bundle the service loads.",
        "",
        "## Accuracy (known users, test split)",
        "",
        _table(known, accuracy),
        "",
        "## Beyond accuracy",
        "",
        _table(known, beyond),
        "",
    ]
    if "metrics_by_method" in figures:
        parts += ["![Metrics by method](figures/metrics_by_method.png)", ""]
    parts += ["## Popularity of recommended movies", "",
              "Median train ratings of a movie: " + ", ".join(f"{name} {value:.0f}"
                                                             for name, value in popularity_medians.items()) + ".", ""]
    if "popularity" in figures:
        parts += ["![Popularity of recommended movies against the catalogue](figures/popularity.png)", ""]
    parts += ["## NDCG by user activity", "", _table(known, buckets), ""]
    if "ndcg_by_activity" in figures:
        parts += ["![NDCG by user activity](figures/ndcg_by_activity.png)", ""]
    if "new_user" in metrics:
        parts += ["## New users (cold start)", "",
                  "Users held out of training entirely, each revealing a few ratings (`reports/new_user.json`).", "",
                  _table(metrics["new_user"], accuracy + beyond), ""]
    if "loss" in figures:
        parts += ["## Training loss", "", "![Loss per epoch](figures/loss.png)", ""]
    parts += ["## Definitions", "",
              DEFINITIONS.format(k=k, **{b: f"{labels[b]}" for b in ACTIVITY_BUCKETS})]
    return "\n".join(parts)


def write_report(folder: str | Path, metrics: dict, k: int, protocol: str, catalogue_n_ratings: np.ndarray,
                 recommended: dict[str, np.ndarray], loss: pd.DataFrame | None = None,
                 edges: tuple[int, int] = ACTIVITY_EDGES) -> Path:
    """Write `folder`/evaluation.md and `folder`/figures/*.png (each atomically); return the .md path.

    Args:
        metrics: reports/metrics.json's content ({method: metrics}, optionally "new_user").
        catalogue_n_ratings: train ratings per movie index (the whole catalogue).
        recommended: method -> every recommended movie index (all users' top-k, concatenated).
        loss: reports/loss.csv, or None to leave the loss chart out.
    """
    folder = Path(folder)
    known = {m: v for m, v in metrics.items() if m != "new_user"}
    figures = []
    with atomic_dir(folder / "figures") as tmp:
        plot_metrics_by_method(known, k, tmp / "metrics_by_method.png")
        plot_popularity(catalogue_n_ratings, recommended, tmp / "popularity.png")
        plot_ndcg_by_activity(known, k, tmp / "ndcg_by_activity.png", edges)
        figures = ["metrics_by_method", "popularity", "ndcg_by_activity"]
        if loss is not None and len(loss):
            write_loss_png(tmp / "loss.png", loss.to_dict("records"))
            figures.append("loss")
    medians = {"catalogue": float(np.median(catalogue_n_ratings))}
    medians.update({m: float(np.median(np.asarray(catalogue_n_ratings)[idx])) for m, idx in recommended.items()
                    if len(idx)})
    path = folder / "evaluation.md"
    atomic_write_text(path, render_markdown(metrics, k, protocol, figures, medians, edges))
    return path
