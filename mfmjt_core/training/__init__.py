"""Training: one loop for flow matching and MeanFlow, recipes, checkpoints."""
