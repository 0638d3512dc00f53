"""Parameters of the synthetic data generator (Hydra keys ``data.synthetic.*``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SyntheticSpec:
    """Generator parameters (Hydra keys ``data.synthetic.*``); sizes are the only ones to change."""

    n_users: int = 1_000
    n_movies: int = 3_000
    n_ratings: int = 100_000
    seed: int = 0
    n_factors: int = 8
    n_tastes: int = 24              # taste groups: users of a group share a latent centre
    popularity_exponent: float = 1.0  # Zipf exponent of movie popularity (rank ** -a)
    activity_sigma: float = 1.3     # lognormal sigma of per-user activity
    min_user_ratings: int = 20
    max_user_fraction: float = 0.5  # no user rates more than this share of the movies
    taste_strength: float = 1.5     # β: how much a group's taste tilts which movies it rates
    latent_scale: float = 0.6       # ≈ std of p_u·q_m (the learnable signal)
    noise: float = 0.7              # std of the rating noise
    mean_rating: float = 2.85  # before selection: users rate what suits them, so the mean ends ≈ 3.5

    def __post_init__(self) -> None:
        if self.n_users < 1 or self.n_movies < 2 or self.n_ratings < 1:
            raise ValueError("n_users >= 1, n_movies >= 2 and n_ratings >= 1 are required")
        capacity = int(self.n_users * max(1, int(self.n_movies * self.max_user_fraction)))
        if self.n_ratings > capacity:
            raise ValueError(f"{self.n_ratings} ratings do not fit {self.n_users} users x "
                             f"{self.max_user_fraction:.0%} of {self.n_movies} movies")
        if self.n_ratings < self.n_users * min(self.min_user_ratings, self.n_movies // 2):
            raise ValueError(f"n_ratings {self.n_ratings} < n_users x min_user_ratings")
