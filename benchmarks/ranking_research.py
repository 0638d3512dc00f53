"""Research for the ranking issue: every variant measured on validation, the chosen ones on test.

Validation = the trainer's seeded 10% of train rows (seed 42), ranked against the other 90%
(every choice below is made there); test is scored only for the settings chosen on validation.
Self-contained (``research_common.py``, ``baselines.py``): no ``movierec`` import. The plain-PyTorch
copy of the embedding trainer reproduces the pipeline's seed-42 model (test RMSE 0.8284, NDCG@10
0.2645); the dense user-user copy reproduces RMSE 0.8397 / NDCG@10 0.2190 / new-user 0.4400.

The recipe found (``RECIPES["two heads"]``):

* ranking: s = z(x B) + 0.75 z(choice) + 0.5 z(rating), z = per-user z-score over all movies;
  B = EASE^R (lambda 300) on x_um = max(1 + 0.25 (r_um - mean_u r), 0) (a binary matrix tilted
  towards the movies a user liked); choice / rating = the embedding's two heads (mean of the
  z-scores of two heads when two are trained);
* rating head: two of today's models (l2 0.08, lr 0.006, other settings default; init seeds s and
  s + 100, both early-stopped on the seed-s carve, then refit), prediction = their mean
  (optionally 0.8 x that + 0.2 x the user-user rating path);
* new user: each head's (p, b) by closed-form ridge (the MSE + l2 terms of the training objective),
  x B from the shown ratings; same blend.

User-user ranking (``UU_VARIANTS5[UU_FINAL_NAME]``): neighbours = top 100 by Pearson x min(n, 50)/50 x
(n / n_v)^0.5 (n co-rated, >= 5; n_v the neighbour's ratings), positive only; score = sum of their
similarity x rating, / popularity^0.15; profiles under 15 ratings keep today's settings.

    python benchmarks/ranking_research.py PART [PART ...] [--data DIR] [--out FILE]

Results are merged into ``benchmarks/results/ranking_research.json`` (one key per part) and digested in
``ranking_research.md``. Trained models are cached in $RESEARCH_CACHE (default /tmp/ranking_research_cache).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import pickle
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import ALS_GRID, EASE_LAMBDAS, RP3_GRID, binary_matrix, fit_als, fit_ease, fit_rp3beta  # noqa: E402
from research_common import (  # noqa: E402
    EmbCfg,
    EvalSet,
    ItemItemDense,
    UserUserDense,
    arrays,
    dump,
    fit_embedding,
    load,
    new_user_split,
    pearson_dense,
    pearson_query,
    ranking_from_top,
    rating_matrix,
    rmse,
    train_pipeline,
    validation_split,
    zscore_rows,
)

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("RESEARCH_CACHE", "/tmp/ranking_research_cache"))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def cached(name: str, make):
    path = CACHE / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    obj = make()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))
    return obj


class Ctx:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.d = load(data_dir)
        d = self.d
        self.fit, self.val = validation_split(d.train)
        self.ev_val = EvalSet.build(self.fit, self.val, d.n_users, d.n_movies)
        self.ev_test = EvalSet.build(d.train, d.test, d.n_users, d.n_movies)
        self.X_fit = rating_matrix(self.fit, d.n_users, d.n_movies, binary=True)
        self.X_train = rating_matrix(d.train, d.n_users, d.n_movies, binary=True)

    def ease(self, lam: float, on: str = "fit"):
        X = self.X_fit if on == "fit" else self.X_train
        return cached(f"ease_{on}_{lam:g}", lambda: fit_ease(X, lam))

    def emb(self, cfg: EmbCfg, seed: int = 42, refit: bool = False, carve: int | None = None):
        """(selection model = trained on the validation fit part, early-stopped on validation;
        refit on all train for best_epoch + 1 epochs, when asked). `carve`: the validation carve's
        seed when it is not the model's seed (a second model on the same validation)."""
        carve = seed if carve is None else carve
        key = "emb_" + "_".join(f"{v:g}" for v in asdict(cfg).values()) + f"_s{seed}" + (
            f"_c{carve}" if carve != seed else "")
        sel = cached(key + "_sel", lambda: fit_embedding(*validation_split(self.d.train, carve), self.d.n_users,
                                                         self.d.n_movies, cfg, seed))
        if not refit:
            return sel, None
        final = cached(key + "_refit", lambda: fit_embedding(self.d.train, None, self.d.n_users, self.d.n_movies,
                                                             cfg, seed, epochs=sel.best_epoch + 1))
        return sel, final


# -- baselines ---------------------------------------------------------------------------------

def part_baselines(ctx: Ctx) -> dict:
    d, out = ctx.d, {}
    rows = []
    for lam in EASE_LAMBDAS:
        t = time.perf_counter()
        model = ctx.ease(lam)
        rows.append({"lambda": lam, **ctx.ev_val.ranking(model.score_matrix(ctx.X_fit)),
                     "fit_s": time.perf_counter() - t})
        log("EASE", rows[-1])
    best = max(rows, key=lambda r: r["ndcg@10"])
    t = time.perf_counter()
    model = fit_ease(ctx.X_train, best["lambda"])
    fit_s = time.perf_counter() - t
    out["ease"] = {"validation": rows, "chosen": {"lambda": best["lambda"]},
                   "test": {**ctx.ev_test.ranking(model.score_matrix(ctx.X_train)), "fit_s": fit_s}}
    log("EASE test", out["ease"]["test"])

    rows = []
    for a, b in RP3_GRID:
        model = fit_rp3beta(ctx.X_fit, a, b)
        rows.append({"alpha": a, "beta": b, **ctx.ev_val.ranking(model.score_matrix(ctx.X_fit))})
        log("RP3", rows[-1])
    best = max(rows, key=lambda r: r["ndcg@10"])
    t = time.perf_counter()
    model = fit_rp3beta(ctx.X_train, best["alpha"], best["beta"])
    fit_s = time.perf_counter() - t
    out["rp3beta"] = {"validation": rows, "chosen": {"alpha": best["alpha"], "beta": best["beta"], "neighbours": 200},
                      "test": {**ctx.ev_test.ranking(model.score_matrix(ctx.X_train)), "fit_s": fit_s}}
    log("RP3 test", out["rp3beta"]["test"])

    rows = []
    for point in ALS_GRID:
        t = time.perf_counter()
        model = fit_als(ctx.X_fit, **point)
        rows.append({**point, **ctx.ev_val.ranking(model.score_matrix()), "fit_s": time.perf_counter() - t})
        log("ALS", rows[-1])
    best = max(rows, key=lambda r: r["ndcg@10"])
    chosen = {k: best[k] for k in ("factors", "regularization", "alpha")}
    t = time.perf_counter()
    model = fit_als(ctx.X_train, **chosen)
    fit_s = time.perf_counter() - t
    out["als"] = {"validation": rows, "chosen": chosen,
                  "test": {**ctx.ev_test.ranking(model.score_matrix()), "fit_s": fit_s}}
    log("ALS test", out["als"]["test"])
    return out


# -- the embedding method: ranking blends and the rating head ----------------------------------

BLEND_WC = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
BLEND_WR = (0.0, 0.1, 0.2, 0.3, 0.5)
BLEND_LAMBDAS = (200.0, 400.0, 800.0)
UU_BLEND = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def blend_scores(ease_s, choice_s, rating_s, wc: float, wr: float) -> np.ndarray:
    """The ranking recipe: z(x B) + wc z(choice) + wr z(rating), z = per-user z-score over movies."""
    s = zscore_rows(ease_s)
    if wc:
        s = s + wc * zscore_rows(choice_s)
    if wr:
        s = s + wr * zscore_rows(rating_s)
    return s


