"""End-to-end tests of recipes/DCASE2023/train.py on a tiny simulated data set (CPU)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import ruamel.yaml

from speechbrain_asd.dataio.simulate import simulate_dataset
from speechbrain_asd.utils.hparams import HparamsError

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "DCASE2023"

# A tiny model and schedule: 1 s clips, 2 epochs of 10 steps, the AASRL switch at step 12
# (in epoch 2, after the end-of-epoch checkpoint of epoch 1).
TINY = [
    "--clip_seconds=1.0", "--n_fft=256", "--hop_length=128", "--embedding_dim=16",
    "--spectrum_channels=8", "--spectrum_dense_layers=1", "--resnet_channels=[4, 8]",
    "--blocks_per_stage=1", "--n_subcenters=4", "--batch_size=16", "--number_of_epochs=2",
    "--switch_step=12", "--num_workers=0", "--embedding_batch_size=64",
    "--backend_clusters=4",
]


def _load_recipe():
    spec = importlib.util.spec_from_file_location("dcase2023_train", RECIPE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("simulated")
    return simulate_dataset(out / "demo", "demo", seed=0, scale=1.0, clip_seconds=1.0,
                            progress=False)


def _run(args, output_folder):
    recipe = _load_recipe()
    recipe.main(["hparams/aasrl.yaml", f"--output_folder={output_folder}", *TINY, *args])
    return recipe


def _results(folder):
    return json.loads((Path(folder) / "results.json").read_text())


def test_training_goes_through_the_switch_and_writes_results(tiny_data, tmp_path, monkeypatch):
    from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss

    seen = []
    original = SubcenterAdaCosLoss.forward

    def spy(self, cosines, targets, subcenter_mask=None, representation=None):
        if self.training:
            seen.append((representation, subcenter_mask is not None))
        return original(self, cosines, targets, subcenter_mask, representation)

    monkeypatch.setattr(SubcenterAdaCosLoss, "forward", spy)
    out = tmp_path / "run"
    _run([f"--data_folder={tiny_data}"], out)
    # Steps 1..12 optimal without masks, then joint with masks (two heads per step).
    assert seen[:24] == [("optimal", False)] * 24
    assert seen[24:] and set(seen[24:]) == {("joint", True)}
    results = _results(out)
    assert 0.0 <= results["official_score"] <= 1.0
    for section in results["sections"].values():
        for key in ("auc_source", "auc_target", "pauc"):
            assert 0.0 <= section[key] <= 1.0
    assert results["groups"]  # the hidden operating conditions are broken down
    submission = sorted(p.name for p in (out / "submission" / "dev_data").iterdir())
    assert "anomaly_score_fan_section_00_test.csv" in submission
    assert "decision_result_ToyCar_section_00_test.csv" in submission
    log = (out / "train_log.txt").read_text()
    assert "AASRL switch" in log and "k_histogram_main" in log
    # Earlier results are never overwritten silently.
    with pytest.raises(SystemExit, match="overwrite_results=True"):
        _run([f"--data_folder={tiny_data}"], out)


@pytest.fixture(scope="module")
def uninterrupted_folder(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    _run([f"--data_folder={tiny_data}"], out)
    return out


@pytest.fixture(scope="module")
def uninterrupted(uninterrupted_folder):
    return _results(uninterrupted_folder)


class Interrupted(Exception):
    """Stands for a crash or a killed job."""


@pytest.mark.parametrize("when", ["before_switch", "after_switch_mid_epoch", "evaluation"])
def test_resume_equals_an_uninterrupted_run(when, tiny_data, uninterrupted, tmp_path,
                                            monkeypatch):
    recipe = _load_recipe()
    if when == "evaluation":
        def crash(*args, **kwargs):
            raise Interrupted  # after the back end was fitted and checkpointed

        monkeypatch.setattr(recipe, "write_evaluation_files", crash)
    else:
        # epoch 1 ends (checkpoint) at step 10, the switch (checkpoint) is at step 12
        crash_step = 11 if when == "before_switch" else 14
        original = recipe.AASRLBrain.on_fit_batch_end

        def crash_after_step(self, batch, outputs, loss, should_step):
            original(self, batch, outputs, loss, should_step)
            if self.optimizer_step == crash_step:
                raise Interrupted

        monkeypatch.setattr(recipe.AASRLBrain, "on_fit_batch_end", crash_after_step)
    resumed = tmp_path / "resumed"
    with pytest.raises(Interrupted):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={resumed}", *TINY,
                     f"--data_folder={tiny_data}"])
    assert not (resumed / "results.json").exists()
    monkeypatch.undo()
    _run([f"--data_folder={tiny_data}"], resumed)  # the same command again
    assert "Loading a checkpoint from" in (resumed / "log.txt").read_text()  # it resumed
    assert _results(resumed)["sections"] == uninterrupted["sections"]
    assert _results(resumed)["official_score"] == uninterrupted["official_score"]


def _logged_epochs(folder):
    """``{epoch: {stat: value}}`` of the numbers in train_log.txt's epoch lines."""
    epochs = {}
    for line in (Path(folder) / "train_log.txt").read_text().splitlines():
        if line.startswith("epoch:"):
            fields = dict(item.split(": ") for item in line.replace(" - ", ", ").split(", "))
            epochs[int(fields["epoch"])] = {
                key: float(value) for key, value in fields.items()
                if key.startswith("train ") and key != "train representation"
            }
    return epochs


