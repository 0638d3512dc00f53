"""Data layer: download or generate a release, read it, filter by counts, split, reindex."""
