"""Every nnet module builds from hyperpyyaml, as a SpeechBrain recipe would use it."""

import torch
from hyperpyyaml import load_hyperpyyaml

YAML = """
n_classes: 5
n_subcenters: 4
head: !new:speechbrain_asd.nnet.subcenter.SubcenterCosine
    input_size: 8
    n_classes: !ref <n_classes>
    n_subcenters: !ref <n_subcenters>
    trainable: False
scale: !new:speechbrain_asd.nnet.adacos.AdaptiveScale
    n_classes: !ref <n_classes>
    n_subcenters: !ref <n_subcenters>
    variant: adacos
loss: !new:speechbrain_asd.nnet.losses.SubcenterAdaCosLoss
    n_classes: !ref <n_classes>
    n_subcenters: !ref <n_subcenters>
    representation: optimal
    scale: !ref <scale>
fixed_loss: !new:speechbrain_asd.nnet.losses.SubcenterAdaCosLoss
    n_classes: !ref <n_classes>
    n_subcenters: !ref <n_subcenters>
    scale: 16.0
aasrl: !new:speechbrain_asd.nnet.aasrl.AASRLPhaseSwitch
    n_subcenters: !ref <n_subcenters>
    tau: 0.5
    switch_step: 1200
count: !name:speechbrain_asd.nnet.aasrl.subcenter_count
    n_subcenters: !ref <n_subcenters>
    tau: 0.5
"""


def test_modules_build_from_yaml():
    hparams = load_hyperpyyaml(YAML)
    head, loss = hparams["head"], hparams["loss"]
    assert not head.trainable and "centres" in head.state_dict()
    assert loss.scale is hparams["scale"] and loss.representation == "optimal"
    assert not hparams["fixed_loss"].adaptive
    assert hparams["aasrl"].switch_step == 1200
    cos = head(torch.randn(3, 8))
    assert torch.isfinite(loss(cos, torch.tensor([0, 1, 4])))
    assert hparams["count"](torch.tensor([0.0, 2.0])).tolist() == [1, 4]
