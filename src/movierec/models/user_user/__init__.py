"""User-user collaborative filtering with Pearson similarity over co-rated movies."""
