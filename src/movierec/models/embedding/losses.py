"""The rating loss with a closed-form backward, for large batches (``trainer.fused_rating_step``)."""

from __future__ import annotations

import torch


class FusedRatingLoss(torch.autograd.Function):
    """The rating head's MSE and its L2 term with a closed-form backward: one gather and one
    scatter per table instead of autograd's several embedding lookups (several times faster on
    CPU at large batches). Same objective as :meth:`EmbeddingTask.training_step` without dropout.

    Returns ``(mse, mse + l2 · reg)``; gradients flow to the four tables.
    """

    @staticmethod
    def forward(ctx, user_w, movie_w, user_b, movie_b, global_mean, users, movies, ratings, l2: float):
        p, q = user_w.index_select(0, users), movie_w.index_select(0, movies)
        bu, bm = user_b.index_select(0, users).squeeze(-1), movie_b.index_select(0, movies).squeeze(-1)
        err = torch.einsum("ij,ij->i", p, q).add_(bu).add_(bm).add_(global_mean).sub_(ratings)
        mse = err.square().mean()
        reg = (torch.einsum("ij,ij->", p, p) + torch.einsum("ij,ij->", q, q) + bu.square().sum()
               + bm.square().sum()) / len(ratings)
        ctx.save_for_backward(p, q, err, users, movies)
        ctx.l2, ctx.tables = l2, (user_w.detach(), movie_w.detach(), user_b.detach(), movie_b.detach())
        return mse, mse + l2 * reg

    @staticmethod
    def backward(ctx, grad_mse, grad_loss):
        p, q, err, users, movies = ctx.saved_tensors
        n = len(err)
        d_pred = err * (2.0 / n) * (grad_mse + grad_loss)  # d/d prediction
        k = 2.0 * ctx.l2 / n * grad_loss                   # d/d parameter of the l2 term, per use
        d_pred_col = d_pred.unsqueeze(-1)
        user_w, movie_w, user_b, movie_b = ctx.tables
        # the l2 term's gradient of a row used c times in the batch is c · k · row: added on the
        # tables (one pass over each) rather than per rating (one more pass over the batch)
        n_u = torch.bincount(users, minlength=user_w.shape[0]).to(p.dtype).unsqueeze(-1)
        n_m = torch.bincount(movies, minlength=movie_w.shape[0]).to(q.dtype).unsqueeze(-1)
        # index_add_ rather than index_put_(accumulate=True): same sums, about twice as fast on CPU
        # in deterministic mode (docs/scaling.md)
        g_user = (user_w * n_u).mul_(k).index_add_(0, users, q * d_pred_col)
        g_movie = (movie_w * n_m).mul_(k).index_add_(0, movies, p * d_pred_col)
        g_ub = (user_b[:, 0] * n_u[:, 0]).mul_(k).index_add_(0, users, d_pred).unsqueeze(-1)
        g_mb = (movie_b[:, 0] * n_m[:, 0]).mul_(k).index_add_(0, movies, d_pred).unsqueeze(-1)
        return g_user, g_movie, g_ub, g_mb, None, None, None, None, None
