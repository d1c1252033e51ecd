"""Tests of the ToyADMOS2 imbalanced-set builder, on a miniature ToyADMOS2-style source."""

import csv
import hashlib
import os
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from speechbrain_asd.dataio.dcase import manifest_paths, parse_filename, prepare_dcase2023
from speechbrain_asd.dataio.toyadmos2 import (
    ToyADMOS2Error,
    allocate,
    build_imbalanced_toyadmos2,
    main,
    parse_recording_name,
)

N_NORMAL = 6  # normal recordings per (configuration, speed)
N_ANOMALY = 2  # anomalous recordings per (configuration, speed, defect)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """ToyCar (3 configurations, 48 kHz, 2 mics) and ToyTrain (2 configurations, 16 kHz)."""
    root = tmp_path_factory.mktemp("toyadmos2")
    rng = np.random.default_rng(123)
    rows = [("filename", "rms")]

    def write(rel, sr, seconds=0.1, amp=0.3):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        x = rng.uniform(-amp, amp, int(sr * seconds))
        sf.write(path, x, sr, subtype="PCM_16")
        return float(np.sqrt(np.mean(x**2)))

    layouts = {
        "ToyCar": ("C", "car", ["A1", "B1", "C2"], (1, 2), 48000),
        "ToyTrain": ("T", "train", ["A1", "B2"], (1, 2), 16000),
    }
    for machine, (letter, word, configs, mics, sr) in layouts.items():
        number = 0
        for conf in configs:
            for speed in (1, 2, 3):
                number += 1
                pattern = f"{letter}N{number:03d}-{word}{conf}-speed{speed}"
                for i in range(1, N_NORMAL + 1):
                    for mic in mics:
                        f = f"{pattern}_mic{mic}_{i:05d}.wav"
                        rms = write(f"{machine}/{machine.lower()}_{conf}_normal/{f}", sr)
                        rows.append((f, f"{rms:.6f}"))
                for defect in ("a", "b"):
                    number += 1
                    pattern = f"{letter}A{number:03d}-{word}{conf}-speed{speed}-{defect}-damageL"
                    for i in range(1, N_ANOMALY + 1):
                        for mic in mics:
                            f = f"{pattern}_mic{mic}_{i:05d}.wav"
                            rms = write(f"{machine}/{machine.lower()}_anomaly/{f}", sr, amp=0.5)
                            rows.append((f, f"{rms:.6f}"))
        for mic in mics:
            for i in range(1, 4):
                f = f"N{i % 2 + 1}_mic{mic}_{i:05d}.wav"
                # noise files shorter than the recordings: they are repeated
                rms = write(f"{machine}/env_noise/{f}", sr, seconds=0.07, amp=0.1)
                rows.append((f"{machine}_{f}", f"{rms:.6f}"))
    with open(root / "stat.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(root)


SMALL = dict(n_train=10, n_test=8, n_configurations=2)


def tree_hash(folder):
    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, folder).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_parse_recording_name():
    r = parse_recording_name("CN031-carB1-speed1_mic3_00001.wav")
    assert r == {
        "pattern": "CN031-carB1-speed1",
        "machine_letter": "C",
        "anomalous": False,
        "configuration": "B1",
        "speed": 1,
        "defect": "",
        "damage_level": "",
        "mic": 3,
        "index": "00001",
    }
    r = parse_recording_name("x/y/TA101-trainE2-speed5-wheel-damageH_mic8_00007.mp4")
    assert (r["machine_letter"], r["configuration"], r["speed"]) == ("T", "E2", 5)
    assert r["defect"] == "wheel"
    assert r["damage_level"] == "damageH" and r["anomalous"]
    assert parse_recording_name("N1_mic3_01595.wav") is None
    assert parse_recording_name("section_00_source_train_normal_0000_x_y.wav") is None


def test_allocate():
    assert allocate(1000, (4, 1)) == [800, 200]
    assert allocate(1000, (3, 2)) == [600, 400]
    assert allocate(7, (1, 1, 1)) == [3, 2, 2]
    assert allocate(0, (1, 2)) == [0, 0]
    with pytest.raises(ValueError, match="weights"):
        allocate(3, (0, 0))


