"""Two gloo processes on the CPU, each with half of a batch, equal one process with all of it.

Every test spawns two ranks that write what they computed; the parent computes the same thing
in one process and compares. Tolerances are float32 rounding (the reduction orders differ).
"""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from speechbrain_asd.dataio.sampler import GlobalBatchSampler
from speechbrain_asd.lobes.heads import SSLASDHeads
from speechbrain_asd.lobes.sslasd import SSLASDEncoder
from speechbrain_asd.lobes.system import SSLASDSystem
from speechbrain_asd.nnet.aasrl import AASRLPhaseSwitch
from speechbrain_asd.nnet.batchnorm import GlobalBatchNorm, convert_global_batchnorm
from speechbrain_asd.nnet.global_batch import (
    check_equal_slices,
    gather_batch,
    gather_uneven,
    partner_of,
    uniform_draws,
    world,
)
from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss

WORLD = 2


def _spawn(worker, tmp_path, *args):
    """Runs ``worker(rank, tmp_path, *args)`` on two gloo ranks; returns what each saved."""
    mp.spawn(_entry, args=(worker, str(tmp_path), args), nprocs=WORLD, join=True)
    return [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD)]


def _entry(rank, worker, folder, args):
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank,
                            world_size=WORLD)
    torch.set_num_threads(1)
    try:
        torch.save(worker(rank, *args), f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _close(a, b, rtol=1e-4, atol=1e-6):
    """Equal up to float32 noise, relative to the tensor's largest value."""
    return float((a - b).abs().max()) <= rtol * float(b.abs().max()) + atol


# --- gather, partners, draws -------------------------------------------------------------

def _partner_worker(rank):
    x = torch.tensor([2.0 * rank + 1, 2.0 * rank + 2], requires_grad=True)  # global [1, 2, 3, 4]
    partner = partner_of(x)
    weight = torch.tensor([10.0, 100.0]) * (rank + 1)
    (partner * weight).sum().backward()
    draws = uniform_draws(2, "cpu", torch.Generator().manual_seed(7))
    try:
        check_equal_slices(2 + rank)
        unequal_error = ""
    except RuntimeError as error:
        unequal_error = str(error)
    uneven = gather_uneven(torch.arange(1 + rank) + 10 * rank)  # 1 row on rank 0, 2 on rank 1
    return {"world": world(), "gathered": gather_batch(x.detach()), "partner": partner.detach(),
            "uneven": uneven,
            "grad": x.grad, "draws": draws, "unequal_error": unequal_error}


def test_partners_gradients_and_draws_across_ranks(tmp_path):
    ranks = _spawn(_partner_worker, tmp_path)
    assert [r["world"] for r in ranks] == [(0, 2), (1, 2)]
    assert ranks[0]["gathered"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ranks[0]["uneven"].tolist() == ranks[1]["uneven"].tolist() == [0, 10, 11]
    # partner of global i is 3 - i: rank 0 holds samples 0, 1 -> partners 4, 3
    assert ranks[0]["partner"].tolist() == [4.0, 3.0]
    assert ranks[1]["partner"].tolist() == [2.0, 1.0]
    # d/dx of sum_r sum_m partner_r[m] * w_r[m]: sample 4 is rank 0's first partner (w 10),
    # sample 1 is rank 1's second partner (w 200), ...
    assert ranks[0]["grad"].tolist() == [200.0, 20.0]
    assert ranks[1]["grad"].tolist() == [100.0, 10.0]
    single = torch.rand(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.cat([ranks[0]["draws"], ranks[1]["draws"]]), single)
    for r in ranks:
        assert "[2, 3] samples" in r["unequal_error"]


# --- BatchNorm over the global batch ---------------------------------------------------

def _norm_input(shape):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=generator) * 3 + 1
    upstream = torch.randn(shape, generator=generator)
    return x, upstream


SHAPES = {"1d": (8, 5), "1d_seq": (8, 5, 6), "2d": (8, 5, 4, 3)}


def _norm_reference(shape, rows, momentum):
    x, upstream = _norm_input(shape)
    x = x[rows].clone().requires_grad_(True)
    norm = GlobalBatchNorm(shape[1], eps=1e-3, momentum=momentum)
    torch.nn.init.uniform_(norm.weight, 0.5, 1.5, generator=torch.Generator().manual_seed(1))
    torch.nn.init.uniform_(norm.bias, -0.5, 0.5, generator=torch.Generator().manual_seed(2))
    out = norm(x)
    (out * upstream[rows]).sum().backward()
    return {"out": out.detach(), "x_grad": x.grad, "w_grad": norm.weight.grad,
            "b_grad": norm.bias.grad, "state": norm.state_dict()}


def _norm_worker(rank):
    results = {}
    for name, shape in SHAPES.items():
        for momentum in (0.1, None):
            results[name, momentum] = _norm_reference(shape, slice(4 * rank, 4 * rank + 4),
                                                      momentum)
    return results


def test_global_batchnorm_equals_batchnorm_on_the_whole_batch(tmp_path):
    ranks = _spawn(_norm_worker, tmp_path)
    for name, shape in SHAPES.items():
        for momentum in (0.1, None):
            # one process: GlobalBatchNorm is torch's BatchNorm on the whole batch
            ref = _norm_reference(shape, slice(0, 8), momentum)
            both = [r[name, momentum] for r in ranks]
            assert _close(torch.cat([b["out"] for b in both]), ref["out"]), name
            assert _close(torch.cat([b["x_grad"] for b in both]), ref["x_grad"]), name
            # parameter gradients: each rank holds its part, DDP sums (then averages) them
            assert _close(both[0]["w_grad"] + both[1]["w_grad"], ref["w_grad"]), name
            assert _close(both[0]["b_grad"] + both[1]["b_grad"], ref["b_grad"]), name
            for key in ("running_mean", "running_var"):
                for b in both:
                    assert _close(b["state"][key], ref["state"][key], 1e-5), (name, key)
            assert int(both[0]["state"]["num_batches_tracked"]) == 1


def test_convert_global_batchnorm_keeps_the_parameters_and_checkpoint_keys():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3, momentum=0.2),
                              torch.nn.Sequential(torch.nn.BatchNorm1d(2)))
    weight, keys = net[1].weight, list(net.state_dict())
    converted = convert_global_batchnorm(net)
    assert converted is net and isinstance(net[1], GlobalBatchNorm)
    assert isinstance(net[2][0], GlobalBatchNorm) and net[1].momentum == 0.2
    assert net[1].weight is weight and list(net.state_dict()) == keys
    with pytest.raises(ValueError, match="1-D"):
        net[1](torch.zeros(3))


