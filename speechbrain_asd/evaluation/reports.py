"""Files users and the official evaluator read: submission CSVs, results tables, atomic writes.

- :func:`write_submission` writes ``anomaly_score_<machine>_section_<XX>_test.csv`` and
  ``decision_result_<machine>_section_<XX>_test.csv`` (no header, rows ``file_name,value``), the
  format the official evaluator (nttcslab/dcase2023_task2_evaluator) reads.
- :func:`evaluate_records` turns per-clip records into the official results (what the training
  recipe calls); :func:`load_submission_records` rebuilds such records from submission files and,
  for anonymised evaluation names, the ground-truth folder.
- :func:`write_results` / :func:`format_results_table` write and print the results.

Result files are written atomically (temporary file in the same folder, then ``os.replace`` /
``os.link``) and are never overwritten unless ``overwrite=True``.

Authors
 * speechbrain-asd contributors
"""

import csv
import io
import json
import math
import os
import pathlib
import re
import tempfile
import warnings
from collections.abc import Mapping

import numpy as np

from speechbrain_asd.evaluation.metrics import (
    EPSILON,
    hmean_auc,
    hmean_pauc,
    jackknife_ci,
    official_score,
    section_scores,
    subgroup_auc,
)

__all__ = [
    "parse_test_file_name",
    "section_key",
    "submission_file_names",
    "write_submission",
    "read_submission_file",
    "load_submission_records",
    "evaluate_records",
    "format_results_table",
    "write_results",
    "atomic_write_text",
]

_DEV_NAME = re.compile(
    r"^section_(?P<section>\d{2})_(?P<domain>source|target)_(?P<split>train|test)_"
    r"(?P<label>normal|anomaly)_(?P<index>\d+)(?:_(?P<attributes>.*))?\.wav$"
)
_ANONYMISED_NAME = re.compile(r"^section_(?P<section>\d{2})_(?P<index>\d+)\.wav$")
_SCORE_FILE = re.compile(r"^anomaly_score_(?P<machine>.+)_section_(?P<section>\d{2})_test\.csv$")
_LABELS = {"normal": 0, "anomaly": 1}
RESULT_SUFFIXES = (".csv", ".md", ".json")


def parse_test_file_name(file_name):
    """Parses a DCASE2023 clip name (development style or anonymised evaluation style).

    Arguments
    ---------
    file_name : str
        e.g. "section_00_source_test_anomaly_0003_m-n_X.wav" or "section_00_0007.wav"
        (a leading folder is ignored).

    Returns
    -------
    dict
        ``section`` ("00"), ``index`` ("0003"), ``anonymised`` (bool) and, for development
        names, ``domain`` ("source"/"target"), ``split``, ``label`` (0 normal / 1 anomaly) and
        ``attributes`` (the part after the index, "" when absent); these are None when
        anonymised.

    Example
    -------
    >>> info = parse_test_file_name("section_00_target_test_anomaly_0003_m-n_X.wav")
    >>> info["domain"], info["label"], info["attributes"]
    ('target', 1, 'm-n_X')
    >>> parse_test_file_name("section_00_0007.wav")["anonymised"]
    True
    """
    base = os.path.basename(str(file_name))
    match = _DEV_NAME.match(base)
    if match:
        return {
            "section": match["section"],
            "index": match["index"],
            "anonymised": False,
            "domain": match["domain"],
            "split": match["split"],
            "label": _LABELS[match["label"]],
            "attributes": match["attributes"] or "",
        }
    match = _ANONYMISED_NAME.match(base)
    if match:
        return {
            "section": match["section"],
            "index": match["index"],
            "anonymised": True,
            "domain": None,
            "split": None,
            "label": None,
            "attributes": None,
        }
    raise ValueError(
        f"{file_name!r} is not a DCASE2023 clip name "
        "(section_XX_<source|target>_<train|test>_<normal|anomaly>_NNNN[_attrs].wav "
        "or section_XX_NNNN.wav)"
    )


def _section_id(section):
    """ "00" from 0, "0", "00" or "section_00"."""
    text = str(section)
    if text.startswith("section_"):
        text = text[len("section_") :]
    if not text.isdigit() or int(text) > 99:
        raise ValueError(f"section must be a number 0-99, '00' or 'section_00', got {section!r}")
    return f"{int(text):02d}"


