"""Builds the paper's imbalanced ToyADMOS2 set in the DCASE2023 Task 2 layout.

The AASRL paper (section 4.1) replaces ToyCar and ToyTrain of DCASE2023 Task 2 by ToyADMOS2
mixtures: per machine 1000 training and 200 test clips from 10 configurations, microphone 1,
SNR 0 dB, with the operating speed hidden from the labels and imbalanced in training (speed
level 1 : 2 = 4 : 1 for the toy car, 3 : 2 for the toy train; 1 : 1 in test).

How the ToyADMOS2 source folder is read (our reading of the public manual and mixer tool):

- Recordings anywhere under ``<source>/<machine>/`` (except ``env_noise/``), named
  ``<M><K><NNN>-<word><model><unit>-speed<S>[-<defect>-<level>]_mic<m>_<index>.<ext>``:
  M is ``C`` (car) or ``T`` (train), K is ``N`` (normal) or ``A`` (anomalous), ``<model>`` a
  letter A-E and ``<unit>`` the unit number (together the *configuration*, e.g. ``B1``),
  ``S`` the operating speed 1-5, ``<defect>``/``<level>`` the defect type and damage level of
  anomalous recordings (e.g. ``CA001-carA1-speed1-a-damageL_mic1_00001``).
  The same ``(pattern, index)`` at several microphones is one *recording*.
- Environmental noise: ``<source>/<machine>/env_noise/N<id>_mic<m>_<index>.<ext>``.
- ``<source>/stat.csv`` (``filename,rms``): the RMS amplitude of each file; names are matched
  by their stem, with or without folders or a ``<machine>_`` prefix.
- Files must be readable by soundfile (WAV/FLAC). The Zenodo release ships MP4 files: decode
  them to WAV first keeping the names (e.g. ``ffmpeg -i X.mp4 X.wav``).

Mixing follows the reference formula ``k = rms_signal / rms_noise / 10^(snr_db / 20)``,
``mixed = signal / (1 + k) + noise * k / (1 + k)``, where, as in the ToyADMOS2 mixer,
``rms_signal`` is the mean stat.csv RMS over all recordings of the machine type (so level
differences between conditions survive) and ``rms_noise`` the stat.csv RMS of the noise file.
Noise files are drawn (seeded, with replacement) among all noise ids recorded at the clip's
microphone; a noise file shorter than the recording is repeated, a longer one is cut.

Authors
 * speechbrain-asd developers 2026
"""

import argparse
import csv
import logging
import os
import re
import shutil
import sys
import zlib
from collections import defaultdict
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from speechbrain_asd.dataio.audio import write_pcm16

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
DEFAULT_TRAIN_SPEED_RATIO = {"ToyCar": (4, 1), "ToyTrain": (3, 2)}
_MACHINE_LETTER = {"ToyCar": "C", "ToyTrain": "T"}
_AUDIO_EXTENSIONS = (".wav", ".flac")
_RECORDING = re.compile(
    r"^(?P<machine>[CT])(?P<kind>[NA])(?P<number>\d+)-(?P<word>[A-Za-z]*?)(?P<model>[A-E])"
    r"(?P<unit>\d+)-speed(?P<speed>\d+)(?:-(?P<extra>[^_]+))?_mic(?P<mic>\d+)_(?P<index>\d+)$"
)
_NOISE = re.compile(r"^(?:(?P<machine>[A-Za-z0-9]+)_)?(?P<stem>N(?P<id>\d+)_mic(?P<mic>\d+)_\d+)$")


class ToyADMOS2Error(ValueError):
    """The source folder cannot give what was asked for, or the output folder is not usable."""


