"""DCASE2023 Challenge Task 2 file names and data preparation (manifests for SpeechBrain).

The official layout is ``<data_folder>/{dev_data,eval_data}/raw/<machine>/{train,test}/*.wav``
with names ``section_<XX>_<domain>_<split>_<label>_<index>_<attributes>.wav`` (evaluation test
clips are anonymised as ``section_<XX>_<index>.wav``). :func:`prepare_dcase2023` turns such a
tree into ``train.csv`` / ``test.csv`` manifests readable by
``speechbrain.dataio.dataset.DynamicItemDataset.from_csv``.

Authors
 * speechbrain-asd developers 2026
"""

import csv
import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from speechbrain_asd.dataio.audio import AudioFileError, check_wav_info, wav_info

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "ID",
    "wav",
    "set",
    "machine",
    "section",
    "domain",
    "split",
    "label",
    "attributes",
    "file_name",
    "duration",
    "sample_rate",
    "channels",
    "class_label",
    "hidden_condition",
)
PART_FOLDERS = {"dev": "dev_data", "eval": "eval_data"}
SPLITS = ("train", "test")
_DOMAINS = ("source", "target")
_LABELS = ("normal", "anomaly")
# Key spellings that mean the same attribute: some attribute files write "speed" where the
# file names say "spd".
_KEY_ALIASES = {"speed": "spd"}


