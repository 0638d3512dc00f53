"""Self-contained helpers for the ranking research (no ``movierec`` import).

Reproduces, from the processed parquet files alone, the project's evaluation protocol
(``evaluation/protocol.py`` + ``evaluation/metrics.py``), its validation carve
(``carve_validation``), its new-user split, the embedding model and its trainer (a plain
PyTorch copy of ``models/embedding``: same net, initialisation, losses, batches, Adam, early
stopping on validation MSE, refit for best_epoch + 1 epochs) and the user-user Pearson rating path
(``models/user_user``), in dense numpy form (610 users).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import copy
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

K = 10
THRESHOLD = 4.0
RATING_MIN, RATING_MAX = 0.5, 5.0


# -- data and splits ---------------------------------------------------------------------------

@dataclass
class Data:
    train: pd.DataFrame
    test: pd.DataFrame
    n_users: int
    n_movies: int


def load(data_dir: str | Path) -> Data:
    data_dir = Path(data_dir)
    train = pd.read_parquet(data_dir / "train.parquet")
    test = pd.read_parquet(data_dir / "test.parquet")
    vocab = json.loads((data_dir / "vocabulary.json").read_text())
    movies = pd.read_parquet(data_dir / "movies.parquet")
    return Data(train, test, len(vocab["users"]), len(movies))


def carve_validation(n_rows: int, fraction: float, seed: int) -> np.ndarray:
    """The trainer's validation mask: a seeded random `fraction` of rows."""
    order = np.random.RandomState(seed).permutation(n_rows)
    mask = np.zeros(n_rows, dtype=bool)
    mask[order[: int(round(n_rows * fraction))]] = True
    return mask


def validation_split(train: pd.DataFrame, seed: int = 42, fraction: float = 0.1):
    is_val = carve_validation(len(train), fraction, seed)
    return train[~is_val].reset_index(drop=True), train[is_val].reset_index(drop=True)


def arrays(frame: pd.DataFrame):
    return (frame["user_idx"].to_numpy(np.int64), frame["movie_idx"].to_numpy(np.int64),
            frame["rating"].to_numpy(np.float64))


def rating_matrix(frame: pd.DataFrame, n_users: int, n_movies: int, binary: bool = False) -> sp.csr_matrix:
    u, m, r = arrays(frame)
    return sp.csr_matrix((np.ones_like(r) if binary else r, (u, m)), shape=(n_users, n_movies))


def new_user_split(ratings: pd.DataFrame, user_fraction: float = 0.1, n_reveal: int = 10, seed: int = 42):
    """evaluation.protocol.new_user_split: (warm ratings, [(shown movies, shown ratings, hidden movies,
    hidden ratings)])."""
    rng = np.random.RandomState(seed)
    users = np.unique(ratings["user_idx"].to_numpy())
    cold = set(rng.permutation(users)[: int(round(len(users) * user_fraction))].tolist())
    is_cold = ratings["user_idx"].isin(cold).to_numpy()
    ordered = ratings[is_cold].sort_values(["user_idx", "movie_idx"], kind="stable")
    cases = []
    for _, group in ordered.groupby("user_idx", sort=True):
        movies = group["movie_idx"].to_numpy(np.int64)
        values = group["rating"].to_numpy(np.float32)
        if len(movies) <= n_reveal:
            continue
        order = rng.permutation(len(movies))
        shown, hidden = order[:n_reveal], order[n_reveal:]
        cases.append((movies[shown], values[shown], movies[hidden], values[hidden]))
    return ratings[~is_cold].reset_index(drop=True), cases


# -- metrics (binary gains, users with a relevant held-out item; ties to the lower index) -------

def rmse(pred: np.ndarray, actual: np.ndarray) -> float:
    err = np.clip(np.asarray(pred, float), RATING_MIN, RATING_MAX) - np.asarray(actual, float)
    return float(np.sqrt(np.mean(err ** 2)))


DISCOUNTS = 1.0 / np.log2(np.arange(2, K + 2))