def test_build_layout_counts_and_manifests(source, tmp_path):
    out = tmp_path / "imb"
    res = build_imbalanced_toyadmos2(source, out, **SMALL)
    assert set(res) == {"ToyCar", "ToyTrain"}
    assert res["ToyCar"]["counts"] == {
        "test/anomaly/speed1": 2, "test/anomaly/speed2": 2, "test/normal/speed1": 2,
        "test/normal/speed2": 2, "train/normal/speed1": 8, "train/normal/speed2": 2,
    }
    assert res["ToyTrain"]["counts"]["train/normal/speed1"] == 6
    assert res["ToyTrain"]["counts"]["train/normal/speed2"] == 4
    assert len(res["ToyCar"]["configurations"]) == 2
    assert res["ToyTrain"]["configurations"] == ["A1", "B2"]

    hidden = {r["file"]: r["condition"] for r in read_rows(out / "hidden_conditions.csv")}
    for machine in ("ToyCar", "ToyTrain"):
        mdir = out / "dev_data" / "raw" / machine
        train, test = sorted(os.listdir(mdir / "train")), sorted(os.listdir(mdir / "test"))
        assert len(train) == 10 and len(test) == 8
        configs = set(res[machine]["configurations"])
        for split, names in (("train", train), ("test", test)):
            for name in names:
                n = parse_filename(name)
                assert n.split == split and n.domain == "source" and n.section == "00"
                assert "spd" not in n.attributes and "speed" not in n.attributes
                assert n.attribute_pairs[0][0] == "car" and n.attribute_pairs[0][1] in configs
                assert n.attribute_pairs[1] == ("mic", "1")
                info = sf.info(str(mdir / split / name))
                assert (info.samplerate, info.subtype, info.channels) == (16000, "PCM_16", 1)
                assert info.frames == 1600  # 0.1 s, resampled from 48 kHz for ToyCar
                assert hidden[f"dev_data/raw/{machine}/{split}/{name}"] in ("speed1", "speed2")
        assert {parse_filename(n).label for n in train} == {"normal"}
        assert Counter(parse_filename(n).label for n in test) == {"normal": 4, "anomaly": 4}
        assert sorted(parse_filename(n).index for n in train) == [f"{i:04d}" for i in range(10)]

        sources = read_rows(out / f"toyadmos2_{machine}_sources.csv")
        assert len(sources) == 18
        used = Counter(
            (r["source"].split("/")[-1].split("_mic")[0], r["source"][-9:]) for r in sources
        )
        assert max(used.values()) == 1  # a recording is never used twice (train and test)
        for r in sources:
            src = parse_recording_name(r["source"])
            assert hidden[r["file"]] == f"speed{src['speed']}" == f"speed{r['speed']}"
            assert src["anomalous"] == ("anomaly" in r["file"])
            if src["anomalous"]:
                assert r["defect"] in ("a", "b") and r["damage_level"] == "damageL"
            assert "env_noise" in r["noise"] and float(r["k"]) > 0

    # the output is a valid DCASE2023 tree, with speeds as hidden conditions
    s = prepare_dcase2023(str(out), str(tmp_path / "save"))
    assert s["machines"]["ToyCar"]["hidden_conditions"] == {
        "test/speed1": 4, "test/speed2": 4, "train/speed1": 8, "train/speed2": 2
    }
    assert s["machines"]["ToyCar"]["n_classes"] == 2
    assert s["attribute_files"]["dev/ToyCar"] == {"rows": 18, "rows_without_clip": 0}
    assert len(read_rows(manifest_paths(str(tmp_path / "save"))["train"])) == 20


def test_deterministic_for_a_seed(source, tmp_path):
    a = build_imbalanced_toyadmos2(source, tmp_path / "a", **SMALL, seed=3)
    b = build_imbalanced_toyadmos2(source, tmp_path / "b", **SMALL, seed=3)
    assert a == b
    assert tree_hash(tmp_path / "a") == tree_hash(tmp_path / "b")
    build_imbalanced_toyadmos2(source, tmp_path / "c", **SMALL, seed=4)
    assert tree_hash(tmp_path / "a") != tree_hash(tmp_path / "c")
    # a machine's output does not depend on the other machines being built
    build_imbalanced_toyadmos2(source, tmp_path / "d", machines=("ToyTrain",), **SMALL, seed=3)
    assert tree_hash(tmp_path / "a/dev_data/raw/ToyTrain") == tree_hash(
        tmp_path / "d/dev_data/raw/ToyTrain"
    )


def test_mixing_formula_and_clean(source, tmp_path):
    build_imbalanced_toyadmos2(source, tmp_path / "mix", machines=("ToyTrain",), **SMALL, snr_db=6)
    rows = read_rows(tmp_path / "mix" / "toyadmos2_ToyTrain_sources.csv")
    with open(os.path.join(source, "stat.csv")) as f:
        stat = {r["filename"]: float(r["rms"]) for r in csv.DictReader(f)}
    # as the ToyADMOS2 mixer: the mean RMS of every recording (normal and anomalous) of the type
    signal_rms = np.mean([v for k, v in stat.items() if k[:2] in ("TN", "TA")])
    for r in rows[:3]:
        sig, _ = sf.read(os.path.join(source, r["source"]))
        noise, _ = sf.read(os.path.join(source, r["noise"]))
        noise = np.tile(noise, 2)[: len(sig)]
        noise_rms = stat["ToyTrain_" + r["noise"].split("/")[-1]]
        k = signal_rms / noise_rms / 10 ** (6 / 20)
        assert float(r["k"]) == pytest.approx(k, rel=1e-5)
        expected = sig / (1 + k) + noise * k / (1 + k)
        got, _ = sf.read(tmp_path / "mix" / r["file"])
        assert np.abs(got - expected).max() < 2 / 32767

    build_imbalanced_toyadmos2(source, tmp_path / "clean", machines=("ToyTrain",), **SMALL,
                               snr_db=None)
    for r in read_rows(tmp_path / "clean" / "toyadmos2_ToyTrain_sources.csv")[:3]:
        assert r["noise"] == "" and r["k"] == ""
        sig, _ = sf.read(os.path.join(source, r["source"]))
        got, _ = sf.read(tmp_path / "clean" / r["file"])
        assert np.abs(got - sig).max() < 2 / 32767


