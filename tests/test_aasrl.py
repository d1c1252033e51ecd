"""Tests of AASRL: eq. 12-14, the loss mask and the checkpointable phase switch."""

import math

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.nnet.aasrl import (
    AASRLPhaseSwitch,
    across_subcenter_mask,
    select_subcenters,
    subcenter_count,
)

DEG = math.pi / 180


@pytest.mark.parametrize(
    ("degrees", "n_subcenters", "tau", "expected"),
    [
        (0.0, 16, 0.5, 1),  # alpha = 0: k = 1, the lower end
        # alpha = 1 - cos 10deg = 0.015192; sqrt = 0.123257; 15 * 0.123257 = 1.85 -> k = 2
        (10.0, 16, 0.5, 2),
        # alpha = 1 - cos 30deg = 0.133975; sqrt = 0.366025; 15 * 0.366025 = 5.49 -> k = 6
        (30.0, 16, 0.5, 6),
        # alpha = 0.5; sqrt = 0.707107; 15 * 0.707107 = 10.61 -> k = 11
        (60.0, 16, 0.5, 11),
        (90.0, 16, 0.5, 16),  # alpha = 1: k = S, the upper end
        (120.0, 16, 0.5, 16),  # beyond 90 degrees alpha = 1 (not 1 - cos = 1.5)
        (180.0, 16, 0.5, 16),
        # tau = 2 expands slowly: alpha = 1 - cos 45deg = 0.292893; ^2 = 0.085786; *15 = 1.29
        (45.0, 16, 2.0, 2),
        # exact integer in exact arithmetic: alpha = 0.5, (3 - 1) * 0.5 = 1 -> k = 2
        (60.0, 3, 1.0, 2),
        (89.0, 1, 0.5, 1),  # a single sub-centre is always k = 1
    ],
)
def test_subcenter_count_hand_computed(degrees, n_subcenters, tau, expected):
    k = subcenter_count(torch.tensor([degrees * DEG]), n_subcenters, tau)
    assert k.dtype == torch.int64
    assert int(k[0]) == expected


def test_subcenter_count_is_monotonic_and_bounded():
    theta = torch.linspace(0, math.pi, 200)
    for tau in (0.25, 0.5, 1.0, 3.0):
        k = subcenter_count(theta, 16, tau)
        assert int(k.min()) == 1 and int(k.max()) == 16
        assert bool((k[1:] >= k[:-1]).all())
    # Larger tau expands more slowly.
    assert bool((subcenter_count(theta, 16, 2.0) <= subcenter_count(theta, 16, 0.5)).all())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.tensor([0.1]), 16, 0.0), "tau must be a number > 0"),
        ((torch.tensor([0.1]), 16, -1.0), "tau must be a number > 0"),
        ((torch.tensor([0.1]), 0, 0.5), "n_subcenters must be an int >= 1"),
        ((torch.tensor([-0.1]), 16, 0.5), "theta must hold finite angles"),
        ((torch.tensor([float("nan")]), 16, 0.5), "theta must hold finite angles"),
        ((torch.tensor([4.0]), 16, 0.5), "within \\[0, pi\\]"),
    ],
)
def test_subcenter_count_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        subcenter_count(*args)


def test_select_subcenters_takes_the_k_most_similar():
    # theta from the largest cosine: acos(0.9) = 25.8 deg -> tau 0.5, S = 5:
    # alpha = 0.1, sqrt = 0.316228, 4 * 0.316 = 1.26 -> k = 2: the two largest cosines.
    cos = torch.tensor([[0.1, 0.9, -0.3, 0.7, 0.2], [0.3, 0.3, 0.3, -1.0, 0.3]])
    mask, k = select_subcenters(cos, tau=0.5)
    # second row: theta = acos(0.3) = 72.5 deg, alpha = 0.7, sqrt = 0.83666, 4 * 0.837 = 3.35
    # -> k = 4: ties broken by index, then the -1.0 last.
    assert k.tolist() == [2, 4]
    assert mask.tolist() == [[False, True, False, True, False], [True, True, True, False, True]]
    mask, _ = select_subcenters(cos, tau=0.5, k=torch.tensor([1, 5]))
    assert mask.sum(1).tolist() == [1, 5]


