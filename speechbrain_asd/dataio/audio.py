"""WAV header checks and 16-bit PCM writing shared by the data preparation tools.

Headers are read with :mod:`soundfile` without touching the samples, so that preparing a
manifest of thousands of clips costs one small read per file.

Authors
 * speechbrain-asd developers 2026
"""

import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf


class AudioFileError(ValueError):
    """A WAV file that cannot be used: unreadable, corrupt, empty or of the wrong format."""


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says about a file.

    Arguments
    ---------
    sample_rate : int
        Sampling rate in Hz.
    frames : int
        Number of samples per channel.
    channels : int
        Number of channels.
    subtype : str
        soundfile subtype, e.g. ``"PCM_16"``.

    Example
    -------
    >>> WavInfo(16000, 32000, 1, "PCM_16").duration
    2.0
    """

    sample_rate: int
    frames: int
    channels: int
    subtype: str

    @property
    def duration(self):
        """Length in seconds (float)."""
        return self.frames / self.sample_rate


def wav_info(path):
    """Reads the header of a WAV file (never its samples).

    Arguments
    ---------
    path : str or os.PathLike
        The file.

    Returns
    -------
    WavInfo
        Sample rate, frames, channels and subtype.

    Raises
    ------
    AudioFileError
        If the file is missing, not a WAV file soundfile can open, or holds 0 frames.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> _ = write_pcm16(path, np.zeros(1600), 16000)
    >>> wav_info(path)
    WavInfo(sample_rate=16000, frames=1600, channels=1, subtype='PCM_16')
    """
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            if f.format != "WAV" and f.format != "WAVEX":
                raise AudioFileError(f"{path}: not a WAV file (format {f.format})")
            info = WavInfo(int(f.samplerate), int(f.frames), int(f.channels), str(f.subtype))
    except AudioFileError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / OSError
        raise AudioFileError(f"{path}: unreadable or corrupt WAV file ({e})") from e
    if info.frames == 0:
        raise AudioFileError(f"{path}: empty WAV file (0 frames)")
    return info


def check_wav_info(path, info, sample_rate=None, allow_multichannel=False):
    """Lists what is wrong with a header for a recipe expecting mono clips at one rate.

    Arguments
    ---------
    path : str
        The file, only used in the messages.
    info : WavInfo
        Its header.
    sample_rate : int or None
        Expected rate in Hz; None accepts any.
    allow_multichannel : bool
        Whether more than one channel is fine (the recipe then averages the channels).

    Returns
    -------
    list of str
        One message per problem; empty when the file is fine.

    Example
    -------
    >>> for p in check_wav_info("x.wav", WavInfo(44100, 10, 2, "PCM_16"), sample_rate=16000):
    ...     print(p)
    x.wav: sample rate 44100 Hz, expected 16000 Hz
    x.wav: 2 channels, expected mono (use downmix=True to accept multi-channel files)
    >>> check_wav_info("x.wav", WavInfo(16000, 10, 2, "PCM_16"), 16000, allow_multichannel=True)
    []
    """
    problems = []
    if sample_rate is not None and info.sample_rate != sample_rate:
        problems.append(f"{path}: sample rate {info.sample_rate} Hz, expected {sample_rate} Hz")
    if info.channels != 1 and not allow_multichannel:
        problems.append(
            f"{path}: {info.channels} channels, expected mono "
            "(use downmix=True to accept multi-channel files)"
        )
    return problems


def write_pcm16(path, signal, sample_rate):
    """Writes a float signal in [-1, 1] as a 16-bit PCM WAV file.

    Samples are scaled by 32767 and truncated toward zero, as the ToyADMOS2 mixer does;
    values outside [-1, 1] are clipped (instead of wrapping around in int16).

    Arguments
    ---------
    path : str or os.PathLike
        Output file.
    signal : numpy.ndarray
        ``[time]`` or ``[time, channels]`` float samples.
    sample_rate : int
        Sampling rate in Hz.

    Returns
    -------
    int
        The number of clipped samples (0 for a well-scaled signal).

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "b.wav")
    >>> write_pcm16(path, np.array([0.0, 0.5, 2.0]), 16000)
    1
    """
    signal = np.asarray(signal, dtype=np.float64)
    clipped = int(np.count_nonzero(np.abs(signal) > 1.0))
    pcm = (np.clip(signal, -1.0, 1.0) * 32767.0).astype(np.int16)
    sf.write(os.fspath(path), pcm, int(sample_rate), subtype="PCM_16", format="WAV")
    return clipped