def _check_machine(machine):
    machine = str(machine)
    if not machine or any(c in machine for c in "/\\,\n") or machine.strip() != machine:
        raise ValueError(f"machine must be a plain machine-type name like 'fan', got {machine!r}")
    return machine


def section_key(machine, section):
    """The key of one section, e.g. "fan_section_00", used throughout the results.

    Arguments
    ---------
    machine : str
        Machine type, e.g. "fan".
    section : int or str
        0, "00" or "section_00".

    Returns
    -------
    str
        "<machine>_section_<XX>".

    Example
    -------
    >>> section_key("fan", 0)
    'fan_section_00'
    """
    return f"{_check_machine(machine)}_section_{_section_id(section)}"


def submission_file_names(machine, section):
    """Official names of the anomaly-score and decision files of one section.

    Arguments
    ---------
    machine : str
        Machine type.
    section : int or str
        Section (0, "00" or "section_00").

    Returns
    -------
    tuple of str
        (anomaly score file name, decision result file name).

    Example
    -------
    >>> submission_file_names("ToyCar", "00")
    ('anomaly_score_ToyCar_section_00_test.csv', 'decision_result_ToyCar_section_00_test.csv')
    """
    key = section_key(machine, section)
    return f"anomaly_score_{key}_test.csv", f"decision_result_{key}_test.csv"


def atomic_write_text(path, text, overwrite=False):
    """Writes text atomically: a temporary file in the same folder, then a rename.

    Readers never see a half-written file. Without ``overwrite`` the final step is a hard link,
    which fails if the file appeared meanwhile, so an earlier result is never replaced.

    Arguments
    ---------
    path : str or pathlib.Path
        Destination; its folder must exist.
    text : str
        Content (written as UTF-8, newlines untouched).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The path written.

    Example
    -------
    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "a.txt", "hello\\n").read_text()
    'hello\\n'
    >>> try:
    ...     atomic_write_text(folder / "a.txt", "again")
    ... except FileExistsError:
    ...     print("refused")
    refused
    """
    path = pathlib.Path(path)
    refuse = (
        f"{path} already exists; refusing to overwrite it (pass overwrite=True, or --overwrite "
        "on the command line, or choose another folder / basename)"
    )
    if not overwrite and path.exists():
        raise FileExistsError(refuse)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError as error:
                raise FileExistsError(refuse) from error
            except OSError:
                # File systems without hard links: check again right before the rename.
                if path.exists():
                    raise FileExistsError(refuse) from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _rows_to_csv(rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write_submission(
    out_dir, machine, section, file_names, scores, decisions=None, overwrite=False
):
    """Writes the official submission files of one section.

    ``anomaly_score_<machine>_section_<XX>_test.csv`` gets rows ``file_name,score`` (full
    float precision) and, when ``decisions`` are given,
    ``decision_result_<machine>_section_<XX>_test.csv`` rows ``file_name,0|1``; no header.
    Only the base name of each file name is written (the evaluator matches base names).

    Arguments
    ---------
    out_dir : str or pathlib.Path
        Folder (created if missing).
    machine : str
        Machine type, e.g. "fan".
    section : int or str
        Section, e.g. 0 or "00".
    file_names : sequence of str
        ``[N]`` clip names (development or anonymised evaluation names alike).
    scores : array-like
        ``[N]`` anomaly scores (finite).
    decisions : array-like, optional
        ``[N]`` 0/1 decisions.
    overwrite : bool
        Replace existing files; otherwise FileExistsError and nothing is written.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> paths = write_submission(out, "fan", 0, ["section_00_0000.wav", "section_00_0001.wav"],
    ...                          [0.25, 0.5], decisions=[0, 1])
    >>> [p.name for p in paths]
    ['anomaly_score_fan_section_00_test.csv', 'decision_result_fan_section_00_test.csv']
    >>> print(paths[1].read_text(), end="")
    section_00_0000.wav,0
    section_00_0001.wav,1
    """
    score_name, decision_name = submission_file_names(machine, section)
    names = [os.path.basename(str(n)) for n in file_names]
    where = f"machine {machine!r} section {_section_id(section)}"
    for name in names:
        if not name or "," in name or "\n" in name or name != name.strip():
            raise ValueError(f"{where}: file name {name!r} cannot be written to a submission CSV")
    if len(set(names)) < len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{where}: duplicated file name(s) {duplicated[:5]}")
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(values) != len(names):
        raise ValueError(f"{where}: {len(names)} file names but {len(values)} scores")
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{where}: score of {names[bad]!r} is {values[bad]}")
    rows = {score_name: [[n, repr(float(v))] for n, v in zip(names, values)]}
    if decisions is not None:
        dec = np.asarray(decisions).reshape(-1)
        if len(dec) != len(names):
            raise ValueError(f"{where}: {len(names)} file names but {len(dec)} decisions")
        if not np.isin(dec, (0, 1)).all():
            raise ValueError(f"{where}: decisions must be 0 or 1, got {np.unique(dec)[:5]}")
        rows[decision_name] = [[n, str(int(d))] for n, d in zip(names, dec)]
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        for name in rows:
            if (out_dir / name).exists():
                raise FileExistsError(
                    f"{out_dir / name} already exists; refusing to overwrite it "
                    "(pass overwrite=True or write to another folder)"
                )
    return [atomic_write_text(out_dir / n, _rows_to_csv(r), overwrite) for n, r in rows.items()]


def read_submission_file(path, decision=False):
    """Reads an anomaly-score or decision CSV (no header, ``file_name,value``).

    Arguments
    ---------
    path : str or pathlib.Path
        The CSV file.
    decision : bool
        Values must be 0/1 (decision file) instead of finite floats.

    Returns
    -------
    tuple
        (list of file names ``[N]``, np.ndarray ``[N]`` of float64 scores or int64 decisions).

    Example
    -------
    >>> import tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "anomaly_score_fan_section_00_test.csv"
    >>> _ = path.write_text("a.wav,0.5\\nb.wav,1e-3\\n")
    >>> read_submission_file(path)
    (['a.wav', 'b.wav'], array([0.5  , 0.001]))
    """
    path = pathlib.Path(path)
    names, values, seen = [], [], {}
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise ValueError(
                    f"{path}, line {line_number}: expected 2 fields 'file_name,value', "
                    f"got {len(row)}: {row!r}"
                )
            name, text = row[0].strip(), row[1].strip()
            if name in seen:
                raise ValueError(
                    f"{path}, line {line_number}: {name!r} already listed on line {seen[name]}"
                )
            seen[name] = line_number
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line_number}: value {text!r} of {name!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"{path}, line {line_number}: value of {name!r} is {text}")
            if decision and value not in (0.0, 1.0):
                raise ValueError(
                    f"{path}, line {line_number}: decision of {name!r} must be 0 or 1, got {text}"
                )
            names.append(name)
            values.append(value)
    if not names:
        raise ValueError(f"{path} has no rows")
    return names, np.asarray(values, dtype=np.int64 if decision else np.float64)