def embedding_rows(ctx: Ctx, model, ev: EvalSet, X, uu=None, lambdas=BLEND_LAMBDAS, on="fit") -> dict:
    """Validation (or test) figures of one trained model: RMSE (alone and blended with user-user),
    ranking by the current score, by each head, and the EASE blends."""
    out = {"rmse": ev.rmse(model.predict_pairs), "best_epoch": model.best_epoch,
           "train_seconds": model.seconds, "epochs_run": len(model.history)}
    C, Rt = model.choice_all(), model.rating_all()
    out["rank_current"] = ev.ranking(C + model.cfg.rank_rating_weight * Rt)
    out["rank_choice"] = ev.ranking(C)
    if uu is not None:
        u, m, r = arrays(ev.heldout)
        pe, pu = model.predict_pairs(u, m), uu.predict_pairs(u, m)
        out["rmse_uu_blend"] = {f"{b:g}": rmse((1 - b) * pe + b * pu, r) for b in UU_BLEND}
    blends = []
    for lam in lambdas:
        E = ctx.ease(lam, on).score_matrix(X)
        for wc in BLEND_WC:
            for wr in BLEND_WR:
                blends.append({"lambda": lam, "wc": wc, "wr": wr,
                               **ev.ranking(blend_scores(E, C, Rt, wc, wr))})
    out["blends"] = blends
    return out


EMB_VARIANTS = {
    "default": EmbCfg(),
    "dim128": EmbCfg(embedding_dim=128),
    "l2_0.08": EmbCfg(l2=0.08),
    "l2_0.16": EmbCfg(l2=0.16),
    "implicit_0.2": EmbCfg(implicit_weight=0.2),
    "lr_0.006": EmbCfg(learning_rate=0.006),
    "batch2048_lr0.006": EmbCfg(batch_size=2048, learning_rate=0.006),
    "no_choice": EmbCfg(implicit_weight=0.0),
}


def part_embedding(ctx: Ctx, variants=None) -> dict:
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    out = {}
    for name in variants or EMB_VARIANTS:
        cfg = EMB_VARIANTS[name]
        sel, _ = ctx.emb(cfg, 42)
        row = embedding_rows(ctx, sel, ctx.ev_val, ctx.X_fit, uu, lambdas=BLEND_LAMBDAS if name == "default" else (400.0,))
        row["cfg"] = asdict(cfg)
        best = max(row["blends"], key=lambda r: r["ndcg@10"])
        log(name, "rmse", round(row["rmse"], 4), "uu-blend", {k: round(v, 4) for k, v in row["rmse_uu_blend"].items()},
            "current", round(row["rank_current"]["ndcg@10"], 4), "best blend", best, "epochs", row["epochs_run"],
            "s", round(sel.seconds, 1))
        out[name] = row
    return out


def ease_input(frame, n_users, n_movies, kind: str):
    """The EASE input matrix: binary, or rating-weighted variants (x = 1 at a 'typical' rating)."""
    u, m, r = arrays(frame)
    if kind == "binary":
        x = np.ones_like(r)
    elif kind == "rating":
        x = r / r.mean()
    elif kind == "centred_0.25":   # 1 + 0.25 (r - user mean)
        mean_u = np.bincount(u, weights=r, minlength=n_users) / np.maximum(np.bincount(u, minlength=n_users), 1)
        x = np.maximum(1.0 + 0.25 * (r - mean_u[u]), 0.0)
    elif kind == "liked_0.5":      # 1 + 0.5 [r >= 4]
        x = 1.0 + 0.5 * (r >= 4.0)
    else:
        raise ValueError(kind)
    return binary_matrix(u, m, n_users, n_movies, values=x)


EXT_WC = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
EXT_WR = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def part_blend(ctx: Ctx) -> dict:
    """Extended blend grid for the default model, and EASE input weightings (validation)."""
    d = ctx.d
    sel, _ = ctx.emb(EmbCfg(), 42)
    C, Rt = sel.choice_all(), sel.rating_all()
    out = {"extended_grid": [], "ease_inputs": []}
    E = ctx.ease(400.0).score_matrix(ctx.X_fit)
    for wc in EXT_WC:
        for wr in EXT_WR:
            out["extended_grid"].append({"lambda": 400.0, "wc": wc, "wr": wr,
                                         **ctx.ev_val.ranking(blend_scores(E, C, Rt, wc, wr))})
    best = max(out["extended_grid"], key=lambda r: r["ndcg@10"])
    log("extended grid best", best)
    for kind in ("rating", "centred_0.25", "liked_0.5"):
        Xw = ease_input(ctx.fit, d.n_users, d.n_movies, kind)
        for lam in (200.0, 400.0, 800.0):
            model = cached(f"ease_fit_{kind}_{lam:g}", lambda: fit_ease(Xw, lam))
            Ew = model.score_matrix(Xw)
            row = {"input": kind, "lambda": lam, "alone": ctx.ev_val.ranking(Ew)}
            row["blends"] = [{"wc": wc, "wr": wr, **ctx.ev_val.ranking(blend_scores(Ew, C, Rt, wc, wr))}
                             for wc in (0.5, 1.0, 1.5) for wr in (0.5, 1.0)]
            out["ease_inputs"].append(row)
            log("ease input", kind, lam, round(row["alone"]["ndcg@10"], 4),
                round(max(b["ndcg@10"] for b in row["blends"]), 4))
    return out


# -- the rating head --------------------------------------------------------------------------

RATING_MODELS = {"default": EmbCfg(), "l2_0.08": EmbCfg(l2=0.08), "lr_0.006": EmbCfg(learning_rate=0.006),
                 "l2_0.08_lr_0.006": EmbCfg(l2=0.08, learning_rate=0.006)}


def part_rating(ctx: Ctx) -> dict:
    """Rating predictions on validation: each head alone, its blends with the user-user and an
    item-item rating path, and the mean of two init seeds."""
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    u, m, r = arrays(ctx.val)
    p_uu = uu.predict_pairs(u, m)
    out = {"user_user": rmse(p_uu, r)}
    for k, shrink in ((30, 100.0), (50, 100.0)):
        ii = ItemItemDense(uu, k=k, shrinkage=shrink)
        out[f"item_item_k{k}"] = rmse(ii.predict_pairs(u, m), r)
        log("item-item", k, out[f"item_item_k{k}"])
    p_ii = ItemItemDense(uu, k=50).predict_pairs(u, m)
    models = {}
    for name, cfg in RATING_MODELS.items():
        for seed in (42, 43):
            sel, _ = ctx.emb(cfg, seed, carve=42)
            models[(name, seed)] = sel.predict_pairs(u, m)
            out[f"{name}_s{seed}_epochs"] = len(sel.history)
            out[f"{name}_s{seed}_seconds"] = sel.seconds
    grid = []
    for (name, seed), pe in models.items():
        for label, base in (("one", pe), ("two-seed mean", (pe + models[(name, 43 if seed == 42 else 42)]) / 2)):
            if label == "two-seed mean" and seed == 43:
                continue
            for a in (0.0, 0.1, 0.2, 0.3):
                for b in (0.0, 0.1, 0.2, 0.3):
                    grid.append({"model": name, "seed": seed, "heads": label, "w_uu": a, "w_ii": b,
                                 "rmse": rmse((1 - a - b) * base + a * p_uu + b * p_ii, r)})
    out["grid"] = grid
    for name in RATING_MODELS:
        for label in ("one", "two-seed mean"):
            rows = [g for g in grid if g["model"] == name and g["heads"] == label]
            alone = [g["rmse"] for g in rows if g["w_uu"] == 0 and g["w_ii"] == 0]
            best = min(rows, key=lambda g: g["rmse"])
            log("rating", name, label, "alone", np.round(alone, 4), "best", best)
    return out


# -- user-user ranking -------------------------------------------------------------------------

