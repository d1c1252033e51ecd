#!/usr/bin/env python3
"""Recipe: SSLASD with sub-centre AdaCos heads and AASRL on DCASE2023 Task 2.

Trains one model for all machine types on the auxiliary classification task (machine +
section + attributes + domain), scores the test clips with the SSLASD back end and writes the
official DCASE2023 results and submission files.

    python recipes/DCASE2023/train.py hparams/aasrl.yaml --data_folder=/path/to/dcase2023
    python recipes/DCASE2023/train.py hparams/sslasd.yaml --data_folder=... --machines=[valve]
    python recipes/DCASE2023/train.py hparams/demo.yaml          # simulated data, small model
    torchrun --nproc_per_node=2 recipes/DCASE2023/train.py hparams/aasrl.yaml ...

Authors
 * speechbrain-asd developers 2026
"""

import logging
import sys
import time
from pathlib import Path

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataloader import make_dataloader
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.utils.distributed import (
    ddp_all_reduce,
    if_main_process,
    run_on_main,
)
from torch.nn.parallel import DistributedDataParallel

from speechbrain_asd.dataio.dcase import manifest_paths, prepare_dcase2023
from speechbrain_asd.dataio.pipeline import clip_dataset
from speechbrain_asd.dataio.sampler import GlobalBatchSampler
from speechbrain_asd.dataio.simulate import simulate_dataset
from speechbrain_asd.evaluation.reports import (
    evaluate_records,
    format_results_table,
    section_key,
    write_results,
    write_submission,
)
from speechbrain_asd.lobes.sslasd import weight_decay_param_groups
from speechbrain_asd.nnet.batchnorm import convert_global_batchnorm
from speechbrain_asd.nnet.global_batch import world
from speechbrain_asd.utils.hparams import (
    HparamsError,
    load_layered_hparams,
    resolve_hparams_path,
)
from speechbrain_asd.utils.memory import keep_freed_memory

logger = logging.getLogger(__name__)
RECIPE_DIR = Path(__file__).resolve().parent
STRATEGIES = ("joint", "optimal", "aasrl")

NO_DATA_MESSAGE = """No data_folder given.
To train on DCASE2023 Task 2, download the development set (Zenodo record 7882613), the
additional training data (7830345) and the evaluation test data (7860847), unpack them into one
folder as dev_data/raw/<machine>/... and eval_data/raw/<machine>/..., and run
    python recipes/DCASE2023/train.py hparams/aasrl.yaml --data_folder=/path/to/that/folder
(add --ground_truth_folder=... with the official evaluator's ground truth to score the
evaluation set). To see the whole pipeline on simulated data first, run the demo:
    python recipes/DCASE2023/train.py hparams/demo.yaml"""


def shard(dataset):
    """This rank's share of a set to embed: every W-th clip (the whole set without DDP)."""
    rank, world_size = world()
    if world_size == 1:
        return dataset
    return torch.utils.data.Subset(dataset, range(rank, len(dataset), world_size))


def all_shards(part):
    """Every rank's ``part``, in rank order (``[part]`` without DDP)."""
    _, world_size = world()
    if world_size == 1:
        return [part]
    parts = [None] * world_size
    torch.distributed.all_gather_object(parts, part)
    return parts