def _read_ground_truth(path, what):
    mapping = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 2:
                raise ValueError(f"{path}, line {line_number}: expected 'file,{what}', got {row!r}")
            mapping[row[0].strip()] = row[1].strip()
    return mapping


def _ground_truth_for(ground_truth, machine, section):
    """label, domain and original-name maps of one section, or None if the folder lacks it."""
    name = f"ground_truth_{machine}_section_{section}_test.csv"
    data_path = ground_truth / "ground_truth_data" / name
    if not data_path.exists():
        return None
    domain_path = ground_truth / "ground_truth_domain" / name
    if not domain_path.exists():
        raise ValueError(f"{data_path} exists but {domain_path} is missing")
    labels = _read_ground_truth(data_path, "0|1")
    domains = _read_ground_truth(domain_path, "0|1")
    if set(labels) != set(domains):
        odd = sorted(set(labels) ^ set(domains))[:3]
        raise ValueError(f"{data_path} and {domain_path} list different files, e.g. {odd}")
    for file_name in labels:
        if labels[file_name] not in ("0", "1") or domains[file_name] not in ("0", "1"):
            raise ValueError(
                f"machine {machine!r}: ground truth of {file_name!r} must be 0/1, got label "
                f"{labels[file_name]!r}, domain {domains[file_name]!r}"
            )
    originals = {}
    attributes_path = ground_truth / "ground_truth_attributes" / name
    if attributes_path.exists():
        # The evaluator also accepts submissions that use the original (de-anonymised) names.
        for anonymised, original in _read_ground_truth(attributes_path, "original").items():
            originals[f"{original}.wav"] = anonymised
    return labels, domains, originals