def uu_rank_weights(corr, n_co, k: int, min_co: int = 5, significance: float = 25.0, power: float = 1.0,
                    overlap: float = 0.0, n_rated: np.ndarray | None = None, **_):
    """(n_users, n_users) neighbour weights: Pearson x min(n, S)/S over >= min_co co-rated movies,
    positive only, the k largest per row kept (ties to the lower index), then raised to `power`
    (power 0: each of the k neighbours weighs 1)."""
    w = np.nan_to_num(corr) * (np.minimum(n_co, significance) / significance)
    w[n_co < min_co] = 0.0
    w = np.where(w > 0, w, 0.0)
    if overlap:  # x (co-rated / the neighbour's ratings)^overlap: neighbours whose profile the user's covers
        w = w * (n_co / np.maximum(n_rated, 1.0)[None, :]) ** overlap
    if k < w.shape[1]:
        order = np.argsort(-w, axis=1, kind="stable")[:, k:]
        np.put_along_axis(w, order, 0.0, axis=1)
    return np.where(w > 0, w ** power, 0.0)


def uu_rank_scores(uu: UserUserDense, W: np.ndarray, vote: str, gamma: float, beta: float) -> np.ndarray:
    """score_ui = sum_v W_uv * vote_vi / n_v^gamma, divided by pop_i^beta."""
    if vote == "rating":
        V = uu.R
    elif vote == "one":
        V = uu.M
    elif vote == "liked":   # rating - 2.5 (dislikes vote against)
        V = (uu.R - 2.5) * uu.M
    elif vote.startswith("tilt"):  # "tilt<a>": max(1 + a (rating - the neighbour's mean), 0)
        a = float(vote[4:])
        mean_v = uu.R.sum(1) / np.maximum(uu.M.sum(1), 1.0)
        V = np.maximum(1.0 + a * (uu.R - mean_v[:, None]), 0.0) * uu.M
    else:
        raise ValueError(vote)
    n_v = np.maximum(uu.M.sum(1), 1.0)
    S = (W / n_v[None, :] ** gamma) @ V
    pop = np.maximum(uu.M.sum(0), 1.0)
    return S / pop[None, :] ** beta


UU_GRID = [dict(k=k, vote=v, power=p, gamma=g, beta=b)
           for k in (50, 100, 200, 400) for v in ("rating", "one", "liked") for p in (1.0, 2.0)
           for g in (0.0, 0.5) for b in (0.0, 0.25, 0.5)]
UU_CURRENT = dict(k=100, vote="rating", power=1.0, gamma=0.0, beta=0.0)


def part_useruser(ctx: Ctx) -> dict:
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    corr5, n5 = uu.corr, uu.n_co  # min_co handled in uu_rank_weights
    rows = []
    for point in UU_GRID:
        W = uu_rank_weights(corr5, n5, point["k"], power=point["power"])
        rows.append({**point, **ctx.ev_val.ranking(uu_rank_scores(uu, W, point["vote"], point["gamma"], point["beta"]))})
    rows.sort(key=lambda r: -r["ndcg@10"])
    for r in rows[:8]:
        log("uu", r)
    current = next(r for r in rows if all(r[k] == v for k, v in UU_CURRENT.items()))
    log("uu current", current)
    best = rows[0]
    chosen = {k: best[k] for k in ("k", "vote", "power", "gamma", "beta")}
    full = UserUserDense(d.train, d.n_users, d.n_movies)
    test = {}
    for name, point in (("current", UU_CURRENT), ("chosen", chosen)):
        W = uu_rank_weights(full.corr, full.n_co, point["k"], power=point["power"])
        test[name] = ctx.ev_test.ranking(uu_rank_scores(full, W, point["vote"], point["gamma"], point["beta"]))
    test["rmse"] = ctx.ev_test.rmse(full.predict_pairs)
    log("uu test", test)
    return {"validation": rows, "validation_current": current, "chosen": chosen, "test": test}


UU_GRID2 = [dict(k=k, vote="rating", power=p, gamma=g, beta=b, significance=S)
            for k in (100, 200, 300) for p in (1.0, 1.5) for g in (0.5, 0.75, 1.0) for b in (0.15, 0.25, 0.35)
            for S in (25.0, 50.0, 100.0)]


def uu_scores(uu: UserUserDense, point: dict, corr=None, n_co=None) -> np.ndarray:
    W = uu_rank_weights(uu.corr if corr is None else corr, uu.n_co if n_co is None else n_co, point["k"],
                        min_co=point.get("min_co", 5), significance=point.get("significance", 25.0),
                        power=point["power"], overlap=point.get("overlap", 0.0), n_rated=uu.M.sum(1))
    return uu_rank_scores(uu, W, point["vote"], point["gamma"], point["beta"])


def part_useruser2(ctx: Ctx) -> dict:
    """A finer user-user grid around the first one's best (activity normalisation gamma, popularity
    damping beta, significance S)."""
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    rows = [{**pt, **ctx.ev_val.ranking(uu_scores(uu, pt))} for pt in UU_GRID2]
    rows.sort(key=lambda r: -r["ndcg@10"])
    for r in rows[:8]:
        log("uu2", r)
    best = rows[0]
    chosen = {k: best[k] for k in ("k", "vote", "power", "gamma", "beta", "significance")}
    full = UserUserDense(d.train, d.n_users, d.n_movies)
    test = {"chosen": ctx.ev_test.ranking(uu_scores(full, chosen)), "rmse": ctx.ev_test.rmse(full.predict_pairs)}
    log("uu2 test", test)
    return {"validation": rows, "chosen": chosen, "test": test}


UU_GRID3 = [dict(k=k, vote=v, power=p, gamma=0.5, beta=b, significance=50.0, min_co=mc)
            for k in (100, 200) for v in ("rating", "tilt0.25", "tilt0.5", "tilt1") for p in (0.0, 0.5, 1.0)
            for b in (0.15, 0.25) for mc in (3, 5, 10)]


def part_useruser3(ctx: Ctx) -> dict:
    """Neighbour selection (min co-rated), vote weight power (0 = unweighted) and liked-tilted votes."""
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    corr, n_co = pearson_dense(uu.R, uu.M, 1)  # min co-rated applied per point
    rows = [{**pt, **ctx.ev_val.ranking(uu_scores(uu, pt, corr, n_co))} for pt in UU_GRID3]
    rows.sort(key=lambda r: -r["ndcg@10"])
    for r in rows[:8]:
        log("uu3", r)
    best = rows[0]
    chosen = {k: best[k] for k in ("k", "vote", "power", "gamma", "beta", "significance", "min_co")}
    full = UserUserDense(d.train, d.n_users, d.n_movies)
    fc, fn = pearson_dense(full.R, full.M, 1)
    test = {"chosen": ctx.ev_test.ranking(uu_scores(full, chosen, fc, fn))}
    log("uu3 test", test)
    return {"validation": rows, "chosen": chosen, "test": test}


UU_GRID4 = [dict(k=k, vote="rating", power=1.0, gamma=g, beta=b, significance=50.0, min_co=5, overlap=o)
            for k in (50, 100, 150) for g in (0.0, 0.25) for b in (0.1, 0.15, 0.2) for o in (0.25, 0.5, 0.75)]


def part_useruser4(ctx: Ctx) -> dict:
    """Neighbours chosen by Pearson x significance x (co-rated / neighbour's ratings)^overlap."""
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    corr, n_co = pearson_dense(uu.R, uu.M, 1)
    rows = [{**pt, **ctx.ev_val.ranking(uu_scores(uu, pt, corr, n_co))} for pt in UU_GRID4]
    rows.sort(key=lambda r: -r["ndcg@10"])
    for r in rows[:8]:
        log("uu4", r)
    best = rows[0]
    chosen = {k: best[k] for k in ("k", "vote", "power", "gamma", "beta", "significance", "min_co", "overlap")}
    full = UserUserDense(d.train, d.n_users, d.n_movies)
    fc, fn = pearson_dense(full.R, full.M, 1)
    test = {"chosen": ctx.ev_test.ranking(uu_scores(full, chosen, fc, fn))}
    log("uu4 test", test)
    return {"validation": rows, "chosen": chosen, "test": test}


