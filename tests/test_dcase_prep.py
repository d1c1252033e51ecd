"""Tests of the DCASE2023 Task 2 name parser and manifest preparation."""

import csv
import glob
import logging
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import require_shared, shared_data_dir

from speechbrain_asd.dataio import dcase
from speechbrain_asd.dataio.dcase import (
    MANIFEST_COLUMNS,
    DataPreparationError,
    manifest_paths,
    parse_filename,
    prepare_dcase2023,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "dcase2023")
SHARED = os.environ.get("SBASD_DCASE_SAMPLES", str(shared_data_dir()))

FAN_TRAIN = "section_00_source_train_normal_0000_m-n_X"
FAN_TRAIN2 = "section_00_source_train_normal_0001_m-n_W"
FAN_TARGET = "section_00_target_train_normal_0000_m-n_Z"
FAN_TEST = "section_00_source_test_anomaly_0000_m-n_X"
GEAR_TRAIN = "section_00_source_train_normal_0000_volt_1.5_wt_0"
GEAR_TEST = "section_00_target_test_normal_0000_volt_1.0_wt_30"


def write_wav(path, frames=1600, sr=16000, channels=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = np.zeros((frames, channels), dtype=np.float32) if channels > 1 else np.zeros(frames)
    sf.write(path, data, sr, subtype="PCM_16")
    return path


def make_tree(root, spec):
    """spec: {part_folder: {machine: {split: [stems]}}}; returns root."""
    for part, machines in spec.items():
        for machine, splits in machines.items():
            for split, stems in splits.items():
                os.makedirs(os.path.join(root, part, "raw", machine, split), exist_ok=True)
                for stem in stems:
                    write_wav(os.path.join(root, part, "raw", machine, split, stem + ".wav"))
    return str(root)


def dev_spec():
    return {
        "dev_data": {
            "fan": {"train": [FAN_TRAIN, FAN_TRAIN2, FAN_TARGET], "test": [FAN_TEST]},
            "gearbox": {"train": [GEAR_TRAIN], "test": [GEAR_TEST]},
        }
    }


def eval_spec():
    return {
        "eval_data": {
            "ToyTank": {
                "train": ["section_00_source_train_normal_0001_car_A1_spd_4_mic_1"],
                "test": ["section_00_0000", "section_00_0001", "section_00_0002"],
            }
        }
    }


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def problems_of(excinfo):
    return str(excinfo.value)


# ---------------------------------------------------------------------------- parse_filename


def _real_names():
    names = []
    samples = os.path.join(SHARED, "dcase2023-dev-samples", "**", "*.wav")
    names += glob.glob(samples, recursive=True)
    attributes = os.path.join(SHARED, "dcase2023-attributes", "*", "*", "attributes_00.csv")
    for p in glob.glob(attributes):
        with open(p, newline="") as f:
            names += [r[0] for r in list(csv.reader(f))[1:]]
    for p in glob.glob(os.path.join(SHARED, "dcase2023-eval-ground-truth", "*", "*.csv")):
        with open(p, newline="") as f:
            for r in csv.reader(f):
                names.append(r[0])
                if "ground_truth_attributes" in p:
                    names.append(r[1])
    return names


def test_parse_every_real_name():
    require_shared(os.path.join(SHARED, "dcase2023-attributes"))
    names = _real_names()
    assert len(names) > 18000
    anonymised = 0
    for n in names:
        parsed = parse_filename(n)
        anonymised += parsed.anonymised
        assert parsed.section == "00"
        if not parsed.anonymised:
            assert parsed.attributes and len(parsed.attribute_pairs) >= 1
    assert anonymised == 7 * 200 * 3


def test_parse_fixture_names():
    wavs = glob.glob(os.path.join(FIXTURES, "**", "*.wav"), recursive=True)
    assert wavs
    for p in wavs:
        n = parse_filename(p)
        assert not n.anonymised and n.split == os.path.basename(os.path.dirname(p))
    for p in glob.glob(os.path.join(FIXTURES, "**", "attributes_00.csv"), recursive=True):
        with open(p, newline="") as f:
            for r in list(csv.reader(f))[1:]:
                parse_filename(r[0])


def test_parse_forms():
    bare = parse_filename("section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2")
    bare_name = "section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2.wav"
    assert parse_filename(bare_name) == bare
    assert parse_filename(os.path.join("a", "ToyTrain", "test", bare_name)) == bare
    assert (bare.section, bare.domain, bare.split, bare.label, bare.index) == (
        "00", "target", "test", "anomaly", "0015"
    )
    assert bare.attributes == "car_A2_spd_6_mic_2"
    assert bare.attribute_pairs == (("car", "A2"), ("spd", "6"), ("mic", "2"))
    assert not bare.anonymised
    anon = parse_filename("section_00_0123.wav")
    assert (anon.domain, anon.label, anon.split, anon.index, anon.anonymised) == (
        "unknown", "unknown", "test", "0123", True
    )
    assert anon.attributes == "" and anon.attribute_pairs == ()
    no_attr = parse_filename("section_01_source_train_normal_0000_noAttributes.wav")
    assert no_attr.attributes == "noAttributes" and no_attr.attribute_pairs == ()
    empty = parse_filename("section_00_source_train_normal_0000.wav")
    assert empty.attributes == "" and empty.attribute_pairs == ()
    odd = parse_filename("section_00_source_train_normal_0000_vel_8_loc")
    assert odd.attribute_pairs == (("vel", "8"), ("loc", ""))
    dotted = parse_filename("section_00_source_train_normal_0000_vel_500_ac_0.30")
    assert dotted.attribute_pairs == (("vel", "500"), ("ac", "0.30"))
    with pytest.raises(AttributeError):
        bare.section = "01"  # frozen


@pytest.mark.parametrize(
    "name, reason",
    [
        ("normal_0000.wav", "must start with 'section_'"),
        ("section_0_source_train_normal_0000_a_b.wav", "section id '0'"),
        ("section_00_train_normal_0000_a_b.wav", "domain 'train'"),
        ("section_00_source_valid_normal_0000_a_b.wav", "split 'valid'"),
        ("section_00_source_train_weird_0000_a_b.wav", "label 'weird'"),
        ("section_00_source_train_normal_00x0_a_b.wav", "index '00x0'"),
        ("section_00_source_train.wav", "too few fields"),
        ("section_00_abcd.wav", "anonymised index 'abcd'"),
        ("section_00_source_train_normal_0000_a__b.wav", "empty token"),
        ("section_00_source_train_normal_0000_a_b.flac", "unexpected file extension '.flac'"),
    ],
)
def test_parse_errors(name, reason):
    with pytest.raises(ValueError) as e:
        parse_filename(os.path.join("dir", name))
    assert name in str(e.value) and reason in str(e.value)


def test_class_label_options():
    n = parse_filename(FAN_TRAIN)
    assert dcase.class_label("fan", n) == "fan_00_m-n_X_source"
    assert dcase.class_label("fan", n, with_domain=False) == "fan_00_m-n_X"
    assert dcase.class_label("fan", n, with_attributes=False) == "fan_00_source"
    assert dcase.class_label("fan", n, False, False) == "fan_00"
    assert dcase.class_label("x", parse_filename("section_00_0000")) == ""


# ---------------------------------------------------------------------------- manifests


def test_fixture_tree_manifests(tmp_path):
    from speechbrain.dataio.dataio import read_audio
    from speechbrain.dataio.dataset import DynamicItemDataset

    summary = prepare_dcase2023(FIXTURES, tmp_path / "save")
    paths = manifest_paths(tmp_path / "save")
    with open(paths["train"]) as f:
        assert next(csv.reader(f)) == list(MANIFEST_COLUMNS)
    train = read_csv(paths["train"])
    test = read_csv(paths["test"])
    assert len(train) == 2 and len(test) == 2
    fan = next(r for r in train if r["machine"] == "fan")
    assert fan == {
        "ID": "dev_fan_section_00_source_train_normal_0040_m-n_X",
        "wav": "$data_root/dev_data/raw/fan/train/section_00_source_train_normal_0040_m-n_X.wav",
        "set": "dev",
        "machine": "fan",
        "section": "00",
        "domain": "source",
        "split": "train",
        "label": "normal",
        "attributes": "m-n_X",
        "file_name": "section_00_source_train_normal_0040_m-n_X.wav",
        "duration": "10.000000",
        "sample_rate": "16000",
        "channels": "1",
        "class_label": "fan_00_m-n_X_source",
        "hidden_condition": "",
    }
    valve = next(r for r in test if r["machine"] == "valve")
    assert (valve["domain"], valve["label"], valve["class_label"]) == (
        "target", "anomaly", "valve_00_pat_03_target"
    )
    # the real attributes_00.csv rows were cross-checked (1200 rows, 2 clips each)
    assert summary["attribute_files"]["dev/fan"] == {"rows": 1200, "rows_without_clip": 1198}

    ds = DynamicItemDataset.from_csv(str(paths["train"]), replacements={"data_root": FIXTURES})
    assert len(ds) == 2
    ds.add_dynamic_item(read_audio, takes="wav", provides="sig")
    ds.set_output_keys(["id", "sig", "class_label"])
    item = ds[0]
    assert item["sig"].shape == (160000,)


def test_class_options_and_summary(tmp_path):
    root = make_tree(tmp_path / "d", dev_spec())
    s = prepare_dcase2023(root, tmp_path / "a")
    train = read_csv(manifest_paths(tmp_path / "a")["train"])
    assert {r["class_label"] for r in train} == {
        "fan_00_m-n_X_source", "fan_00_m-n_W_source", "fan_00_m-n_Z_target",
        "gearbox_00_volt_1.5_wt_0_source",
    }
    test = read_csv(manifest_paths(tmp_path / "a")["test"])
    # test clips get the class they would have, even if unseen in training
    assert {r["class_label"] for r in test} == {
        "fan_00_m-n_X_source", "gearbox_00_volt_1.0_wt_30_target"
    }
    assert s["n_train"] == 4 and s["n_test"] == 2 and s["n_classes"] == 4
    fan = s["machines"]["fan"]
    assert fan["counts"] == {
        "test/source/anomaly": 1, "train/source/normal": 2, "train/target/normal": 1
    }
    assert fan["n_classes"] == 3 and fan["largest_class"]["size"] == 1
    assert os.path.isfile(tmp_path / "a" / "summary.json")
    assert os.path.isfile(tmp_path / "a" / "prepare_options.json")

    prepare_dcase2023(root, tmp_path / "b", class_with_domain=False)
    assert {r["class_label"] for r in read_csv(manifest_paths(tmp_path / "b")["train"])} == {
        "fan_00_m-n_X", "fan_00_m-n_W", "fan_00_m-n_Z", "gearbox_00_volt_1.5_wt_0"
    }
    s = prepare_dcase2023(root, tmp_path / "c", class_with_attributes=False)
    assert {r["class_label"] for r in read_csv(manifest_paths(tmp_path / "c")["train"])} == {
        "fan_00_source", "fan_00_target", "gearbox_00_source"
    }
    assert s["machines"]["fan"]["largest_class"] == {"name": "fan_00_source", "size": 2}
    assert s["machines"]["fan"]["smallest_class"] == {"name": "fan_00_target", "size": 1}


def test_parts_and_machines(tmp_path):
    root = make_tree(tmp_path / "d", {**dev_spec(), **eval_spec()})
    s = prepare_dcase2023(root, tmp_path / "both")
    assert s["parts"] == ["dev", "eval"] and set(s["machines"]) == {"fan", "gearbox", "ToyTank"}
    train = read_csv(manifest_paths(tmp_path / "both")["train"])
    assert {r["set"] for r in train} == {"dev", "eval"}
    assert "eval_ToyTank_section_00_source_train_normal_0001_car_A1_spd_4_mic_1" in {
        r["ID"] for r in train
    }
    s = prepare_dcase2023(root, tmp_path / "dev", parts=("dev",))
    assert set(s["machines"]) == {"fan", "gearbox"}
    s = prepare_dcase2023(root, tmp_path / "eval", parts="eval")
    assert set(s["machines"]) == {"ToyTank"}
    s = prepare_dcase2023(root, tmp_path / "sub", machines=["gearbox", "ToyTank"])
    assert set(s["machines"]) == {"gearbox", "ToyTank"}

    only_dev = make_tree(tmp_path / "onlydev", dev_spec())
    assert prepare_dcase2023(only_dev, tmp_path / "auto")["parts"] == ["dev"]
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(only_dev, tmp_path / "x", parts=("dev", "eval"))
    assert os.path.join(only_dev, "eval_data") in str(e.value) and "folder missing" in str(e.value)
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(only_dev, tmp_path / "x", machines=["fan", "valve"])
    assert "valve: requested machine not found" in str(e.value)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DataPreparationError, match="neither dev_data/ nor eval_data/"):
        prepare_dcase2023(str(tmp_path / "empty"), tmp_path / "x")
    with pytest.raises(ValueError, match="parts"):
        prepare_dcase2023(only_dev, tmp_path / "x", parts=("train",))


