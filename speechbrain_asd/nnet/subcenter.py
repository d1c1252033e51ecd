"""Sub-centre cosine head: cosine similarities between embeddings and S centres per class.

This is the shared front of every sub-centre angular-margin loss (SCAdaCos, sub-center ArcFace,
AASRL): the losses in :mod:`speechbrain_asd.nnet.losses` take its output.

Authors
 * speechbrain-asd developers 2026
"""

import math

import torch


class SubcenterCosine(torch.nn.Module):
    """Cosines between L2-normalised embeddings and L2-normalised sub-centres.

    The centre matrix has ``n_classes * n_subcenters`` columns; columns
    ``c * n_subcenters .. (c + 1) * n_subcenters - 1`` belong to class ``c``, as in the
    SSLASD reference. Centres are initialised Glorot-uniform (the Keras default of the
    reference).

    Arguments
    ---------
    input_size : int
        Embedding dimension d.
    n_classes : int
        Number of classes C.
    n_subcenters : int
        Number of sub-centres S per class.
    trainable : bool
        If False the centres are a frozen parameter (``requires_grad=False``): they stay
        fixed, as in SSLASD's main head, but are still part of ``state_dict`` and so are
        saved by SpeechBrain's Checkpointer.

    Example
    -------
    >>> head = SubcenterCosine(input_size=8, n_classes=3, n_subcenters=4)
    >>> cos = head(torch.randn(5, 8))
    >>> cos.shape
    torch.Size([5, 3, 4])
    >>> bool((cos.abs() <= 1 + 1e-6).all())
    True
    >>> head(torch.randn(5, 1, 8)).shape  # SpeechBrain embedding models return [B, 1, d]
    torch.Size([5, 3, 4])
    """

    def __init__(self, input_size, n_classes, n_subcenters=16, trainable=True):
        super().__init__()
        for name, value in (
            ("input_size", input_size),
            ("n_classes", n_classes),
            ("n_subcenters", n_subcenters),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SubcenterCosine: {name} must be a positive int, got {value!r}")
        self.input_size = input_size
        self.n_classes = n_classes
        self.n_subcenters = n_subcenters
        bound = math.sqrt(6.0 / (input_size + n_classes * n_subcenters))
        centres = torch.empty(input_size, n_classes * n_subcenters).uniform_(-bound, bound)
        self.centres = torch.nn.Parameter(centres, requires_grad=trainable)

    @property
    def trainable(self):
        """Whether the centres receive gradients."""
        return self.centres.requires_grad

    def normalized_centres(self):
        """The centres as unit vectors, ``[input_size, n_classes, n_subcenters]``."""
        w = torch.nn.functional.normalize(self.centres, dim=0)
        return w.view(self.input_size, self.n_classes, self.n_subcenters)

    def forward(self, x):
        """Computes the cosines.

        Arguments
        ---------
        x : torch.Tensor
            Embeddings ``[batch, input_size]`` or ``[batch, 1, input_size]``.

        Returns
        -------
        torch.Tensor
            Cosines ``[batch, n_classes, n_subcenters]`` in [-1, 1].
        """
        if x.dim() == 3 and x.shape[1] == 1:
            x = x.squeeze(1)
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                "SubcenterCosine: x must be [batch, input_size] or [batch, 1, input_size] with "
                f"input_size={self.input_size}, got shape {tuple(x.shape)}"
            )
        x = torch.nn.functional.normalize(x, dim=1)
        w = torch.nn.functional.normalize(self.centres, dim=0)
        cos = x @ w.to(x.dtype)
        return cos.view(x.shape[0], self.n_classes, self.n_subcenters)

    def extra_repr(self):
        return (
            f"input_size={self.input_size}, n_classes={self.n_classes}, "
            f"n_subcenters={self.n_subcenters}, trainable={self.trainable}"
        )