UU_VARIANTS5 = {
    "current": UU_CURRENT,
    "grid2 best (no overlap)": dict(k=100, vote="rating", power=1.0, gamma=0.5, beta=0.15, significance=50.0, min_co=5),
    "grid4 best (overlap 0.5)": dict(k=100, vote="rating", power=1.0, gamma=0.0, beta=0.15, significance=50.0,
                                     min_co=5, overlap=0.5),
    "overlap 0.25, gamma 0.25": dict(k=100, vote="rating", power=1.0, gamma=0.25, beta=0.15, significance=50.0,
                                     min_co=5, overlap=0.25),
    "overlap 0.5 from 30 ratings": dict(k=100, vote="rating", power=1.0, gamma=0.0, beta=0.15, significance=50.0,
                                        min_co=5, overlap=0.5, overlap_from=30,
                                        light=dict(gamma=0.5)),
    **{f"grid4 best from {t} ratings, today's below": dict(
        k=100, vote="rating", power=1.0, gamma=0.0, beta=0.15, significance=50.0, min_co=5, overlap=0.5,
        overlap_from=t, light=dict(UU_CURRENT, significance=25.0, min_co=5)) for t in (15, 20, 30, 50)},
}


def uu_point_for(point: dict, n_profile: int) -> dict:
    """A variant's settings for a profile of n ratings (overlap only from `overlap_from` ratings;
    below that the `light` overrides and no overlap)."""
    if n_profile >= point.get("overlap_from", 0):
        return point
    return {**point, **point.get("light", {}), "overlap": 0.0}


def uu_profile_scores(uu: UserUserDense, point: dict, shown_m, shown_r, n_rated) -> np.ndarray:
    Rq = np.zeros((1, uu.R.shape[1])); Mq = np.zeros_like(Rq)
    Rq[0, shown_m], Mq[0, shown_m] = shown_r, 1.0
    corr, n_co = pearson_query(Rq, Mq, uu.R, uu.M, 1)
    pt = uu_point_for(point, len(shown_m))
    W = uu_rank_weights(corr, n_co, pt["k"], min_co=pt.get("min_co", 5), significance=pt.get("significance", 25.0),
                        power=pt["power"], overlap=pt.get("overlap", 0.0), n_rated=n_rated)
    if not (W > 0).any():
        return uu.M.sum(0).astype(np.float64)
    return uu_rank_scores(uu, W, pt["vote"], pt["gamma"], pt["beta"])[0]


def part_useruser5(ctx: Ctx) -> dict:
    """User-user variants on both validations: known users (the carve) and new users drawn from train
    only (10% of train users held out with seed 43, 10 revealed ratings, the rest of their train
    ratings held out) - the cold-start check made without the test split."""
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    corr, n_co = pearson_dense(uu.R, uu.M, 1)
    n_profile = uu.M.sum(1)
    warm, cases = new_user_split(d.train, 0.1, 10, 43)
    uw = UserUserDense(warm, d.n_users, d.n_movies)
    relevant = [hm[hr >= 4.0] for _, _, hm, hr in cases]
    out = {}
    for name, point in UU_VARIANTS5.items():
        if "overlap_from" in point:  # per-user settings: score each user with its own
            S = np.zeros((d.n_users, d.n_movies))
            for light in (False, True):
                pt = uu_point_for(point, 0 if light else 10 ** 9)
                users = (n_profile < point["overlap_from"]) if light else (n_profile >= point["overlap_from"])
                S[users] = uu_scores(uu, pt, corr, n_co)[users]
        else:
            S = uu_scores(uu, point, corr, n_co)
        known = ctx.ev_val.ranking(S)
        tops = []
        for sm, sr, _, _ in cases:
            sc = uu_profile_scores(uw, point, sm, sr, uw.M.sum(1))
            sc[sm] = -np.inf
            tops.append(np.argsort(-sc, kind="stable")[:10])
        new = ranking_from_top(np.array(tops), relevant)
        out[name] = {"point": point, "known_val": known, "new_user_val": new}
        log("uu5", name, "known val %.4f" % known["ndcg@10"], "new-user val %.4f" % new["ndcg@10"])
    return out


EASE2 = [("centred", a, lam) for a in (0.15, 0.25, 0.4, 0.6) for lam in (100.0, 200.0, 300.0)]


def ease_input_a(frame, n_users, n_movies, a: float):
    """x = max(1 + a (r - the user's mean rating), 0): binary EASE input tilted towards liked movies."""
    u, m, r = arrays(frame)
    mean_u = np.bincount(u, weights=r, minlength=n_users) / np.maximum(np.bincount(u, minlength=n_users), 1)
    return binary_matrix(u, m, n_users, n_movies, values=np.maximum(1.0 + a * (r - mean_u[u]), 0.0))


def part_ease2(ctx: Ctx) -> dict:
    d = ctx.d
    sel, _ = ctx.emb(EmbCfg(), 42)
    C, Rt = sel.choice_all(), sel.rating_all()
    rows = []
    for _, a, lam in EASE2:
        Xw = ease_input_a(ctx.fit, d.n_users, d.n_movies, a)
        E = cached(f"ease_fit_centred{a:g}_{lam:g}", lambda: fit_ease(Xw, lam)).score_matrix(Xw)
        row = {"a": a, "lambda": lam, "alone": ctx.ev_val.ranking(E),
               "blends": [{"wc": wc, "wr": wr, **ctx.ev_val.ranking(blend_scores(E, C, Rt, wc, wr))}
                          for wc in (0.5, 0.75, 1.0, 1.5) for wr in (0.25, 0.5, 0.75, 1.0)]}
        rows.append(row)
        log("ease2", a, lam, round(row["alone"]["ndcg@10"], 4), round(max(b["ndcg@10"] for b in row["blends"]), 4))
    return {"rows": rows}


# -- choosing the recipe: rating head(s) x rank blend, on validation ----------------------------

CANDIDATES = {"default x1": (EmbCfg(), 1), "default x2": (EmbCfg(), 2),
              "l2_0.08_lr_0.006 x1": (EmbCfg(l2=0.08, learning_rate=0.006), 1),
              "l2_0.08_lr_0.006 x2": (EmbCfg(l2=0.08, learning_rate=0.006), 2),
              "l2_0.08 x2": (EmbCfg(l2=0.08), 2)}
SECOND_SEED = 100  # the second head's init seed is seed + 100 (same validation carve)


def heads(models, users=None):
    """Mean rating prediction and mean z-scored choice / rating scores of one or more trained models."""
    C = np.mean([zscore_rows(mdl.choice_all()) for mdl in models], axis=0)
    Rt = np.mean([zscore_rows(mdl.rating_all()) for mdl in models], axis=0)
    return C, Rt


def part_choose(ctx: Ctx) -> dict:
    d = ctx.d
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    u, m, r = arrays(ctx.val)
    p_uu = uu.predict_pairs(u, m)
    Xw = ease_input_a(ctx.fit, d.n_users, d.n_movies, 0.25)
    E = cached("ease_fit_centred0.25_300", lambda: fit_ease(Xw, 300.0)).score_matrix(Xw)
    out = {}
    for name, (cfg, n) in CANDIDATES.items():
        models = [ctx.emb(cfg, 42 + SECOND_SEED * i, carve=42)[0] for i in range(n)]
        pe = np.mean([mdl.predict_pairs(u, m) for mdl in models], axis=0)
        C, Rt = heads(models)
        row = {"rmse": rmse(pe, r), "rmse_uu": {f"{b:g}": rmse((1 - b) * pe + b * p_uu, r) for b in UU_BLEND},
               "epochs": [len(mdl.history) for mdl in models], "seconds": [mdl.seconds for mdl in models],
               "blends": [{"wc": wc, "wr": wr, **ctx.ev_val.ranking(blend_scores(E, C, Rt, wc, wr))}
                          for wc in (0.5, 0.75, 1.0) for wr in (0.25, 0.5, 0.75)]}
        out[name] = row
        best = max(row["blends"], key=lambda b: b["ndcg@10"])
        log("choose", name, "rmse", round(row["rmse"], 4), {k: round(v, 4) for k, v in row["rmse_uu"].items()},
            "blend best", {k: round(v, 4) for k, v in best.items()}, "grid mean",
            round(np.mean([b["ndcg@10"] for b in row["blends"]]), 4))
    return out