def test_ground_truth_for_anonymised_clips(tmp_path):
    root = make_tree(tmp_path / "d", eval_spec())
    s = prepare_dcase2023(root, tmp_path / "nogt")
    test = read_csv(manifest_paths(tmp_path / "nogt")["test"])
    assert {(r["domain"], r["label"], r["class_label"]) for r in test} == {
        ("unknown", "unknown", "")
    }
    assert s["machines"]["ToyTank"]["counts"]["test/unknown/unknown"] == 3

    gt = os.path.join(FIXTURES, "eval-ground-truth")
    prepare_dcase2023(root, tmp_path / "gt", ground_truth_folder=gt)
    test = {r["file_name"]: r for r in read_csv(manifest_paths(tmp_path / "gt")["test"])}
    expected = {}
    for sub in ("data", "domain", "attributes"):
        base = "ground_truth_ToyTank_section_00_test.csv"
        with open(os.path.join(gt, f"ground_truth_{sub}", base)) as f:
            for r in csv.reader(f):
                expected.setdefault(r[0], {})[sub] = r[1]
    for name in ("section_00_0000.wav", "section_00_0001.wav", "section_00_0002.wav"):
        row, exp = test[name], expected[name]
        assert row["label"] == ("anomaly" if exp["data"] == "1" else "normal")
        assert row["domain"] == ("target" if exp["domain"] == "1" else "source")
        original = parse_filename(exp["attributes"])
        assert row["attributes"] == original.attributes
        assert row["class_label"] == f"ToyTank_00_{original.attributes}_{row['domain']}"
        assert row["ID"] == f"eval_ToyTank_{name[:-4]}"

    # a clip without a ground-truth row
    write_wav(os.path.join(root, "eval_data/raw/ToyTank/test/section_00_0999.wav"))
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(root, tmp_path / "gt2", ground_truth_folder=gt)
    assert "section_00_0999.wav: no ground truth row" in str(e.value)
    # a ground-truth file missing
    gt2 = tmp_path / "gt_partial"
    shutil.copytree(gt, gt2)
    os.remove(gt2 / "ground_truth_domain" / "ground_truth_ToyTank_section_00_test.csv")
    os.remove(os.path.join(root, "eval_data/raw/ToyTank/test/section_00_0999.wav"))
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(root, tmp_path / "gt3", ground_truth_folder=gt2)
    assert "ground_truth_domain" in str(e.value) and "ground truth file missing" in str(e.value)
    assert "1 problem(s)" in str(e.value)


