"""Numpy scoring kernels shared by training-side estimators and the predictor."""
