"""Machine-sound simulator writing DCASE2023 Task 2 layout data sets.

Real machine recordings cannot be downloaded everywhere, but the demo, the tests and the
benchmarks need a data set with the structure that matters for imbalanced anomalous sound
detection: machine types, attributes in the file names, a source and a target domain and,
above all, HIDDEN operating conditions with an imbalanced training ratio inside a class
(the paper's ToyADMOS2 speed levels, section 4.1).

Sound model (all numpy, vectorised over samples)
------------------------------------------------
* Normal sound: a harmonic series of an instantaneous fundamental ``f(t)`` (the rotation or
  stroke rate) with a slow random drift (jitter), a spectral tilt ``k**-tilt``, a resonance
  (Gaussian bump on the harmonic amplitudes), per-configuration harmonic colouring and a
  sinusoidal amplitude modulation. ``source="reciprocating"`` adds a decaying click per cycle
  (valve / slider / rail-joint like sources) to the harmonic part.
* Attributes (visible in the file name) change parameters by the role of their name:
  load-like names (``spd``, ``speed``, ``vel``, ``volt``, ``wt``, ``load``) scale the
  fundamental, ``mic`` colours the channel and the background, every other name (model, car,
  pattern, ...) changes the harmonic profile and the resonance. The value-to-parameter map is
  a deterministic function of (seed, machine, name, value).
* Hidden conditions (:class:`HiddenCondition`) scale the fundamental, change the
  modulation rate and give each value its own unstable structural modes (harmonics whose
  level varies from clip to clip): a value rare in training leaves its modes poorly
  modelled, which makes the minority sub-class harder. They never appear in file names,
  only in ``hidden_conditions.csv``.
* Target domain: a different background colour, a lower SNR and an operating point shift.
* Background: coloured ``1/f**beta`` noise mixed at an SNR as in the ToyADMOS2 mixer.
* Anomalies (test only): ``inharmonic`` (extra non-integer partial), ``impacts`` (periodic
  impacts at the rotation rate exciting a high resonance), ``resonance_shift`` (the
  structural resonance moves) and ``friction`` (intermittent band-limited noise), each
  scaled by ``severity`` in [0, 1].

Output tree (``<out>`` is the folder given to :func:`simulate_dataset`)::

    dev_data/raw/<machine>/{train,test}/section_00_<domain>_<split>_<label>_<NNNN>_<attr>.wav
    dev_data/raw/<machine>/attributes_00.csv
    eval_data/raw/<machine>/train/section_00_<domain>_train_normal_<NNNN>_<attr>.wav
    eval_data/raw/<machine>/attributes_00.csv
    eval_data/raw/<machine>/test/section_00_<NNNN>.wav                  (anonymised)
    ground_truth_{data,domain,attributes}/ground_truth_<machine>_section_00_test.csv
    hidden_conditions.csv      (file,condition for every clip, paths relative to <out>)
    simulation.json            (resolved description, seed, package version, counts)

Every clip has its own random generator derived from (seed, machine, clip path), so the
output is byte-identical for a seed whatever the number of worker processes.

Authors
 * speechbrain-asd developers 2026
"""

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import pathlib
import shutil
import sys
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from speechbrain_asd.dataio.toyadmos2 import allocate

__all__ = [
    "ANOMALY_TYPES",
    "HiddenCondition",
    "MachineSpec",
    "PRESETS",
    "SimulationSpec",
    "load_attribute_rows",
    "main",
    "plan_clips",
    "render_clip",
    "resolve_spec",
    "simulate_dataset",
]

ANOMALY_TYPES = ("inharmonic", "impacts", "resonance_shift", "friction")
_LOAD_NAMES = frozenset({"spd", "speed", "vel", "volt", "wt", "load"})
_OUTPUT_ENTRIES = (
    "dev_data",
    "eval_data",
    "ground_truth_data",
    "ground_truth_domain",
    "ground_truth_attributes",
    "hidden_conditions.csv",
    "simulation.json",
)


def _parse_attr_string(attr, where="attribute string"):
    """Splits ``"car_A1_mic_1"`` into ``(("car", "A1"), ("mic", "1"))``."""
    if attr == "noAttributes":
        return ()
    tokens = attr.split("_")
    if not attr or len(tokens) % 2 or any(t == "" for t in tokens):
        raise ValueError(
            f"{where}: attribute string {attr!r} must be name_value pairs joined by '_' "
            "(or 'noAttributes')"
        )
    return tuple(zip(tokens[0::2], tokens[1::2]))


@dataclass(frozen=True)
class HiddenCondition:
    """A hidden operating condition: sub-classes of a class that no label reveals.

    Arguments
    ---------
    name : str
        What the condition is (e.g. ``"speed"``); documentation only.
    values : tuple of str
        Condition values written to ``hidden_conditions.csv`` (e.g. ``("speed1", "speed2")``).
    train_ratio : tuple of float
        Relative frequency of each value in the training clips (e.g. ``(4, 1)``).
    test_ratio : tuple of float
        Relative frequency of each value in the test clips (e.g. ``(1, 1)``).
    f0_factors : tuple of float
        Multiplier of the fundamental per value.
    am_rates_hz : tuple of float
        Amplitude modulation rate per value, Hz.
    unstable_db : float
        Each value has its own few "unstable" harmonics (structural modes excited at that
        operating point) whose level varies from clip to clip with this standard deviation,
        dB. A value rare in training leaves its unstable directions poorly modelled: this is
        what makes the minority sub-class harder.
    unstable_fraction : float
        Fraction of the audible harmonics (within 20 dB of the strongest) that are unstable
        for a value (at least one).

    Example
    -------
    >>> HiddenCondition(train_ratio=(3, 2)).train_ratio
    (3, 2)
    """

    name: str = "speed"
    values: tuple = ("speed1", "speed2")
    train_ratio: tuple = (4, 1)
    test_ratio: tuple = (1, 1)
    f0_factors: tuple = (1.0, 1.12)
    am_rates_hz: tuple = (1.5, 2.5)
    unstable_db: float = 16.0
    unstable_fraction: float = 0.5

    def __post_init__(self):
        n = len(self.values)
        if n < 1:
            raise ValueError("HiddenCondition: values must not be empty")
        for key in ("train_ratio", "test_ratio", "f0_factors", "am_rates_hz"):
            seq = getattr(self, key)
            if len(seq) != n:
                raise ValueError(
                    f"HiddenCondition {self.name!r}: {key} has {len(seq)} entries, values has {n}"
                )
        for key in ("train_ratio", "test_ratio"):
            seq = getattr(self, key)
            if any(r < 0 for r in seq) or sum(seq) <= 0:
                raise ValueError(f"HiddenCondition {self.name!r}: bad {key} {seq!r}")


