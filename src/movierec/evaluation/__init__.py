"""Evaluation: the held-out protocol, the metrics, and the report."""