# --- one SSLASD training step, before and after the AASRL switch --------------------------

N_CLASSES, N_SUBCENTERS, BATCH = 3, 4, 8


def _system():
    torch.manual_seed(0)
    encoder = SSLASDEncoder(clip_seconds=1.0, spectrum_channels=8, resnet_channels=(4, 8),
                            blocks_per_stage=1, n_fft=256, hop_length=128, embedding_dim=16,
                            spectrum_dense_layers=1, bn_momentum=0.1)
    system = SSLASDSystem(encoder, SSLASDHeads(16, N_CLASSES, N_SUBCENTERS))
    losses = {"main": SubcenterAdaCosLoss(N_CLASSES, N_SUBCENTERS),
              "featex": SubcenterAdaCosLoss(9 * N_CLASSES, N_SUBCENTERS)}
    switches = {}
    for head in losses:
        switches[head] = AASRLPhaseSwitch(N_SUBCENTERS, tau=0.5, switch_step=1)
        cosines = torch.rand(BATCH, N_SUBCENTERS, generator=torch.Generator().manual_seed(4))
        switches[head].measure(torch.arange(BATCH), cosines * 2 - 1, step=1)
    return system, losses, switches


def _batch():
    generator = torch.Generator().manual_seed(1)
    wavs = torch.randn(BATCH, 16000, generator=generator)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 0])
    return wavs, labels


def _train_step(model, system, losses, switches, rows, representation):
    wavs, labels = _batch()
    wavs, labels, ids = wavs[rows], labels[rows], torch.arange(BATCH)[rows]
    generator = torch.Generator().manual_seed(5)
    out = model(wavs, torch.eye(N_CLASSES)[labels], generator=generator)
    loss = 0.0
    masks = {}
    for head, head_loss in losses.items():
        cosines, targets = out["cosines"][head], out["targets"][head]
        mask = None
        if representation == "joint":
            mask = switches[head].reversed_batch_mask(ids, labels, cosines.shape[1], targets,
                                                      n_base_classes=N_CLASSES)
            full = torch.ones(cosines.shape, dtype=torch.bool)
            full[mask.batch_index, mask.class_index] = mask.rows
            masks[head] = full
        loss = loss + head_loss(cosines, targets, mask, representation=representation)
    loss.backward()
    return {
        "embedding": out["embedding"].detach(),
        "cosines": {h: c.detach() for h, c in out["cosines"].items()},
        "targets": {h: t for h, t in out["targets"].items()},
        "masks": masks,
        "loss": loss.detach(),
        "grads": {n: p.grad for n, p in system.named_parameters() if p.grad is not None},
        "buffers": {n: b.clone() for n, b in system.named_buffers()},
        "scales": {h: float(head_loss.current_scale()) for h, head_loss in losses.items()},
        "generator": generator.get_state(),
    }