SWEEP = {"default": EmbCfg(), "l2_0.08": EmbCfg(l2=0.08), "l2_0.08_lr_0.006": EmbCfg(l2=0.08, learning_rate=0.006),
         "lr_0.006": EmbCfg(learning_rate=0.006), "dropout_0.1": EmbCfg(dropout=0.1), "dropout_0.3": EmbCfg(dropout=0.3),
         "dim32": EmbCfg(embedding_dim=32), "implicit_0.05": EmbCfg(implicit_weight=0.05),
         "l2_0.1_dropout_0.3": EmbCfg(l2=0.1, dropout=0.3)}
SWEEP_SEEDS = (42, 142, 242)


def part_rmse_sweep(ctx: Ctx, variants=None) -> dict:
    """Rating head variants, three init seeds each on the same validation carve (seed noise ~0.002)."""
    d = ctx.d
    u, m, r = arrays(ctx.val)
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    p_uu = uu.predict_pairs(u, m)
    out = {}
    for name in variants or SWEEP:
        cfg = SWEEP[name]
        models = [ctx.emb(cfg, seed, carve=42)[0] for seed in SWEEP_SEEDS]
        preds = [mdl.predict_pairs(u, m) for mdl in models]
        row = {"rmse": [rmse(p, r) for p in preds], "epochs": [len(mdl.history) for mdl in models],
               "seconds": [mdl.seconds for mdl in models],
               "rmse_uu_0.2": [rmse(0.8 * p + 0.2 * p_uu, r) for p in preds],
               "rmse_pair_mean": [rmse((preds[i] + preds[j]) / 2, r) for i, j in ((0, 1), (0, 2), (1, 2))]}
        row["mean"] = float(np.mean(row["rmse"]))
        row["mean_uu_0.2"] = float(np.mean(row["rmse_uu_0.2"]))
        row["mean_pair"] = float(np.mean(row["rmse_pair_mean"]))
        out[name] = row
        log("sweep", name, "rmse", np.round(row["rmse"], 4), "mean %.4f" % row["mean"], "uu0.2 %.4f" % row["mean_uu_0.2"],
            "pairs %.4f" % row["mean_pair"], "epochs", row["epochs"], "s", np.round(row["seconds"], 1))
    return out


def part_choose2(ctx: Ctx) -> dict:
    """Two-head means over the three seed pairs of the sweep: RMSE with user-user weights, and the
    rank blend grid (EASE input a = 0.25, lambda = 300) averaged over the pairs."""
    d = ctx.d
    u, m, r = arrays(ctx.val)
    uu = UserUserDense(ctx.fit, d.n_users, d.n_movies)
    p_uu = uu.predict_pairs(u, m)
    Xw = ease_input_a(ctx.fit, d.n_users, d.n_movies, 0.25)
    E = cached("ease_fit_centred0.25_300", lambda: fit_ease(Xw, 300.0)).score_matrix(Xw)
    out = {}
    for name in ("default", "l2_0.08", "l2_0.08_lr_0.006"):
        models = [ctx.emb(SWEEP[name], seed, carve=42)[0] for seed in SWEEP_SEEDS]
        row = {"single": {}, "pair": {}, "blend_single": {}, "blend_pair": {}}
        for w in (0.0, 0.1, 0.2, 0.3):
            row["single"][f"{w:g}"] = float(np.mean([rmse((1 - w) * mdl.predict_pairs(u, m) + w * p_uu, r) for mdl in models]))
            row["pair"][f"{w:g}"] = float(np.mean([rmse((1 - w) * (models[i].predict_pairs(u, m) + models[j].predict_pairs(u, m)) / 2
                                                         + w * p_uu, r) for i, j in ((0, 1), (0, 2), (1, 2))]))
        for wc in (0.5, 0.75, 1.0):
            for wr in (0.25, 0.5, 0.75):
                key = f"{wc:g},{wr:g}"
                row["blend_single"][key] = float(np.mean([ctx.ev_val.ranking(blend_scores(E, *heads([mdl]), wc, wr))["ndcg@10"]
                                                          for mdl in models]))
                row["blend_pair"][key] = float(np.mean([ctx.ev_val.ranking(blend_scores(E, *heads([models[i], models[j]]), wc, wr))["ndcg@10"]
                                                        for i, j in ((0, 1), (0, 2), (1, 2))]))
        out[name] = row
        log("choose2", name, {k: {a: round(b, 4) for a, b in v.items()} for k, v in row.items()})
    return out


# -- the chosen recipe on test (3 seeds) and for new users -------------------------------------

# chosen on validation (parts blend, ease2, choose, rmse_sweep, choose2, useruser4):
#  - EASE input x = max(1 + 0.25 (r - user mean), 0), lambda 300 (ease2: best blend);
#  - two rating heads l2 0.08, lr 0.006 (choose2: pair mean + 0.2 user-user 0.8188 against 0.8183 for
#    l2 0.08 at lr 0.003, a tie within seed noise, at about half the epochs), rating = 0.8 x their
#    mean + 0.2 x user-user; rank blend wc 0.75, wr 0.5 (choose2: best over the pairs, 0.1793);
#  - recipe "one head": today's default model with the same EASE blend (cheapest; choose2 default
#    single: blend (0.5, 0.5) 0.1781, (0.75, 0.5) 0.1780 -> (0.75, 0.5) kept for both).
UU_CHOSEN = dict(k=100, vote="rating", power=1.0, gamma=0.0, beta=0.15, significance=50.0, min_co=5, overlap=0.5)
RECIPES = {
    "two heads": dict(cfg=EmbCfg(l2=0.08, learning_rate=0.006), n_heads=2, ease_a=0.25, ease_lambda=300.0,
                      wc=0.75, wr=0.5, w_uu=0.2),
    "one head": dict(cfg=EmbCfg(), n_heads=1, ease_a=0.25, ease_lambda=300.0, wc=0.75, wr=0.5, w_uu=0.2),
}
FINAL = RECIPES["two heads"]
SEEDS = (42, 43, 44)


def recipe_models(ctx: Ctx, f: dict, seed: int):
    """The recipe's heads for one pipeline seed: (selection, refit) per head; head i has init seed
    seed + 100 i and the seed's validation carve (epoch count chosen there, then refit on all train)."""
    return [ctx.emb(f["cfg"], seed + SECOND_SEED * i, refit=True, carve=seed) for i in range(f["n_heads"])]


