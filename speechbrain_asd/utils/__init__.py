"""Helpers shared by the recipes: hyperparameter files and reproducible random state."""