def test_hidden_conditions(tmp_path):
    root = make_tree(tmp_path / "d", dev_spec())
    with open(os.path.join(root, "hidden_conditions.csv"), "w") as f:
        f.write("file,condition\n")
        f.write(f"dev_data/raw/fan/train/{FAN_TRAIN}.wav,speed1\n")
        f.write(f"dev_data/raw/fan/train/{FAN_TRAIN2}.wav,speed2\n")
        f.write(f"dev_data/raw/fan/test/{FAN_TEST}.wav,speed1\n")
    s = prepare_dcase2023(root, tmp_path / "s")
    train = {r["file_name"]: r for r in read_csv(manifest_paths(tmp_path / "s")["train"])}
    assert train[FAN_TRAIN + ".wav"]["hidden_condition"] == "speed1"
    assert train[FAN_TRAIN2 + ".wav"]["hidden_condition"] == "speed2"
    assert train[FAN_TARGET + ".wav"]["hidden_condition"] == ""
    assert s["machines"]["fan"]["hidden_conditions"] == {
        "test/speed1": 1, "train/speed1": 1, "train/speed2": 1
    }
    assert s["machines"]["gearbox"]["hidden_conditions"] == {}
    with open(os.path.join(root, "hidden_conditions.csv"), "w") as f:
        f.write("path,cond\nx,y\n")
    with pytest.raises(DataPreparationError, match="hidden_conditions.csv: expected the header"):
        prepare_dcase2023(root, tmp_path / "s2")


