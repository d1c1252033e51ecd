"""The SSLASD encoder, its features, self-supervised augmentations and heads."""
