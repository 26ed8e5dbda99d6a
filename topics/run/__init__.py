"""Orchestration: prepare data, build and fit families, evaluate, export, track."""