class AASRLBrain(sb.Brain):
    """Sub-centre AdaCos training of SSLASD; with ``subcenter_strategy: aasrl``, AASRL.

    Steps 1..T use the optimal representation; after optimiser step T the frozen model F_T
    measures every training clip (eval mode, no augmentation) and the phase switches hand out
    per-sample sub-centre masks for the joint representation (paper section 3.2).

    ``batch_size`` is the global batch: under DDP each of the W processes holds B / W clips
    of it, pairs them with partners on the other ranks and normalises with the statistics of
    the whole batch, so that W processes train the model one process would.

    Arguments
    ---------
    measure_set : DynamicItemDataset
        The training clips without random crops, measured by F_T at the switch.
    *args, **kwargs
        Those of ``speechbrain.Brain``.
    """

    def __init__(self, *args, measure_set=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.measure_set = measure_set

    def on_stage_start(self, stage, epoch=None):
        """Starts the epoch's clock (throughput) and the GPU peak-memory counter."""
        if stage == sb.Stage.TRAIN:
            self.epoch_clock = {"start": time.perf_counter(), "measurement": 0.0,
                                "first_step": self.optimizer_step}
            if torch.cuda.is_available() and "cuda" in str(self.device):
                torch.cuda.reset_peak_memory_stats(self.device)

    def compute_forward(self, batch, stage):
        """The augmented forward pass: cosines and soft labels of every head."""
        batch = batch.to(self.device)
        wavs, _ = batch.sig
        labels = batch.class_index.data[:, 0]
        targets = torch.nn.functional.one_hot(labels, self.hparams.n_classes).float()
        generator = self.hparams.augmentation_generator.get(self.device)
        return self.modules.model(wavs, targets, generator=generator)

    def compute_objectives(self, outputs, batch, stage):
        """Weighted sum of the heads' sub-centre AdaCos losses in the current representation."""
        labels = batch.class_index.data[:, 0].to(self.device)
        representation = self.representation()
        loss = 0.0
        for head, weight in self.hparams.loss_weights.items():
            cosines = outputs["cosines"][head]
            targets = outputs["targets"][head]
            mask = None
            if self.hparams.subcenter_strategy == "aasrl":
                switch = self.hparams.aasrl[head]
                mask = switch.reversed_batch_mask(
                    batch.sample_index.data[:, 0],
                    labels,
                    n_classes=cosines.shape[1],
                    targets=targets,
                    cosines=cosines if switch.reselection == "online" else None,
                    n_base_classes=self.hparams.n_classes,
                )
            head_loss = self.hparams.losses[head](
                cosines, targets, mask, representation=representation
            )
            loss = loss + weight * head_loss
        return loss

    def representation(self):
        """``joint`` or ``optimal``: fixed by the strategy, or AASRL's current phase."""
        strategy = self.hparams.subcenter_strategy
        if strategy == "aasrl":
            return self.hparams.aasrl["main"].representation
        return strategy

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """At optimiser step T, measure the representation quality and switch phase."""
        switch = self.hparams.aasrl["main"]
        if self.hparams.subcenter_strategy == "aasrl" and switch.needs_measurement(
            self.optimizer_step
        ):
            self.measure_representation_quality()

    def measure_representation_quality(self):
        """Eq. 11-14: F_T's cosines to the own-class sub-centres of every training clip."""
        logger.info("AASRL: measuring the training set with F_T at step %d", self.optimizer_step)
        start = time.perf_counter()
        # every rank receives the same numbers: all ranks hold the same selection
        cosines, sample_ids = self.own_class_cosines(self.measure_set)
        for head, switch in self.hparams.aasrl.items():
            if head in cosines:
                switch.measure(sample_ids, cosines[head], step=self.optimizer_step)
        histogram = self.hparams.aasrl["main"].k_histogram().tolist()
        message = {"step": self.optimizer_step, "k_histogram_main (k=1..S)": histogram}
        if "featex" in self.hparams.aasrl:
            message["k_histogram_featex"] = self.hparams.aasrl["featex"].k_histogram().tolist()
        message["seconds"] = round(time.perf_counter() - start, 1)
        if hasattr(self, "epoch_clock"):  # the epoch's throughput counts training steps only
            self.epoch_clock["measurement"] += message["seconds"]
        logger.info("AASRL switch: %s", message)
        # log_stats runs on the main process only but must be called by every rank.
        self.hparams.train_logger.log_stats(stats_meta={"AASRL switch": message})
        self.checkpointer.save_checkpoint(end_of_epoch=False)

    def _unwrapped_model(self):
        model = self.modules.model
        return model.module if isinstance(model, DistributedDataParallel) else model

    def own_class_cosines(self, dataset):
        """Per head, ``[N, S]`` cosines of every clip to its own class, and the sample IDs.

        Under DDP each rank measures every W-th clip and every rank receives all of them.
        """
        model = self._unwrapped_model()
        was_training = model.training
        model.eval()
        collected, ids = {}, []
        loader = make_dataloader(
            shard(dataset), batch_size=self.hparams.embedding_batch_size, collate_fn=PaddedBatch
        )
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(self.device)
                with self.training_ctx:
                    cosines = model.own_class_cosines(
                        batch.sig.data, batch.class_index.data[:, 0]
                    )
                for head, values in cosines.items():
                    collected.setdefault(head, []).append(values.float().cpu())
                ids.append(batch.sample_index.data[:, 0].cpu())
        model.train(was_training)
        # the sample IDs travel with the cosines: the order of the shards does not matter
        parts = all_shards(({h: torch.cat(v) for h, v in collected.items()}, torch.cat(ids)))
        cosines = {h: torch.cat([part[0][h] for part in parts]) for h in collected}
        return cosines, torch.cat([part[1] for part in parts])

    def embed(self, dataset):
        """Embeddings ``[N, D]`` (no augmentation) and the metadata of every clip, in data-set
        order; under DDP each rank embeds every W-th clip and every rank receives all of them."""
        model = self._unwrapped_model()
        model.eval()
        embeddings, meta = [], []
        keys = ("id", "machine", "section", "domain", "label", "file_name", "set")
        loader = make_dataloader(
            shard(dataset), batch_size=self.hparams.embedding_batch_size, collate_fn=PaddedBatch
        )
        with torch.no_grad():
            for batch in loader:
                with self.training_ctx:
                    emb = model.embed(batch.sig.data.to(self.device))
                embeddings.append(emb.float().cpu().numpy())
                for i in range(len(batch.id)):
                    row = {key: getattr(batch, key)[i] for key in keys}
                    row["group"] = batch.hidden_condition[i] or None
                    meta.append(row)
        parts = all_shards((np.concatenate(embeddings), meta))
        _, world_size = world()
        # shard r holds clips r, r + W, ...: put every clip back at its place
        place = np.argsort(np.concatenate(
            [np.arange(r, len(dataset), world_size) for r in range(world_size)]
        ))
        all_meta = [row for part in parts for row in part[1]]
        return np.concatenate([part[0] for part in parts])[place], [all_meta[i] for i in place]

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch's loss, representation and AdaCos scales; saves a checkpoint."""
        if stage != sb.Stage.TRAIN:
            return
        _, world_size = world()
        if world_size > 1:  # every rank averaged its slices: the mean of the global batches
            total = torch.tensor(float(stage_loss), dtype=torch.float64, device=self.device)
            stage_loss = float(ddp_all_reduce(total, torch.distributed.ReduceOp.SUM)) / world_size
        stats = {"loss": stage_loss, "representation": self.representation()}
        for head, loss in self.hparams.losses.items():
            stats[f"scale_{head}"] = round(float(loss.current_scale()), 4)
        clock = getattr(self, "epoch_clock", None)
        if clock is not None:  # wall time of the training steps (data loading included)
            seconds = time.perf_counter() - clock["start"] - clock["measurement"]
            clips = (self.optimizer_step - clock["first_step"]) * self.hparams.batch_size
            stats["clips_per_s"] = f"{clips / max(seconds, 1e-9):.1f}"  # str: not 1.12e+02
        if torch.cuda.is_available() and "cuda" in str(self.device):
            peak = torch.cuda.max_memory_allocated(self.device) / 2**30
            stats["peak_gpu_memory_gib"] = f"{peak:.2f}"
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch": epoch, "optimizer_step": self.optimizer_step}, train_stats=stats
        )
        # There is no validation stage to pick a best model by: keep the latest epoch.
        self.checkpointer.save_and_keep_only(meta={"epoch": epoch}, num_to_keep=1)

    def init_optimizers(self):
        """Adam with L2 decay on the kernels only, as the reference regularises them."""
        groups = weight_decay_param_groups(self.modules.model, self.hparams.weight_decay)
        self.optimizer = self.opt_class(groups)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def _train_loader_specifics(self, dataset, loader_kwargs):
        """Global batches of ``batch_size``, each rank holding its slice (every batch full)."""
        kwargs = dict(loader_kwargs)
        rank, world_size = world()
        self.train_sampler = GlobalBatchSampler(
            len(dataset),
            kwargs.pop("batch_size"),
            seed=self.hparams.seed,
            rank=rank,
            world_size=world_size,
            shuffle=kwargs.pop("shuffle", True),
        )
        kwargs["batch_sampler"] = self.train_sampler
        return kwargs

    def _wrap_distributed(self):
        """DDP with BatchNorm over the global batch; on CPUs (where speechbrain's
        SyncBatchNorm conversion fails) with :class:`GlobalBatchNorm`."""
        if self.distributed_launch and self.device == "cpu":
            for name, module in self.modules.items():
                if any(p.requires_grad for p in module.parameters()):
                    convert_global_batchnorm(module)
                    self.modules[name] = DistributedDataParallel(module)
            return
        super()._wrap_distributed()