def part_final(ctx: Ctx) -> dict:
    d = ctx.d
    uu = UserUserDense(d.train, d.n_users, d.n_movies)
    u, m, r = arrays(d.test)
    p_uu = uu.predict_pairs(u, m)
    out = {"user_user": {"rmse": rmse(p_uu, r)}}
    for name, point in (("current", UU_CURRENT), ("chosen", UU_CHOSEN)):
        corr, n_co = pearson_dense(uu.R, uu.M, 1)
        out["user_user"][name] = ctx.ev_test.ranking(uu_scores(uu, point, corr, n_co))
    log("final user-user", out["user_user"])
    for rname, f in RECIPES.items():
        Xw = ease_input_a(d.train, d.n_users, d.n_movies, f["ease_a"])
        t = time.perf_counter()
        ease = fit_ease(Xw, f["ease_lambda"])
        ease_s = time.perf_counter() - t
        E = ease.score_matrix(Xw)
        res = {"recipe": {**{k: v for k, v in f.items() if k != "cfg"}, "cfg": asdict(f["cfg"])},
               "ease_fit_seconds": ease_s, "ease_alone": ctx.ev_test.ranking(E), "seeds": {}}
        for seed in SEEDS:
            pairs = recipe_models(ctx, f, seed)
            finals = [fin for _, fin in pairs]
            pe = np.mean([fin.predict_pairs(u, m) for fin in finals], axis=0)
            C, Rt = heads(finals)
            first = finals[0]
            row = {"best_epochs": [sel.best_epoch for sel, _ in pairs],
                   "selection_epochs": [len(sel.history) for sel, _ in pairs],
                   "train_seconds": float(sum(sel.seconds + fin.seconds for sel, fin in pairs)),
                   "refit_seconds": float(sum(fin.seconds for _, fin in pairs)),
                   "rmse": rmse(pe, r), "rmse_first_head": rmse(first.predict_pairs(u, m), r),
                   "rmse_uu_blend": rmse((1 - f["w_uu"]) * pe + f["w_uu"] * p_uu, r),
                   "rank_current_first_head": ctx.ev_test.ranking(first.choice_all() + first.rating_all()),
                   "rank_blend": ctx.ev_test.ranking(blend_scores(E, C, Rt, f["wc"], f["wr"]))}
            res["seeds"][str(seed)] = row
            log("final", rname, seed, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                                       if not isinstance(v, dict)},
                "blend", {k: round(v, 4) for k, v in row["rank_blend"].items()},
                "current", round(row["rank_current_first_head"]["ndcg@10"], 4))
        summary = {}
        for key, get in (("rmse", lambda x: x["rmse"]), ("rmse_uu_blend", lambda x: x["rmse_uu_blend"]),
                         ("rmse_first_head", lambda x: x["rmse_first_head"]),
                         ("ndcg@10", lambda x: x["rank_blend"]["ndcg@10"]),
                         ("precision@10", lambda x: x["rank_blend"]["precision@10"]),
                         ("ndcg@10_current_first_head", lambda x: x["rank_current_first_head"]["ndcg@10"]),
                         ("train_seconds", lambda x: x["train_seconds"]),
                         ("refit_seconds", lambda x: x["refit_seconds"])):
            vals = np.array([get(x) for x in res["seeds"].values()])
            summary[key] = {"mean": float(vals.mean()), "min": float(vals.min()), "max": float(vals.max())}
        res["summary"] = summary
        log("final summary", rname, {k: {a: round(b, 4) for a, b in v.items()} for k, v in summary.items()})
        # scoring one known user (seed 42's heads): x B + the heads + z-scores + top-10, median of 200
        finals = [fin for _, fin in recipe_models(ctx, f, 42)]
        times = []
        for user in ctx.ev_test.users[:200]:
            t = time.perf_counter()
            row_x = Xw[user]
            e = row_x.data @ ease.weights[row_x.indices]
            cs = [zscore_rows(fin.Q @ (fin.proj @ fin.P[user]) + fin.cbias) for fin in finals]
            rs = [zscore_rows(fin.mu + fin.bu[user] + fin.bm + fin.Q @ fin.P[user]) for fin in finals]
            sc = zscore_rows(e) + f["wc"] * np.mean(cs, axis=0) + f["wr"] * np.mean(rs, axis=0)
            sc[row_x.indices] = -np.inf
            np.argsort(-sc, kind="stable")[:10]
            times.append(time.perf_counter() - t)
        res["score_ms_per_user_p50"] = 1000 * float(np.median(times))
        log("final", rname, "score ms p50", res["score_ms_per_user_p50"], "ease fit s", ease_s)
        out[rname] = res
    return out


def part_newuser(ctx: Ctx) -> dict:
    """Cold start (pipeline/new_user.py): 10% of users held out entirely (seed 42), 10 revealed
    ratings each; every method trained on the other users. The embedding's new user: closed-form
    ridge fold-in of each head (no L-BFGS), x B for EASE, the same blend; user-user: Pearson of the
    10 ratings against every warm user."""
    import pandas as pd

    d = ctx.d
    everything = pd.concat([d.train, d.test], ignore_index=True)
    warm, cases = new_user_split(everything, 0.1, 10, 42)
    uu = UserUserDense(warm, d.n_users, d.n_movies)
    out = {"n_cases": len(cases)}
    relevant = [hid_m[hid_r >= 4.0] for _, _, hid_m, hid_r in cases]
    actual = np.concatenate([hid_r for *_, hid_r in cases])
    p_uu = np.concatenate([uu.predict_new(sm, sr, hm) for sm, sr, hm, _ in cases])
    out["user_user_rmse"] = rmse(p_uu, actual)
    tops = {"uu_current": [], "uu_chosen": []}
    uu_times = []
    n_rated = uu.M.sum(1)
    for shown_m, shown_r, _, _ in cases:
        t = time.perf_counter()
        Rq = np.zeros((1, d.n_movies)); Mq = np.zeros_like(Rq)
        Rq[0, shown_m], Mq[0, shown_m] = shown_r, 1.0
        corr, n_co = pearson_query(Rq, Mq, uu.R, uu.M, 1)
        for name, point in (("uu_current", UU_CURRENT), ("uu_chosen", UU_CHOSEN)):
            W = uu_rank_weights(corr, n_co, point["k"], min_co=point.get("min_co", 5),
                                significance=point.get("significance", 25.0), power=point["power"],
                                overlap=point.get("overlap", 0.0), n_rated=n_rated)
            s2 = uu_rank_scores(uu, W, point["vote"], point["gamma"], point["beta"])[0] if (W > 0).any() \
                else uu.M.sum(0)
            s2 = np.array(s2, dtype=np.float64)
            s2[shown_m] = -np.inf
            tops[name].append(np.argsort(-s2, kind="stable")[:10])
        uu_times.append(time.perf_counter() - t)
    for name, top in tops.items():
        out[name] = ranking_from_top(np.array(top), relevant)
    out["uu_ms_p50_both_variants"] = 1000 * float(np.median(uu_times))
    log("newuser user-user", {k: v for k, v in out.items()})
    for rname, f in RECIPES.items():
        heads_ = cached(f"newuser_{rname.replace(' ', '_')}", lambda: [
            train_pipeline(warm, d.n_users, d.n_movies, replace(f["cfg"]), 42 + SECOND_SEED * i,
                           carve=42)[1] for i in range(f["n_heads"])])
        Xw = ease_input_a(warm, d.n_users, d.n_movies, f["ease_a"])
        ease = fit_ease(Xw, f["ease_lambda"])
        ranked = {"blend": [], "ease_alone": [], "current_first_head_ridge": []}
        preds, times = [], []
        for shown_m, shown_r, hid_m, _ in cases:
            t = time.perf_counter()
            folded = [fin.fold_in_ridge(shown_m, shown_r) for fin in heads_]
            x = np.maximum(1.0 + f["ease_a"] * (shown_r - shown_r.mean()), 0.0)
            e = x @ ease.weights[shown_m]
            cs = [zscore_rows(fin.Q @ (fin.proj @ p) + fin.cbias) for fin, (p, b) in zip(heads_, folded)]
            rs = [fin.mu + b + fin.bm + fin.Q @ p for fin, (p, b) in zip(heads_, folded)]
            sc = zscore_rows(e) + f["wc"] * np.mean(cs, axis=0) + f["wr"] * np.mean([zscore_rows(x_) for x_ in rs], axis=0)
            sc[shown_m] = -np.inf
            ranked["blend"].append(np.argsort(-sc, kind="stable")[:10])
            times.append(time.perf_counter() - t)
            preds.append(np.mean([x_[hid_m] for x_ in rs], axis=0))
            fin, (p, b) = heads_[0], folded[0]
            for name, score in (("ease_alone", e),
                                ("current_first_head_ridge", fin.Q @ (fin.proj @ p) + fin.cbias + rs[0])):
                s2 = np.array(score, dtype=np.float64)
                s2[shown_m] = -np.inf
                ranked[name].append(np.argsort(-s2, kind="stable")[:10])
        pe = np.concatenate(preds)
        res = {"rmse_ridge": rmse(pe, actual), "rmse_ridge_uu_blend": rmse((1 - f["w_uu"]) * pe + f["w_uu"] * p_uu, actual),
               "score_ms_p50": 1000 * float(np.median(times))}
        for name, top in ranked.items():
            res[name] = ranking_from_top(np.array(top), relevant)
        out[rname] = res
        log("newuser", rname, res)
    return out


