"""The rating link: the expected rating when a latent score is observed with noise and clipped to the scale.

A rating is bounded (0.5 to 5 stars) while the factorisation's score η = μ + b_u + b_m + p·q is not. If
the rating is η plus Gaussian noise of spread σ, clipped to [lo, hi], its expectation is

    g(η) = lo Φ(α) + hi (1 − Φ(β)) + η (Φ(β) − Φ(α)) + σ (φ(α) − φ(β)),   α = (lo − η)/σ, β = (hi − η)/σ

(the mean of a censored normal): g ≈ η well inside the scale and bends toward the bound near it, where a
linear model must compromise (a score of 4.8 with σ = 0.75 is an expected rating of about 4.6). With
``model.rating_link`` every head learns its σ and is trained on the MSE of g(η); the served rating is
g of the heads' mean score. Rounding to half stars is left out: its mean effect is nil inside the scale.
g is increasing in η, so anything ranked by η ranks the same by g(η).
"""

from __future__ import annotations

import math

import numpy as np
import torch

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def expected_clipped_torch(eta: torch.Tensor, sigma: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """g(η): E[clip(η + σ ε, low, high)], ε standard normal; differentiable in `eta` and `sigma`
    (broadcast together). Training, and through :func:`expected_clipped` serving, use this one formula."""
    a, b = (low - eta) / sigma, (high - eta) / sigma
    cdf_a, cdf_b = torch.special.ndtr(a), torch.special.ndtr(b)
    pdf_a, pdf_b = torch.exp(-0.5 * a * a) * _INV_SQRT_2PI, torch.exp(-0.5 * b * b) * _INV_SQRT_2PI
    return low * cdf_a + high * (1.0 - cdf_b) + eta * (cdf_b - cdf_a) + sigma * (pdf_a - pdf_b)


def _float64(eta: np.ndarray, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    if not sigma > 0:
        raise ValueError(f"the link's sigma must be > 0 (got {sigma})")
    return torch.as_tensor(np.asarray(eta, dtype=np.float64)), torch.tensor(float(sigma), dtype=torch.float64)


def expected_clipped(eta: np.ndarray, sigma: float, low: float, high: float) -> np.ndarray:
    """g(η) for each score in `eta`, as a float64 numpy array."""
    eta_t, sigma_t = _float64(eta, sigma)
    return expected_clipped_torch(eta_t, sigma_t, low, high).numpy()


def expected_clipped_slope(eta: np.ndarray, sigma: float, low: float, high: float) -> np.ndarray:
    """dg/dη = Φ(β) − Φ(α): the probability that the noisy score lands inside the scale (in (0, 1))."""
    eta_t, sigma_t = _float64(eta, sigma)
    return (torch.special.ndtr((high - eta_t) / sigma_t) - torch.special.ndtr((low - eta_t) / sigma_t)).numpy()
