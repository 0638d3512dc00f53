"""movierec: a reproducible MovieLens recommender (embedding CF and user-user Pearson CF)."""

__version__ = "0.1.0"