def evaluate(brain, hparams, train_eval_set, test_set):
    """Fits the back end on training embeddings, scores the test clips, writes the results."""
    backend = hparams["backend"]
    if not backend.sections:  # else it was recovered from the checkpoint of an earlier try
        train_emb, train_meta = brain.embed(train_eval_set)
        backend.fit(
            train_emb,
            [row["domain"] for row in train_meta],
            [section_key(row["machine"], row["section"]) for row in train_meta],
        )
        brain.checkpointer.save_checkpoint(end_of_epoch=True, name="backend-fitted")
    test_emb, test_meta = brain.embed(test_set)
    sections = [section_key(row["machine"], row["section"]) for row in test_meta]
    scores = backend.score(test_emb, sections)
    decisions = backend.decide(scores, sections)
    records = [
        {**row, "score": float(score), "decision": int(decision)}
        for row, score, decision in zip(test_meta, scores, decisions)
        if row["label"] in ("normal", "anomaly") and row["domain"] in ("source", "target")
    ]
    results = evaluate_records(records, max_fpr=hparams["max_fpr"]) if records else None
    if if_main_process():
        write_evaluation_files(hparams, test_meta, scores, decisions, results)
    if results is not None:
        # log_stats writes on the main process only but must be called by every rank.
        hparams["train_logger"].log_stats(
            stats_meta={"evaluation": "test"},
            test_stats={
                "official_score": round(results["official_score"], 4),
                "hmean_auc": round(results["hmean_auc"], 4),
                "hmean_pauc": round(results["hmean_pauc"], 4),
            },
        )
    return results