def test_attribute_file_quirks(tmp_path):
    """Real eval attribute files: bare names, 'speed' for 'spd', missing mic/spd, 0001-based."""
    spec = {"eval_data": {}}
    for machine in ("ToyTank", "Vacuum"):
        attributes = os.path.join(FIXTURES, "attributes", "eval_data", machine, "attributes_00.csv")
        with open(attributes) as f:
            rows = list(csv.reader(f))[1:]
        stems = [rows[0][0], rows[500][0], rows[-1][0]]
        spec["eval_data"][machine] = {"train": stems, "test": ["section_00_0000"]}
    root = make_tree(tmp_path / "d", spec)
    for machine in ("ToyTank", "Vacuum"):
        shutil.copy(
            os.path.join(FIXTURES, "attributes", "eval_data", machine, "attributes_00.csv"),
            os.path.join(root, "eval_data", "raw", machine),
        )
    s = prepare_dcase2023(root, tmp_path / "s")
    assert s["attribute_files"]["eval/ToyTank"] == {"rows": 1000, "rows_without_clip": 997}
    assert s["machines"]["Vacuum"]["counts"]["train/source/normal"] >= 1


def test_attribute_rows_disagreeing(tmp_path):
    root = make_tree(tmp_path / "d", dev_spec())
    with open(os.path.join(root, "dev_data/raw/fan/attributes_00.csv"), "w") as f:
        f.write("file_name,d1p,d1v\n")
        f.write(f"fan/train/{FAN_TRAIN}.wav,m-n,X\n")
        f.write(f"fan/train/{FAN_TRAIN2}.wav,m-n,Q\n")  # name says W
        f.write(f"{FAN_TARGET},speed,Z\n")  # key not in the name
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(root, tmp_path / "s")
    msg = str(e.value)
    assert "2 problem(s)" in msg
    assert f"row for fan/train/{FAN_TRAIN2}.wav says [('m-n', 'Q')]" in msg
    assert f"{FAN_TARGET} says [('speed', 'Z')]" in msg


