"""Why a movie was recommended: one ``{"code", "text", ...}`` reason per recommendation.

Codes (the API documents them):

* ``similar_to_liked`` (embedding) — the user's liked movies nearest to it in embedding space
  (cosine of movie vectors); ``movie_ids`` names them;
* ``taste_profile`` (embedding) — none of the liked movies is near it (all cosines ≤ 0): it fits
  the user's ratings as a whole;
* ``popular_fallback`` (embedding) — the user has too few ratings for personal picks;
* ``similar_users`` (user-user) — how many of the user's ranking neighbours rated it, and their
  mean rating; ``popular`` — no similar users at all (cold start, the ranking is popularity);
  ``no_similar_user_rated`` — neighbours exist but none rated it (it ranks after those they did).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.models.protocol import Profile

LIKED_RATING = 4.0        # a rating at least this high counts as "liked"
MIN_PERSONAL_RATINGS = 3  # fewer ratings than this: the embedding reason is the popular fallback
MAX_NAMED = 2             # liked movies named per reason

EMBEDDING_REASONS = {
    "similar_to_liked": "the user's liked movies nearest to it in embedding space (`movie_ids`)",
    "taste_profile": "none of the liked movies is near it; it fits the ratings as a whole",
    "popular_fallback": "fewer than 3 ratings, so no personal reason yet",
}
USER_USER_REASONS = {
    "similar_users": "`n_users` similar users rated it, `mean_rating` on average",
    "no_similar_user_rated": "similar users exist, but none rated it",
    "popular": "no similar users at all, so the ranking is by popularity",
}


def popular_fallback() -> dict:
    return {"code": "popular_fallback", "text": "popular with everyone; rate a few more movies for personal picks"}


def liked_movies(profile: Profile) -> np.ndarray:
    """Positions (into the profile) of the movies rated ≥ 4, or of the top-rated ones if none is."""
    if profile.rating.size == 0:
        return np.empty(0, np.int64)
    threshold = min(LIKED_RATING, float(profile.rating.max()))
    return np.flatnonzero(profile.rating >= threshold)


@dataclass(frozen=True)
class EmbeddingExplainer:
    """Explains embedding picks by the user's liked movies nearest in movie-embedding space."""

    unit_vectors: np.ndarray   # (n_movies, dim), each row of unit length (zero rows stay zero)
    movie_ids: np.ndarray      # (n_movies,) MovieLens ids
    titles: np.ndarray         # (n_movies,) display titles

    @classmethod
    def build(cls, movie_vectors: np.ndarray, movie_ids, titles) -> EmbeddingExplainer:
        vectors = np.asarray(movie_vectors, dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return cls(unit, np.asarray(movie_ids, np.int64), np.asarray(titles, dtype=object))

    def explain(self, profile: Profile, movie_idx) -> list[dict]:
        """One reason per movie in `movie_idx` (one matrix product for all of them)."""
        movie_idx = np.asarray(movie_idx, dtype=np.int64)
        if profile.movie_idx.size < MIN_PERSONAL_RATINGS:
            return [popular_fallback() for _ in movie_idx]
        liked = liked_movies(profile)
        liked_idx = profile.movie_idx[liked]
        cosine = self.unit_vectors[movie_idx] @ self.unit_vectors[liked_idx].T   # (k, n_liked)
        # nearest first; ties to the higher rating, then the lower movie index
        order = np.lexsort((np.broadcast_to(liked_idx, cosine.shape), np.broadcast_to(-profile.rating[liked],
                                                                                       cosine.shape), -cosine))
        reasons = []
        for row, ranked in zip(cosine, order):
            near = [j for j in ranked[:MAX_NAMED] if row[j] > 0]
            if not near:
                reasons.append({"code": "taste_profile", "text": "fits the taste of your ratings as a whole"})
                continue
            named = liked_idx[near]
            reasons.append({"code": "similar_to_liked",
                            "text": "because you liked " + " and ".join(str(t) for t in self.titles[named]),
                            "movie_ids": self.movie_ids[named].tolist()})
        return reasons


def because_user_user(user_user, profile: Profile, movie_idx) -> list[dict]:
    """One reason per movie from :meth:`UserUserRecommender.explain_many` (the model's own account)."""
    return [_user_user_reason(why) for why in user_user.explain_many(profile, np.asarray(movie_idx, np.int64))]


def _user_user_reason(why: dict) -> dict:
    n_rated, mean = why["n_neighbours_rated"], why["mean_neighbour_rating"]
    if why["n_neighbours"] == 0:
        return {"code": "popular", "text": "no similar users yet, so among the most rated movies",
                "n_users": 0, "mean_rating": None}
    if not n_rated:
        return {"code": "no_similar_user_rated", "text": "none of your similar users rated it yet",
                "n_users": 0, "mean_rating": None}
    users = "similar user" if n_rated == 1 else "similar users"
    return {"code": "similar_users", "text": f"{n_rated} {users} rated it, {mean:.1f} on average",
            "n_users": int(n_rated), "mean_rating": round(float(mean), 2)}