def test_refuses_impossible_requests(source, tmp_path):
    with pytest.raises(ToyADMOS2Error) as e:
        build_imbalanced_toyadmos2(source, tmp_path / "x", n_configurations=4, n_train=10,
                                   n_test=8, machines=("ToyCar",))
    msg = str(e.value)
    assert "only 3 of 3 configuration(s)" in msg and "4 needed" in msg
    assert "ToyCar A1: ok" in msg
    with pytest.raises(ToyADMOS2Error) as e:
        build_imbalanced_toyadmos2(source, tmp_path / "x", n_configurations=2, n_train=20,
                                   n_test=8, machines=("ToyCar",))
    msg = str(e.value)
    # 20 train clips at 4:1 over 2 configurations: 8 speed1 train + 1 test per configuration
    assert "ToyCar A1: speed1: 6 normal recording(s), needs 9" in msg
    with pytest.raises(ToyADMOS2Error, match="speed1: 4 anomalous recording"):
        build_imbalanced_toyadmos2(source, tmp_path / "x", n_configurations=1, n_train=4,
                                   n_test=20, machines=("ToyCar",))
    with pytest.raises(ToyADMOS2Error, match="speed4: 0 normal recording"):
        build_imbalanced_toyadmos2(source, tmp_path / "x", speed_levels=(1, 4), **SMALL)
    assert not os.path.exists(tmp_path / "x")  # nothing written when refusing
    with pytest.raises(ValueError, match="train_speed_ratio"):
        build_imbalanced_toyadmos2(source, tmp_path / "x", train_speed_ratio=(1, 2, 3), **SMALL)
    with pytest.raises(ValueError, match="not a ToyADMOS2 machine"):
        build_imbalanced_toyadmos2(source, tmp_path / "x", machines=("fan",), **SMALL)


def test_out_folder_and_overwrite(source, tmp_path):
    out = tmp_path / "out"
    os.makedirs(out / "dev_data" / "raw" / "fan" / "train")
    with open(out / "hidden_conditions.csv", "w") as f:
        f.write("file,condition\ndev_data/raw/fan/train/x.wav,loud\n")
    with pytest.raises(ToyADMOS2Error, match="not empty.*overwrite=True"):
        build_imbalanced_toyadmos2(source, out, **SMALL)
    build_imbalanced_toyadmos2(source, out, overwrite=True, **SMALL)
    build_imbalanced_toyadmos2(source, out, machines=("ToyCar",), overwrite=True, **SMALL, seed=9)
    rows = read_rows(out / "hidden_conditions.csv")
    assert {"file": "dev_data/raw/fan/train/x.wav", "condition": "loud"} in rows
    assert sum(r["file"].startswith("dev_data/raw/ToyCar/") for r in rows) == 18
    assert sum(r["file"].startswith("dev_data/raw/ToyTrain/") for r in rows) == 18
    assert os.path.isdir(out / "dev_data" / "raw" / "fan" / "train")
    assert len(os.listdir(out / "dev_data" / "raw" / "ToyCar" / "train")) == 10


def test_multiple_mics(source, tmp_path):
    build_imbalanced_toyadmos2(source, tmp_path / "m", machines=("ToyCar",), mics=(1, 2), **SMALL)
    names = os.listdir(tmp_path / "m" / "dev_data" / "raw" / "ToyCar" / "train")
    mics = Counter(dict(parse_filename(n).attribute_pairs)["mic"] for n in names)
    assert mics == {"1": 5, "2": 5}


def test_undecodable_source(tmp_path):
    os.makedirs(tmp_path / "src" / "ToyCar")
    (tmp_path / "src" / "ToyCar" / "CN001-carA1-speed1_mic1_00001.mp4").write_bytes(b"x")
    (tmp_path / "src" / "stat.csv").write_text("filename,rms\n")
    with pytest.raises(ToyADMOS2Error, match="not WAV/FLAC; decode them"):
        build_imbalanced_toyadmos2(tmp_path / "src", tmp_path / "o", machines=("ToyCar",))
    os.remove(tmp_path / "src" / "stat.csv")
    with pytest.raises(ToyADMOS2Error, match="stat.csv: missing"):
        build_imbalanced_toyadmos2(tmp_path / "src", tmp_path / "o", machines=("ToyCar",))


def test_command_line(source, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = [source, str(out), "--machines", "ToyCar", "--n-train", "10", "--n-test", "8",
            "--n-configurations", "2", "--train-speed-ratio", "ToyCar=3:2", "--seed", "1"]
    assert main(argv) == 0
    rows = read_rows(out / "hidden_conditions.csv")
    train = Counter(r["condition"] for r in rows if "/train/" in r["file"])
    assert train == {"speed1": 6, "speed2": 4}
    assert main(argv) == 2  # not empty, no --overwrite
    assert "not empty" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--clean"]) == 0
