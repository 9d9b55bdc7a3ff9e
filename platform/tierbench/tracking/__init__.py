"""MLflow: the driver's store and runs, the tags users filter on, learning curves, trial records and plots."""