def _step_worker(rank):
    results = {}
    for representation in REPRESENTATIONS:
        system, losses, switches = _system()
        convert_global_batchnorm(system)
        model = torch.nn.parallel.DistributedDataParallel(system)
        half = BATCH // WORLD
        results[representation] = _train_step(model, system, losses, switches,
                                              slice(rank * half, (rank + 1) * half),
                                              representation)
    return results


REPRESENTATIONS = ("optimal", "joint")  # before the switch, and after it with AASRL masks


@pytest.fixture(scope="module")
def ddp_steps(tmp_path_factory):
    return _spawn(_step_worker, tmp_path_factory.mktemp("ddp_step"))


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_a_ddp_training_step_equals_the_single_process_step(representation, ddp_steps):
    ranks = [r[representation] for r in ddp_steps]
    system, losses, switches = _system()
    ref = _train_step(system, system, losses, switches, slice(0, BATCH), representation)
    assert _close(torch.cat([r["embedding"] for r in ranks]), ref["embedding"])
    for head in ("main", "featex"):
        assert _close(torch.cat([r["cosines"][head] for r in ranks]), ref["cosines"][head])
        # the partners' labels crossed ranks exactly
        assert torch.equal(torch.cat([r["targets"][head] for r in ranks]), ref["targets"][head])
        if representation == "joint":
            assert torch.equal(torch.cat([r["masks"][head] for r in ranks]), ref["masks"][head])
        for r in ranks:  # one AdaCos scale from the global batch
            assert r["scales"][head] == pytest.approx(ref["scales"][head], rel=1e-5)
    assert float(sum(r["loss"] for r in ranks)) / WORLD == pytest.approx(float(ref["loss"]),
                                                                        rel=1e-5)
    assert set(ranks[0]["grads"]) == set(ref["grads"])
    for name, grad in ref["grads"].items():
        for r in ranks:  # DDP averaged the ranks' gradients: that of the global mean loss
            assert _close(r["grads"][name], grad, 1e-3), name
    for name, buffer in ref["buffers"].items():
        if buffer.is_floating_point():
            for r in ranks:
                assert _close(r["buffers"][name], buffer, 1e-4), name
    for r in ranks:  # the augmentation generators stay in step with the single process
        assert torch.equal(r["generator"], ref["generator"])


# --- the batch sampler ----------------------------------------------------------------------

def test_global_batch_sampler_deals_the_single_process_batches_out():
    single = GlobalBatchSampler(23, batch_size=8, seed=5)
    single.set_epoch(3)
    batches = list(single)
    assert len(batches) == len(single) == 3 and all(len(b) == 8 for b in batches)
    seen = [i for b in batches for i in b]
    assert set(seen) == set(range(23))  # every clip, the last batch completed from the start
    assert seen[23:] == seen[:1]
    for world_size in (2, 4):
        ranks = []
        for rank in range(world_size):
            sampler = GlobalBatchSampler(23, 8, seed=5, rank=rank, world_size=world_size)
            sampler.set_epoch(3)
            ranks.append(list(sampler))
        assert [sum(parts, []) for parts in zip(*ranks)] == batches
    single.set_epoch(4)
    assert list(single) != batches  # a new permutation every epoch
    assert [i for b in GlobalBatchSampler(3, 4, shuffle=False) for i in b] == [0, 1, 2, 0]


def test_global_batch_sampler_refuses_a_batch_the_ranks_cannot_share():
    with pytest.raises(ValueError, match="batch_size 6 is the global batch of all 4 processes"):
        GlobalBatchSampler(10, 6, rank=0, world_size=4)
    with pytest.raises(ValueError, match="rank 2"):
        GlobalBatchSampler(10, 4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="n_samples"):
        GlobalBatchSampler(0, 4)
