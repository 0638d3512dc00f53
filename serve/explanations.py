"""`because` for user-user picks, from :meth:`UserUserRecommender.explain` (the model's own account)."""

from __future__ import annotations

from movierec.ranking import Profile


def user_user_because(user_user, profile: Profile, movie_idx) -> list[dict | None]:
    """For each movie `{"code", "text", "n_users", "mean_rating"}`, or None when there is nothing to say."""
    return [_because(why) for why in user_user.explain_many(profile, movie_idx)]


def _because(why: dict) -> dict | None:
    n_rated, mean = why["n_neighbours_rated"], why["mean_neighbour_rating"]
    if why["n_neighbours"] == 0:
        return {"code": "popular", "text": "no similar users yet, so among the most rated movies",
                "n_users": 0, "mean_rating": None}
    if not n_rated:
        return None
    users = "similar user" if n_rated == 1 else "similar users"
    return {"code": "similar_users", "text": f"{n_rated} {users} rated it, {mean:.1f} on average",
            "n_users": int(n_rated), "mean_rating": round(float(mean), 2)}