def test_every_bad_input_is_reported_at_once(tmp_path):
    spec = dev_spec()
    spec["dev_data"]["valve"] = {"train": [], "test": ["section_00_source_test_normal_0000_pat_00"]}
    spec["dev_data"]["slider"] = {"train": ["section_00_source_train_normal_0000_vel_1_ac_2"]}
    root = make_tree(tmp_path / "d", spec)
    fan = os.path.join(root, "dev_data/raw/fan")
    stem = os.path.join(fan, "train", "section_00_source_train_normal_00")
    with open(stem + "09_m-n_X.wav", "wb") as f:
        f.write(b"RIFF\x00\x00garbage" * 3)
    write_wav(stem + "10_m-n_X.wav", frames=0)
    write_wav(stem + "11_m-n_X.wav", sr=44100)
    write_wav(stem + "12_m-n_X.wav", channels=2)
    write_wav(os.path.join(fan, "train", "fan_normal_0013.wav"))
    write_wav(os.path.join(fan, "test", "section_00_source_train_normal_0014_m-n_X.wav"))
    with open(os.path.join(fan, "train", "notes.txt"), "w") as f:
        f.write("x")
    with pytest.raises(DataPreparationError) as e:
        machines = ["fan", "gearbox", "valve", "slider", "pump"]
        prepare_dcase2023(root, tmp_path / "s", machines=machines)
    msg = str(e.value)
    expected = [
        ("section_00_source_train_normal_0009_m-n_X.wav", "unreadable or corrupt"),
        ("section_00_source_train_normal_0010_m-n_X.wav", "empty WAV file (0 frames)"),
        ("section_00_source_train_normal_0011_m-n_X.wav", "sample rate 44100 Hz, expected 16000"),
        ("section_00_source_train_normal_0012_m-n_X.wav", "2 channels, expected mono"),
        ("fan_normal_0013.wav", "misnamed wav"),
        ("section_00_source_train_normal_0014_m-n_X.wav", "a train clip in the test/ folder"),
        ("notes.txt", "not a .wav file"),
        (os.path.join("valve", "train"), "no usable train clips"),
        (os.path.join("slider", "test"), "folder missing"),
        ("pump", "requested machine not found"),
    ]
    lines = msg.splitlines()
    for fname, reason in expected:
        assert any(fname in line and reason in line for line in lines), (fname, reason, msg)
    assert f"{len(expected)} problem(s)" in msg
    assert not os.path.exists(manifest_paths(tmp_path / "s")["train"])