def top_k_rows(scores: np.ndarray, exclude: sp.csr_matrix | None, k: int = K) -> np.ndarray:
    """Top-k movie indices per row (stable: ties to the lower index), excluded / non-finite never."""
    s = np.array(scores, dtype=np.float64, copy=True)
    s[~np.isfinite(s)] = -np.inf
    if exclude is not None:
        rows, cols = exclude.nonzero()
        s[rows, cols] = -np.inf
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def ranking_from_top(top: np.ndarray, relevant: list[np.ndarray], k: int = K) -> dict:
    ndcg, prec, rec = [], [], []
    for ranked, rel in zip(top, relevant):
        if not len(rel):
            continue
        hits = np.isin(ranked[:k], rel)
        ndcg.append(float((hits * DISCOUNTS[: hits.size]).sum() / DISCOUNTS[: min(len(rel), k)].sum()))
        prec.append(hits.sum() / k)
        rec.append(hits.sum() / len(rel))
    return {"ndcg@10": float(np.mean(ndcg)), "precision@10": float(np.mean(prec)),
            "recall@10": float(np.mean(rec)), "n_users": len(ndcg)}


@dataclass
class EvalSet:
    """Held-out ratings against a profile matrix: users with a held-out rating, their relevant sets."""

    profile: sp.csr_matrix          # users x movies (binary) of what each user has rated (excluded)
    users: np.ndarray               # evaluated users (those with a held-out rating)
    relevant: list[np.ndarray]      # per evaluated user
    heldout: pd.DataFrame

    @classmethod
    def build(cls, profile_frame: pd.DataFrame, heldout: pd.DataFrame, n_users: int, n_movies: int) -> EvalSet:
        profile = rating_matrix(profile_frame, n_users, n_movies, binary=True)
        users = np.unique(heldout["user_idx"].to_numpy())
        rel = heldout[heldout["rating"] >= THRESHOLD]
        groups = {u: g["movie_idx"].to_numpy() for u, g in rel.groupby("user_idx")}
        return cls(profile, users, [groups.get(u, np.empty(0, np.int64)) for u in users], heldout)

    def ranking(self, scores_all_users: np.ndarray) -> dict:
        """Metrics of a (n_users, n_movies) score matrix."""
        top = top_k_rows(scores_all_users[self.users], self.profile[self.users])
        return ranking_from_top(top, self.relevant)

    def rmse(self, predict_pairs) -> float:
        u, m, r = arrays(self.heldout)
        return rmse(predict_pairs(u, m), r)


def zscore_rows(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, np.float64)
    mu = s.mean(axis=-1, keepdims=True)
    sd = s.std(axis=-1, keepdims=True)
    return (s - mu) / np.where(sd > 0, sd, 1.0)


# -- the embedding model (plain PyTorch copy of models/embedding) -------------------------------

@dataclass
class EmbCfg:
    embedding_dim: int = 64
    dropout: float = 0.2
    learning_rate: float = 0.003
    l2: float = 0.12
    batch_size: int = 1024
    implicit_weight: float = 0.1
    implicit_users: int = 64
    rank_rating_weight: float = 1.0
    max_epochs: int = 40
    patience: int = 3


def _torch():
    import torch
    torch.set_num_threads(1)
    return torch


def make_net(n_users: int, n_movies: int, cfg: EmbCfg, global_mean: float, seed: int):
    torch = _torch()
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            gen = torch.Generator().manual_seed(seed)
            d = cfg.embedding_dim
            self.user, self.movie = nn.Embedding(n_users, d), nn.Embedding(n_movies, d)
            self.user_bias, self.movie_bias = nn.Embedding(n_users, 1), nn.Embedding(n_movies, 1)
            self.choice_movie_bias = nn.Embedding(n_movies, 1)
            self.choice_proj = nn.Linear(d, d, bias=False)
            with torch.no_grad():
                for t in (self.user, self.movie):
                    t.weight.copy_(torch.randn(t.weight.shape, generator=gen) * 0.05)
                for t in (self.user_bias, self.movie_bias, self.choice_movie_bias):
                    t.weight.zero_()
                self.choice_proj.weight.copy_(torch.eye(d) + torch.randn(d, d, generator=gen) * 0.01)
            self.register_buffer("global_mean", torch.tensor(float(global_mean)))
            self.dropout = nn.Dropout(cfg.dropout)

        def predict_pairs(self, u, m):
            p, q = self.dropout(self.user(u)), self.dropout(self.movie(m))
            return self.global_mean + self.user_bias(u).squeeze(-1) + self.movie_bias(m).squeeze(-1) + (p * q).sum(-1)

        def choice_loss(self, u, w):
            p = self.dropout(self.user(u))
            logits = self.choice_proj(p) @ self.movie.weight.T + self.choice_movie_bias.weight.T
            return -(w * torch.log_softmax(logits, -1)).sum(-1).mean()

    return Net()


