"""All rating heads of the embedding method in one module, with SVD++-style implicit terms.

Head h is the :class:`~movierec.models.embedding.net.EmbeddingNet` model (rating head + choice
head, same initialisation for the same seed), its tables stacked along a leading head axis so
that one forward/backward per batch trains every head. With ``implicit_l2 > 0`` both sides carry
implicit-feedback sums (the SVD++ idea):

    user vector  p_u + |N(u)|^-1/2 Σ_{j ∈ N(u)} y_j      (N(u): the movies u rated in training)
    movie vector q_m + |R(m)|^-1/2 Σ_{v ∈ R(m)} z_v      (R(m): the users who rated m)

used by both heads; y, z start at zero and carry their own L2, per rating: ``implicit_l2`` × (the
mean |y_j|² over N(u) + the mean |z_v|² over R(m)). The sums are one sparse matmul per side per
step for all heads. With ``day_penalty`` each head also learns a per-user-day bias
(:mod:`movierec.models.embedding.day_bias`; its own L2 per rating, ``day_l2`` plus ``day_prior``/n for
a pair with n training ratings; the last row, for unseen pairs, stays zero). After training,
:meth:`StackedNet.head` *bakes* head h into a plain EmbeddingNet whose tables are those sums (the
same predictions for known users) and which keeps y (``implicit_movie``) so that a new user's
fold-in adds |N|^-1/2 Σ y_j over the request's movies.

With ``implicit_bias_l2 > 0`` the implicit sets reach the biases too (the linear weights a
factorization machine gives the same features): b_u + |N(u)|^-1/2 Σ_{j ∈ N(u)} w_j and
b_m + |R(m)|^-1/2 Σ_{v ∈ R(m)} w'_v, w and w' with that L2 per rating, baked like the vectors (w kept
for fold-in). With ``rating_link`` every head learns a noise spread σ_h and is trained on the MSE of
g(score) (:mod:`movierec.models.embedding.link`), the expected rating of a noisy score clipped to the scale.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from movierec.config import RATING_MAX, RATING_MIN
from movierec.models.embedding.link import expected_clipped_torch
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet

LINK_SIGMA_START = 0.75  # every head's σ of the rating link starts here (the rating noise's order)


def _sparse(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy matrix as a torch CSR tensor (sparse @ dense on CSR is 2-30x faster than on COO here)."""
    csr = sp.csr_matrix(matrix)
    csr.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the one op used here, sparse.mm, is tested
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(csr.indptr.astype(np.int64)),
                                       torch.from_numpy(csr.indices.astype(np.int64)),
                                       torch.from_numpy(csr.data.astype(np.float32)), csr.shape,
                                       check_invariants=True)