def test_two_process_cpu_ddp_run_equals_the_single_process_run(tiny_data, uninterrupted_folder,
                                                              tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_port=29517", str(RECIPE / "train.py"), "hparams/aasrl.yaml",
        "--distributed_backend=gloo", f"--data_folder={tiny_data}", f"--output_folder={out}",
        *TINY,
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 0.0 <= _results(out)["official_score"] <= 1.0
    assert len(list(out.glob("results*.json"))) == 1
    # Batch 16 = 2 x 8 clips: the same steps, partners, draws and batch statistics as one
    # process with 16 (tests/test_global_batch.py checks a step to float precision). Epoch 1's
    # logged loss and AdaCos scales agree to the logged digits (with per-rank BatchNorm the loss
    # was 9.34 instead of 9.16). Later the rounding differences grow, as they do between two
    # single-process runs with different thread counts, so epoch 2 is not compared.
    single, ddp = _logged_epochs(uninterrupted_folder), _logged_epochs(out)
    assert set(ddp) == set(single) == {1, 2}
    for key in ("train loss", "train scale_main", "train scale_featex"):
        assert ddp[1][key] == pytest.approx(single[1][key], abs=0.015), key
    assert "AASRL switch" in (out / "train_log.txt").read_text()
    # the ranks embedded every other clip: the gathered clips are back in the data-set order
    name = "dev_data/anomaly_score_fan_section_00_test.csv"
    clips = [(folder / "submission" / name).read_text().splitlines()
             for folder in (uninterrupted_folder, out)]
    assert [row.split(",")[0] for row in clips[1]] == [row.split(",")[0] for row in clips[0]]


def test_every_hparams_file_loads_and_every_key_is_used(tmp_path):
    from speechbrain.core import RunOptions

    from speechbrain_asd.utils.hparams import layered_yaml, load_layered_hparams

    source = (RECIPE / "train.py").read_text()
    base = ruamel.yaml.YAML().load((RECIPE / "hparams" / "sslasd.yaml").read_text())
    yaml_text = (RECIPE / "hparams" / "sslasd.yaml").read_text()
    for key in base:
        used_in_yaml = yaml_text.count(f"<{key}>") + yaml_text.count(f"<{key}[")
        used_in_script = f'"{key}"' in source or f".{key}" in source
        used_by_brain = key in RunOptions().as_dict()  # speechbrain.Brain reads these
        assert used_in_yaml or used_in_script or used_by_brain or key.startswith("__"), (
            f"unused key {key}"
        )
    for path in sorted((RECIPE / "hparams").glob("*.yaml")):
        hparams, base_path, _ = load_layered_hparams(path, {"output_folder": str(tmp_path)})
        assert base_path.name == "sslasd.yaml"
        assert hparams["subcenter_strategy"] in ("joint", "optimal", "aasrl")
        _, _, merged, chain = layered_yaml(path)
        assert chain[0].name == "sslasd.yaml" and chain[-1] == path
    done = subprocess.run([str(Path(sys.executable).parent / "yamllint"), "-s", str(RECIPE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    strategies = {p.stem: load_layered_hparams(p)[0]["subcenter_strategy"]
                  for p in (RECIPE / "hparams").glob("*.yaml")}
    assert strategies["aasrl"] == "aasrl" and strategies["sslasd"] == "joint"
    assert strategies["sslasd_optimal"] == "optimal"


def test_typo_in_a_key_is_refused_before_training(tmp_path):
    recipe = _load_recipe()
    with pytest.raises(HparamsError, match="unknown hyperparameter 'swich_step'"):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path}", "--swich_step=3"])
    assert not list(tmp_path.glob("save/CKPT*"))


def test_a_batch_the_processes_cannot_share_is_refused_before_training(tmp_path, monkeypatch):
    recipe = _load_recipe()
    monkeypatch.setattr(recipe, "world", lambda: (0, 2))  # as under torchrun with 2 processes
    with pytest.raises(HparamsError, match="batch_size 15 is the global batch of all 2"):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path}", "--batch_size=15"])
    assert not list(tmp_path.glob("save/CKPT*"))


def test_unknown_strategy_is_refused_before_training(tmp_path):
    recipe = _load_recipe()
    with pytest.raises(HparamsError, match="subcenter_strategy must be one of"):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path}",
                     "--subcenter_strategy=aasr"])


