"""The LDA topic model family: the model, its engines, seeds and labeller."""