def test_downmix_accepts_multichannel(tmp_path):
    root = make_tree(tmp_path / "d", dev_spec())
    write_wav(
        os.path.join(root, "dev_data/raw/fan/train/section_00_source_train_normal_0012_m-n_X.wav"),
        channels=2,
    )
    with pytest.raises(DataPreparationError, match="2 channels"):
        prepare_dcase2023(root, tmp_path / "s")
    prepare_dcase2023(root, tmp_path / "s", downmix=True)
    rows = {r["file_name"]: r for r in read_csv(manifest_paths(tmp_path / "s")["train"])}
    assert rows["section_00_source_train_normal_0012_m-n_X.wav"]["channels"] == "2"


def test_duplicated_ids(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "d", dev_spec())
    real = dcase._list_dir

    def twice(path):
        out = real(path)
        return out + out if path.endswith(os.path.join("gearbox", "train")) else out

    monkeypatch.setattr(dcase, "_list_dir", twice)
    with pytest.raises(DataPreparationError) as e:
        prepare_dcase2023(root, tmp_path / "s")
    assert f"duplicated ID dev_gearbox_{GEAR_TRAIN}" in str(e.value)


def test_skip_invalid_logs_and_lists(tmp_path, caplog):
    root = make_tree(tmp_path / "d", dev_spec())
    fan = os.path.join(root, "dev_data/raw/fan/train")
    bad_rate = os.path.join(fan, "section_00_source_train_normal_0011_m-n_X.wav")
    write_wav(bad_rate, sr=8000)
    with open(os.path.join(fan, "readme.md"), "w") as f:
        f.write("x")
    with caplog.at_level(logging.WARNING, logger="speechbrain_asd.dataio.dcase"):
        s = prepare_dcase2023(root, tmp_path / "s", skip_invalid=True)
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert "readme.md" in warned and os.path.basename(bad_rate) in warned
    with open(tmp_path / "s" / "skipped_files.txt") as f:
        listed = f.read()
    assert "readme.md\tnot a .wav file" in listed
    assert os.path.basename(bad_rate) in listed and "sample rate 8000 Hz" in listed
    assert len(s["skipped_files"]) == 2
    names = {r["file_name"] for r in read_csv(manifest_paths(tmp_path / "s")["train"])}
    assert os.path.basename(bad_rate) not in names and len(names) == 4


