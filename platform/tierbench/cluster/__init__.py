"""Ray: running trials on a cluster as Ray tasks or as Ray Train (DDP) runs."""