def parse_recording_name(name):
    """Parses a ToyADMOS2 recording name (see the module docstring for the pattern).

    Arguments
    ---------
    name : str
        File name or path, with or without extension.

    Returns
    -------
    dict or None
        Keys ``pattern`` (e.g. ``"CN031-carB1-speed1"``), ``machine_letter`` (``C``/``T``),
        ``anomalous`` (bool), ``configuration`` (e.g. ``"B1"``), ``speed`` (int), ``defect``,
        ``damage_level`` (``""`` for normal recordings), ``mic`` (int), ``index`` (str);
        None when the name is not a recording name.

    Example
    -------
    >>> r = parse_recording_name("ToyCar/x/CA001-carA1-speed2-a-damageL_mic1_00003.mp4")
    >>> r["configuration"], r["speed"], r["anomalous"], r["defect"], r["damage_level"], r["mic"]
    ('A1', 2, True, 'a', 'damageL', 1)
    >>> parse_recording_name("CN031-carB1-speed1_mic3_00001.wav")["pattern"]
    'CN031-carB1-speed1'
    >>> parse_recording_name("N1_mic3_01595.wav") is None
    True
    """
    stem = os.path.splitext(name.replace("\\", "/").rsplit("/", 1)[-1])[0]
    m = _RECORDING.match(stem)
    if m is None:
        return None
    extra = m.group("extra") or ""
    defect, _, level = extra.rpartition("-") if "-" in extra else (extra, "", "")
    pattern = stem[: stem.index("_mic")]
    return {
        "pattern": pattern,
        "machine_letter": m.group("machine"),
        "anomalous": m.group("kind") == "A",
        "configuration": f"{m.group('model')}{m.group('unit')}",
        "speed": int(m.group("speed")),
        "defect": defect,
        "damage_level": level,
        "mic": int(m.group("mic")),
        "index": m.group("index"),
    }


def allocate(total, weights):
    """Splits an integer total in proportion to weights (largest remainder, ties to the first).

    Arguments
    ---------
    total : int
        What to split.
    weights : sequence of positive numbers
        The proportions.

    Returns
    -------
    list of int
        Counts summing to ``total``.

    Example
    -------
    >>> allocate(1000, (4, 1)), allocate(200, (1, 1)), allocate(5, (1, 1, 1))
    ([800, 200], [100, 100], [2, 2, 1])
    """
    weights = [float(w) for w in weights]
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"allocate: weights must be non-negative with a positive sum: {weights}")
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _stat_key(name):
    """(machine or None, stem) of a stat.csv file name."""
    parts = name.replace("\\", "/").split("/")
    stem = os.path.splitext(parts[-1])[0]
    machine = next((p for p in parts[:-1] if p in _MACHINE_LETTER), None)
    m = _NOISE.match(stem)
    if m is not None:
        return (m.group("machine") or machine, m.group("stem"))
    return (None, stem)


def _read_stat(source_folder):
    path = os.path.join(source_folder, "stat.csv")
    if not os.path.isfile(path):
        raise ToyADMOS2Error(f"{path}: missing (ToyADMOS2's per-file RMS table)")
    rms = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"filename", "rms"} <= set(reader.fieldnames):
            raise ToyADMOS2Error(f"{path}: expected the columns filename,rms")
        for i, row in enumerate(reader, 2):
            try:
                value = float(row["rms"])
            except (TypeError, ValueError) as e:
                raise ToyADMOS2Error(f"{path}: line {i}: rms {row['rms']!r} is not a number") from e
            rms[_stat_key(row["filename"])] = value
    return path, rms