@dataclass(frozen=True)
class MachineSpec:
    """Description of one simulated machine type (one section, ``00``).

    Arguments
    ---------
    name : str
        Machine type, used as folder name (e.g. ``"ToyCar"``).
    split : str
        ``"dev"`` (labelled test files) or ``"eval"`` (anonymised test files + ground truth).
    source : str
        ``"rotating"`` (harmonic series) or ``"reciprocating"`` (harmonics + a click per cycle).
    f0_hz : float
        Base fundamental (rotation or stroke rate), Hz.
    n_harmonics : int
        Number of harmonics of the fundamental.
    tilt : float
        Harmonic amplitudes fall as ``k ** -tilt``.
    resonance_hz : float
        Centre of the structural resonance, Hz.
    resonance_bw_hz : float
        Standard deviation of the Gaussian resonance bump, Hz.
    resonance_gain : float
        Peak gain of the resonance over the tilt (linear).
    jitter : float
        Standard deviation of the slow relative drift of the fundamental.
    am_depth : float
        Amplitude modulation depth in [0, 1).
    noise_beta : float
        Exponent of the ``1/f**beta`` power spectrum of the background.
    snr_db : float
        Machine-to-background ratio of the source domain, dB.
    source_configs : tuple of str
        Source-domain attribute strings, e.g. ``"car_A1_mic_1"`` (name/value pairs joined
        by ``_``; ``"noAttributes"`` for none).
    target_configs : tuple of str
        Target-domain attribute strings.
    n_source_train, n_target_train : int
        Training clips per domain at scale 1.
    n_test_per_domain : int
        Test clips per domain at scale 1, half normal, half anomalous.
    hidden : HiddenCondition or None
        Hidden operating condition; None gives every clip the condition ``"default"``.
    anomalies : tuple of str
        Anomaly types drawn for anomalous test clips (see ``ANOMALY_TYPES``).
    severity : float
        Anomaly strength in [0, 1].
    target_noise_beta_shift : float
        Added to ``noise_beta`` in the target domain.
    target_snr_shift_db : float
        Added to ``snr_db`` in the target domain.
    target_f0_factor : float
        Operating point shift of the target domain (multiplies the fundamental).
    attributes_csv : str or None
        A real ``attributes_00.csv``; when given its rows define the class structure (counts
        per attribute string, domain, split and label) instead of the configs and counts above.

    Example
    -------
    >>> m = MachineSpec("fan", source_configs=("m-n_W",), target_configs=("m-n_Y",))
    >>> m.split, m.n_source_train
    ('dev', 990)
    """

    name: str
    split: str = "dev"
    source: str = "rotating"
    f0_hz: float = 50.0
    n_harmonics: int = 16
    tilt: float = 0.8
    resonance_hz: float = 1200.0
    resonance_bw_hz: float = 300.0
    resonance_gain: float = 3.0
    jitter: float = 0.01
    am_depth: float = 0.2
    noise_beta: float = 1.0
    snr_db: float = 0.0
    source_configs: tuple = ("noAttributes",)
    target_configs: tuple = ("noAttributes",)
    n_source_train: int = 990
    n_target_train: int = 10
    n_test_per_domain: int = 100
    hidden: HiddenCondition | None = field(default_factory=HiddenCondition)
    anomalies: tuple = ANOMALY_TYPES
    severity: float = 0.5
    target_noise_beta_shift: float = -0.3
    target_snr_shift_db: float = -2.0
    target_f0_factor: float = 1.03
    attributes_csv: str | None = None

    def __post_init__(self):
        where = f"MachineSpec {self.name!r}"
        if not self.name or "/" in self.name or "_" in self.name:
            raise ValueError(f"{where}: name must be non-empty without '/' or '_'")
        if self.split not in ("dev", "eval"):
            raise ValueError(f"{where}: split must be 'dev' or 'eval', got {self.split!r}")
        if self.source not in ("rotating", "reciprocating"):
            raise ValueError(f"{where}: source must be 'rotating' or 'reciprocating'")
        if not self.source_configs or not self.target_configs:
            raise ValueError(f"{where}: source_configs and target_configs must not be empty")
        for cfg in self.source_configs + self.target_configs:
            _parse_attr_string(cfg, where)
        bad = [a for a in self.anomalies if a not in ANOMALY_TYPES]
        if bad or not self.anomalies:
            raise ValueError(f"{where}: anomalies must be a non-empty subset of {ANOMALY_TYPES}")
        if not 0.0 <= self.severity <= 1.0:
            raise ValueError(f"{where}: severity must lie in [0, 1], got {self.severity}")
        if not 0.0 <= self.am_depth < 1.0:
            raise ValueError(f"{where}: am_depth must lie in [0, 1), got {self.am_depth}")
        if self.f0_hz <= 0 or self.n_harmonics < 1:
            raise ValueError(f"{where}: f0_hz and n_harmonics must be positive")
        for key in ("n_source_train", "n_target_train", "n_test_per_domain"):
            if getattr(self, key) < 0:
                raise ValueError(f"{where}: {key} must be >= 0")


@dataclass(frozen=True)
class SimulationSpec:
    """A whole simulated data set.

    Arguments
    ---------
    machines : tuple of MachineSpec
        The machine types (dev and eval).
    clip_seconds : float
        Clip length, seconds.
    sample_rate : int
        Sampling rate, Hz (files are mono PCM_16).
    scale : float
        Multiplies every clip count (at least one clip per non-empty block is kept).

    Example
    -------
    >>> spec = resolve_spec("demo", scale=0.5)
    >>> [m.name for m in spec.machines], spec.clip_seconds
    (['ToyCar', 'fan'], 4.0)
    """

    machines: tuple
    clip_seconds: float = 10.0
    sample_rate: int = 16000
    scale: float = 1.0

    def __post_init__(self):
        if not self.machines:
            raise ValueError("SimulationSpec: machines must not be empty")
        names = [m.name for m in self.machines]
        if len(set(names)) != len(names):
            raise ValueError(f"SimulationSpec: machine names must be unique, got {names}")
        if not self.clip_seconds > 0:
            raise ValueError(f"SimulationSpec: clip_seconds must be > 0, got {self.clip_seconds}")
        if not self.scale > 0:
            raise ValueError(f"SimulationSpec: scale must be > 0, got {self.scale}")
        if self.sample_rate < 4000:
            raise ValueError(f"SimulationSpec: sample_rate too low: {self.sample_rate}")


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------