def load_submission_records(score_dir, ground_truth=None):
    """Per-clip records from a folder of submission CSVs, as the official evaluator reads them.

    For development names the label and domain come from the file name; for anonymised
    evaluation names (``section_00_0000.wav``) from ``ground_truth/ground_truth_data`` and
    ``ground_truth/ground_truth_domain`` (``ground_truth_<machine>_section_<XX>_test.csv``;
    ``ground_truth_attributes`` maps original names too). When the ground truth covers a
    machine, every ground-truth file needs a score row and every score row a ground truth.

    Arguments
    ---------
    score_dir : str or pathlib.Path
        Folder with ``anomaly_score_<machine>_section_<XX>_test.csv`` (and optionally
        ``decision_result_...``) files.
    ground_truth : str or pathlib.Path, optional
        Ground-truth folder of the official evaluator.

    Returns
    -------
    list of dict
        Records with machine, section, file_name, domain, label (0/1), score and, when a
        decision file exists, decision; ready for :func:`evaluate_records`.

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> names = ["section_00_source_test_normal_0000_a.wav",
    ...          "section_00_source_test_anomaly_0000_a.wav"]
    >>> _ = write_submission(out, "fan", 0, names, [0.1, 0.9])
    >>> [(r["label"], r["domain"], r["score"]) for r in load_submission_records(out)]
    [(0, 'source', 0.1), (1, 'source', 0.9)]
    """
    score_dir = pathlib.Path(score_dir)
    if not score_dir.is_dir():
        raise ValueError(f"score folder {score_dir} does not exist or is not a folder")
    ground_truth = pathlib.Path(ground_truth) if ground_truth is not None else None
    if ground_truth is not None and not (ground_truth / "ground_truth_data").is_dir():
        raise ValueError(f"ground-truth folder {ground_truth} has no ground_truth_data/ folder")
    score_files = sorted(p for p in score_dir.iterdir() if _SCORE_FILE.match(p.name))
    if not score_files:
        raise ValueError(
            f"no anomaly_score_<machine>_section_<XX>_test.csv files in {score_dir}"
        )
    records, covered = [], set()
    for score_path in score_files:
        match = _SCORE_FILE.match(score_path.name)
        machine, section = match["machine"], match["section"]
        covered.add((machine, section))
        where = f"machine {machine!r} section {section}"
        names, scores = read_submission_file(score_path)
        decision_path = score_dir / f"decision_result_{machine}_section_{section}_test.csv"
        decisions = None
        if decision_path.exists():
            decision_names, decision_values = read_submission_file(decision_path, decision=True)
            decisions = dict(zip(decision_names, decision_values.tolist()))
        truth = _ground_truth_for(ground_truth, machine, section) if ground_truth else None
        rows = []
        if truth is not None:
            labels, domains, originals = truth
            by_name = {}
            for name, score in zip(names, scores.tolist()):
                key = name if name in labels else originals.get(name)
                if key is None:
                    raise ValueError(
                        f"{where}: no ground truth for file {name!r} of {score_path.name} "
                        f"in {ground_truth}"
                    )
                if key in by_name:
                    raise ValueError(f"{where}: file {key!r} scored twice (as {name!r})")
                by_name[key] = (name, score)
            missing = [n for n in sorted(labels) if n not in by_name]
            if missing:
                raise ValueError(
                    f"{where}: no score row for ground-truth file {missing[0]!r} "
                    f"({len(missing)} of {len(labels)} missing) in {score_path}"
                )
            for key in sorted(labels):
                name, score = by_name[key]
                rows.append(
                    {
                        "file_name": key,
                        "domain": "target" if domains[key] == "1" else "source",
                        "label": int(labels[key]),
                        "score": score,
                        "_decision_keys": (name, key),
                    }
                )
        else:
            for name, score in zip(names, scores.tolist()):
                try:
                    info = parse_test_file_name(name)
                except ValueError as error:
                    raise ValueError(f"{where}: {error}") from None
                if info["anonymised"]:
                    hint = (
                        f"{ground_truth} has no ground_truth_data/ground_truth_{machine}_section_"
                        f"{section}_test.csv"
                        if ground_truth
                        else "pass --ground-truth DIR (the official evaluator's ground truth)"
                    )
                    raise ValueError(
                        f"{where}: file {name!r} is anonymised, so its label and domain need "
                        f"ground truth: {hint}"
                    )
                if info["section"] != section:
                    raise ValueError(
                        f"{where}: file {name!r} belongs to section {info['section']}, "
                        f"not to {score_path.name}"
                    )
                rows.append(
                    {
                        "file_name": name,
                        "domain": info["domain"],
                        "label": info["label"],
                        "score": score,
                        "_decision_keys": (name,),
                    }
                )
        if decisions is not None:
            used = set()
            for row in rows:
                found = [k for k in row["_decision_keys"] if k in decisions]
                if not found:
                    raise ValueError(
                        f"{where}: no decision row for file {row['file_name']!r} in "
                        f"{decision_path}"
                    )
                row["decision"] = int(decisions[found[0]])
                used.add(found[0])
            extra = sorted(set(decisions) - used)
            if extra:
                raise ValueError(
                    f"{where}: {decision_path.name} lists {len(extra)} file(s) without a score "
                    f"row, e.g. {extra[0]!r}"
                )
        for row in rows:
            del row["_decision_keys"]
            records.append({"machine": machine, "section": section, **row})
    if ground_truth is not None:
        expected = set()
        for path in (ground_truth / "ground_truth_data").glob("ground_truth_*_test.csv"):
            found = re.match(r"^ground_truth_(.+)_section_(\d{2})_test\.csv$", path.name)
            if found:
                expected.add((found[1], found[2]))
        absent = sorted(expected - covered)
        if absent:
            warnings.warn(
                f"{len(absent)} machine section(s) of the ground truth have no score file in "
                f"{score_dir}: {', '.join(f'{m} section {s}' for m, s in absent)}; they are not "
                "part of the official score computed here",
                stacklevel=2,
            )
    return records


