"""The SSLASD sub-centre heads: main (frozen centres), FeatEx and optional StatEx head.

In the SSLASD reference (wilkinghoff/ssl4asd, ``main_statex+featex.py``) three sub-cluster
AdaCos heads with K = 16 sub-centres each sit on the encoder. Which embedding and which label
vector go with each head (so the recipe's loss can be a YAML-weighted sum of one
sub-centre loss term per key of the returned dict):

============  ===========  ===========================  ==============================  ======
key           classes      embedding                    labels                          weight
============  ===========  ===========================  ==============================  ======
``"main"``    C, frozen    encoder output (no FeatEx)   targets after Mixup ``[B, C]``  1
``"statex"``  3C, trained  encoder output (no FeatEx)   StatEx ``targets3 [B, 3C]``     0
``"featex"``  9C, trained  FeatEx embedding             FeatEx ``targets9 [B, 9C]``     1
============  ===========  ===========================  ==============================  ======

The encoder output for ``"main"`` and ``"statex"`` is computed from the StatEx-ed spectrogram
(StatEx acts inside the encoder, before FeatEx), exactly as in the reference, where both heads
take the concatenation of the un-exchanged branch embeddings. The StatEx head has loss weight
0 in the reference (so it never learns), hence it is optional here (``statex_head=False``).
At inference only the encoder output is used; the heads are for training.

Authors
 * speechbrain-asd developers 2026
"""

import torch

from speechbrain_asd.nnet.subcenter import SubcenterCosine


class SSLASDHeads(torch.nn.Module):
    """Sub-centre cosine heads of SSLASD.

    Arguments
    ---------
    embedding_dim : int
        Embedding size d (256 in the reference).
    n_classes : int
        Number of auxiliary classes C.
    n_subcenters : int
        Sub-centres per class (16 in the reference).
    statex_head : bool
        Whether to build the 3C StatEx head (loss weight 0 in the reference).

    Example
    -------
    >>> heads = SSLASDHeads(embedding_dim=8, n_classes=3, n_subcenters=2, statex_head=True)
    >>> emb, emb_featex = torch.randn(4, 8), torch.randn(4, 8)
    >>> {k: tuple(v.shape) for k, v in heads(emb, emb_featex).items()}
    {'main': (4, 3, 2), 'featex': (4, 27, 2), 'statex': (4, 9, 2)}
    >>> heads.main.trainable, heads.featex.trainable
    (False, True)
    """

    #: Which label vector the recipe must pair with each output key.
    TARGETS = {"main": "targets_mixup", "featex": "targets9", "statex": "targets3"}

    def __init__(self, embedding_dim, n_classes, n_subcenters=16, statex_head=False):
        super().__init__()
        if not isinstance(statex_head, bool):
            raise ValueError(
                f"SSLASDHeads: statex_head must be True or False, got {statex_head!r}"
            )
        self.n_classes = n_classes
        self.main = SubcenterCosine(embedding_dim, n_classes, n_subcenters, trainable=False)
        self.featex = SubcenterCosine(embedding_dim, 9 * n_classes, n_subcenters, trainable=True)
        self.statex = (
            SubcenterCosine(embedding_dim, 3 * n_classes, n_subcenters, trainable=True)
            if statex_head
            else None
        )

    def forward(self, embedding, featex_embedding):
        """Cosines of every head.

        Arguments
        ---------
        embedding : torch.Tensor
            Encoder output ``[batch, embedding_dim]`` (concatenation of the un-exchanged
            branch embeddings).
        featex_embedding : torch.Tensor
            FeatEx output ``[batch, embedding_dim]``.

        Returns
        -------
        dict of str to torch.Tensor
            ``{"main": [B, C, S], "featex": [B, 9C, S]}`` plus ``"statex": [B, 3C, S]``
            when the StatEx head exists.
        """
        if embedding.shape[0] != featex_embedding.shape[0]:
            raise ValueError(
                f"SSLASDHeads: embedding has {embedding.shape[0]} rows but featex_embedding "
                f"has {featex_embedding.shape[0]}"
            )
        out = {"main": self.main(embedding), "featex": self.featex(featex_embedding)}
        if self.statex is not None:
            out["statex"] = self.statex(embedding)
        return out