def scaled_matrix(pattern: sp.csr_matrix, power: float) -> sp.csr_matrix:
    """Binary rows of `pattern` times count^-power (empty rows stay zero)."""
    binary = sp.csr_matrix(pattern, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    count = np.diff(binary.indptr).astype(np.float64)
    scale = np.where(count > 0, np.maximum(count, 1.0) ** -power, 0.0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ binary)



def count_weights(rows: np.ndarray, n: int, power: float) -> torch.Tensor:
    """Per index 0..n-1: count^-power (count: its occurrences in `rows`, one per training rating; an
    index never seen weighs 1 before normalising), normalised to mean 1 over `rows`."""
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    weights = np.maximum(counts, 1.0) ** -power
    return torch.tensor(weights / weights[rows].mean(), dtype=torch.float32)


class _SparseTimesDense(torch.autograd.Function):
    """sets @ dense with the backward through a transpose made once (autograd's own backward of a
    sparse matmul transposes and coalesces `sets` on every call)."""

    @staticmethod
    def forward(ctx, sets: torch.Tensor, sets_t: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        ctx.sets_t = sets_t
        return torch.sparse.mm(sets, dense)

    @staticmethod
    def backward(ctx, grad):
        return None, None, torch.sparse.mm(ctx.sets_t, grad)


class StackedNet(nn.Module):
    """`n_heads` embedding models (init seeds `seeds`) trained in one module."""

    global_mean: torch.Tensor
    day_penalty: torch.Tensor
    user_l2: torch.Tensor
    movie_l2: torch.Tensor

    def __init__(self, hp: EmbeddingHParams, seeds: list[int], pattern: sp.csr_matrix | None = None,
                 implicit_l2: float = 0.0, day_penalty: np.ndarray | None = None, l2_count_power: float = 0.0,
                 bias_l2_scale: float = 1.0, implicit_bias_l2: float = 0.0, rating_link: bool = False) -> None:
        """`day_penalty`: with per-user-day biases, each table row's L2 weight per rating
        (:meth:`UserDays.penalty <movierec.models.embedding.day_bias.UserDays.penalty>`, its last row
        the unseen pairs'); None: no day biases. `l2_count_power` > 0: frequency-aware L2
        (:func:`count_weights` of `pattern`'s row and column counts). `bias_l2_scale`: the biases' L2
        is the vectors' times this. `implicit_bias_l2` > 0: implicit bias terms with this L2;
        `rating_link`: the clipped-normal link, σ learned per head."""
        super().__init__()
        self.hp, self.n_heads, self.implicit_l2, self.bias_l2_scale = hp, len(seeds), implicit_l2, bias_l2_scale
        heads = [EmbeddingNet(hp, seed=s) for s in seeds]  # the same initial weights as lone heads

        def stack(get) -> nn.Parameter:
            return nn.Parameter(torch.stack([get(h).detach().clone() for h in heads]))

        self.user, self.movie = stack(lambda h: h.user.weight), stack(lambda h: h.movie.weight)
        self.user_bias = stack(lambda h: h.user_bias.weight[:, 0])
        self.movie_bias = stack(lambda h: h.movie_bias.weight[:, 0])
        self.choice_bias = stack(lambda h: h.choice_movie_bias.weight[:, 0])
        self.choice_proj = stack(lambda h: h.choice_proj.weight)      # h = proj @ p, per head
        self.register_buffer("global_mean", torch.tensor(float(hp.global_mean)))
        self.dropout = nn.Dropout(hp.dropout)
        self.day_bias = None if day_penalty is None else nn.Parameter(torch.zeros(self.n_heads, len(day_penalty)))
        if day_penalty is not None:
            self.register_buffer("day_penalty", torch.as_tensor(day_penalty, dtype=torch.float32), persistent=False)
        self.l2_weighted = l2_count_power > 0
        if self.l2_weighted:
            if pattern is None:
                raise ValueError("frequency-aware L2 needs the training ratings' pattern")
            users, movies = pattern.nonzero()
            self.register_buffer("user_l2", count_weights(users, hp.n_users, l2_count_power), persistent=False)
            self.register_buffer("movie_l2", count_weights(movies, hp.n_movies, l2_count_power), persistent=False)
        self.implicit, self.implicit_bias_l2 = implicit_l2 > 0, implicit_bias_l2
        self.log_link_sigma = nn.Parameter(torch.full((self.n_heads,), math.log(LINK_SIGMA_START))) \
            if rating_link else None
        if self.implicit_bias_l2 > 0:  # w_j, w'_v: (n, H, 1) like y and z, so that the same sparse sums apply
            self.implicit_bias_movie = nn.Parameter(torch.zeros(hp.n_movies, self.n_heads, 1))
            self.implicit_bias_user = nn.Parameter(torch.zeros(hp.n_users, self.n_heads, 1))
        if self.implicit or self.implicit_bias_l2 > 0:
            if pattern is None:
                raise ValueError("implicit terms need the training ratings' pattern")
            transposed = pattern.T.tocsr()
            # N(u) scaled by |N(u)|^-1/2 (the sums) and by |N(u)|^-1 (the means of the L2 term); R(m) likewise
            for name, rows, power in (("user_sets", pattern, 0.5), ("movie_sets", transposed, 0.5),
                                      ("user_means", pattern, 1.0), ("movie_means", transposed, 1.0)):
                matrix = scaled_matrix(rows, power)
                self.register_buffer(name, _sparse(matrix), persistent=False)
                self.register_buffer(f"{name}_t", _sparse(matrix.T), persistent=False)
        if self.implicit:
            # row-major over movies/users, heads inside a row: (n, H, d) is the (n, H*d) matrix the
            # sparse sums multiply, without a transposed copy each step
            self.implicit_movie = nn.Parameter(torch.zeros(hp.n_movies, self.n_heads, hp.embedding_dim))  # y_j
            self.implicit_user = nn.Parameter(torch.zeros(hp.n_users, self.n_heads, hp.embedding_dim))    # z_v

    def _sum(self, name: str, table: torch.Tensor) -> torch.Tensor:
        """sets @ table for every head at once: (rows, n) @ (n, H, d) -> (H, rows, d); `name`: the
        buffer of the sets (user_sets, movie_sets, user_means, movie_means)."""
        n, heads, dim = table.shape
        sums = _SparseTimesDense.apply(getattr(self, name), getattr(self, f"{name}_t"), table.reshape(n, heads * dim))
        return sums.reshape(-1, heads, dim).permute(1, 0, 2)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users, movies) vectors of every head, implicit sums included: (H, U, d), (H, M, d)."""
        if not self.implicit:
            return self.user, self.movie
        return (self.user + self._sum("user_sets", self.implicit_movie),
                self.movie + self._sum("movie_sets", self.implicit_user))

    def biases(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users, movies) biases of every head, implicit bias sums included: (H, U), (H, M)."""
        if self.implicit_bias_l2 <= 0:
            return self.user_bias, self.movie_bias
        return (self.user_bias + self._sum("user_sets", self.implicit_bias_movie)[..., 0],
                self.movie_bias + self._sum("movie_sets", self.implicit_bias_user)[..., 0])

    def link_sigmas(self) -> torch.Tensor | None:
        """Every head's σ of the rating link (H,); None without a link."""
        return None if self.log_link_sigma is None else self.log_link_sigma.exp()

    def _linked(self, score: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
        return score if sigma is None else expected_clipped_torch(score, sigma, RATING_MIN, RATING_MAX)

    def rating_loss(self, tables: tuple[torch.Tensor, torch.Tensor], users: torch.Tensor, movies: torch.Tensor,
                    ratings: torch.Tensor, l2: float, days: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean over heads of each head's batch MSE, the sum over heads of each head's loss).

        `tables`: :meth:`tables` (computed once per step); `users`, `movies`, `ratings` (and `days`,
        the per-user-day rows, with day biases): (H, B), head h's batch in row h."""
        heads = torch.arange(self.n_heads).unsqueeze(-1)
        P, Q = tables
        p, q = self.dropout(P[heads, users]), self.dropout(Q[heads, movies])
        bu, bm = self.user_bias[heads, users], self.movie_bias[heads, movies]
        bd = self._day_offsets(heads, days)
        if self.implicit_bias_l2 > 0:  # bu, bm plus the implicit bias sums (bu, bm alone carry the L2 below)
            BU, BM = self.biases()
            score = self.global_mean + BU[heads, users] + BM[heads, movies] + bd + (p * q).sum(-1)
        else:  # one lookup each, so the gradient sums as it always did (bit-identical training)
            score = self.global_mean + bu + bm + bd + (p * q).sum(-1)
        sigmas = self.link_sigmas()
        mse = ((self._linked(score, None if sigmas is None else sigmas.unsqueeze(-1)) - ratings) ** 2).mean(-1)  # (H,)
        p_sq, q_sq = self.user[heads, users].pow(2).sum(-1), self.movie[heads, movies].pow(2).sum(-1)
        bu_sq, bm_sq = self.bias_l2_scale * bu ** 2, self.bias_l2_scale * bm ** 2
        if self.l2_weighted:
            reg = (self.user_l2[users] * (p_sq + bu_sq) + self.movie_l2[movies] * (q_sq + bm_sq)).mean(-1)
        else:
            reg = (p_sq + q_sq + bu_sq + bm_sq).mean(-1)
        loss = mse + l2 * reg
        if isinstance(bd, torch.Tensor):
            loss = loss + (self.day_penalty[days] * bd ** 2).mean(-1)
        if self.implicit:
            y_sq = self._sum("user_means", self.implicit_movie.pow(2).sum(-1, keepdim=True))[..., 0]
            z_sq = self._sum("movie_means", self.implicit_user.pow(2).sum(-1, keepdim=True))[..., 0]
            loss = loss + self.implicit_l2 * (y_sq[heads, users] + z_sq[heads, movies]).mean(-1)
        if self.implicit_bias_l2 > 0:
            w_sq = self._sum("user_means", self.implicit_bias_movie.pow(2))[..., 0]
            w2_sq = self._sum("movie_means", self.implicit_bias_user.pow(2))[..., 0]
            loss = loss + self.implicit_bias_l2 * (w_sq[heads, users] + w2_sq[heads, movies]).mean(-1)
        return mse.mean(), loss.sum()

    def choice_loss(self, tables: tuple[torch.Tensor, torch.Tensor], users: torch.Tensor,
                    weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every head's choice cross-entropy on the same users: (mean over heads, sum over heads)."""
        P, Q = tables
        h = torch.einsum("hed,hbd->hbe", self.choice_proj, self.dropout(P[:, users]))
        logits = torch.einsum("hbd,hmd->hbm", h, Q) + self.choice_bias.unsqueeze(1)
        per_head = -(weights * torch.log_softmax(logits, dim=-1)).sum(-1).mean(-1)
        return per_head.mean(), per_head.sum()

    def _day_offsets(self, heads: torch.Tensor, days: torch.Tensor | None) -> torch.Tensor | float:
        if self.day_bias is None:
            return 0.0
        if days is None:
            raise ValueError("this net has per-user-day biases: its batches need their day rows")
        return self.day_bias[heads, days]

    @torch.no_grad()
    def predict_mean(self, users: torch.Tensor, movies: torch.Tensor, days: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """The served rating of (user, movie) pairs (at their `days` rows), unstretched: the mean over
        heads of their scores (no dropout), through the link (the heads' mean σ) when there is one."""
        P, Q = self.tables()
        BU, BM = self.biases()
        heads = torch.arange(self.n_heads).unsqueeze(-1)
        score = (self.global_mean + BU[:, users] + BM[:, movies] + self._day_offsets(heads, days)
                 + (P[:, users] * Q[:, movies]).sum(-1)).mean(0)
        sigmas = self.link_sigmas()
        return self._linked(score, None if sigmas is None else sigmas.mean())

    @torch.no_grad()
    def day_offsets(self) -> np.ndarray | None:
        """The per-user-day biases served: the mean over heads of each trained pair's row (None: none)."""
        if self.day_bias is None:
            return None
        return self.day_bias[:, :-1].mean(0).numpy().astype(np.float32)

    @torch.no_grad()
    def head(self, h: int) -> EmbeddingNet:
        """Head h as a plain EmbeddingNet: the implicit sums baked into its tables, y kept for fold-in."""
        P, Q = self.tables()
        BU, BM = self.biases()
        sigmas = self.link_sigmas()
        net = EmbeddingNet(self.hp if sigmas is None else replace(self.hp, link_sigma=float(sigmas[h])))
        net.user.weight.copy_(P[h])
        net.movie.weight.copy_(Q[h])
        net.user_bias.weight.copy_(BU[h].unsqueeze(-1))
        net.movie_bias.weight.copy_(BM[h].unsqueeze(-1))
        net.choice_movie_bias.weight.copy_(self.choice_bias[h].unsqueeze(-1))
        net.choice_proj.weight.copy_(self.choice_proj[h])
        if self.implicit:
            net.implicit_movie.copy_(self.implicit_movie[:, h])
        if self.implicit_bias_l2 > 0:
            net.implicit_movie_bias.copy_(self.implicit_bias_movie[:, h, 0])
        return net