class DataPreparationError(ValueError):
    """Raised with every problem found in a data tree, one per line."""

    def __init__(self, problems, header="Data preparation failed"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{header} ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class DcaseName:
    """The fields of a DCASE2023 Task 2 clip name.

    Arguments
    ---------
    section : str
        Section id, e.g. ``"00"``.
    domain : str
        ``"source"``, ``"target"`` or ``"unknown"`` (anonymised evaluation clips).
    split : str
        ``"train"`` or ``"test"``.
    label : str
        ``"normal"``, ``"anomaly"`` or ``"unknown"``.
    index : str
        Clip index as written, e.g. ``"0000"``.
    attributes : str
        Attribute string, e.g. ``"car_A1_spd_28V_mic_1"``; ``""`` when absent.
    attribute_pairs : tuple
        ``((name, value), ...)`` parsed from ``attributes`` (see :func:`parse_attributes`).
    anonymised : bool
        True for evaluation test names ``section_XX_NNNN``.

    Example
    -------
    >>> n = parse_filename("section_00_0003.wav")
    >>> n.anonymised, n.split, n.domain, n.label
    (True, 'test', 'unknown', 'unknown')
    """

    section: str
    domain: str
    split: str
    label: str
    index: str
    attributes: str
    attribute_pairs: tuple
    anonymised: bool


def parse_attributes(attributes):
    """Pairs the tokens of an attribute string into ``(name, value)`` pairs.

    Tokens (split on ``"_"``) are paired in order: ``car_A1_spd_28V`` gives
    ``(("car", "A1"), ("spd", "28V"))``. ``""`` and ``"noAttributes"`` give ``()``. With an
    odd number of tokens the last name has no value and is paired with ``""`` (no real
    DCASE2023 name does this; keeping the token rather than dropping it keeps the information).

    Arguments
    ---------
    attributes : str
        The attribute string of a clip name.

    Returns
    -------
    tuple of tuple of str
        The pairs.

    Example
    -------
    >>> parse_attributes("m-n_X")
    (('m-n', 'X'),)
    >>> parse_attributes("noAttributes")
    ()
    >>> parse_attributes("vel_8_loc")
    (('vel', '8'), ('loc', ''))
    """
    if attributes in ("", "noAttributes"):
        return ()
    tokens = attributes.split("_")
    if len(tokens) % 2:
        tokens.append("")
    return tuple((tokens[i], tokens[i + 1]) for i in range(0, len(tokens), 2))


_EXTENSION = re.compile(r"\.([A-Za-z][A-Za-z0-9]{1,4})$")


def parse_filename(name):
    """Parses a DCASE2023 Task 2 clip name.

    Arguments
    ---------
    name : str or os.PathLike
        A bare name (``section_00_source_train_normal_0000_m-n_X``), the same with ``.wav``,
        or a path to the file.

    Returns
    -------
    DcaseName
        The parsed fields.

    Raises
    ------
    ValueError
        If the name does not follow the convention; the message names the file and says
        which field is wrong.

    Example
    -------
    >>> n = parse_filename("fan/train/section_00_source_train_normal_0000_m-n_X.wav")
    >>> n.section, n.domain, n.split, n.label, n.index, n.attributes
    ('00', 'source', 'train', 'normal', '0000', 'm-n_X')
    >>> n.attribute_pairs
    (('m-n', 'X'),)
    >>> parse_filename("section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2").attribute_pairs
    (('car', 'A2'), ('spd', '6'), ('mic', '2'))
    >>> parse_filename("normal_0000.wav")
    Traceback (most recent call last):
    ...
    ValueError: 'normal_0000.wav': not a DCASE2023 clip name (expected section_XX_...): ...
    """
    text = os.fspath(name)
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base[:-4] if base.endswith(".wav") else base
    ext = _EXTENSION.search(stem)
    if ext is not None and not ext.group(1).isdigit():
        raise ValueError(f"{text!r}: unexpected file extension {ext.group(0)!r} (expected .wav)")
    tokens = stem.split("_")

    def fail(what):
        raise ValueError(f"{text!r}: not a DCASE2023 clip name (expected section_XX_...): {what}")

    if len(tokens) < 3 or tokens[0] != "section":
        fail("it must start with 'section_'")
    section = tokens[1]
    if not (section.isdigit() and len(section) == 2):
        fail(f"section id {section!r} is not two digits")
    if len(tokens) == 3:
        if not tokens[2].isdigit():
            fail(f"anonymised index {tokens[2]!r} is not a number")
        return DcaseName(section, "unknown", "test", "unknown", tokens[2], "", (), True)
    if len(tokens) < 6:
        fail("too few fields (need section, id, domain, split, label, index)")
    domain, split, label, index = tokens[2:6]
    if domain not in _DOMAINS:
        fail(f"domain {domain!r} is not one of {_DOMAINS}")
    if split not in SPLITS:
        fail(f"split {split!r} is not one of {SPLITS}")
    if label not in _LABELS:
        fail(f"label {label!r} is not one of {_LABELS}")
    if not index.isdigit():
        fail(f"index {index!r} is not a number")
    attributes = "_".join(tokens[6:])
    if len(tokens) > 6 and any(t == "" for t in tokens[6:]):
        fail(f"empty token in the attribute string {attributes!r}")
    return DcaseName(
        section, domain, split, label, index, attributes, parse_attributes(attributes), False
    )


def class_label(machine, name, with_domain=True, with_attributes=True):
    """Builds the auxiliary classification label of a clip (SSLASD).

    One class per machine + section [+ attribute string] [+ domain]; empty parts are left out.

    Arguments
    ---------
    machine : str
        Machine type, e.g. ``"fan"``.
    name : DcaseName
        The parsed clip name.
    with_domain : bool
        Append the domain.
    with_attributes : bool
        Append the attribute string.

    Returns
    -------
    str
        E.g. ``"fan_00_m-n_X_source"``; ``""`` for anonymised clips of unknown domain.

    Example
    -------
    >>> n = parse_filename("section_00_source_train_normal_0000_m-n_X")
    >>> class_label("fan", n)
    'fan_00_m-n_X_source'
    >>> class_label("fan", n, with_domain=False), class_label("fan", n, with_attributes=False)
    ('fan_00_m-n_X', 'fan_00_source')
    """
    if name.anonymised and (name.domain == "unknown" or not name.attributes):
        return ""
    parts = [machine, name.section]
    if with_attributes and name.attributes:
        parts.append(name.attributes)
    if with_domain:
        parts.append(name.domain)
    return "_".join(parts)


def manifest_paths(save_folder):
    """Paths of the manifests written by :func:`prepare_dcase2023`.

    Arguments
    ---------
    save_folder : str
        The ``save_folder`` given to :func:`prepare_dcase2023`.

    Returns
    -------
    dict
        ``{"train": <save_folder>/train.csv, "test": <save_folder>/test.csv}``.

    Example
    -------
    >>> sorted(manifest_paths("out"))
    ['test', 'train']
    """
    return {s: os.path.join(save_folder, f"{s}.csv") for s in SPLITS}


def _resolve_parts(data_folder, parts):
    if parts == "auto":
        found = [p for p, d in PART_FOLDERS.items() if os.path.isdir(os.path.join(data_folder, d))]
        if not found:
            raise DataPreparationError(
                [
                    f"{data_folder}: neither dev_data/ nor eval_data/ exists "
                    "(expected <data_folder>/dev_data/raw/<machine>/{train,test})"
                ]
            )
        return tuple(found)
    if isinstance(parts, str):
        parts = (parts,)
    parts = tuple(parts)
    bad = [p for p in parts if p not in PART_FOLDERS]
    if bad or not parts:
        raise ValueError(f"parts: expected 'auto' or a subset of ('dev', 'eval'), got {parts!r}")
    return parts


def _list_dir(path):
    """Sorted (name, is_file, size) of a folder's entries; one scandir, no per-file stat call
    beyond what the directory listing gives."""
    out = []
    with os.scandir(path) as it:
        for e in it:
            is_file = e.is_file()
            out.append((e.name, is_file, e.stat().st_size if is_file else -1))
    out.sort()
    return out


def _read_rows(path, problems, min_fields):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{path}: cannot read ({e})")
        return []
    good = []
    for i, r in enumerate(rows, 1):
        if len(r) < min_fields:
            problems.append(f"{path}: row {i} has {len(r)} field(s), expected {min_fields}: {r}")
        else:
            good.append([c.strip() for c in r])
    return good


def _pairs_agree(row_pairs, name_pairs):
    """Row pairs must appear, in order, among the name's pairs: some attribute files omit a
    pair the name has (ToyTank omits mic, Vacuum spd) and some spell speed for spd."""
    j = 0
    norm = [(_KEY_ALIASES.get(k, k), v) for k, v in name_pairs]
    for k, v in row_pairs:
        target = (_KEY_ALIASES.get(k, k), v)
        while j < len(norm) and norm[j] != target:
            j += 1
        if j == len(norm):
            return False
        j += 1
    return True


def _check_attributes_csv(path, machine, clips, problems):
    """Cross-checks attributes_00.csv rows against the clips (stem -> record)."""
    rows = _read_rows(path, problems, 1)
    if rows and rows[0][0] == "file_name":
        rows = rows[1:]
    seen = set()
    missing = 0
    for r in rows:
        ref = r[0]
        stem = ref.replace("\\", "/").rsplit("/", 1)[-1]
        stem = stem[:-4] if stem.endswith(".wav") else stem
        if stem in seen:
            problems.append(f"{path}: duplicated row for {ref}")
            continue
        seen.add(stem)
        values = [c for c in r[1:] if c != ""]
        if len(values) % 2:
            problems.append(f"{path}: row for {ref} has an odd number of attribute fields")
            continue
        row_pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
        rec = clips.get(stem)
        if rec is None:
            missing += 1
            continue
        if "/" in ref and ref.split("/")[0] != machine:
            other = ref.split("/")[0]
            problems.append(f"{path}: row {ref} names machine {other!r}, not {machine!r}")
        name = rec["parsed"]
        if not _pairs_agree(row_pairs, name.attribute_pairs):
            problems.append(
                f"{path}: row for {ref} says {row_pairs} but the file name "
                f"{rec['file_name']} has {list(name.attribute_pairs)}"
            )
    if missing:
        logger.info("%s: %d row(s) name clips that are not in the tree (ignored)", path, missing)
    return {"rows": len(rows), "rows_without_clip": missing}


def _read_ground_truth(gt_folder, machine, section, problems):
    """Returns {file_name: (label, domain, original_name or None)} or None on error."""
    base = f"ground_truth_{machine}_section_{section}_test.csv"
    out = {}
    for sub, kind in (("ground_truth_data", "label"), ("ground_truth_domain", "domain")):
        path = os.path.join(gt_folder, sub, base)
        if not os.path.isfile(path):
            problems.append(f"{path}: ground truth file missing ({kind} of {machine} test clips)")
            return None
        for r in _read_rows(path, problems, 2):
            if r[1] not in ("0", "1"):
                problems.append(f"{path}: row {r[0]}: value {r[1]!r} is not 0 or 1")
                continue
            values = ("normal", "anomaly") if kind == "label" else ("source", "target")
            out.setdefault(r[0], {})[kind] = values[int(r[1])]
    path = os.path.join(gt_folder, "ground_truth_attributes", base)
    if os.path.isfile(path):
        for r in _read_rows(path, problems, 2):
            out.setdefault(r[0], {})["original"] = r[1]
    return out


def _fingerprint(entries, options):
    h = hashlib.sha256()
    h.update(json.dumps(options, sort_keys=True).encode())
    for rel, size in sorted(entries):
        h.update(f"{rel}\t{size}\n".encode())
    return h.hexdigest()


def _scan(data_folder, parts, machines, gt_folder):
    """Lists every file the preparation reads, as (relative path, size), for the skip check."""
    entries = []
    for part in parts:
        raw = os.path.join(data_folder, PART_FOLDERS[part], "raw")
        if not os.path.isdir(raw):
            continue
        for m in sorted(os.listdir(raw)):
            if machines is not None and m not in machines:
                continue
            mdir = os.path.join(raw, m)
            if not os.path.isdir(mdir):
                continue
            for name, is_file, size in _list_dir(mdir):
                if is_file:
                    entries.append((f"{part}/{m}/{name}", size))
            for split in SPLITS:
                sdir = os.path.join(mdir, split)
                if os.path.isdir(sdir):
                    for name, _, size in _list_dir(sdir):
                        entries.append((f"{part}/{m}/{split}/{name}", size))
    hidden = os.path.join(data_folder, "hidden_conditions.csv")
    if os.path.isfile(hidden):
        entries.append(("hidden_conditions.csv", os.path.getsize(hidden)))
    if gt_folder is not None and os.path.isdir(gt_folder):
        for root, _, files in os.walk(gt_folder):
            for f in files:
                p = os.path.join(root, f)
                entries.append((os.path.relpath(p, gt_folder), os.path.getsize(p)))
    return entries


def prepare_dcase2023(
    data_folder,
    save_folder,
    machines=None,
    parts="auto",
    ground_truth_folder=None,
    class_with_domain=True,
    class_with_attributes=True,
    sample_rate=16000,
    downmix=False,
    skip_invalid=False,
    skip_prep=False,
):
    """Writes ``train.csv`` and ``test.csv`` manifests for a DCASE2023 Task 2 tree.

    Meant to be called through ``speechbrain.utils.distributed.run_on_main``. Reads
    ``<data_folder>/{dev_data,eval_data}/raw/<machine>/{train,test}/*.wav`` (WAV headers only),
    the optional ``attributes_00.csv`` of each machine (every row naming a clip of the tree is
    cross-checked against the clip's name), the optional evaluator ground truth for anonymised
    evaluation test clips, and the optional ``<data_folder>/hidden_conditions.csv``
    (``file,condition``, file relative to ``data_folder``).

    Manifest columns, in order: ``ID, wav, set, machine, section, domain, split, label,
    attributes, file_name, duration (s), sample_rate (Hz), channels, class_label,
    hidden_condition``; ``wav`` starts with ``$data_root`` (use
    ``replacements={"data_root": data_folder}`` when loading). Train clips of every part go
    into ``train.csv``, test clips into ``test.csv``.

    Every problem of the tree is collected before one :class:`DataPreparationError` is raised.
    With ``skip_invalid=True`` files that are unusable by themselves (not .wav, misnamed,
    unreadable, empty, wrong rate, multi-channel without ``downmix``) are skipped instead,
    each logged and listed in ``<save_folder>/skipped_files.txt``; problems of the tree
    (missing folders or machines, no train clips, attribute rows that disagree, duplicated IDs,
    missing ground truth) always raise.

    Arguments
    ---------
    data_folder : str
        Root holding ``dev_data/`` and/or ``eval_data/``.
    save_folder : str
        Where the manifests, ``prepare_options.json`` and ``summary.json`` go.
    machines : list of str or None
        Machine types to include (each must exist in one of the parts); None = all found.
    parts : str or tuple
        ``"auto"`` (default: whichever of dev_data/eval_data exists), or a subset of
        ``("dev", "eval")``, each of which must exist.
    ground_truth_folder : str or None
        Folder of the official evaluator's ground truth (``ground_truth_data/``,
        ``ground_truth_domain/``, optionally ``ground_truth_attributes/``) to fill the label,
        domain (and attributes) of anonymised evaluation test clips.
    class_with_domain : bool
        Whether the auxiliary class includes the domain.
    class_with_attributes : bool
        Whether the auxiliary class includes the attribute string.
    sample_rate : int
        Expected sampling rate in Hz; other rates are errors.
    downmix : bool
        Accept multi-channel files (the recipe averages channels).
    skip_invalid : bool
        Skip unusable files (logged, listed in skipped_files.txt) instead of failing.
    skip_prep : bool
        Do nothing (return the saved summary, if any).

    Returns
    -------
    dict or None
        Summary per machine (also in ``<save_folder>/summary.json``); None when skip_prep=True
        and there is no saved summary.

    Example
    -------
    >>> import tempfile, os, numpy as np
    >>> from speechbrain_asd.dataio.audio import write_pcm16
    >>> root, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> for split, name in [("train", "section_00_source_train_normal_0000_m-n_X"),
    ...                     ("test", "section_00_source_test_anomaly_0000_m-n_X")]:
    ...     os.makedirs(os.path.join(root, "dev_data/raw/fan", split))
    ...     _ = write_pcm16(os.path.join(root, "dev_data/raw/fan", split, name + ".wav"),
    ...                     np.zeros(1600), 16000)
    >>> summary = prepare_dcase2023(root, out)
    >>> summary["machines"]["fan"]["n_classes"]
    1
    >>> open(manifest_paths(out)["train"]).readline().strip()[:30]
    'ID,wav,set,machine,section,dom'
    """
    options = {
        "data_folder": os.path.abspath(data_folder),
        "machines": sorted(machines) if machines is not None else None,
        "parts": parts if isinstance(parts, str) else list(parts),
        "ground_truth_folder": (
            os.path.abspath(ground_truth_folder) if ground_truth_folder is not None else None
        ),
        "class_with_domain": bool(class_with_domain),
        "class_with_attributes": bool(class_with_attributes),
        "sample_rate": sample_rate,
        "downmix": bool(downmix),
        "skip_invalid": bool(skip_invalid),
    }
    paths = manifest_paths(save_folder)
    summary_path = os.path.join(save_folder, "summary.json")
    options_path = os.path.join(save_folder, "prepare_options.json")

    def saved_summary():
        if os.path.isfile(summary_path):
            with open(summary_path, encoding="utf-8") as f:
                return json.load(f)
        return None

    if skip_prep:
        logger.info("Skipping data preparation (skip_prep=True)")
        return saved_summary()
    if isinstance(machines, str):
        machines = [machines]
    if not os.path.isdir(data_folder):
        raise DataPreparationError([f"{data_folder}: data_folder does not exist"])
    parts = _resolve_parts(data_folder, parts)
    machine_set = set(machines) if machines is not None else None
    fingerprint = _fingerprint(
        _scan(data_folder, parts, machine_set, ground_truth_folder), options
    )
    if all(os.path.isfile(p) for p in paths.values()) and os.path.isfile(options_path):
        try:
            with open(options_path, encoding="utf-8") as f:
                previous = json.load(f)
        except (OSError, ValueError):
            previous = {}
        if previous.get("fingerprint") == fingerprint:
            logger.info(
                "Manifests in %s are up to date (same options and files): skipping", save_folder
            )
            return saved_summary()

    problems = []
    skipped = []

    def invalid(path, reason):
        if skip_invalid:
            skipped.append((path, reason))
            logger.warning("Skipping %s: %s", path, reason)
        else:
            problems.append(f"{path}: {reason}")

    hidden = _read_hidden_conditions(data_folder, problems)
    records = {s: [] for s in SPLITS}
    ids = {}
    found_machines = set()
    attr_stats = {}
    for part in parts:
        part_dir = os.path.join(data_folder, PART_FOLDERS[part])
        raw = os.path.join(part_dir, "raw")
        if not os.path.isdir(part_dir):
            problems.append(f"{part_dir}: folder missing (parts includes {part!r})")
            continue
        if not os.path.isdir(raw):
            problems.append(f"{raw}: folder missing (expected {raw}/<machine>/{{train,test}})")
            continue
        for machine in sorted(os.listdir(raw)):
            mdir = os.path.join(raw, machine)
            if not os.path.isdir(mdir) or (machine_set is not None and machine not in machine_set):
                continue
            found_machines.add(machine)
            clips = {}
            gt = None
            for split in SPLITS:
                sdir = os.path.join(mdir, split)
                if not os.path.isdir(sdir):
                    problems.append(f"{sdir}: folder missing ({machine} has no {split}/ folder)")
                    continue
                for fname, is_file, _ in _list_dir(sdir):
                    path = os.path.join(sdir, fname)
                    if not is_file or not fname.endswith(".wav"):
                        invalid(path, "not a .wav file")
                        continue
                    try:
                        name = parse_filename(fname)
                    except ValueError as e:
                        invalid(path, f"misnamed wav: {str(e).split(': ', 1)[1]}")
                        continue
                    if name.split != split:
                        invalid(path, f"misnamed wav: a {name.split} clip in the {split}/ folder")
                        continue
                    try:
                        info = wav_info(path)
                    except AudioFileError as e:
                        invalid(path, str(e).split(": ", 1)[1])
                        continue
                    bad = check_wav_info("", info, sample_rate, allow_multichannel=downmix)
                    if bad:
                        invalid(path, "; ".join(b[2:] for b in bad))
                        continue
                    if name.anonymised and ground_truth_folder is not None:
                        if gt is None:
                            # False (not None) when unreadable: reported once, not per clip
                            gt = _read_ground_truth(
                                ground_truth_folder, machine, name.section, problems
                            ) or False
                        if gt is not False:
                            name = _apply_ground_truth(name, fname, gt, machine, problems)
                    stem = fname[:-4]
                    rel = f"{PART_FOLDERS[part]}/raw/{machine}/{split}/{fname}"
                    rec = {
                        "ID": f"{part}_{machine}_{stem}",
                        "wav": f"$data_root/{rel}",
                        "set": part,
                        "machine": machine,
                        "section": name.section,
                        "domain": name.domain,
                        "split": split,
                        "label": name.label,
                        "attributes": name.attributes,
                        "file_name": fname,
                        "duration": info.duration,
                        "sample_rate": info.sample_rate,
                        "channels": info.channels,
                        "class_label": class_label(
                            machine, name, class_with_domain, class_with_attributes
                        ),
                        "hidden_condition": hidden.pop(rel, ""),
                        "parsed": name,
                    }
                    if rec["ID"] in ids:
                        other = ids[rec["ID"]]
                        problems.append(f"{path}: duplicated ID {rec['ID']} (also {other})")
                        continue
                    ids[rec["ID"]] = path
                    clips[stem] = rec
                    records[split].append(rec)
            if os.path.isdir(os.path.join(mdir, "train")) and not any(
                r["split"] == "train" for r in clips.values()
            ):
                problems.append(f"{os.path.join(mdir, 'train')}: no usable train clips")
            attr_path = os.path.join(mdir, "attributes_00.csv")
            if os.path.isfile(attr_path):
                attr_stats[f"{part}/{machine}"] = _check_attributes_csv(
                    attr_path, machine, clips, problems
                )
    if machine_set is not None:
        for m in sorted(machine_set - found_machines):
            where = ", ".join(os.path.join(data_folder, PART_FOLDERS[p], "raw") for p in parts)
            problems.append(f"{m}: requested machine not found in {where}")
    if hidden:
        logger.warning(
            "hidden_conditions.csv: %d row(s) name files that are not in the manifests, e.g. %s",
            len(hidden),
            next(iter(hidden)),
        )
    if problems:
        raise DataPreparationError(problems, f"prepare_dcase2023({data_folder!r}) failed")

    os.makedirs(save_folder, exist_ok=True)
    skipped_path = os.path.join(save_folder, "skipped_files.txt")
    if skipped:
        with open(skipped_path, "w", encoding="utf-8") as f:
            for path, reason in skipped:
                f.write(f"{path}\t{reason}\n")
    elif os.path.isfile(skipped_path):
        os.remove(skipped_path)
    for split in SPLITS:
        _write_manifest(paths[split], records[split])
    summary = _summarise(records, skipped, attr_stats, parts)
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    with open(options_path, "w", encoding="utf-8") as f:
        json.dump({**options, "parts_used": list(parts), "fingerprint": fingerprint}, f, indent=2)
    _log_summary(summary)
    return summary


def _apply_ground_truth(name, fname, gt, machine, problems):
    row = gt.get(fname)
    if row is None or "label" not in row or "domain" not in row:
        problems.append(f"{fname}: no ground truth row for this {machine} test clip")
        return name
    attributes = ""
    original = row.get("original")
    if original:
        try:
            orig = parse_filename(original)
        except ValueError as e:
            problems.append(f"ground_truth_attributes ({machine}): {e}")
            orig = None
        if orig is not None:
            if (orig.label, orig.domain) != (row["label"], row["domain"]):
                problems.append(
                    f"{fname}: ground truth says {row['domain']}/{row['label']} but its original "
                    f"name {original} says {orig.domain}/{orig.label}"
                )
            attributes = orig.attributes
    return DcaseName(
        name.section,
        row["domain"],
        "test",
        row["label"],
        name.index,
        attributes,
        parse_attributes(attributes),
        True,
    )


def _read_hidden_conditions(data_folder, problems):
    path = os.path.join(data_folder, "hidden_conditions.csv")
    if not os.path.isfile(path):
        return {}
    rows = _read_rows(path, problems, 2)
    if not rows or rows[0][:2] != ["file", "condition"]:
        problems.append(f"{path}: expected the header 'file,condition'")
        return {}
    out = {}
    for r in rows[1:]:
        key = os.path.normpath(r[0]).replace(os.sep, "/")
        if key in out:
            problems.append(f"{path}: duplicated row for {r[0]}")
        out[key] = r[1]
    return out


def _write_manifest(path, records):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(MANIFEST_COLUMNS)
        for r in records:
            row = [r[c] for c in MANIFEST_COLUMNS]
            row[MANIFEST_COLUMNS.index("duration")] = f"{r['duration']:.6f}"
            w.writerow(row)
    os.replace(tmp, path)


def _extreme(classes, pick):
    if not classes:
        return None
    name, size = pick(sorted(classes.items()), key=lambda kv: kv[1])
    return {"name": name, "size": size}


def _summarise(records, skipped, attr_stats, parts):
    per = defaultdict(
        lambda: {"counts": Counter(), "classes": Counter(), "hidden": Counter(), "sets": set()}
    )
    for split in SPLITS:
        for r in records[split]:
            s = per[r["machine"]]
            s["sets"].add(r["set"])
            s["counts"][f"{split}/{r['domain']}/{r['label']}"] += 1
            if split == "train":
                s["classes"][r["class_label"]] += 1
            if r["hidden_condition"]:
                s["hidden"][f"{split}/{r['hidden_condition']}"] += 1
    machines = {}
    for m, s in sorted(per.items()):
        classes = s["classes"]
        machines[m] = {
            "sets": sorted(s["sets"]),
            "counts": dict(sorted(s["counts"].items())),
            "n_classes": len(classes),
            "largest_class": _extreme(classes, max),
            "smallest_class": _extreme(classes, min),
            "class_sizes": dict(sorted(classes.items())),
            "hidden_conditions": dict(sorted(s["hidden"].items())),
        }
    return {
        "parts": list(parts),
        "n_train": len(records["train"]),
        "n_test": len(records["test"]),
        "n_classes": len({r["class_label"] for r in records["train"]}),
        "skipped_files": [f"{p}\t{why}" for p, why in skipped],
        "attribute_files": attr_stats,
        "machines": machines,
    }


def _log_summary(summary):
    logger.info(
        "DCASE2023 manifests: %d train / %d test clips, %d auxiliary classes, %d skipped file(s)",
        summary["n_train"],
        summary["n_test"],
        summary["n_classes"],
        len(summary["skipped_files"]),
    )
    for m, s in summary["machines"].items():
        counts = ", ".join(f"{k}={v}" for k, v in s["counts"].items())
        logger.info("  %s: %s", m, counts)
        if s["n_classes"]:
            logger.info(
                "  %s: %d classes, largest %s (%d), smallest %s (%d)",
                m,
                s["n_classes"],
                s["largest_class"]["name"],
                s["largest_class"]["size"],
                s["smallest_class"]["name"],
                s["smallest_class"]["size"],
            )
        if s["hidden_conditions"]:
            logger.info("  %s: hidden conditions %s", m, s["hidden_conditions"])