def test_mask_hard_labels_only_touch_the_own_class():
    selection = torch.tensor([[True, False, False], [False, True, True]])
    mask = across_subcenter_mask(torch.tensor([2, 0]), 3, 3, selection)
    expected = torch.ones(2, 3, 3, dtype=torch.bool)
    expected[0, 2] = selection[0]
    expected[1, 0] = selection[1]
    assert torch.equal(mask, expected)


def test_mask_soft_labels_follow_the_sample_each_weight_came_from():
    # Mixup of sample 0 (class 1) with its partner 1 (class 2), and back.
    selection = torch.tensor([[True, False], [False, True]])
    labels = torch.tensor([1, 2])
    partner = torch.tensor([1, 0])
    targets = torch.tensor([[0.0, 0.7, 0.3], [0.0, 0.3, 0.7]])
    mask = across_subcenter_mask(labels, 3, 2, selection, targets=targets, partner=partner)
    assert mask[0].tolist() == [[True, True], [True, False], [False, True]]
    assert mask[1].tolist() == [[True, True], [True, False], [False, True]]
    # A class without target weight keeps all its sub-centres even if it is the own class.
    targets = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    mask = across_subcenter_mask(labels, 3, 2, selection, targets=targets, partner=partner)
    assert mask[0].tolist() == [[True, True], [True, True], [False, True]]


def test_mask_union_when_partners_share_the_class():
    selection = torch.tensor([[True, False, False], [False, False, True]])
    labels = torch.tensor([0, 0])
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = across_subcenter_mask(labels, 2, 3, selection, targets=targets,
                                 partner=torch.tensor([1, 0]))
    assert mask[0, 0].tolist() == [True, False, True]
    assert mask[0, 1].tolist() == [True, True, True]