def _scan_machine(source_folder, machine):
    """Recordings and noise files of one machine type."""
    mdir = os.path.join(source_folder, machine)
    if not os.path.isdir(mdir):
        raise ToyADMOS2Error(f"{mdir}: machine folder missing in the ToyADMOS2 source folder")
    recordings, noises, undecodable = [], defaultdict(list), []
    for root, dirs, files in os.walk(mdir):
        dirs.sort()
        in_noise = os.path.relpath(root, mdir).replace(os.sep, "/").split("/")[0] == "env_noise"
        for f in sorted(files):
            stem, ext = os.path.splitext(f)
            path = os.path.join(root, f)
            if in_noise:
                m = _NOISE.match(stem)
                if m is None:
                    continue
                if ext.lower() not in _AUDIO_EXTENSIONS:
                    undecodable.append(path)
                    continue
                noises[int(m.group("mic"))].append((stem, path))
                continue
            rec = parse_recording_name(f)
            if rec is None or rec["machine_letter"] != _MACHINE_LETTER[machine]:
                continue
            if ext.lower() not in _AUDIO_EXTENSIONS:
                undecodable.append(path)
                continue
            rec["path"] = path
            rec["stem"] = stem
            recordings.append(rec)
    if undecodable and not recordings:
        raise ToyADMOS2Error(
            f"{mdir}: {len(undecodable)} recording(s) such as {undecodable[0]} are not WAV/FLAC; "
            "decode them to WAV first, keeping the names (e.g. ffmpeg -i X.mp4 X.wav)"
        )
    if undecodable:
        logger.warning(
            "%s: ignoring %d non-WAV/FLAC file(s), e.g. %s", mdir, len(undecodable), undecodable[0]
        )
    return recordings, noises


