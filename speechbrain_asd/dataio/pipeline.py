"""SpeechBrain datasets of fixed-length clips from the manifests of :mod:`.dcase`.

The clip-level work (reading, sample-rate and channel checks, tiling and cropping to the clip
length) happens here, inside DataLoader workers; the spectral features are computed on the
model's device by the encoder.

Authors
 * speechbrain-asd developers 2026
"""

import hashlib

import soundfile as sf
import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

from speechbrain_asd.lobes.features import fixed_length


class ClipReadError(ValueError):
    """A clip could not be used; the message names the file and the problem."""


def crop_offset(clip_id, seed, n_samples):
    """The training crop offset of a clip: drawn once per file, reproducibly.

    SSLASD draws one random crop offset per file. Here it is a hash of the seed and the clip ID,
    so that it does not depend on DataLoader workers, their order or an interrupted run.

    Arguments
    ---------
    clip_id : str
        The clip's manifest ID.
    seed : int
        The experiment seed.
    n_samples : int
        Length of the clip in samples (the offset is in [0, n_samples)).

    Returns
    -------
    int
        The offset in samples.

    Example
    -------
    >>> crop_offset("dev_fan_x", 0, 160000) == crop_offset("dev_fan_x", 0, 160000)
    True
    >>> 0 <= crop_offset("dev_fan_x", 1, 100) < 100
    True
    """
    digest = hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % max(int(n_samples), 1)


def read_clip(path, sample_rate, downmix=False):
    """Reads a mono clip as float32, checking its sample rate and channels.

    Arguments
    ---------
    path : str
        Path of a wav file.
    sample_rate : int
        The expected sample rate in Hz; another rate is an error (no silent resampling).
    downmix : bool
        Average the channels of a multi-channel file instead of refusing it.

    Returns
    -------
    torch.Tensor
        ``[time]`` float32 samples in [-1, 1].

    Example
    -------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.zeros((800, 2)), 16000)
    >>> read_clip(path, 16000, downmix=True).shape
    torch.Size([800])
    >>> read_clip(path, 16000)
    Traceback (most recent call last):
    ...
    speechbrain_asd.dataio.pipeline.ClipReadError: ...: 2 channels; ...
    """
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for corrupt files
        raise ClipReadError(f"{path}: cannot read the audio ({error})") from error
    if rate != sample_rate:
        raise ClipReadError(
            f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz (resample the data "
            "set, or set sample_rate in the hparams)"
        )
    if data.shape[0] == 0:
        raise ClipReadError(f"{path}: the file holds no samples")
    if data.shape[1] > 1 and not downmix:
        raise ClipReadError(
            f"{path}: {data.shape[1]} channels; expected mono (set downmix: True to average "
            "the channels)"
        )
    return torch.from_numpy(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])


def clip_dataset(
    manifest,
    data_folder,
    n_samples,
    sample_rate=16000,
    downmix=False,
    random_crop=False,
    seed=0,
    class_encoder=None,
    sample_index=None,
):
    """A DynamicItemDataset of fixed-length clips from a manifest CSV.

    Arguments
    ---------
    manifest : str
        A CSV written by :func:`speechbrain_asd.dataio.dcase.prepare_dcase2023`.
    data_folder : str
        Replaces ``$data_root`` in the manifest's paths.
    n_samples : int
        Clip length in samples after tiling/cropping.
    sample_rate : int
        Expected sample rate in Hz.
    downmix : bool
        Average the channels of multi-channel files.
    random_crop : bool
        Crop from :func:`crop_offset` (training) instead of from 0 (evaluation).
    seed : int
        Seed of the crop offsets.
    class_encoder : speechbrain.dataio.encoder.CategoricalEncoder, optional
        When given, ``class_index`` (int64 ``[1]``, so that PaddedBatch stacks it to
        ``[batch, 1]``) is provided from ``class_label``.
    sample_index : dict, optional
        ID -> integer sample ID (e.g. the row of the training manifest), provided as
        ``sample_index`` (int64 ``[1]``; the AASRL phase switch keys its measurement by it).

    Returns
    -------
    DynamicItemDataset
        Items ``id``, ``sig`` (``[n_samples]`` float32) and the manifest columns, plus
        ``class_index`` and ``sample_index`` when asked for.
    """
    dataset = DynamicItemDataset.from_csv(manifest, replacements={"data_root": str(data_folder)})

    @takes("wav", "id")
    @provides("sig")
    def audio_pipeline(wav, clip_id):
        clip = read_clip(wav, sample_rate, downmix)
        offset = crop_offset(clip_id, seed, clip.shape[0]) if random_crop else 0
        return fixed_length(clip, n_samples, offset)

    dataset.add_dynamic_item(audio_pipeline)
    keys = ["id", "sig"]
    if class_encoder is not None:

        @takes("class_label")
        @provides("class_index")
        def label_pipeline(label):
            return torch.tensor([class_encoder.encode_label(label)], dtype=torch.long)

        dataset.add_dynamic_item(label_pipeline)
        keys.append("class_index")
    if sample_index is not None:

        @takes("id")
        @provides("sample_index")
        def index_pipeline(clip_id):
            return torch.tensor([sample_index[clip_id]], dtype=torch.long)

        dataset.add_dynamic_item(index_pipeline)
        keys.append("sample_index")
    dataset.set_output_keys(
        keys + ["machine", "section", "domain", "label", "file_name", "set", "hidden_condition"]
    )
    return dataset