@dataclass
class Trained:
    """Numpy copies of a trained net's tables (all that scoring needs)."""

    P: np.ndarray
    bu: np.ndarray
    Q: np.ndarray
    bm: np.ndarray
    proj: np.ndarray       # choice_proj.weight (d x d): h = proj @ p
    cbias: np.ndarray
    mu: float
    cfg: EmbCfg
    best_epoch: int = -1
    history: list = field(default_factory=list)
    seconds: float = 0.0

    def rating_all(self) -> np.ndarray:
        return self.mu + self.bu[:, None] + self.bm[None, :] + self.P @ self.Q.T

    def choice_all(self) -> np.ndarray:
        return (self.P @ self.proj.T) @ self.Q.T + self.cbias[None, :]

    def predict_pairs(self, u, m) -> np.ndarray:
        return self.mu + self.bu[u] + self.bm[m] + np.einsum("ij,ij->i", self.P[u], self.Q[m])

    def fold_in_ridge(self, movies: np.ndarray, ratings: np.ndarray, lam: float | None = None):
        """Closed-form (p, b) of a new user: ridge regression of r - mu - b_m on [q_m, 1], penalty
        n * l2 (the training objective's MSE term + l2 (|p|^2 + b^2), choice term left out)."""
        n = len(movies)
        if n == 0:
            return np.zeros(self.P.shape[1]), 0.0
        lam = self.cfg.l2 if lam is None else lam
        A = np.hstack([self.Q[movies], np.ones((n, 1))]).astype(np.float64)
        y = np.asarray(ratings, np.float64) - self.mu - self.bm[movies]
        theta = np.linalg.solve(A.T @ A + n * lam * np.eye(A.shape[1]), A.T @ y)
        return theta[:-1], float(theta[-1])