def _load(path, sample_rate):
    """Reads a file as mono float64 at ``sample_rate``."""
    data, sr = sf.read(path, dtype="float64", always_2d=True)
    data = data.mean(axis=1)
    if sr != sample_rate:
        g = gcd(int(sr), int(sample_rate))
        data = resample_poly(data, sample_rate // g, sr // g)
    return data


def _fit(noise, length):
    """Noise cut (or repeated) to the signal's length."""
    if len(noise) >= length:
        return noise[:length]
    return np.tile(noise, -(-length // len(noise)))[:length]


def _check_request(n_train, n_test, n_configurations, mics, speed_levels, train_ratio, test_ratio):
    counts = (("n_train", n_train), ("n_test", n_test), ("n_configurations", n_configurations))
    for name, v in counts:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not mics or any(not isinstance(m, int) or m < 1 for m in mics):
        raise ValueError(f"mics must be a non-empty tuple of microphone numbers, got {mics!r}")
    if not speed_levels or len(set(speed_levels)) != len(speed_levels):
        raise ValueError(f"speed_levels must be distinct speed levels, got {speed_levels!r}")
    for name, ratio in (("train_speed_ratio", train_ratio), ("test_speed_ratio", test_ratio)):
        if len(ratio) != len(speed_levels) or any(r < 0 for r in ratio) or sum(ratio) <= 0:
            raise ValueError(
                f"{name} {tuple(ratio)} must give one non-negative weight per speed level "
                f"{tuple(speed_levels)}"
            )


def _plan_machine(machine, recordings, n_train, n_test, n_configurations, mics, speeds,
                  train_ratio, test_ratio, rng):
    """Chooses configurations and recordings; returns a list of clip dicts."""
    n_normal_test, n_anomaly_test = allocate(n_test, (1, 1))
    need = {}  # (kind, speed) -> per-configuration-slot counts
    for s, n in zip(speeds, allocate(n_train, train_ratio)):
        need[("train", s)] = allocate(n, [1] * n_configurations)
    for s, n in zip(speeds, allocate(n_normal_test, test_ratio)):
        need[("test_normal", s)] = allocate(n, [1] * n_configurations)
    for s, n in zip(speeds, allocate(n_anomaly_test, test_ratio)):
        need[("test_anomaly", s)] = allocate(n, [1] * n_configurations)

    # recording = (pattern, index); usable when it exists at every requested microphone
    files = defaultdict(dict)
    for r in recordings:
        if r["mic"] in mics and r["speed"] in speeds:
            files[(r["anomalous"], r["configuration"], r["speed"], r["pattern"], r["index"])][
                r["mic"]
            ] = r
    available = defaultdict(list)  # (anomalous, configuration, speed) -> sorted recordings
    for key, by_mic in sorted(files.items()):
        if all(m in by_mic for m in mics):
            available[key[:3]].append([by_mic[m] for m in mics])
    configurations = sorted({k[1] for k in available if not k[0]})

    def shortfalls(c):
        out = []
        for s in speeds:
            normal = need[("train", s)][0] + need[("test_normal", s)][0]
            anomalous = need[("test_anomaly", s)][0]
            have_n, have_a = len(available[(False, c, s)]), len(available[(True, c, s)])
            if have_n < normal:
                out.append(f"speed{s}: {have_n} normal recording(s), needs {normal}")
            if have_a < anomalous:
                out.append(f"speed{s}: {have_a} anomalous recording(s), needs {anomalous}")
        return out

    report = {c: shortfalls(c) for c in configurations}
    usable = [c for c in configurations if not report[c]]
    if len(usable) < n_configurations:
        lines = [f"{machine} {c}: " + ("; ".join(p) if p else "ok") for c, p in report.items()]
        raise ToyADMOS2Error(
            f"{machine}: only {len(usable)} of {len(configurations)} configuration(s) can give "
            f"the requested clips (n_train={n_train}, n_test={n_test}, mics={tuple(mics)}, "
            f"speeds={tuple(speeds)}), {n_configurations} needed:\n  " + "\n  ".join(lines)
        )
    chosen = sorted(rng.choice(usable, size=n_configurations, replace=False).tolist())

    clips = []
    counter = defaultdict(int)
    for slot, c in enumerate(chosen):
        for s in speeds:
            normal = available[(False, c, s)]
            order = rng.permutation(len(normal))
            n_tr, n_te = need[("train", s)][slot], need[("test_normal", s)][slot]
            picks = [("train", "normal", normal[i]) for i in order[:n_tr]]
            picks += [("test", "normal", normal[i]) for i in order[n_tr : n_tr + n_te]]
            anomalous = available[(True, c, s)]
            order = rng.permutation(len(anomalous))
            n_an = need[("test_anomaly", s)][slot]
            picks += [("test", "anomaly", anomalous[i]) for i in order[:n_an]]
            for split, label, by_mic in picks:
                # one machine-wide counter per split and label spreads clips evenly over mics
                j = counter[(split, label)]
                counter[(split, label)] += 1
                rec = by_mic[j % len(mics)]
                clips.append({"split": split, "label": label, "configuration": c, "rec": rec})
    return chosen, clips


def build_imbalanced_toyadmos2(
    source_folder,
    out_folder,
    machines=("ToyCar", "ToyTrain"),
    n_train=1000,
    n_test=200,
    n_configurations=10,
    mics=(1,),
    snr_db=0.0,
    train_speed_ratio=None,
    test_speed_ratio=(1, 1),
    speed_levels=(1, 2),
    seed=0,
    overwrite=False,
):
    """Builds the imbalanced ToyADMOS2 set (paper section 4.1) in the DCASE2023 layout.

    Writes ``<out>/dev_data/raw/<machine>/{train,test}/*.wav`` (16 kHz PCM_16) named
    ``section_00_source_{train,test}_{normal,anomaly}_NNNN_car_<config>_mic_<m>.wav``, an
    ``attributes_00.csv`` per machine, ``<out>/hidden_conditions.csv`` (``file,condition``,
    e.g. ``speed1``, file relative to ``out``) and ``<out>/toyadmos2_<machine>_sources.csv``
    (which source and noise file made each clip, with the defect and damage level).

    Choices: all clips are *source domain* (the paper's set has no domain shift; the speed is
    the hidden condition). The attribute string names the configuration and microphone but
    never the speed. Test clips are half normal, half anomalous; anomalies only appear in the
    test split and come from the anomalous recordings of the same configuration and speed.
    Counts are split over speeds by the ratios and evenly over configurations (largest
    remainder). Configurations are drawn at random (seeded) among those that can give their
    share; train and test never share a recording. Clip indices are shuffled so that they do
    not reveal the speed. A machine's output depends only on ``seed`` and the machine name.

    Arguments
    ---------
    source_folder : str
        The ToyADMOS2 folder (``stat.csv``, ``ToyCar/``, ``ToyTrain/``).
    out_folder : str
        Output root (a DCASE2023 tree: ``dev_data/raw/<machine>``).
    machines : sequence of str
        Any of ``"ToyCar"``, ``"ToyTrain"``.
    n_train : int
        Training clips per machine.
    n_test : int
        Test clips per machine (half normal, half anomalous).
    n_configurations : int
        Configurations (e.g. ``B1``) per machine.
    mics : sequence of int
        Microphones to use.
    snr_db : float or None
        Signal-to-noise ratio in dB; None writes the clean recordings.
    train_speed_ratio : dict, tuple or None
        Weights per speed level in training: a tuple for every machine or a dict per machine;
        None = ``{"ToyCar": (4, 1), "ToyTrain": (3, 2)}``.
    test_speed_ratio : tuple
        Weights per speed level in test.
    speed_levels : tuple of int
        Operating speeds used (1-5).
    seed : int
        Random seed (configurations, recordings, noise files, clip order).
    overwrite : bool
        Allow a non-empty ``out_folder``: the built machines' folders are replaced, the rows of
        other machines in ``hidden_conditions.csv`` are kept.

    Returns
    -------
    dict
        Per machine: chosen configurations and clip counts per split, label and speed.

    Example
    -------
    >>> import tempfile, os, numpy as np
    >>> from speechbrain_asd.dataio.audio import write_pcm16
    >>> src, out = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "imb")
    >>> rows = ["filename,rms"]
    >>> os.makedirs(os.path.join(src, "ToyCar", "env_noise"))
    >>> rng = np.random.default_rng(0)
    >>> for s in (1, 2):
    ...     for kind, extra in (("N", ""), ("A", "-a-damageL")):
    ...         for i in range(1, 5):
    ...             f = f"C{kind}00{s}-carA1-speed{s}{extra}_mic1_0000{i}.wav"
    ...             x = rng.uniform(-0.1, 0.1, 800)
    ...             _ = write_pcm16(os.path.join(src, "ToyCar", f), x, 16000)
    ...             rows.append(f"{f},0.05")
    >>> _ = write_pcm16(os.path.join(src, "ToyCar/env_noise/N1_mic1_00001.wav"),
    ...                 rng.uniform(-.1, .1, 800), 16000)
    >>> rows.append("ToyCar_N1_mic1_00001.wav,0.05")
    >>> _ = open(os.path.join(src, "stat.csv"), "w").write("\\n".join(rows) + "\\n")
    >>> res = build_imbalanced_toyadmos2(src, out, machines=("ToyCar",), n_train=4, n_test=4,
    ...                                  n_configurations=1)
    >>> res["ToyCar"]["configurations"], res["ToyCar"]["counts"]["train/normal/speed1"]
    (['A1'], 3)
    """
    machines = tuple(machines)
    for m in machines:
        if m not in _MACHINE_LETTER:
            raise ValueError(f"machines: {m!r} is not a ToyADMOS2 machine (ToyCar, ToyTrain)")
    mics, speed_levels = tuple(mics), tuple(speed_levels)
    if train_speed_ratio is None:
        train_speed_ratio = DEFAULT_TRAIN_SPEED_RATIO
    ratios = {}
    for m in machines:
        r = train_speed_ratio.get(m) if isinstance(train_speed_ratio, dict) else train_speed_ratio
        if r is None:
            raise ValueError(f"train_speed_ratio: no ratio for {m}")
        ratios[m] = tuple(r)
        _check_request(n_train, n_test, n_configurations, mics, speed_levels, ratios[m],
                       tuple(test_speed_ratio))
    if not os.path.isdir(source_folder):
        raise ToyADMOS2Error(f"{source_folder}: ToyADMOS2 source folder does not exist")
    if os.path.isdir(out_folder) and os.listdir(out_folder) and not overwrite:
        raise ToyADMOS2Error(
            f"{out_folder}: output folder is not empty (pass overwrite=True to replace the "
            f"{', '.join(machines)} folders in it)"
        )
    stat_path, rms = _read_stat(source_folder)

    # Plan everything before writing, so that a refusal leaves the output untouched.
    plans = {}
    for machine in machines:
        rng = np.random.default_rng([seed, zlib.crc32(machine.encode())])
        recordings, noises = _scan_machine(source_folder, machine)
        rec_rms = [rms[(None, r["stem"])] for r in recordings if (None, r["stem"]) in rms]
        if not rec_rms:
            raise ToyADMOS2Error(f"{stat_path}: no RMS row for any {machine} recording")
        chosen, clips = _plan_machine(
            machine, recordings, n_train, n_test, n_configurations, mics, speed_levels,
            ratios[machine], tuple(test_speed_ratio), rng,
        )
        if snr_db is not None:
            missing = sorted({m for c in clips for m in [c["rec"]["mic"]] if not noises.get(m)})
            if missing:
                raise ToyADMOS2Error(
                    f"{os.path.join(source_folder, machine, 'env_noise')}: no noise file for "
                    f"microphone(s) {missing}"
                )
            for c in clips:
                stem, path = noises[c["rec"]["mic"]][rng.integers(len(noises[c["rec"]["mic"]]))]
                key = (machine, stem) if (machine, stem) in rms else (None, stem)
                if key not in rms:
                    raise ToyADMOS2Error(f"{stat_path}: no RMS row for noise file {path}")
                c["noise"], c["noise_rms"] = path, rms[key]
        for c in clips:
            if (None, c["rec"]["stem"]) not in rms:
                raise ToyADMOS2Error(f"{stat_path}: no RMS row for {c['rec']['path']}")
        # shuffled indices per (split, label), so that the index does not reveal the speed
        groups = defaultdict(list)
        for c in clips:
            groups[(c["split"], c["label"])].append(c)
        for key in sorted(groups):
            for idx, i in enumerate(rng.permutation(len(groups[key]))):
                groups[key][i]["index"] = idx
        plans[machine] = (chosen, clips, float(np.mean(rec_rms)))

    hidden_path = os.path.join(out_folder, "hidden_conditions.csv")
    kept = []
    if os.path.isfile(hidden_path):
        prefixes = tuple(f"dev_data/raw/{m}/" for m in machines)
        with open(hidden_path, newline="", encoding="utf-8") as f:
            kept = [r for r in list(csv.reader(f))[1:] if r and not r[0].startswith(prefixes)]
    result, hidden_rows = {}, []
    noise_cache = {}
    for machine in machines:
        chosen, clips, signal_rms = plans[machine]
        mdir = os.path.join(out_folder, "dev_data", "raw", machine)
        if os.path.isdir(mdir):
            shutil.rmtree(mdir)
        for split in ("train", "test"):
            os.makedirs(os.path.join(mdir, split))
        attr_rows, source_rows, counts = [], [], defaultdict(int)
        clipped = 0
        for c in sorted(clips, key=lambda c: (c["split"], c["label"], c["index"])):
            rec = c["rec"]
            attrs = f"car_{c['configuration']}_mic_{rec['mic']}"
            name = (
                f"section_00_source_{c['split']}_{c['label']}_{c['index']:04d}_{attrs}.wav"
            )
            signal = _load(rec["path"], SAMPLE_RATE)
            k = None
            if snr_db is None:
                mixed = signal
            else:
                if c["noise"] not in noise_cache:  # few noise files serve many clips
                    noise_cache[c["noise"]] = _load(c["noise"], SAMPLE_RATE)
                noise = _fit(noise_cache[c["noise"]], len(signal))
                k = signal_rms / c["noise_rms"] / 10 ** (snr_db / 20.0)
                mixed = signal / (1.0 + k) + noise * (k / (1.0 + k))
            clipped += write_pcm16(os.path.join(mdir, c["split"], name), mixed, SAMPLE_RATE)
            rel = f"dev_data/raw/{machine}/{c['split']}/{name}"
            hidden_rows.append([rel, f"speed{rec['speed']}"])
            attr_rows.append([f"{machine}/{c['split']}/{name}", "car", c["configuration"], "mic",
                              str(rec["mic"])])
            source_rows.append([
                rel,
                _rel(rec["path"], source_folder),
                "" if k is None else _rel(c["noise"], source_folder),
                "" if k is None else f"{k:.6g}",
                rec["speed"],
                rec["defect"],
                rec["damage_level"],
            ])
            counts[f"{c['split']}/{c['label']}/speed{rec['speed']}"] += 1
        if clipped:
            logger.warning("%s: %d sample(s) clipped to [-1, 1] when writing", machine, clipped)
        with open(os.path.join(mdir, "attributes_00.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file_name", "d1p", "d1v", "d2p", "d2v"])
            w.writerows(attr_rows)
        sources_path = os.path.join(out_folder, f"toyadmos2_{machine}_sources.csv")
        with open(sources_path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "source", "noise", "k", "speed", "defect", "damage_level"])
            w.writerows(source_rows)
        result[machine] = {"configurations": chosen, "counts": dict(sorted(counts.items()))}
        logger.info("%s: configurations %s, clips %s", machine, chosen, result[machine]["counts"])
    with open(hidden_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "condition"])
        w.writerows(sorted(kept + hidden_rows))
    return result


def _rel(path, start):
    return os.path.relpath(path, start).replace(os.sep, "/")


def _ratio(text):
    try:
        return tuple(float(x) for x in text.split(":"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a ratio like 4:1, got {text!r}") from e


def main(argv=None):
    """Command line: ``python -m speechbrain_asd.dataio.toyadmos2 SOURCE OUT [options]``.

    Arguments
    ---------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 on success).

    Example
    -------
    >>> main(["/no/such/toyadmos2", "out"])  # the error goes to stderr
    2
    """
    p = argparse.ArgumentParser(
        prog="python -m speechbrain_asd.dataio.toyadmos2",
        description="Build the AASRL paper's imbalanced ToyADMOS2 set in the DCASE2023 layout.",
    )
    p.add_argument("source", help="ToyADMOS2 folder (stat.csv, ToyCar/, ToyTrain/)")
    p.add_argument("out", help="output root (dev_data/raw/<machine>/...)")
    p.add_argument("--machines", nargs="+", default=["ToyCar", "ToyTrain"])
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=200)
    p.add_argument("--n-configurations", type=int, default=10)
    p.add_argument("--mics", type=int, nargs="+", default=[1])
    p.add_argument("--snr-db", type=float, default=0.0)
    p.add_argument("--clean", action="store_true", help="no noise (overrides --snr-db)")
    p.add_argument(
        "--train-speed-ratio",
        action="append",
        metavar="[MACHINE=]A:B",
        help="training weights per speed level, e.g. ToyCar=4:1 (repeatable); "
        "default ToyCar=4:1, ToyTrain=3:2",
    )
    p.add_argument("--test-speed-ratio", type=_ratio, default=(1.0, 1.0), metavar="A:B")
    p.add_argument("--speed-levels", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    train_ratio = dict(DEFAULT_TRAIN_SPEED_RATIO)
    for item in args.train_speed_ratio or []:
        if "=" in item:
            machine, value = item.split("=", 1)
            train_ratio[machine] = _ratio(value)
        else:
            train_ratio = {m: _ratio(item) for m in args.machines}
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        build_imbalanced_toyadmos2(
            args.source,
            args.out,
            machines=args.machines,
            n_train=args.n_train,
            n_test=args.n_test,
            n_configurations=args.n_configurations,
            mics=args.mics,
            snr_db=None if args.clean else args.snr_db,
            train_speed_ratio=train_ratio,
            test_speed_ratio=args.test_speed_ratio,
            speed_levels=args.speed_levels,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except (ToyADMOS2Error, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