def test_no_data_folder_explains_how_to_get_data_or_run_the_demo(tmp_path):
    recipe = _load_recipe()
    with pytest.raises(SystemExit, match="hparams/demo.yaml") as error:
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path}"])
    assert "7882613" in str(error.value)


def test_empty_or_wrong_data_folder_fails_before_training(tmp_path):
    from speechbrain_asd.dataio.dcase import DataPreparationError

    empty = tmp_path / "empty"
    empty.mkdir()
    recipe = _load_recipe()
    with pytest.raises(DataPreparationError, match="empty"):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path / 'a'}",
                     f"--data_folder={empty}"])
    assert not list((tmp_path / "a").glob("save/CKPT*"))  # nothing was trained


def test_other_sample_rate_fails_before_training(tiny_data, tmp_path):
    import numpy as np
    import soundfile as sf

    from speechbrain_asd.dataio.dcase import DataPreparationError

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    clip = next((data / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))
    sf.write(clip, np.zeros(8000, dtype="float32"), 8000)
    recipe = _load_recipe()
    with pytest.raises(DataPreparationError, match=f"{clip.name}.*8000"):
        recipe.main(["hparams/aasrl.yaml", f"--output_folder={tmp_path / 'out'}",
                     f"--data_folder={data}"])
    assert not list((tmp_path / "out").glob("save/CKPT*"))


def test_experiment_sweep_summary_in_the_paper_format(tmp_path):
    spec = importlib.util.spec_from_file_location("run_experiments",
                                                  RECIPE / "run_experiments.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    for name, values in (("aasrl", (0.70, 0.72)), ("sslasd", (0.60, 0.64))):
        for seed, value in zip((1, 2), values):
            folder = tmp_path / name / str(seed)
            folder.mkdir(parents=True)
            results = {"hmean_auc": value, "hmean_pauc": value - 0.1, "official_score": value,
                       "sections": {"ToyCar_section_00": {"auc_source": value,
                                                          "auc_target": value, "pauc": 0.5}},
                       "groups": {"ToyCar_section_00": {"speed1": value, "speed2": value / 2}}}
            (folder / "results.json").write_text(json.dumps(results))
            (folder / "wall_time_seconds.txt").write_text("10\n")
    sweep.main(["--out", str(tmp_path), "--seeds", "1", "2", "--hparams", "aasrl", "sslasd"])
    table = (tmp_path / "summary.md").read_text()
    # mean 71 %, sample standard deviation of (70, 72) = 1.41 %
    assert "| aasrl | 2 | 71.00 ± 1.41 | 61.00 ± 1.41 | 71.00 ± 1.41 | 10 ± 0 (10, 10) |" in table
    assert "| ToyCar_section_00, speed2 | 35.50 ± 0.71 | 31.00 ± 1.41 |" in table
    assert "| ToyCar_section_00 | 71.00 ± 1.41 / 71.00 ± 1.41 / 50.00 ± 0.00 |" in table
    with pytest.raises(FileExistsError):  # an earlier summary is not replaced silently
        sweep.main(["--out", str(tmp_path), "--seeds", "1", "2", "--hparams", "aasrl"])


def test_demo_builds_its_own_data_and_runs_end_to_end(tmp_path):
    recipe = _load_recipe()
    out = tmp_path / "demo"
    tiny = [arg for arg in TINY if not arg.startswith(("--number_of_epochs", "--switch_step"))]
    recipe.main(["hparams/demo.yaml", f"--output_folder={out}", *tiny,
                 f"--demo_folder={tmp_path / 'data'}", "--demo_scale=0.5",
                 "--demo_clip_seconds=1.0", "--number_of_epochs=1", "--switch_step=2"])
    assert (tmp_path / "data" / "simulation.json").exists()
    assert 0.0 <= _results(out)["official_score"] <= 1.0
    assert "AASRL switch" in (out / "train_log.txt").read_text()