def write_evaluation_files(hparams, test_meta, scores, decisions, results):
    """Submission files for every section and, when labels are known, the results tables."""
    out = Path(hparams["output_folder"])
    overwrite = hparams["overwrite_results"]
    by_section = {}
    for row, score, decision in zip(test_meta, scores, decisions):
        by_section.setdefault((row["set"], row["machine"], row["section"]), []).append(
            (row["file_name"], float(score), int(decision))
        )
    for (part, machine, section), rows in sorted(by_section.items()):
        names, section_scores, section_decisions = zip(*rows)
        write_submission(
            out / "submission" / f"{part}_data", machine, section, names, section_scores,
            section_decisions, overwrite=overwrite,
        )
    if results is None:
        logger.info("No test clip has a known label: only the submission files were written.")
        return
    write_results(out, results, overwrite=overwrite)
    logger.info("Results (%s):\n%s", out, format_results_table(results))


def check_results_are_new(hparams):
    """Refuses to run over an earlier run's results unless overwrite_results is True."""
    out = Path(hparams["output_folder"])
    existing = [p for p in (out / "results.json", out / "submission") if p.exists()]
    if existing and not hparams["overwrite_results"]:
        raise SystemExit(
            f"{existing[0]} exists: an earlier run finished in {out}. Choose another "
            "output_folder (or seed), or pass --overwrite_results=True to replace its results."
        )


