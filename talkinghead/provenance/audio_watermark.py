"""Audio watermark in the speech track, with Resemble AI's Perth (``resemble-perth``).

``resemble-perth`` (MIT, requirement ``resemble-perth==1.0.1``) ships its pretrained "PerthNet
implicit" neural watermarker *inside the wheel* (``perth/perth_net/pretrained/implicit``), so it
runs offline with no download. It modifies the magnitude spectrogram imperceptibly and its
decoder returns, per clip, a score in [0, 1] (the mean of per-frame predictions): a **1-bit
presence mark** (no payload; the job id travels in the video watermark and the metadata).

Threshold :data:`AUDIO_THRESHOLD` = 0.95, from measurements (``docs/provenance.md``,
``benchmarks/bench_watermark.py``): marked Piper speech and marked real speech tracks scored
>= 0.997 after AAC 160k/48k and MP3 64k at 16 kHz (1.0 on a 2 s excerpt); unmarked tracks scored
<= 0.10 for speech but up to 0.80 for the soundtrack of s18.mp4 and 0.47 for 8 s windows of
eng.wav. Unlike the video watermark's z-score, this score has no proven false-positive bound:
``talkinghead verify`` labels it as heuristic.

Embedding costs ~1 s of CPU per 8 s of audio (2 threads).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
from dataclasses import dataclass

import numpy as np

from ..errors import DependencyError, InputError

log = logging.getLogger(__name__)

REQUIREMENT = "resemble-perth==1.0.1"
#: Presence threshold on Perth's score (see the module docstring).
AUDIO_THRESHOLD = 0.95


def _import_perth():
    """``import perth``, without the deprecation warning of the ``pkg_resources`` it imports
    (setuptools 81 warns; 82 removed it, hence ``setuptools<82`` in the ``audiowm`` extra)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import perth
    return perth


def audio_watermark_available() -> bool:
    """True when ``resemble-perth`` can be imported."""
    try:
        _import_perth()
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _watermarker():
    try:
        perth = _import_perth()
    except ImportError as exc:
        raise DependencyError(f"the audio watermark needs resemble-perth: pip install '{REQUIREMENT}'") from exc
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "loaded PerthNet ..."
        return perth.PerthImplicitWatermarker(device="cpu")


def embed_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Watermark a mono speech signal.

    Args:
        samples: ``(n,)`` float32 in [-1, 1].
        sample_rate: Hz (resampled internally to Perth's rate and back).

    Returns:
        ``(n,)`` float32 in [-1, 1], the same length.

    Raises:
        DependencyError: resemble-perth is not installed.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise InputError(f"audio must be mono, shape (n,), got {x.shape}")
    if len(x) < sample_rate // 10:
        return x.copy()  # too short to carry anything
    y = np.asarray(_watermarker().apply_watermark(x, sample_rate=int(sample_rate)), dtype=np.float32)
    out = np.zeros_like(x)
    n = min(len(x), len(y))
    out[:n] = y[:n]
    return np.clip(out, -1.0, 1.0)


@dataclass
class AudioDetection:
    """Result of :func:`detect_audio`: ``present`` (score >= threshold), Perth's ``score`` in
    [0, 1], and the ``seconds`` of audio examined."""

    present: bool
    score: float
    seconds: float


def detect_audio(
    audio: str | os.PathLike | np.ndarray,
    sample_rate: int | None = None,
    *,
    max_seconds: float = 60.0,
) -> AudioDetection:
    """Look for the Perth mark in a file's first audio stream or in samples.

    Args:
        audio: a media file (its first audio stream is decoded with ffmpeg) or ``(n,)`` float32
            samples.
        sample_rate: Hz, required with samples.
        max_seconds: examine at most this many seconds from the start.

    Raises:
        MediaError: the file has no audio. DependencyError: resemble-perth is not installed.
    """
    if isinstance(audio, (str, os.PathLike)):
        from ..media import read_audio

        sr = 22050
        x = read_audio(audio, sample_rate=sr)
    else:
        if sample_rate is None:
            raise InputError("detect_audio needs sample_rate with raw samples")
        sr, x = int(sample_rate), np.asarray(audio, dtype=np.float32)
    x = x[: int(max_seconds * sr)]
    if len(x) < sr // 2:
        return AudioDetection(False, 0.0, len(x) / sr)
    if not np.any(np.abs(x) > 1e-4):  # silence carries nothing (and gives NaN scores)
        return AudioDetection(False, 0.0, len(x) / sr)
    score = float(np.nanmean(_watermarker().get_watermark(x, sample_rate=sr, round=False)))
    score = 0.0 if not np.isfinite(score) else score
    return AudioDetection(score >= AUDIO_THRESHOLD, score, len(x) / sr)