_REQUIRED = ("machine", "section", "file_name", "domain", "label", "score")


def _records_as_rows(records):
    if isinstance(records, Mapping):
        lengths = {k: len(v) for k, v in records.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"records dict of lists has lists of different lengths: {lengths}")
        n = next(iter(lengths.values()), 0)
        return [{k: records[k][i] for k in records} for i in range(n)]
    return list(records)


def _label_value(label, index, where):
    if isinstance(label, str):
        if label in _LABELS:
            return _LABELS[label]
        if label in ("0", "1"):
            return int(label)
    elif isinstance(label, (bool, np.bool_)) or label in (0, 1):
        return int(label)
    raise ValueError(
        f"record {index} ({where}): label must be 'normal'/'anomaly' or 0/1, got {label!r}"
    )


def evaluate_records(records, max_fpr=0.1, confidence=0.95):
    """Official DCASE2023 results from per-clip records (what the training recipe calls).

    Arguments
    ---------
    records : list of dict or dict of lists
        Keys ``machine``, ``section``, ``file_name``, ``domain`` ("source"/"target"),
        ``label`` ("normal"/"anomaly" or 0/1), ``score``; optional ``decision`` (0/1, then for
        every record of a section) and ``group`` (hidden condition; records whose group is
        None are left out of the group breakdown only).
    max_fpr : float
        pAUC bound.
    confidence : float
        Level of the jackknife interval.

    Returns
    -------
    dict
        ``sections``: key ("fan_section_00") -> metrics of :func:`section_scores` plus
        ``machine``, ``section``; ``official_score``, ``hmean_auc``, ``hmean_pauc``,
        ``hmean_auc_source``, ``hmean_auc_target``, ``amean_auc``; ``jackknife`` (the
        evaluator's pooled jackknife, see :func:`jackknife_ci`, None when it is undefined) and
        ``official_score_ci95`` (its half-width); ``groups``: key -> group -> AUC (only when
        groups are given); ``max_fpr``, ``n_clips``. Values are fractions in [0, 1].

    Example
    -------
    >>> records = {
    ...     "machine": ["fan"] * 6, "section": ["00"] * 6, "file_name": list("abcdef"),
    ...     "domain": ["source"] * 3 + ["target"] * 3,
    ...     "label": ["normal", "normal", "anomaly"] * 2,
    ...     "score": [0.1, 0.2, 0.9, 0.3, 0.6, 0.5]}
    >>> results = evaluate_records(records)
    >>> round(results["sections"]["fan_section_00"]["auc_target"], 4)
    0.75
    >>> round(results["official_score"], 4)  # hmean(1.0, 0.75, pAUC 0.7368)
    0.8129
    """
    rows = _records_as_rows(records)
    if not rows:
        raise ValueError("records is empty: nothing to evaluate")
    by_section, seen = {}, {}
    for index, row in enumerate(rows):
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            raise ValueError(f"record {index} lacks key(s) {missing}; needs {list(_REQUIRED)}")
        key = section_key(row["machine"], row["section"])
        ident = (key, str(row["file_name"]))
        if ident in seen:
            raise ValueError(
                f"section {key!r}: file {row['file_name']!r} appears twice "
                f"(records {seen[ident]} and {index})"
            )
        seen[ident] = index
        by_section.setdefault(key, []).append((index, row))
    sections, groups = {}, {}
    all_labels, all_scores = [], []
    for key in sorted(by_section):
        items = by_section[key]
        labels = [_label_value(r["label"], i, key) for i, r in items]
        scores = []
        for i, r in items:
            try:
                scores.append(float(r["score"]))
            except (TypeError, ValueError):
                raise ValueError(
                    f"section {key!r}: score of record {i} ({r['file_name']!r}) is not a "
                    f"number: {r['score']!r}"
                ) from None
        domains = [r["domain"] for _, r in items]
        has_decision = [r.get("decision") is not None for _, r in items]
        if any(has_decision) and not all(has_decision):
            raise ValueError(
                f"section {key!r}: {has_decision.count(False)} of {len(items)} records have "
                "no decision; give a decision for every record or for none"
            )
        decisions = [int(r["decision"]) for _, r in items] if all(has_decision) else None
        metrics = section_scores(
            labels, scores, domains, max_fpr=max_fpr, decisions=decisions, section=key
        )
        first = items[0][1]
        sections[key] = {
            "machine": str(first["machine"]),
            "section": _section_id(first["section"]),
            **metrics,
        }
        grouped = [(lab, s, r.get("group")) for lab, s, (_, r) in zip(labels, scores, items)]
        grouped = [g for g in grouped if g[2] is not None]
        if grouped:
            lab, sc, grp = zip(*grouped)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                groups[key] = subgroup_auc(list(lab), list(sc), list(grp))
            for warning in caught:
                warnings.warn(f"section {key!r}: {warning.message}", warning.category, stacklevel=2)
        all_labels.extend(labels)
        all_scores.extend(scores)
    results = {
        "max_fpr": float(max_fpr),
        "n_clips": len(rows),
        "sections": sections,
        "official_score": official_score(sections),
        "hmean_auc": hmean_auc(sections),
        "hmean_pauc": hmean_pauc(sections),
        "hmean_auc_source": _hmean_of(sections, "auc_source"),
        "hmean_auc_target": _hmean_of(sections, "auc_target"),
        "amean_auc": float(
            np.mean([m[k] for m in sections.values() for k in ("auc_source", "auc_target")])
        ),
    }
    try:
        jack = jackknife_ci(all_labels, all_scores, max_fpr=max_fpr, confidence=confidence)
    except ValueError as error:
        warnings.warn(f"jackknife confidence interval not computed: {error}", stacklevel=2)
        jack = None
    results["jackknife"] = jack
    results["official_score_ci95"] = None if jack is None else jack["half_width"]
    if groups:
        results["groups"] = groups
    return results


