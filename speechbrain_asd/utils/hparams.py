"""Layered hyperparameter files: a variant names its base with ``extends:`` and overrides keys.

``aasrl.yaml`` holds only what differs from ``sslasd.yaml`` (``extends: sslasd.yaml`` plus a few
keys); loading it loads the base file with the variant's keys as hyperpyyaml overrides, then the
command-line overrides on top. A key that the base file does not define is an error (a typo),
raised before anything is built.

Authors
 * speechbrain-asd developers 2026
"""

import io
import os
from pathlib import Path

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

EXTENDS = "extends"


class HparamsError(ValueError):
    """A hyperparameter file or override is wrong; the message says which key and file."""


def resolve_hparams_path(path, recipe_dir):
    """The hparams file: as given when it exists, else relative to the recipe folder.

    Arguments
    ---------
    path : str
        Path from the command line.
    recipe_dir : str
        The recipe folder (where ``hparams/`` lies).

    Returns
    -------
    pathlib.Path
        An existing file.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); (folder / "a.yaml").write_text("x: 1")
    4
    >>> resolve_hparams_path("a.yaml", folder).name
    'a.yaml'
    """
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    in_recipe = Path(recipe_dir) / path
    if in_recipe.is_file():
        return in_recipe
    raise HparamsError(
        f"hparams file {path!r} not found (looked in {os.getcwd()} and {recipe_dir})"
    )


def _yaml():
    yaml = ruamel.yaml.YAML()  # round-trip: keeps !ref, !new: and friends as tagged nodes
    yaml.preserve_quotes = True
    return yaml


def _as_mapping(text, origin):
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if isinstance(text, dict):
        return dict(text)
    data = _yaml().load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HparamsError(f"{origin}: expected a mapping of keys to values")
    return data


def layered_yaml(path, overrides=None):
    """The base file's text and the merged overrides of a chain of ``extends:`` files.

    Arguments
    ---------
    path : str or pathlib.Path
        The hparams file (a full file, or a variant with ``extends: <base>``).
    overrides : str or dict, optional
        Command-line overrides (YAML text as returned by ``speechbrain.parse_arguments``);
        they win over the variants' keys.

    Returns
    -------
    tuple
        ``(base_path, base_text, merged_overrides_text, chain)``; ``chain`` lists the files,
        base first.
    """
    chain = []
    layers = []
    current = Path(path)
    while True:
        if current in chain:
            raise HparamsError(f"{current}: circular 'extends'")
        chain.append(current)
        text = current.read_text()
        data = _as_mapping(text, current)
        if EXTENDS not in data:
            base_text = text
            break
        parent = data.pop(EXTENDS)
        layers.append(data)
        current = current.parent / str(parent)
        if not current.is_file():
            raise HparamsError(f"{chain[-1]}: 'extends: {parent}' names no file ({current})")
    merged = {}
    for layer in reversed(layers):  # the nearest variant last, so it wins
        merged.update(layer)
    user = _as_mapping(overrides, "command-line overrides")
    merged.update(user)
    stream = io.StringIO()
    if merged:
        _yaml().dump(merged, stream)
    return chain[-1], base_text, stream.getvalue(), list(reversed(chain))


def load_layered_hparams(path, overrides=None):
    """Loads a (possibly layered) hparams file with hyperpyyaml.

    Arguments
    ---------
    path : str or pathlib.Path
        The hparams file.
    overrides : str or dict, optional
        Command-line overrides.

    Returns
    -------
    tuple
        ``(hparams, base_path, merged_overrides_text)``.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "base.yaml").write_text("a: 1\\nb: !ref <a>\\n")
    >>> _ = (folder / "variant.yaml").write_text("extends: base.yaml\\na: 5\\n")
    >>> hparams, _, _ = load_layered_hparams(folder / "variant.yaml", "b: 7")
    >>> hparams["a"], hparams["b"]
    (5, 7)
    >>> load_layered_hparams(folder / "variant.yaml", "c: 1")
    Traceback (most recent call last):
    ...
    speechbrain_asd.utils.hparams.HparamsError: unknown hyperparameter 'c' ...
    """
    base_path, base_text, merged, _ = layered_yaml(path, overrides)
    try:
        hparams = load_hyperpyyaml(base_text, merged or None)
    except KeyError as error:
        message = str(error)
        if "not found in" in message:
            key = message.split("'")[1] if "'" in message else message
            raise HparamsError(
                f"unknown hyperparameter {key!r} (from {path} or the command line): "
                f"{base_path} defines no such key; check its spelling"
            ) from None
        raise
    return hparams, base_path, merged
