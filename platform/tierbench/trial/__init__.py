"""One trial on one machine: load, split, featurize, train, test; the result and its history."""