def _hmean_of(sections, name):
    values = np.maximum([m[name] for m in sections.values()], EPSILON)
    return float(len(values) / np.sum(1.0 / values))


def _percent(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100.0 * value:.{digits}f}"


def format_results_table(results, digits=2):
    """Markdown table of the results (percent), for printing and logging.

    Arguments
    ---------
    results : dict
        As returned by :func:`evaluate_records`.
    digits : int
        Digits after the decimal point.

    Returns
    -------
    str
        One row per section (AUC source, AUC target, pAUC and, when decisions were given,
        F1 source / target), a harmonic-mean row, then the official score (with the
        evaluator's jackknife half-width) and the paper's hmean AUC / pAUC.

    Example
    -------
    >>> results = evaluate_records({
    ...     "machine": ["fan"] * 4, "section": [0] * 4, "file_name": list("abcd"),
    ...     "domain": ["source", "source", "target", "target"],
    ...     "label": [0, 1, 0, 1], "score": [0.1, 0.9, 0.2, 0.8]})
    >>> print(format_results_table(results).splitlines()[2])
    | fan | 00 | 100.00 | 100.00 | 100.00 |
    """
    sections = results["sections"]
    with_f1 = all("f1_source" in m for m in sections.values())
    header = ["machine", "section", "AUC source (%)", "AUC target (%)", "pAUC (%)"]
    if with_f1:
        header += ["F1 source (%)", "F1 target (%)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in sorted(sections):
        m = sections[key]
        cells = [m["machine"], m["section"]]
        cells += [_percent(m[k], digits) for k in ("auc_source", "auc_target", "pauc")]
        if with_f1:
            cells += [_percent(m[k], digits) for k in ("f1_source", "f1_target")]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["harmonic mean", ""]
    for name in ("auc_source", "auc_target", "pauc"):
        cells.append(_percent(_hmean_of(sections, name), digits))
    if with_f1:
        cells += [_percent(_hmean_of(sections, k), digits) for k in ("f1_source", "f1_target")]
    lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    ci = results.get("official_score_ci95")
    # The evaluator's jackknife half-width is usually far below 0.01 %: show 2 significant digits.
    ci_text = f" ± {100.0 * ci:.2g} (jackknife 95 % half-width)" if ci is not None else ""
    lines.append(f"Official score (%): {_percent(results['official_score'], digits)}{ci_text}")
    lines.append(
        f"Harmonic mean AUC (%): {_percent(results['hmean_auc'], digits)}; "
        f"harmonic mean pAUC (%): {_percent(results['hmean_pauc'], digits)}"
    )
    return "\n".join(lines)


def _json_ready(value):
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


_CSV_COLUMNS = (
    "auc_source",
    "auc_target",
    "pauc",
    "auc",
    "precision_source",
    "recall_source",
    "f1_source",
    "precision_target",
    "recall_target",
    "f1_target",
)


def _results_csv(results):
    sections = results["sections"]
    header = ["machine", "section", *_CSV_COLUMNS, "official_score", "hmean_auc", "hmean_pauc",
              "official_score_ci95"]
    rows = [header]
    for key in sorted(sections):
        m = sections[key]
        rows.append([m["machine"], m["section"], *[m.get(c, "") for c in _CSV_COLUMNS],
                     "", "", "", ""])
    summary = ["harmonic mean", ""]
    for column in _CSV_COLUMNS:
        present = all(column in m for m in sections.values())
        summary.append(_hmean_of(sections, column) if present else "")
    ci = results.get("official_score_ci95")
    summary += [results["official_score"], results["hmean_auc"], results["hmean_pauc"],
                "" if ci is None else ci]
    rows.append(summary)
    return _rows_to_csv([[repr(v) if isinstance(v, float) else v for v in r] for r in rows])


def write_results(out_dir, results, overwrite=False, basename="results"):
    """Writes ``<basename>.csv``, ``<basename>.md`` and ``<basename>.json`` atomically.

    The CSV has one row per section (fractions, full precision) and a final "harmonic mean"
    row holding the harmonic means of each column plus the official score, hmean AUC,
    hmean pAUC and the jackknife half-width. The Markdown file is
    :func:`format_results_table`; the JSON holds the whole results dict (NaN as null).
    If any of the three exists, nothing is written unless ``overwrite=True``.

    Arguments
    ---------
    out_dir : str or pathlib.Path
        Folder (created if missing).
    results : dict
        As returned by :func:`evaluate_records`.
    overwrite : bool
        Replace earlier result files.
    basename : str
        File name stem.

    Returns
    -------
    dict
        "csv", "md", "json" -> pathlib.Path.

    Example
    -------
    >>> import tempfile
    >>> results = evaluate_records({
    ...     "machine": ["fan"] * 4, "section": [0] * 4, "file_name": list("abcd"),
    ...     "domain": ["source", "source", "target", "target"],
    ...     "label": [0, 1, 0, 1], "score": [0.1, 0.9, 0.2, 0.8]})
    >>> paths = write_results(tempfile.mkdtemp(), results)
    >>> sorted(p.name for p in paths.values())
    ['results.csv', 'results.json', 'results.md']
    """
    if not basename or "/" in basename or "\\" in basename:
        raise ValueError(f"basename must be a plain file name stem, got {basename!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {suffix[1:]: out_dir / f"{basename}{suffix}" for suffix in RESULT_SUFFIXES}
    if not overwrite:
        for path in paths.values():
            if path.exists():
                raise FileExistsError(
                    f"{path} already exists; refusing to overwrite earlier results (pass "
                    "overwrite=True / --overwrite, or another folder or basename)"
                )
    texts = {
        "csv": _results_csv(results),
        "md": format_results_table(results) + "\n",
        "json": json.dumps(_json_ready(results), indent=2, sort_keys=True) + "\n",
    }
    for name, path in paths.items():
        atomic_write_text(path, texts[name], overwrite=overwrite)
    return paths