UU_FINAL_NAME = "grid4 best from 15 ratings, today's below"  # useruser5: best known-user validation among
# the variants that keep the new-user validation of today's (0.2813); today's settings below 15 ratings


def part_uu_final(ctx: Ctx) -> dict:
    """The chosen user-user ranking on test: known users (train -> test) and new users (the
    cold-start split of train + test, seed 42, 10 revealed ratings); its timing per query."""
    import pandas as pd

    d = ctx.d
    point = UU_VARIANTS5[UU_FINAL_NAME]
    out = {"variant": UU_FINAL_NAME, "point": point}
    uu = UserUserDense(d.train, d.n_users, d.n_movies)
    n_profile = uu.M.sum(1)
    tops, times = {}, []
    for user in ctx.ev_test.users:
        rated = np.flatnonzero(uu.M[user])
        t = time.perf_counter()
        # a known user's query, as the service makes it: Pearson of the profile against every user
        Rq, Mq = uu.R[user:user + 1].copy(), uu.M[user:user + 1].copy()
        corr, n_co = pearson_query(Rq, Mq, uu.R, uu.M, 1)
        corr[0, user] = np.nan
        pt = uu_point_for(point, rated.size)
        W = uu_rank_weights(corr, n_co, pt["k"], min_co=pt["min_co"], significance=pt["significance"],
                            power=pt["power"], overlap=pt.get("overlap", 0.0), n_rated=n_profile)
        sc = uu_rank_scores(uu, W, pt["vote"], pt["gamma"], pt["beta"])[0]
        sc[rated] = -np.inf
        tops[user] = np.argsort(-sc, kind="stable")[:10]
        times.append(time.perf_counter() - t)
    top = np.array([tops[u] for u in ctx.ev_test.users])
    out["known_test"] = ranking_from_top(top, ctx.ev_test.relevant)
    out["known_test_ms_p50_dense"] = 1000 * float(np.median(times))
    out["rmse_test"] = ctx.ev_test.rmse(uu.predict_pairs)
    everything = pd.concat([d.train, d.test], ignore_index=True)
    warm, cases = new_user_split(everything, 0.1, 10, 42)
    uw = UserUserDense(warm, d.n_users, d.n_movies)
    relevant = [hm[hr >= 4.0] for _, _, hm, hr in cases]
    new_tops = []
    for sm, sr, _, _ in cases:
        sc = uu_profile_scores(uw, point, sm, sr, uw.M.sum(1))
        sc[sm] = -np.inf
        new_tops.append(np.argsort(-sc, kind="stable")[:10])
    out["new_user_test"] = ranking_from_top(np.array(new_tops), relevant)
    log("uu final", out)
    return out


def _cover_train(ratings, test_mask):
    """split.cover_train: for each user or movie absent from train, its first test row moves to train."""
    test_mask = test_mask.copy()
    for column in ("user_id", "movie_id"):
        train_values = set(ratings.loc[~test_mask, column].to_numpy().tolist())
        test_rows = np.flatnonzero(test_mask)
        values = ratings[column].to_numpy()[test_rows]
        uncovered = ~np.isin(values, list(train_values))
        if uncovered.any():
            _, first = np.unique(values[uncovered], return_index=True)
            test_mask[test_rows[np.flatnonzero(uncovered)[first]]] = False
    return test_mask


def _indexed(train, test):
    users, movies = np.unique(train["user_id"]), np.unique(train["movie_id"])
    out = []
    for frame in (train, test):
        frame = frame.reset_index(drop=True).copy()
        frame["user_idx"] = np.searchsorted(users, frame["user_id"].to_numpy())
        frame["movie_idx"] = np.searchsorted(movies, frame["movie_id"].to_numpy())
        out.append(frame)
    return out[0], out[1], len(users), len(movies)


def part_kfold(ctx: Ctx) -> dict:
    """The 5-fold protocol (split.kfold_test_mask, seed 42, cover_train) on the filtered ratings:
    EASE^R (binary, lambda 400) against the two-head recipe, per fold and mean."""
    import pandas as pd

    d, f = ctx.d, FINAL
    ratings = pd.read_parquet(Path(ctx.data_dir).parent / "interim" / "ratings.parquet")
    # the random split rebuilt from these rows must be the processed one
    order = np.random.RandomState(42).permutation(len(ratings))
    mask = np.zeros(len(ratings), bool)
    mask[order[: int(round(len(ratings) * 0.2))]] = True
    tr, _, _, _ = _indexed(ratings[~_cover_train(ratings, mask)], ratings[_cover_train(ratings, mask)])
    assert np.array_equal(tr[["user_idx", "movie_idx"]].to_numpy(), d.train[["user_idx", "movie_idx"]].to_numpy())
    out = {"folds": {}}
    for fold in range(5):
        order = np.random.RandomState(42).permutation(len(ratings))
        mask = np.zeros(len(ratings), bool)
        mask[order[fold::5]] = True
        mask = _cover_train(ratings, mask)
        train, test, n_users, n_movies = _indexed(ratings[~mask], ratings[mask])
        ev = EvalSet.build(train, test, n_users, n_movies)
        Xb = rating_matrix(train, n_users, n_movies, binary=True)
        row = {"ease_400": ev.ranking(fit_ease(Xb, 400.0).score_matrix(Xb))}
        Xw = ease_input_a(train, n_users, n_movies, f["ease_a"])
        E = fit_ease(Xw, f["ease_lambda"]).score_matrix(Xw)
        row["ease_centred"] = ev.ranking(E)
        finals = [train_pipeline(train, n_users, n_movies, f["cfg"], 42 + SECOND_SEED * i, carve=42)[1]
                  for i in range(f["n_heads"])]
        u, m, r = arrays(test)
        pe = np.mean([fin.predict_pairs(u, m) for fin in finals], axis=0)
        uu = UserUserDense(train, n_users, n_movies)
        row["rmse"] = rmse(pe, r)
        row["rmse_uu_blend"] = rmse((1 - f["w_uu"]) * pe + f["w_uu"] * uu.predict_pairs(u, m), r)
        row["recipe"] = ev.ranking(blend_scores(E, *heads(finals), f["wc"], f["wr"]))
        out["folds"][str(fold)] = row
        log("kfold", fold, "EASE %.4f" % row["ease_400"]["ndcg@10"], "recipe %.4f / P %.4f" % (
            row["recipe"]["ndcg@10"], row["recipe"]["precision@10"]), "rmse %.4f (uu %.4f)" % (row["rmse"], row["rmse_uu_blend"]))
    for key in ("ease_400", "ease_centred", "recipe"):
        for metric in ("ndcg@10", "precision@10"):
            vals = [row[key][metric] for row in out["folds"].values()]
            out[f"{key}_{metric}"] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1))}
    for key in ("rmse", "rmse_uu_blend"):
        vals = [row[key] for row in out["folds"].values()]
        out[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1))}
    log("kfold summary", {k: v for k, v in out.items() if k != "folds"})
    return out


