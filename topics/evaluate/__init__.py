"""Held-out metrics, topic quality, plots and the run report."""
