"""Neural building blocks: sub-centre cosine heads, AdaCos scales, losses and AASRL."""