def _cars(models, mic):
    return tuple(f"car_{m}_mic_{mic}" for m in models)


def _demo_spec():
    toycar = MachineSpec(
        "ToyCar",
        f0_hz=42.0,
        n_harmonics=24,
        tilt=0.7,
        resonance_hz=1500.0,
        source_configs=_cars(("A1", "B1", "C1"), 1),
        target_configs=_cars(("A1", "B1"), 2),
        n_source_train=70,
        n_target_train=5,
        n_test_per_domain=20,
        hidden=HiddenCondition("speed", ("speed1", "speed2"), (4, 1), (1, 1)),
    )
    fan = MachineSpec(
        "fan",
        f0_hz=23.0,
        n_harmonics=30,
        tilt=1.0,
        resonance_hz=700.0,
        noise_beta=0.6,
        source_configs=("m-n_W", "m-n_X"),
        target_configs=("m-n_Y",),
        n_source_train=70,
        n_target_train=5,
        n_test_per_domain=20,
        hidden=HiddenCondition("load", ("load1", "load2"), (4, 1), (1, 1), (1.0, 1.1)),
    )
    return SimulationSpec((toycar, fan), clip_seconds=4.0)


def _imbalanced_spec():
    models = ("A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2")
    toycar = MachineSpec(
        "ToyCar",
        f0_hz=42.0,
        n_harmonics=24,
        tilt=0.7,
        resonance_hz=1500.0,
        source_configs=_cars(models, 1),
        target_configs=_cars(("E1", "E2"), 1),
        hidden=HiddenCondition("speed", ("speed1", "speed2"), (4, 1), (1, 1)),
    )
    toytrain = MachineSpec(
        "ToyTrain",
        source="reciprocating",
        f0_hz=9.0,
        n_harmonics=60,
        tilt=0.5,
        resonance_hz=900.0,
        resonance_bw_hz=250.0,
        source_configs=_cars(models, 1),
        target_configs=_cars(("E1", "E2"), 1),
        hidden=HiddenCondition("speed", ("speed1", "speed2"), (3, 2), (1, 1)),
    )
    return SimulationSpec((toycar, toytrain), clip_seconds=10.0)


# (name, split, source, f0, n_harmonics, resonance_hz, noise_beta, source configs, target configs)
# attribute strings as in the real DCASE2023 training files.
_DCASE2023_TABLE = (
    ("ToyCar", "dev", "rotating", 42.0, 24, 1500.0, 1.0,
     "car_{B1,B2,C1,C2,D1,D2}_spd_{31V,34V,40V}_mic_1",
     "car_{A1,A2,E1,E2}_spd_{28V,37V}_mic_2"),
    ("ToyTrain", "dev", "reciprocating", 9.0, 60, 900.0, 1.0,
     "car_{B1,B2,C1,C2,D1,D2}_spd_{7,8,10}_mic_1",
     "car_{A1,A2,E1,E2}_spd_{6,9}_mic_2"),
    ("bearing", "dev", "rotating", 30.0, 40, 2500.0, 0.8,
     "vel_{5,9,13,17,21}_loc_A vel_{8,16}_loc_{A,B,C,D}",
     "vel_{7,11,15,19}_loc_A vel_16_loc_{E,F,G,H} vel_8_loc_H"),
    ("fan", "dev", "rotating", 23.0, 30, 700.0, 0.6, "m-n_{W,X}", "m-n_{Y,Z}"),
    ("gearbox", "dev", "rotating", 55.0, 20, 1800.0, 1.2,
     "volt_{1.0,1.5,2.0,2.5,3.0}_wt_0 volt_1.5_wt_{50,100,150,200}",
     "volt_{1.3,1.8,2.3,2.8}_wt_0 volt_1.5_wt_{30,80,130,180,230,250}"),
    ("slider", "dev", "reciprocating", 2.0, 80, 1100.0, 1.0,
     "vel_{300,500,700,900,1100}_ac_0.30 vel_380_ac_0.03 vel_490_ac_0.05 vel_580_ac_0.07 "
     "vel_660_ac_0.09 vel_730_ac_0.11",
     "vel_{400,600,800,1000}_ac_0.30 vel_440_ac_0.04 vel_540_ac_0.06 vel_620_ac_0.08 "
     "vel_700_ac_0.10"),
    ("valve", "dev", "reciprocating", 1.5, 80, 2000.0, 1.4, "pat_{00,01}", "pat_{02,03}"),
    ("ToyDrone", "eval", "rotating", 120.0, 12, 2200.0, 0.8,
     "car_{A1,A2}_spd_3_mic_1 car_{B1,B2}_spd_2_mic_1", "car_{C1,C2}_spd_1_mic_2"),
    ("ToyNscale", "eval", "reciprocating", 6.0, 60, 1300.0, 1.0,
     "car_{A1,A2,B1,B2}_spd_{2,3}_mic_1", "car_C1_spd_{1,5}_mic_2 car_C2_spd_1_mic_2"),
    ("ToyTank", "eval", "rotating", 18.0, 40, 800.0, 1.2,
     "car_{A1,A2,B1,B2}_spd_{3,4}_mic_1", "car_{C1,C2}_spd_{1,5}_mic_1"),
    ("Vacuum", "eval", "rotating", 160.0, 10, 3000.0, 0.4,
     "car_A1_spd_M_mic_1 car_A2_spd_H_mic_1 car_B1_spd_Lb_mic_1 car_B2_spd_Mb_mic_1",
     "car_C1_spd_Mb_mic_2 car_C2_spd_H_mic_2"),
    ("bandsaw", "eval", "rotating", 35.0, 40, 3500.0, 0.8, "vel_{13,15}", "vel_{12,14}"),
    ("grinder", "eval", "rotating", 48.0, 30, 2600.0, 0.7,
     "grindstone_1_plate_1 grindstone_2_plate_2 grindstone_3_plate_3",
     "grindstone_4_plate_{1,2,3}"),
    ("shaker", "eval", "reciprocating", 16.0, 50, 600.0, 1.2, "speed_{1000,1500}",
     "speed_1200"),
)  # fmt: skip