def test_skip_prep_and_rewrite(tmp_path):
    root = make_tree(tmp_path / "d", dev_spec())
    save = tmp_path / "s"
    first = prepare_dcase2023(root, save)
    train = manifest_paths(save)["train"]
    os.utime(train, ns=(10**18, 10**18))
    assert prepare_dcase2023(root, save) == first
    assert os.stat(train).st_mtime_ns == 10**18  # unchanged options and files: not rewritten
    assert prepare_dcase2023(root, save, skip_prep=True) == first
    assert prepare_dcase2023(root, tmp_path / "never", skip_prep=True) is None
    assert not os.path.exists(tmp_path / "never")

    prepare_dcase2023(root, save, class_with_domain=False)  # changed option: rewritten
    assert os.stat(train).st_mtime_ns != 10**18
    assert read_csv(train)[0]["class_label"] == "fan_00_m-n_X"

    os.utime(train, ns=(10**18, 10**18))
    write_wav(os.path.join(root, "dev_data/raw/gearbox/train", GEAR_TRAIN + ".wav"), frames=800)
    s = prepare_dcase2023(root, save, class_with_domain=False)  # a file changed size: rewritten
    assert os.stat(train).st_mtime_ns != 10**18
    gear = [r for r in read_csv(train) if r["machine"] == "gearbox"][0]
    assert gear["duration"] == "0.050000"
    assert s["n_train"] == 4


def test_real_attribute_files_and_ground_truth(tmp_path):
    """A tree of 10 ms clips named after every row of the real attribute and ground-truth files:
    every real row must agree with its name (quirks included), every anonymised clip must get
    its label and domain."""
    attributes = glob.glob(os.path.join(SHARED, "dcase2023-attributes", "*", "*", "*.csv"))
    gt = os.path.join(SHARED, "dcase2023-eval-ground-truth")
    require_shared(gt)
    assert attributes, f"no attribute files under {SHARED}"
    wav = os.path.join(tmp_path, "tiny.wav")
    write_wav(wav, frames=160)
    with open(wav, "rb") as f:
        data = f.read()
    root = tmp_path / "d"
    for path in attributes:
        part, machine = path.split(os.sep)[-3:-1]
        mdir = root / part / "raw" / machine
        for split in ("train", "test"):
            os.makedirs(mdir / split, exist_ok=True)
        shutil.copy(path, mdir / "attributes_00.csv")
        with open(path, newline="") as f:
            names = [r[0] for r in list(csv.reader(f))[1:]]
        if part == "eval_data":
            base = f"ground_truth_{machine}_section_00_test.csv"
            with open(os.path.join(gt, "ground_truth_data", base)) as f:
                names += [r[0] for r in csv.reader(f)]
        for name in names:
            n = parse_filename(name)
            stem = name.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".wav")
            (mdir / n.split / f"{stem}.wav").write_bytes(data)
    s = prepare_dcase2023(str(root), tmp_path / "s", ground_truth_folder=gt)
    assert s["n_train"] == 14 * 1000 and s["n_test"] == 7 * 200 + 7 * 200
    assert all(v["rows_without_clip"] == 0 for v in s["attribute_files"].values())
    grinder = s["machines"]["grinder"]["counts"]
    assert grinder["test/source/normal"] == 107 and grinder["test/source/anomaly"] == 27
    test = read_csv(manifest_paths(tmp_path / "s")["test"])
    assert all(r["label"] in ("normal", "anomaly") and r["class_label"] for r in test)
