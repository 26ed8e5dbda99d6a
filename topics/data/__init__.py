"""Reading articles into a corpus, published datasets, train/test splits."""