def _expand_braces(pattern):
    """Expands a space-separated list of ``{a,b}`` brace patterns into attribute strings."""
    out = []
    for word in pattern.split():
        parts = [""]
        rest = word
        while rest:
            start = rest.find("{")
            if start < 0:
                parts = [p + rest for p in parts]
                break
            end = rest.index("}", start)
            options = rest[start + 1 : end].split(",")
            parts = [p + rest[:start] + o for p in parts for o in options]
            rest = rest[end + 1 :]
        out.extend(parts)
    return tuple(out)


def _dcase2023_shaped_spec():
    machines = []
    for name, split, source, f0, n_harm, res, beta, src, tgt in _DCASE2023_TABLE:
        machines.append(
            MachineSpec(
                name,
                split=split,
                source=source,
                f0_hz=f0,
                n_harmonics=n_harm,
                resonance_hz=res,
                resonance_bw_hz=max(150.0, 0.2 * res),
                noise_beta=beta,
                source_configs=_expand_braces(src),
                target_configs=_expand_braces(tgt),
                hidden=HiddenCondition("state", ("state1", "state2"), (3, 1), (1, 1)),
            )
        )
    return SimulationSpec(tuple(machines), clip_seconds=10.0)


PRESETS = {
    "demo": _demo_spec(),
    "imbalanced": _imbalanced_spec(),
    "dcase2023-shaped": _dcase2023_shaped_spec(),
}
"""Named :class:`SimulationSpec` descriptions (unscaled); see docs/simulator.md."""


def resolve_spec(
    preset="demo",
    clip_seconds=None,
    scale=None,
    machines=None,
    attributes_dir=None,
    severity=None,
    sample_rate=None,
):
    """Returns the :class:`SimulationSpec` of a preset with overrides applied.

    Arguments
    ---------
    preset : str or SimulationSpec
        A key of ``PRESETS`` or a ready description.
    clip_seconds : float, optional
        Clip length, seconds.
    scale : float, optional
        Multiplies every clip count.
    machines : str or sequence of str, optional
        Keep only these machine types (comma-separated string or list), in this order.
    attributes_dir : str or path, optional
        Folder laid out as ``{dev_data,eval_data}/<machine>/attributes_00.csv`` (the real
        DCASE2023 files): every machine found there takes its class structure from its file.
    severity : float, optional
        Anomaly severity for every machine, in [0, 1].
    sample_rate : int, optional
        Sampling rate, Hz.

    Returns
    -------
    SimulationSpec

    Example
    -------
    >>> spec = resolve_spec("imbalanced", scale=0.1, clip_seconds=2, machines="ToyTrain")
    >>> [(m.name, m.hidden.train_ratio) for m in spec.machines], spec.clip_seconds
    ([('ToyTrain', (3, 2))], 2)
    """
    if isinstance(preset, SimulationSpec):
        spec = preset
    elif preset in PRESETS:
        spec = PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    machine_list = list(spec.machines)
    if machines is not None:
        wanted = (
            [m.strip() for m in machines.split(",")]
            if isinstance(machines, str)
            else list(machines)
        )
        known = {m.name: m for m in machine_list}
        missing = [w for w in wanted if w not in known]
        if missing or not wanted:
            raise ValueError(
                f"machines: {missing or wanted} not in preset (available: {sorted(known)})"
            )
        machine_list = [known[w] for w in wanted]
    if severity is not None:
        machine_list = [dataclasses.replace(m, severity=float(severity)) for m in machine_list]
    if attributes_dir is not None:
        root = pathlib.Path(attributes_dir)
        if not root.is_dir():
            raise ValueError(f"attributes_dir {str(root)!r} is not a folder")
        found = []
        for i, m in enumerate(machine_list):
            csv_path = root / f"{m.split}_data" / m.name / "attributes_00.csv"
            if csv_path.is_file():
                machine_list[i] = dataclasses.replace(m, attributes_csv=str(csv_path))
                found.append(m.name)
        if not found:
            raise ValueError(
                f"attributes_dir {str(root)!r}: no <dev|eval>_data/<machine>/attributes_00.csv "
                f"for any of {[m.name for m in machine_list]}"
            )
    changes = {"machines": tuple(machine_list)}
    if clip_seconds is not None:
        changes["clip_seconds"] = clip_seconds
    if scale is not None:
        changes["scale"] = float(scale)
    if sample_rate is not None:
        changes["sample_rate"] = int(sample_rate)
    return dataclasses.replace(spec, **changes)


# --------------------------------------------------------------------------------------------
# Class structure: attribute strings, real attribute files, clip plans
# --------------------------------------------------------------------------------------------


def load_attribute_rows(path):
    """Reads a real DCASE2023 ``attributes_00.csv`` into class-structure rows.

    Survives the quirks of the real files: bare names without folder or ``.wav``, indices
    starting at 0 or 1, columns that differ from the name (``speed`` vs ``spd``, omitted
    ``mic``), a varying number of (name, value) pairs.

    Arguments
    ---------
    path : str or path
        The csv file.

    Returns
    -------
    list of dict
        One per row, in file order: ``domain`` (source/target), ``split`` (train/test),
        ``label`` (normal/anomaly), ``attr`` (the attribute string of the name) and
        ``pairs`` (tuple of (name, value) from the csv columns).

    Example
    -------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "attributes_00.csv")
    >>> with open(p, "w") as f:
    ...     _ = f.write("file_name,d1p,d1v\\n"
    ...                 "fan/train/section_00_source_train_normal_0000_m-n_X.wav,m-n,X\\n"
    ...                 "section_00_target_train_normal_0001_car_C1_spd_1,car,C1\\n")
    >>> [(r["domain"], r["attr"], r["pairs"]) for r in load_attribute_rows(p)]
    [('source', 'm-n_X', (('m-n', 'X'),)), ('target', 'car_C1_spd_1', (('car', 'C1'),))]
    >>> import shutil; shutil.rmtree(d)
    """
    path = pathlib.Path(path)
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "file_name":
            raise ValueError(f"{path}: expected a header starting with 'file_name'")
        for lineno, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            name = row[0].strip().rsplit("/", 1)[-1]
            if name.endswith(".wav"):
                name = name[:-4]
            fields = name.split("_")
            if (
                len(fields) < 7
                or fields[0] != "section"
                or fields[2] not in ("source", "target")
                or fields[3] not in ("train", "test")
                or fields[4] not in ("normal", "anomaly")
                or not fields[5].isdigit()
            ):
                raise ValueError(f"{path}:{lineno}: not a DCASE2023 file name: {row[0]!r}")
            values = [v.strip() for v in row[1:]]
            while values and values[-1] == "":
                values.pop()
            if len(values) % 2:
                raise ValueError(f"{path}:{lineno}: odd number of attribute columns")
            rows.append(
                {
                    "domain": fields[2],
                    "split": fields[3],
                    "label": fields[4],
                    "attr": "_".join(fields[6:]),
                    "pairs": tuple(zip(values[0::2], values[1::2])),
                }
            )
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return rows