def prepare_data(hparams):
    """Simulates the demo set if asked, then writes the manifests (main process only)."""
    data_folder = hparams["data_folder"]
    if data_folder is None and hparams["demo"]:
        data_folder = hparams["demo_folder"]
        if not (Path(data_folder) / "simulation.json").exists():
            run_on_main(
                simulate_dataset,
                kwargs={
                    "out_dir": data_folder,
                    "preset": hparams["demo_preset"],
                    "seed": hparams["demo_seed"],
                    "scale": hparams["demo_scale"],
                    "clip_seconds": hparams["demo_clip_seconds"],
                    "progress": False,
                },
            )
    if data_folder is None:
        raise SystemExit(NO_DATA_MESSAGE)
    run_on_main(
        prepare_dcase2023,
        kwargs={
            "data_folder": data_folder,
            "save_folder": hparams["prepare_folder"],
            "machines": hparams["machines"],
            "parts": hparams["parts"],
            "ground_truth_folder": hparams["ground_truth_folder"],
            "class_with_domain": hparams["class_with_domain"],
            "class_with_attributes": hparams["class_with_attributes"],
            "sample_rate": hparams["sample_rate"],
            "downmix": hparams["downmix"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    return data_folder


def build_datasets(hparams, data_folder):
    """Training set (random crops), its evaluation twin (offset 0) and the test set."""
    paths = manifest_paths(hparams["prepare_folder"])
    replacements = {"data_root": str(data_folder)}
    rows = sb.dataio.dataset.DynamicItemDataset.from_csv(paths["train"], replacements)
    sample_index = {clip_id: i for i, clip_id in enumerate(rows.data_ids)}
    encoder = CategoricalEncoder()
    encoder.load_or_create(
        str(Path(hparams["prepare_folder"]) / "class_encoder.txt"),
        from_didatasets=[rows],
        output_key="class_label",
    )
    encoder.ignore_len()  # the number of classes is whatever the training data holds
    n_samples = int(round(hparams["sample_rate"] * hparams["clip_seconds"]))
    common = {
        "data_folder": data_folder,
        "n_samples": n_samples,
        "sample_rate": hparams["sample_rate"],
        "downmix": hparams["downmix"],
        "seed": hparams["seed"],
    }
    train = clip_dataset(
        paths["train"], random_crop=True, class_encoder=encoder, sample_index=sample_index,
        **common,
    )
    train_eval = clip_dataset(
        paths["train"], class_encoder=encoder, sample_index=sample_index, **common
    )
    test = clip_dataset(paths["test"], **common)
    return train, train_eval, test, len(encoder)


def main(argv):
    """Parses the arguments, prepares the data, trains and evaluates."""
    hparams_arg, run_opts, overrides = sb.parse_arguments(argv)
    keep_freed_memory()  # large activations are re-used, not unmapped and faulted in each step
    hparams_file = resolve_hparams_path(hparams_arg, RECIPE_DIR)
    sb.utils.distributed.ddp_init_group(run_opts)
    hparams, base_file, merged = load_layered_hparams(hparams_file, overrides)
    if hparams["subcenter_strategy"] not in STRATEGIES:
        raise HparamsError(
            f"subcenter_strategy must be one of {STRATEGIES}, got {hparams['subcenter_strategy']!r}"
        )
    _, world_size = world()
    if hparams["batch_size"] % world_size:
        raise HparamsError(
            f"batch_size {hparams['batch_size']} is the global batch of all {world_size} "
            "processes and must be a multiple of their number"
        )
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=str(base_file),
        overrides=merged,
    )
    check_results_are_new(hparams)
    data_folder = prepare_data(hparams)
    train, train_eval, test, n_classes = build_datasets(hparams, data_folder)
    # The heads and losses depend on the number of auxiliary classes: build them for it.
    hparams, _, _ = load_layered_hparams(hparams_file, merged + f"\nn_classes: {n_classes}\n")
    logger.info("%d auxiliary classes, %d training clips", n_classes, len(train))

    brain = AASRLBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        measure_set=train_eval,
    )
    brain.fit(
        hparams["epoch_counter"],
        train,
        train_loader_kwargs=hparams["train_dataloader_opts"],
    )
    evaluate(brain, hparams, train_eval, test)


if __name__ == "__main__":
    main(sys.argv[1:])