def test_mask_blocks_of_base_classes():
    # A 3C head (StatEx labels, C = 2): block 1 came from the sample, block 2 from its partner.
    selection = torch.tensor([[True, False], [False, True]])
    labels = torch.tensor([0, 1])
    targets = torch.tensor([[0.0, 0.0, 0.5, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    mask = across_subcenter_mask(labels, 6, 2, selection, targets=targets,
                                 partner=torch.tensor([1, 0]), n_base_classes=2)
    assert mask[0].tolist() == [[True, True]] * 2 + [[True, False], [True, True]] + [
        [True, True], [False, True]]
    assert mask[1, 1].tolist() == [False, True]
    assert bool(mask[1, [0, 2, 3, 4, 5]].all())


def test_mask_online_reselects_from_current_cosines():
    labels = torch.tensor([1])
    cosines = torch.tensor([[[0.0, 0.0, 0.0], [0.1, 0.8, 0.5]]])
    mask = across_subcenter_mask(labels, 2, 3, k=torch.tensor([2]), cosines=cosines)
    assert mask[0].tolist() == [[True, True, True], [False, True, True]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give either selection"),
        ({"selection": torch.ones(2, 2, dtype=torch.bool), "k": torch.tensor([1, 1])},
         "give either selection"),
        ({"selection": torch.ones(2, 3)}, "selection: expected a bool tensor"),
        ({"selection": torch.ones(2, 2, dtype=torch.bool), "n_base_classes": 2},
         "multiple of n_base_classes"),
        ({"k": torch.tensor([1, 1])}, "online variant needs the current cosines"),
        ({"selection": torch.ones(2, 2, dtype=torch.bool), "targets": torch.ones(2, 2)},
         "targets: expected shape"),
    ],
)
def test_mask_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        across_subcenter_mask(torch.tensor([0, 2]), 3, 2, **kwargs)


def test_mask_label_out_of_range():
    with pytest.raises(ValueError, match="base classes must be in"):
        across_subcenter_mask(torch.tensor([0, 3]), 3, 2, torch.ones(2, 2, dtype=torch.bool))


def _measured_switch(**kwargs):
    switch = AASRLPhaseSwitch(n_subcenters=4, tau=1.0, switch_step=3, **kwargs)
    # angles 0 -> k 1; 60 deg -> alpha 0.5, 3 * 0.5 = 1.5 -> k 2; 90 deg -> k 4
    cos = torch.tensor([[1.0, 0.2, 0.1, 0.0], [0.0, 0.5, 0.4, 0.3], [0.0, -0.5, -0.2, -0.1]])
    switch.measure(torch.tensor([4, 0, 7]), cos, step=3)
    return switch


def test_phase_switch_phases_and_histogram():
    switch = AASRLPhaseSwitch(n_subcenters=4, tau=1.0, switch_step=3)
    assert switch.representation == "optimal"
    assert switch.mask(torch.tensor([0]), torch.tensor([0]), 2) is None
    assert not switch.needs_measurement(2) and switch.needs_measurement(3)
    switch = _measured_switch()
    assert switch.representation == "joint" and not switch.needs_measurement(10)
    assert switch.k_histogram().tolist() == [1, 1, 0, 1]
    k, selection = switch.lookup(torch.tensor([0, 4, 7]))
    assert k.tolist() == [2, 1, 4]
    assert selection.tolist() == [[False, True, True, False], [True, False, False, False],
                                  [True, True, True, True]]
    mask = switch.mask(torch.tensor([7, 0]), torch.tensor([0, 1]), n_classes=2)
    assert mask[1, 1].tolist() == [False, True, True, False]
    assert bool(mask[0].all()) and bool(mask[1, 0].all())


def test_phase_switch_online_uses_k_from_the_measurement():
    switch = _measured_switch(reselection="online")
    cosines = torch.tensor([[[0.0] * 4, [0.9, 0.1, 0.2, 0.8]]])
    mask = switch.mask(torch.tensor([0]), torch.tensor([1]), 2, cosines=cosines)
    assert mask[0, 1].tolist() == [True, False, False, True]  # k = 2, current top-2
    with pytest.raises(ValueError, match="needs the current cosines"):
        switch.mask(torch.tensor([0]), torch.tensor([1]), 2)


def test_phase_switch_string_ids():
    switch = AASRLPhaseSwitch(n_subcenters=2, tau=1.0, switch_step=1)
    switch.measure(["a", "b"], torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    assert switch.lookup(["b", "a"])[0].tolist() == [2, 1]
    with pytest.raises(KeyError, match="no measurement for sample IDs \\['c'\\]"):
        switch.lookup(["c"])


def test_phase_switch_bad_input():
    with pytest.raises(ValueError, match="switch_step"):
        AASRLPhaseSwitch(switch_step=0)
    with pytest.raises(ValueError, match="tau"):
        AASRLPhaseSwitch(tau=0)
    with pytest.raises(ValueError, match="reselection"):
        AASRLPhaseSwitch(reselection="sometimes")
    switch = AASRLPhaseSwitch(n_subcenters=2)
    with pytest.raises(RuntimeError, match="nothing measured"):
        switch.lookup(torch.tensor([0]))
    with pytest.raises(ValueError, match="must be unique"):
        switch.measure(torch.tensor([1, 1]), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="expected \\[N, 2\\]"):
        switch.measure(torch.tensor([1]), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="2 sample IDs for 1 rows"):
        switch.measure(torch.tensor([1, 2]), torch.zeros(1, 2))
    switch = _measured_switch()
    with pytest.raises(KeyError, match="not part of the measurement"):
        switch.lookup(torch.tensor([1]))


def test_phase_switch_is_restored_by_a_checkpointer(tmp_path):
    switch = _measured_switch()
    Checkpointer(tmp_path, recoverables={"aasrl": switch}).save_checkpoint()
    fresh = AASRLPhaseSwitch(n_subcenters=4, tau=1.0, switch_step=3)
    Checkpointer(tmp_path, recoverables={"aasrl": fresh}).recover_if_possible()
    assert fresh.measured and fresh.measured_at == 3
    assert torch.equal(fresh.k, switch.k) and torch.equal(fresh.selection, switch.selection)
    # An unmeasured switch saves and restores as unmeasured.
    empty_dir = tmp_path / "empty"
    Checkpointer(empty_dir, recoverables={"aasrl": AASRLPhaseSwitch()}).save_checkpoint()
    restored = _measured_switch()
    Checkpointer(empty_dir, recoverables={"aasrl": restored}).recover_if_possible()
    assert not restored.measured


def test_phase_switch_refuses_a_state_of_another_size():
    state = _measured_switch().state_dict()
    with pytest.raises(ValueError, match="4 sub-centres cannot be loaded into a switch with "
                                         "n_subcenters=8"):
        AASRLPhaseSwitch(n_subcenters=8).load_state_dict(state)
