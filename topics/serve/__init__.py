"""The lean predict path: the bundle, the numpy predictor, input readers."""