def part_synthetic(ctx: Ctx) -> dict:
    """The recipe (defaults as chosen on ml-latest-small) against EASE^R on the synthetic 1M set
    (movierec.synthetic defaults, 6000 x 4000, 1M ratings, seed 0; ratings parquet with user_id,
    movie_id, rating at $SYNTHETIC_RATINGS): movies with >= 5 ratings, random 80/20 split (seed
    42, cover_train). EASE's lambda chosen on validation (the seed-42 carve of train)."""
    import pandas as pd

    f = FINAL
    ratings = pd.read_parquet(os.environ.get("SYNTHETIC_RATINGS", "/tmp/syn1m/ratings.parquet"))
    per_movie = ratings.groupby("movie_id")["movie_id"].transform("size")
    ratings = ratings[per_movie >= 5].reset_index(drop=True)
    order = np.random.RandomState(42).permutation(len(ratings))
    mask = np.zeros(len(ratings), bool)
    mask[order[: int(round(len(ratings) * 0.2))]] = True
    mask = _cover_train(ratings, mask)
    train, test, n_users, n_movies = _indexed(ratings[~mask], ratings[mask])
    fit, val = validation_split(train, 42)
    ev_val = EvalSet.build(fit, val, n_users, n_movies)
    ev = EvalSet.build(train, test, n_users, n_movies)
    out = {"n_ratings": len(ratings), "n_users": n_users, "n_movies": n_movies, "ease_val": {}}
    Xf = rating_matrix(fit, n_users, n_movies, binary=True)
    for lam in (200.0, 400.0, 800.0, 1600.0, 3200.0):
        out["ease_val"][f"{lam:g}"] = ev_val.ranking(fit_ease(Xf, lam).score_matrix(Xf))["ndcg@10"]
        log("synthetic EASE val", lam, out["ease_val"][f"{lam:g}"])
    del Xf
    lam = float(max(out["ease_val"], key=out["ease_val"].get))
    Xb = rating_matrix(train, n_users, n_movies, binary=True)
    out["ease_test"] = {"lambda": lam, **ev.ranking(fit_ease(Xb, lam).score_matrix(Xb))}
    log("synthetic EASE test", out["ease_test"])
    Xw = ease_input_a(train, n_users, n_movies, f["ease_a"])
    t = time.perf_counter()
    E = fit_ease(Xw, f["ease_lambda"]).score_matrix(Xw)
    out["ease_centred_fit_s"] = time.perf_counter() - t
    out["ease_centred_test"] = ev.ranking(E)
    log("synthetic EASE centred test", out["ease_centred_test"])
    pairs = [train_pipeline(train, n_users, n_movies, f["cfg"], 42 + SECOND_SEED * i, carve=42)
             for i in range(f["n_heads"])]
    finals = [fin for _, fin in pairs]
    out["train_seconds"] = float(sum(sel.seconds + fin.seconds for sel, fin in pairs))
    out["best_epochs"] = [sel.best_epoch for sel, _ in pairs]
    u, m, r = arrays(test)
    out["rmse"] = rmse(np.mean([fin.predict_pairs(u, m) for fin in finals], axis=0), r)
    out["rmse_first_head"] = rmse(finals[0].predict_pairs(u, m), r)
    out["rank_current_first_head"] = ev.ranking(finals[0].choice_all() + finals[0].rating_all())
    out["recipe"] = ev.ranking(blend_scores(E, *heads(finals), f["wc"], f["wr"]))
    log("synthetic", {k: v for k, v in out.items() if k != "ease_val"})
    return out


PARTS = {"summary": lambda ctx: {"written": time.strftime("%Y-%m-%d %H:%M:%S")}, "kfold": part_kfold, "synthetic": part_synthetic, "uu_final": part_uu_final, "useruser5": part_useruser5, "choose2": part_choose2, "useruser4": part_useruser4, "useruser3": part_useruser3, "rmse_sweep": part_rmse_sweep, "choose": part_choose, "final": part_final, "newuser": part_newuser, "useruser2": part_useruser2, "ease2": part_ease2, "baselines": part_baselines, "embedding": part_embedding, "useruser": part_useruser, "blend": part_blend, "rating": part_rating}


def write_summary(results: dict, path: Path) -> None:
    """A Markdown digest of the results file (test figures of the chosen settings only)."""
    L = ["# Ranking research: chosen settings on test", "",
         "Every setting chosen on validation (a seeded 10% of train, seed 42); see ranking_research.json "
         "for every variant's validation figures.", ""]
    b = results.get("baselines", {})
    if b:
        L += ["| baseline | chosen on validation | P@10 | NDCG@10 |", "|---|---|---:|---:|"]
        for key, label in (("ease", "EASE^R"), ("rp3beta", "RP3beta"), ("als", "implicit ALS")):
            t = b[key]["test"]
            L.append(f"| {label} | {b[key]['chosen']} | {t['precision@10']:.4f} | {t['ndcg@10']:.4f} |")
        L.append("")
    fin = results.get("final", {})
    for name in ("two heads", "one head"):
        if name not in fin:
            continue
        sm, rec = fin[name]["summary"], fin[name]["recipe"]
        L += [f"## Embedding recipe: {name}", "", f"settings: `{rec}`", "",
              "| figure (3 seeds) | mean | min | max |", "|---|---:|---:|---:|"]
        for key, v in sm.items():
            L.append(f"| {key} | {v['mean']:.4f} | {v['min']:.4f} | {v['max']:.4f} |")
        L += ["", f"EASE alone (the recipe's input) on test: NDCG@10 {fin[name]['ease_alone']['ndcg@10']:.4f}, "
              f"P@10 {fin[name]['ease_alone']['precision@10']:.4f}; scoring one user p50 "
              f"{fin[name]['score_ms_per_user_p50']:.2f} ms (numpy); EASE fit {fin[name]['ease_fit_seconds']:.1f} s", ""]
    uf = results.get("uu_final")
    if uf:
        L += ["## User-user ranking", "", f"variant: `{uf['point']}`", "",
              f"- known users, test: NDCG@10 {uf['known_test']['ndcg@10']:.4f}, P@10 {uf['known_test']['precision@10']:.4f}; "
              f"RMSE {uf['rmse_test']:.4f} (rating path unchanged)",
              f"- new users, test: NDCG@10 {uf['new_user_test']['ndcg@10']:.4f}", ""]
    nu = results.get("newuser")
    if nu:
        L += ["## New users (10 revealed ratings, 61 users)", "", "| method | RMSE | NDCG@10 | P@10 | ms p50 |",
              "|---|---:|---:|---:|---:|"]
        for name in ("two heads", "one head"):
            if name in nu:
                x = nu[name]
                L.append(f"| {name}: blend, ridge fold-in | {x['rmse_ridge']:.4f} (uu blend {x['rmse_ridge_uu_blend']:.4f}) | "
                         f"{x['blend']['ndcg@10']:.4f} | {x['blend']['precision@10']:.4f} | {x['score_ms_p50']:.2f} |")
        L.append("")
    kf = results.get("kfold")
    if kf:
        L += ["## 5-fold protocol (mean ± std over folds)", ""]
        for key in ("ease_400", "ease_centred", "recipe"):
            L.append(f"- {key}: NDCG@10 {kf[f'{key}_ndcg@10']['mean']:.4f} ± {kf[f'{key}_ndcg@10']['std']:.4f}, "
                     f"P@10 {kf[f'{key}_precision@10']['mean']:.4f} ± {kf[f'{key}_precision@10']['std']:.4f}")
        L.append(f"- recipe RMSE {kf['rmse']['mean']:.4f} ± {kf['rmse']['std']:.4f} "
                 f"(with user-user {kf['rmse_uu_blend']['mean']:.4f} ± {kf['rmse_uu_blend']['std']:.4f})")
        L.append("")
    path.write_text("\n".join(L))


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("parts", nargs="+", choices=sorted(PARTS))
    p.add_argument("--variants", nargs="*", help="embedding variants (default: all)")
    p.add_argument("--data", default=str(HERE.parent / "data" / "processed"))
    p.add_argument("--out", default=str(HERE / "results" / "ranking_research.json"))
    args = p.parse_args(argv)
    ctx = Ctx(args.data)
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    for part in args.parts:
        started = time.perf_counter()
        kwargs = {"variants": args.variants} if part in ("embedding", "rmse_sweep") and args.variants else {}
        previous = results.get(part, {}) if kwargs else {}
        results[part] = {**previous, **PARTS[part](ctx, **kwargs)}
        results[part]["_seconds"] = time.perf_counter() - started
        dump(out_path, results)
        write_summary(results, out_path.with_suffix(".md"))
        log(part, "done in", round(time.perf_counter() - started), "s")


if __name__ == "__main__":
    main()