def fit_embedding(fit: pd.DataFrame, val: pd.DataFrame | None, n_users: int, n_movies: int, cfg: EmbCfg,
                  seed: int, epochs: int | None = None) -> Trained:
    """The trainer: Adam on MSE + l2 + implicit_weight x choice softmax; early stopping on val MSE
    (patience) and the best epoch's weights restored, or exactly `epochs` epochs (last kept)."""
    torch = _torch()
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
    u, m, r = (torch.tensor(a) for a in arrays(fit))
    r = r.float()
    mu = float(r.mean())
    net = make_net(n_users, n_movies, cfg, mu, seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    R = rating_matrix(fit, n_users, n_movies)
    choice_users = np.flatnonzero(np.diff(R.indptr) > 0)
    rng = np.random.default_rng(seed)
    queue = np.empty(0, np.int64)
    if val is not None:
        vu, vm, vr = (torch.tensor(a) for a in arrays(val))
        vr = vr.float()
    n_epochs = epochs if epochs is not None else cfg.max_epochs
    best, best_state, best_epoch, bad, history = np.inf, None, -1, 0, []
    started = time.perf_counter()
    for epoch in range(n_epochs):
        net.train()
        order = torch.randperm(len(r), generator=torch.Generator().manual_seed(seed + epoch))
        for start in range(0, len(r), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            bu_, bm_ = u[idx], m[idx]
            mse = torch.mean((net.predict_pairs(bu_, bm_) - r[idx]) ** 2)
            loss = mse
            if cfg.l2 > 0:
                reg = (net.user(bu_).pow(2).sum(-1) + net.movie(bm_).pow(2).sum(-1)
                       + net.user_bias(bu_).squeeze(-1) ** 2 + net.movie_bias(bm_).squeeze(-1) ** 2)
                loss = loss + cfg.l2 * reg.mean()
            if cfg.implicit_weight > 0:
                if queue.size < cfg.implicit_users:
                    queue = np.concatenate([queue, rng.permutation(choice_users)])
                cu, queue = queue[:cfg.implicit_users], queue[cfg.implicit_users:]
                w = R[cu].toarray().astype(np.float32)
                w /= w.sum(axis=1, keepdims=True)
                loss = loss + cfg.implicit_weight * net.choice_loss(torch.from_numpy(cu), torch.from_numpy(w))
            opt.zero_grad()
            loss.backward()
            opt.step()
        row = {"epoch": epoch}
        if val is not None:
            net.eval()
            with torch.no_grad():
                row["val_mse"] = float(torch.mean((net.predict_pairs(vu, vm) - vr) ** 2))
        history.append(row)
        if epochs is None:
            if row["val_mse"] < best:
                best, best_epoch, bad = row["val_mse"], epoch, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
    if epochs is None and best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = n_epochs - 1
    seconds = time.perf_counter() - started
    sd = {k: v.detach().numpy().astype(np.float64) for k, v in net.state_dict().items()}
    return Trained(sd["user.weight"], sd["user_bias.weight"][:, 0], sd["movie.weight"], sd["movie_bias.weight"][:, 0],
                   sd["choice_proj.weight"], sd["choice_movie_bias.weight"][:, 0], mu, cfg, best_epoch, history,
                   seconds)


def train_pipeline(train: pd.DataFrame, n_users: int, n_movies: int, cfg: EmbCfg, seed: int,
                   refit: bool = True, carve: int | None = None) -> tuple[Trained, Trained | None]:
    """train_embedding: selection run (validation = carve(seed)) then refit on all of train."""
    fit, val = validation_split(train, seed if carve is None else carve)
    selection = fit_embedding(fit, val, n_users, n_movies, cfg, seed)
    if not refit:
        return selection, None
    final = fit_embedding(train, None, n_users, n_movies, cfg, seed, epochs=selection.best_epoch + 1)
    return selection, final


# -- user-user Pearson (dense form of models/user_user) -----------------------------------------

@dataclass
class UUCfg:
    n_neighbours: int = 30
    min_co_rated: int = 2
    shrinkage: float = 25.0
    damping: float = 1.0
    bias_reg_user: float = 5.0
    bias_reg_movie: float = 5.0
    bias_iters: int = 10


def fit_biases(u, m, r, n_users, n_movies, reg_u=5.0, reg_m=5.0, iters=10):
    mu = float(r.mean())
    n_u, n_i = np.bincount(u, minlength=n_users), np.bincount(m, minlength=n_movies)
    b_u, b_i = np.zeros(n_users), np.zeros(n_movies)
    for _ in range(iters):
        b_i = np.bincount(m, weights=r - mu - b_u[u], minlength=n_movies) / (reg_m + n_i)
        b_u = np.bincount(u, weights=r - mu - b_i[m], minlength=n_users) / (reg_u + n_u)
    return mu, b_u, b_i


def pearson_dense(R: np.ndarray, M: np.ndarray, min_co: int):
    """Pairwise-complete Pearson between rows of R (ratings where M), and co-rated counts."""
    cnt = M.sum(1)
    centre = np.where(cnt > 0, R.sum(1) / np.maximum(cnt, 1), 0.0)
    Y = (R - centre[:, None]) * M
    n = M @ M.T
    sx = Y @ M.T          # [u, v] = sum over co-rated of y_u
    sy = sx.T
    sxx = (Y * Y) @ M.T
    syy = sxx.T
    sxy = Y @ Y.T
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        corr = cov / np.sqrt(vx * vy)
        bad = (n < max(min_co, 1)) | (vx <= 1e-12 * sxx) | (vy <= 1e-12 * syy)
    corr[bad] = np.nan
    np.fill_diagonal(corr, np.nan)
    return np.clip(corr, -1, 1), n


def pearson_query(Rq: np.ndarray, Mq: np.ndarray, R: np.ndarray, M: np.ndarray, min_co: int):
    """Pearson (over co-rated movies) of query rows (Rq where Mq) against every row of R (where M)."""
    def centre(A, B):
        cnt = B.sum(1)
        return (A - np.where(cnt > 0, A.sum(1) / np.maximum(cnt, 1), 0.0)[:, None]) * B
    X, Y = centre(Rq, Mq), centre(R, M)
    n = Mq @ M.T
    sx, sxx = X @ M.T, (X * X) @ M.T
    sy, syy = Mq @ Y.T, Mq @ (Y * Y).T
    sxy = X @ Y.T
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        corr = cov / np.sqrt(vx * vy)
        bad = (n < max(min_co, 1)) | (vx <= 1e-12 * sxx) | (vy <= 1e-12 * syy)
    corr[bad] = np.nan
    return np.clip(corr, -1, 1), n


class UserUserDense:
    """user-user rating path (baseline + damped, shrunk, top-k |w| deviations) on dense arrays."""

    def __init__(self, fit: pd.DataFrame, n_users: int, n_movies: int, cfg: UUCfg = UUCfg()):
        self.cfg = cfg
        u, m, r = arrays(fit)
        self.R = np.zeros((n_users, n_movies))
        self.R[u, m] = r
        self.M = np.zeros((n_users, n_movies))
        self.M[u, m] = 1.0
        self.mu, self.b_u, self.b_i = fit_biases(u, m, r, n_users, n_movies, cfg.bias_reg_user,
                                                 cfg.bias_reg_movie, cfg.bias_iters)
        self.D = (self.R - self.mu - self.b_u[:, None] - self.b_i[None, :]) * self.M
        self.corr, self.n_co = pearson_dense(self.R, self.M, cfg.min_co_rated)

    def weights(self):
        c = self.cfg
        w = np.nan_to_num(self.corr) * (self.n_co / (self.n_co + c.shrinkage))
        return w

    def predict_new(self, shown_m, shown_r, movies) -> np.ndarray:
        """Rating path for a new user (Pearson of the shown ratings against every user)."""
        c = self.cfg
        Rq = np.zeros((1, self.R.shape[1]))
        Mq = np.zeros_like(Rq)
        Rq[0, shown_m], Mq[0, shown_m] = shown_r, 1.0
        corr, n = pearson_query(Rq, Mq, self.R, self.M, c.min_co_rated)
        w = np.nan_to_num(corr[0]) * (n[0] / (n[0] + c.shrinkage))
        b_user = float(np.sum(shown_r - self.mu - self.b_i[shown_m]) / (c.bias_reg_user + len(shown_m)))
        A = w[:, None] * self.M[:, movies]
        order = np.argsort(-np.abs(A), axis=0, kind="stable")[: c.n_neighbours]
        keep = np.zeros_like(A, dtype=bool)
        np.put_along_axis(keep, order, True, axis=0)
        A = np.where(keep, A, 0.0)
        return self.mu + b_user + self.b_i[movies] + (A * self.D[:, movies]).sum(0) / (np.abs(A).sum(0) + c.damping)

    def predict_pairs(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        W = self.weights()
        out = np.empty(len(users))
        k = self.cfg.n_neighbours
        for user in np.unique(users):
            sel = np.flatnonzero(users == user)
            items = movies[sel]
            A = W[user][:, None] * self.M[:, items]          # (n_users, n_items): weights of raters
            absA = np.abs(A)
            order = np.argsort(-absA, axis=0, kind="stable")[:k]
            keep = np.zeros_like(A, dtype=bool)
            np.put_along_axis(keep, order, True, axis=0)
            A = np.where(keep, A, 0.0)
            num = (A * self.D[:, items]).sum(0)
            den = np.abs(A).sum(0) + self.cfg.damping
            out[sel] = self.mu + self.b_u[user] + self.b_i[items] + num / den
        return out


class ItemItemDense:
    """Item-based KNN on baseline residuals (KNNBaseline-like): shrunk Pearson-like cosine of
    residuals over co-raters, the k most similar movies the user rated, damped weighted mean."""

    def __init__(self, uu: UserUserDense, k: int = 30, shrinkage: float = 100.0, damping: float = 1.0):
        D, M = uu.D, uu.M
        num = D.T @ D
        norm = np.sqrt((D * D).T @ M * ((D * D).T @ M).T)
        n = M.T @ M
        with np.errstate(divide="ignore", invalid="ignore"):
            S = np.where(norm > 0, num / norm, 0.0) * (n / (n + shrinkage))
        np.fill_diagonal(S, 0.0)
        self.S, self.uu, self.k, self.damping = S, uu, k, damping

    def predict_pairs(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        uu = self.uu
        out = np.empty(len(users))
        for user in np.unique(users):
            sel = np.flatnonzero(users == user)
            items = movies[sel]
            rated = np.flatnonzero(uu.M[user])
            A = self.S[np.ix_(items, rated)]
            if rated.size > self.k:
                cut = np.argsort(-np.abs(A), axis=1, kind="stable")[:, self.k:]
                np.put_along_axis(A, cut, 0.0, axis=1)
            num = A @ uu.D[user, rated]
            den = np.abs(A).sum(1) + self.damping
            out[sel] = uu.mu + uu.b_u[user] + uu.b_i[items] + num / den
        return out


def dump(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    tmp.replace(path)