def _scaled(n, scale):
    """Scaled count, at least 1 for a non-empty block."""
    return 0 if n == 0 else max(1, int(math.floor(n * scale + 0.5)))


def _apportion(total, weights):
    """:func:`~speechbrain_asd.dataio.toyadmos2.allocate`, with nothing to split allowed."""
    if total == 0 or sum(weights) <= 0:
        return [0] * len(weights)
    return allocate(total, weights)


def _interleave(labels, counts):
    """Spreads ``counts[i]`` copies of ``labels[i]`` evenly over one sequence."""
    keys = []
    for i, c in enumerate(counts):
        keys.extend(((j + 0.5) / c, i) for j in range(c))
    keys.sort()
    return [labels[i] for _, i in keys]


def _stable_int(*parts):
    """A 64-bit integer hash of strings, identical on every platform and process."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def _blocks(machine, scale):
    """Clip blocks of a machine: list of (domain, split, label, [(attr, pairs), ...]).

    The list of configurations of a block holds one entry per clip, in clip order.
    """
    if machine.attributes_csv is not None:
        rows = load_attribute_rows(machine.attributes_csv)
        groups = {}
        for r in rows:
            key = (r["domain"], r["split"], r["label"])
            groups.setdefault(key, {}).setdefault((r["attr"], r["pairs"]), 0)
            groups[key][(r["attr"], r["pairs"])] += 1
        blocks = []
        for key in sorted(groups, key=_block_order):
            configs = list(groups[key])
            counts = _apportion(
                _scaled(sum(groups[key].values()), scale), list(groups[key].values())
            )
            blocks.append((*key, _round_robin(configs, counts)))
        if not any(k[1] == "test" for k in groups):
            # eval-set files list training rows only: test clips use the training configs.
            for domain in ("source", "target"):
                cfgs = [c for k, g in groups.items() if k[0] == domain for c in g]
                if not cfgs:
                    raise ValueError(
                        f"{machine.attributes_csv}: no {domain}-domain rows to build test "
                        "clips from"
                    )
                n = _scaled(machine.n_test_per_domain // 2, scale)
                for label in ("normal", "anomaly"):
                    blocks.append((domain, "test", label, _cycle(cfgs, n)))
        return blocks
    blocks = []
    for domain, configs, n_train in (
        ("source", machine.source_configs, machine.n_source_train),
        ("target", machine.target_configs, machine.n_target_train),
    ):
        cfgs = [(a, _parse_attr_string(a)) for a in configs]
        blocks.append((domain, "train", "normal", _cycle(cfgs, _scaled(n_train, scale))))
        n_test = _scaled(machine.n_test_per_domain // 2, scale)
        for label in ("normal", "anomaly"):
            blocks.append((domain, "test", label, _cycle(cfgs, n_test)))
    return blocks


def _block_order(key):
    domain, split, label = key
    return (split != "train", domain != "source", label != "normal")


def _cycle(configs, total):
    """``total`` clip configurations cycling through ``configs``."""
    return [configs[i % len(configs)] for i in range(total)]


def _round_robin(configs, counts):
    """Clip-ordered configurations with exact per-configuration ``counts``, interleaved."""
    remaining = list(counts)
    out = []
    while any(remaining):
        for i, c in enumerate(configs):
            if remaining[i]:
                out.append(c)
                remaining[i] -= 1
    return out


def plan_clips(machine, scale=1.0, seed=0):
    """Lists every clip of one machine type, without rendering anything.

    Arguments
    ---------
    machine : MachineSpec
        The machine type.
    scale : float
        Multiplies the clip counts.
    seed : int
        Data set seed (draws the anomaly types and the anonymised eval test order).

    Returns
    -------
    list of dict
        One per clip, in writing order: ``machine``, ``name`` (DCASE file name), ``rel``
        (path relative to the output folder; anonymised for eval test clips, whose
        ``anonymous`` key holds the new name), ``domain``, ``split``, ``label``, ``attr``,
        ``pairs``, ``condition`` (hidden) and ``anomaly`` (type, None for normal clips).

    Example
    -------
    >>> clips = plan_clips(PRESETS["imbalanced"].machines[0], scale=0.1)
    >>> len(clips), clips[0]["name"], clips[0]["condition"]
    (120, 'section_00_source_train_normal_0000_car_A1_mic_1.wav', 'speed1')
    >>> sum(c["condition"] == "speed2" for c in clips if c["split"] == "train")
    20
    """
    hidden = machine.hidden
    plan_rng = np.random.default_rng(_stable_int(seed, machine.name, "plan"))
    clips = []
    for domain, split, label, configs in _blocks(machine, scale):
        n = len(configs)
        if hidden is None:
            conditions = ["default"] * n
        else:
            ratio = hidden.train_ratio if split == "train" else hidden.test_ratio
            # spread evenly along the clips sorted by configuration, so that every
            # configuration gets about the ratio and the block gets it exactly
            spread = _interleave(list(hidden.values), _apportion(n, ratio))
            first = {}
            for i, cfg in enumerate(configs):
                first.setdefault(cfg, i)
            by_config = sorted(range(n), key=lambda i: (first[configs[i]], i))
            conditions = [None] * n
            for i, cond in zip(by_config, spread):
                conditions[i] = cond
        for index, ((attr, pairs), condition) in enumerate(zip(configs, conditions)):
            name = f"section_00_{domain}_{split}_{label}_{index:04d}_{attr}.wav"
            anomaly = None
            if label == "anomaly":
                anomaly = machine.anomalies[int(plan_rng.integers(len(machine.anomalies)))]
            clips.append(
                {
                    "machine": machine.name,
                    "name": name,
                    "rel": f"{machine.split}_data/raw/{machine.name}/{split}/{name}",
                    "domain": domain,
                    "split": split,
                    "label": label,
                    "attr": attr,
                    "pairs": pairs,
                    "condition": condition,
                    "anomaly": anomaly,
                }
            )
    if machine.split == "eval":
        test = [c for c in clips if c["split"] == "test"]
        for new_index, c in zip(plan_rng.permutation(len(test)), test):
            c["anonymous"] = f"section_00_{int(new_index):04d}.wav"
            c["rel"] = f"eval_data/raw/{machine.name}/test/{c['anonymous']}"
    return clips


# --------------------------------------------------------------------------------------------
# Sound synthesis
# --------------------------------------------------------------------------------------------


def _attribute_params(machine, pairs, seed):
    """Deterministic parameter changes caused by the visible attributes of a clip."""
    p = {"f0": 1.0, "res": 1.0, "tilt": 0.0, "beta": 0.0, "colour": None}
    colour_seed = []
    for name, value in pairs:
        rng = np.random.default_rng(_stable_int(seed, machine.name, "attr", name, value))
        if name in _LOAD_NAMES:
            p["f0"] *= float(np.exp(rng.uniform(-0.2, 0.2)))
        elif name == "mic":
            p["tilt"] += float(rng.uniform(-0.15, 0.15))
            p["beta"] += float(rng.uniform(-0.3, 0.3))
        else:
            p["res"] *= float(np.exp(rng.uniform(-0.25, 0.25)))
            p["tilt"] += float(rng.uniform(-0.2, 0.2))
            colour_seed.append(f"{name}={value}")
    if colour_seed:
        rng = np.random.default_rng(_stable_int(seed, machine.name, "colour", *colour_seed))
        # model-specific harmonic colouring, +-4 dB per harmonic
        p["colour"] = 10.0 ** (rng.uniform(-4.0, 4.0, machine.n_harmonics) / 20.0)
    return p


def _smooth_noise(rng, n, sample_rate, rate_hz):
    """Zero-mean unit-variance noise changing slowly (control points at ``rate_hz``)."""
    n_ctrl = int(n / sample_rate * rate_hz) + 3
    ctrl = rng.standard_normal(n_ctrl)
    x = np.linspace(0.0, n_ctrl - 2.0, n)
    return np.interp(x, np.arange(n_ctrl), ctrl)


def _coloured_noise(rng, n, sample_rate, beta, band=None):
    """Unit-RMS noise with a ``1/f**beta`` power spectrum, optionally band-limited (Hz)."""
    n_bins = n // 2 + 1
    spec = rng.standard_normal(n_bins) + 1j * rng.standard_normal(n_bins)
    freqs = np.arange(n_bins) * (sample_rate / n)
    gain = np.maximum(freqs, 20.0) ** (-beta / 2.0)
    if band is not None:
        gain = gain * ((freqs >= band[0]) & (freqs <= band[1]))
    gain[0] = 0.0
    y = np.fft.irfft(spec * gain, n)
    return y / (np.sqrt(np.mean(y**2)) + 1e-12)


def _harmonic_sum(phase, amps):
    """``sum_k amps[k-1] * cos(k * phase)`` by the Chebyshev recurrence (no per-k cos)."""
    c = np.cos(phase)
    prev, cur = np.ones_like(c), c
    out = amps[0] * c
    for a in amps[1:]:
        prev, cur = cur, 2.0 * c * cur - prev
        out += a * cur
    return out


def _decaying_clicks(positions, n, sample_rate, freq_hz, decay_s, rng, amp_jitter=0.3):
    """Sum of decaying sinusoid clicks starting at sample ``positions``."""
    x = np.zeros(n)
    length = int(5 * decay_s * sample_rate)
    t = np.arange(length) / sample_rate
    kernel = np.exp(-t / decay_s) * np.sin(2 * np.pi * freq_hz * t)
    gains = 1.0 + amp_jitter * rng.standard_normal(len(positions))
    # clicks are sparse: adding kernels is cheaper than a full-length convolution
    for pos, g in zip(positions, gains):
        end = min(n, pos + length)
        x[pos:end] += g * kernel[: end - pos]
    return x


def render_clip(machine, clip, seed, clip_seconds=10.0, sample_rate=16000):
    """Synthesises one clip.

    Arguments
    ---------
    machine : MachineSpec
        The machine type.
    clip : dict
        ``domain``, ``label`` (normal/anomaly), ``pairs`` (attribute (name, value) tuples),
        ``condition`` (hidden condition value), ``anomaly`` (type or None) and ``rel`` (the
        clip's path, which seeds its random generator with ``seed`` and the machine name).
    seed : int
        Data set seed.
    clip_seconds : float
        Length, seconds.
    sample_rate : int
        Sampling rate, Hz.

    Returns
    -------
    numpy.ndarray
        ``[time]`` int16 samples.

    Example
    -------
    >>> m = PRESETS["demo"].machines[0]
    >>> clip = {"domain": "source", "label": "normal", "pairs": (("car", "A1"),),
    ...         "condition": "speed1", "anomaly": None, "rel": "x.wav"}
    >>> y = render_clip(m, clip, seed=0, clip_seconds=0.5)
    >>> y.shape, y.dtype
    ((8000,), dtype('int16'))
    >>> bool((y == render_clip(m, clip, seed=0, clip_seconds=0.5)).all())
    True
    """
    sr = sample_rate
    n = int(round(clip_seconds * sr))
    rng = np.random.default_rng(_stable_int(seed, machine.name, "clip", clip["rel"]))
    attr = _attribute_params(machine, clip["pairs"], seed)
    target = clip["domain"] == "target"

    # operating point: attributes, hidden condition, domain, and per-clip variability
    f0 = machine.f0_hz * attr["f0"] * float(np.exp(0.015 * rng.standard_normal()))
    am_rate = 2.0
    hidden = machine.hidden
    if hidden is not None and clip["condition"] in hidden.values:
        k = hidden.values.index(clip["condition"])
        f0 *= hidden.f0_factors[k]
        am_rate = hidden.am_rates_hz[k]
    if target:
        f0 *= machine.target_f0_factor
    inst_f = f0 * (1.0 + machine.jitter * _smooth_noise(rng, n, sr, 4.0))
    phase = 2.0 * np.pi * np.cumsum(inst_f) / sr + rng.uniform(0, 2 * np.pi)

    # harmonic profile: tilt x resonance x model colouring, harmonics above Nyquist removed
    k = np.arange(1, machine.n_harmonics + 1)
    harm_f = k * f0
    res_hz = machine.resonance_hz * attr["res"] * float(np.exp(0.03 * rng.standard_normal()))
    if clip["anomaly"] == "resonance_shift":
        direction = 1.0 if rng.random() < 0.5 else -1.0
        res_hz *= float(np.exp(direction * (0.1 + 0.3 * machine.severity)))
    amps = k ** -(machine.tilt + attr["tilt"])
    bump = np.exp(-0.5 * ((harm_f - res_hz) / machine.resonance_bw_hz) ** 2)
    amps = amps * (1.0 + machine.resonance_gain * bump)
    if attr["colour"] is not None:
        amps = amps * attr["colour"]
    amps = amps * 10.0 ** (rng.normal(0.0, 1.0, len(k)) / 20.0)
    if hidden is not None and hidden.unstable_db > 0 and clip["condition"] in hidden.values:
        # unstable modes are drawn among the audible harmonics of the machine's own profile
        # (not of this clip), so that a condition keeps the same modes in every clip
        z = (k * machine.f0_hz - machine.resonance_hz) / machine.resonance_bw_hz
        base_amps = k**-machine.tilt * (1.0 + machine.resonance_gain * np.exp(-0.5 * z**2))
        audible = np.flatnonzero(base_amps >= 0.1 * base_amps.max())
        mode_rng = np.random.default_rng(
            _stable_int(seed, machine.name, "unstable", clip["condition"])
        )
        n_unstable = max(1, int(round(hidden.unstable_fraction * len(audible))))
        unstable = mode_rng.choice(audible, n_unstable, replace=False)
        amps[unstable] *= 10.0 ** (rng.normal(0.0, hidden.unstable_db, n_unstable) / 20.0)
    amps = np.where(harm_f < 0.45 * sr, amps, 0.0)
    machine_sig = _harmonic_sum(phase, amps)

    if machine.source == "reciprocating":
        # one click per cycle, where the phase wraps
        cycles = np.floor(phase / (2 * np.pi))
        pos = np.flatnonzero(np.diff(cycles)) + 1
        clicks = _decaying_clicks(pos, n, sr, 0.8 * res_hz + 300.0, 0.004, rng)
        machine_sig = machine_sig / _rms(machine_sig) + 0.5 * clicks / (_rms(clicks) + 1e-12)
    t = np.arange(n) / sr
    am = 1.0 + machine.am_depth * np.sin(2 * np.pi * am_rate * t + rng.uniform(0, 2 * np.pi))
    machine_sig = machine_sig * am
    machine_sig = machine_sig / _rms(machine_sig)

    if clip["anomaly"] is not None and clip["anomaly"] != "resonance_shift":
        machine_sig = machine_sig + _anomaly(
            clip["anomaly"], machine.severity, phase, inst_f, n, sr, rng
        )

    beta = machine.noise_beta + attr["beta"] + (machine.target_noise_beta_shift if target else 0)
    beta += rng.uniform(-0.2, 0.2)
    snr = machine.snr_db + (machine.target_snr_shift_db if target else 0.0)
    snr += rng.uniform(-1.5, 1.5)
    noise = _coloured_noise(rng, n, sr, beta)
    # ToyADMOS2-style mix of a unit-RMS signal and a unit-RMS noise at an SNR
    kmix = 1.0 / 10.0 ** (snr / 20.0)
    y = machine_sig / (1 + kmix) + noise * kmix / (1 + kmix)
    y = y * (0.1 * 10.0 ** (rng.uniform(-1.0, 1.0) / 20.0) / _rms(y))
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def _rms(x):
    return float(np.sqrt(np.mean(x**2))) + 1e-12


# level of each anomaly type relative to the machine sound at severity 0, dB: the broadband
# types stand out of the harmonic spectrum more easily and so start lower
_ANOMALY_LEVEL_DB = {"inharmonic": -10.0, "impacts": -26.0, "friction": -24.0}


def _anomaly(kind, severity, phase, inst_f, n, sr, rng):
    """Anomalous component relative to a unit-RMS machine sound."""
    if kind not in _ANOMALY_LEVEL_DB:
        raise ValueError(f"unknown anomaly type {kind!r}; choose from {ANOMALY_TYPES}")
    level = 10.0 ** ((_ANOMALY_LEVEL_DB[kind] + 16.0 * severity + rng.uniform(-3, 3)) / 20.0)
    if kind == "inharmonic":
        ratio = rng.integers(2, 9) + rng.uniform(0.25, 0.75)
        x = np.sin(ratio * phase)
        if ratio * inst_f.mean() > 0.45 * sr:
            x = np.sin((ratio / 4.0) * phase)
    elif kind == "impacts":
        cycles = np.floor(phase / (2 * np.pi))
        pos = np.flatnonzero(np.diff(cycles)) + 1
        x = _decaying_clicks(pos, n, sr, rng.uniform(2500.0, 4500.0), 0.002, rng)
    else:
        band_lo = rng.uniform(1500.0, 3500.0)
        x = _coloured_noise(rng, n, sr, 0.0, (band_lo, band_lo * 1.6))
        x = x * (_smooth_noise(rng, n, sr, 6.0) > 0.5)
    return level * x / _rms(x)


# --------------------------------------------------------------------------------------------
# Writing the tree
# --------------------------------------------------------------------------------------------


def _render_and_write(job):
    machine, clip, seed, clip_seconds, sample_rate, out_dir = job
    y = render_clip(machine, clip, seed, clip_seconds, sample_rate)
    # encoding in memory skips libsndfile's sync-on-close, ~10x faster for short clips
    buf = io.BytesIO()
    sf.write(buf, y, sample_rate, subtype="PCM_16", format="WAV")
    (pathlib.Path(out_dir) / clip["rel"]).write_bytes(buf.getvalue())
    return clip["rel"]


def _prepare_out_dir(out_dir, overwrite):
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {str(out)!r} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"out_dir {str(out)!r} is not empty; pass overwrite=True (--overwrite) to replace "
                "a previous simulation"
            )
        # only the simulator's own entries go: anything else in the folder is left alone
        for entry in _OUTPUT_ENTRIES:
            p = out / entry
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_csv(path, rows, header=None):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def _write_metadata(out, spec, seed, preset_name, plans):
    hidden_rows = []
    counts = {}
    for machine in spec.machines:
        clips = plans[machine.name]
        hidden_rows.extend((c["rel"], c["condition"]) for c in clips)
        listed = [c for c in clips if not (machine.split == "eval" and c["split"] == "test")]
        n_pairs = max((len(c["pairs"]) for c in listed), default=0)
        header = ["file_name"]
        for i in range(1, n_pairs + 1):
            header += [f"d{i}p", f"d{i}v"]
        rows = []
        for c in listed:
            flat = [x for pair in c["pairs"] for x in pair]
            flat += [""] * (2 * n_pairs - len(flat))
            rows.append([f"{machine.name}/{c['split']}/{c['name']}", *flat])
        base = out / f"{machine.split}_data" / "raw" / machine.name
        _write_csv(base / "attributes_00.csv", rows, header)
        if machine.split == "eval":
            test = sorted((c for c in clips if c["split"] == "test"), key=lambda c: c["anonymous"])
            gt = {
                "ground_truth_data": [(c["anonymous"], int(c["label"] == "anomaly")) for c in test],
                "ground_truth_domain": [
                    (c["anonymous"], int(c["domain"] == "target")) for c in test
                ],
                "ground_truth_attributes": [(c["anonymous"], c["name"][:-4]) for c in test],
            }
            for folder, gt_rows in gt.items():
                (out / folder).mkdir(exist_ok=True)
                csv_name = f"ground_truth_{machine.name}_section_00_test.csv"
                _write_csv(out / folder / csv_name, gt_rows)
        per = {}
        for c in clips:
            key = f"{c['domain']}_{c['split']}_{c['label']}"
            per.setdefault(key, {}).setdefault(c["condition"], 0)
            per[key][c["condition"]] += 1
        counts[machine.name] = per
    hidden_rows.sort()
    _write_csv(out / "hidden_conditions.csv", hidden_rows, ["file", "condition"])
    from speechbrain_asd import __version__

    description = {
        "preset": preset_name,
        "seed": seed,
        "package": "speechbrain-asd",
        "version": __version__,
        "spec": dataclasses.asdict(spec),
        "counts": counts,
    }
    with open(out / "simulation.json", "w") as f:
        json.dump(description, f, indent=2, sort_keys=True)
        f.write("\n")


def simulate_dataset(
    out_dir, preset="demo", seed=0, overwrite=False, progress=True, workers=1, **overrides
):
    """Writes a simulated DCASE2023-layout data set.

    Arguments
    ---------
    out_dir : str or path
        Output folder; created if missing, must be empty unless ``overwrite``.
    preset : str or SimulationSpec
        ``"demo"``, ``"imbalanced"``, ``"dcase2023-shaped"`` (see ``PRESETS``) or a
        description.
    seed : int
        Seed: the same seed and options give byte-identical files.
    overwrite : bool
        Replace a previous simulation in ``out_dir`` (only the simulator's own entries are
        removed; other files are left alone).
    progress : bool
        Show a tqdm progress bar.
    workers : int
        Worker processes (the output does not depend on it).
    **overrides
        Passed to :func:`resolve_spec`: ``clip_seconds``, ``scale``, ``machines``,
        ``attributes_dir``, ``severity``, ``sample_rate``.

    Returns
    -------
    pathlib.Path
        The output folder.

    Example
    -------
    >>> import tempfile
    >>> out = simulate_dataset(tempfile.mkdtemp(), "demo", scale=0.1, clip_seconds=0.25,
    ...                        progress=False)
    >>> sorted(p.name for p in out.iterdir())
    ['dev_data', 'hidden_conditions.csv', 'simulation.json']
    >>> len(list((out / "dev_data/raw/fan/test").iterdir()))
    4
    >>> import shutil; shutil.rmtree(out)
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    spec = resolve_spec(preset, **overrides)
    preset_name = preset if isinstance(preset, str) else "custom"
    plans = {m.name: plan_clips(m, spec.scale, seed) for m in spec.machines}
    out = _prepare_out_dir(out_dir, overwrite)
    jobs = []
    for machine in spec.machines:
        for sub in ("train", "test"):
            (out / f"{machine.split}_data" / "raw" / machine.name / sub).mkdir(
                parents=True, exist_ok=True
            )
        for clip in plans[machine.name]:
            jobs.append((machine, clip, seed, spec.clip_seconds, spec.sample_rate, str(out)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="simulating", unit="clip")
    if workers == 1:
        for job in jobs:
            _render_and_write(job)
            if bar is not None:
                bar.update(1)
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_and_write, jobs, chunksize=8):
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    _write_metadata(out, spec, seed, preset_name, plans)
    return out


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv=None):
    """Command line entry point: ``python -m speechbrain_asd.dataio.simulate OUT_DIR ...``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 on success, 2 on a bad argument or a non-empty output folder).

    Example
    -------
    >>> import tempfile
    >>> import shutil, tempfile
    >>> out = tempfile.mkdtemp()
    >>> main([out, "--scale", "0.05", "--clip-seconds", "0.2", "--no-progress"])
    0
    >>> shutil.rmtree(out)
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_asd.dataio.simulate",
        description="Write a simulated machine-sound data set in the DCASE2023 Task 2 layout.",
    )
    parser.add_argument("out_dir", help="output folder (must be empty unless --overwrite)")
    parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clip-seconds", type=float, default=None, help="clip length, s")
    parser.add_argument("--scale", type=float, default=None, help="multiplies clip counts")
    parser.add_argument("--machines", default=None, help="comma-separated machine types")
    parser.add_argument("--severity", type=float, default=None, help="anomaly severity 0..1")
    parser.add_argument(
        "--attributes-dir",
        default=None,
        help="folder with {dev_data,eval_data}/<machine>/attributes_00.csv (real files): "
        "take the class structure from them",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        out = simulate_dataset(
            args.out_dir,
            preset=args.preset,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            workers=args.workers,
            clip_seconds=args.clip_seconds,
            scale=args.scale,
            machines=args.machines,
            severity=args.severity,
            attributes_dir=args.attributes_dir,
        )
    except (ValueError, FileExistsError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n = sum(1 for _ in out.rglob("*.wav"))
    if not args.no_progress:
        print(f"wrote {n} clips to {os.fspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
