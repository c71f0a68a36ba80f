"""Phoneme timeline -> per-frame mouth parameters, with coarticulation.

Model: Cohen & Massaro's dominance functions. Every phoneme ``k`` has, for every mouth parameter,
a target ``T_k`` and a dominance ``D_k(t)`` that equals its magnitude ``a_k`` while the sound lasts
and falls off before it (time constant ``anticipation``) and after it (``carryover``) as
``a_k exp(-(d / tau)^2)``, ``d`` the distance in seconds to the sound (a squared exponent, rather
than Cohen & Massaro's plain one, keeps the tails short: rounding starts ~150 ms ahead, not 500).
The parameter at time ``t`` is the dominance-weighted mean of all targets:

    p(t) = sum_k D_k(t) T_k / sum_k D_k(t)

so neighbouring sounds blend, strongly dominant gestures (lip closure of p/b/m, rounding of
"oo") win over weak ones (the lips of t, k, h), and rounding is anticipated. Each video frame
averages the model over its own time span (box filter, ``oversample`` points per frame).

Guarantees on top of the blend:

- every bilabial (p, b, m) reaches full lip closure (``lip_close = 1``, jaw nearly shut) on at
  least one frame, even when it is shorter than a frame: the frame that overlaps it most;
- labiodentals (f, v) likewise reach full lower-lip tuck;
- silence relaxes to the closed, neutral mouth (all parameters 0).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..speech.types import SILENCE, PhonemeInterval, Speech
from .inventory import CLASSES, VISEMES, classify, split_phoneme
from .types import MOUTH_PARAMS, P, VisemeTrack

#: How far (in time constants) a dominance function reaches beyond its phoneme.
_REACH = 3.5
#: Upper bound of the jaw opening on a forced lip-closure frame.
_CLOSED_JAW = 0.08


def expand_timeline(phonemes: list[PhonemeInterval]) -> list[PhonemeInterval]:
    """Split diphthongs (and affricates) into parts, dividing each interval evenly."""
    out: list[PhonemeInterval] = []
    for p in phonemes:
        parts = [p.symbol] if p.symbol == SILENCE else split_phoneme(p.symbol)
        if len(parts) <= 1:
            out.append(PhonemeInterval(parts[0] if parts else SILENCE, p.start, p.end))
            continue
        edges = np.linspace(p.start, p.end, len(parts) + 1)
        out += [PhonemeInterval(s, float(a), float(b)) for s, a, b in zip(parts, edges[:-1], edges[1:])]
    return out


def visemes_from_timeline(
    phonemes: list[PhonemeInterval], duration: float, fps: float, oversample: int = 4
) -> VisemeTrack:
    """Mouth parameters at ``fps`` for a phoneme timeline.

    Args:
        phonemes: timeline tiling ``[0, duration]`` (see :class:`~talkinghead.speech.Speech`).
        duration: length of the audio in seconds.
        fps: video frame rate.
        oversample: model evaluations per frame (box-filtered).

    Returns:
        A :class:`VisemeTrack` of ``round(duration * fps)`` frames.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"frame rate {fps} must be a positive number")
    n_frames = VisemeTrack.n_frames_for(duration, fps)
    segs = expand_timeline(phonemes)
    classes = [classify(s.symbol) for s in segs]
    # sample times: oversample points inside each frame span [i/fps, (i+1)/fps)
    t = (np.arange(n_frames * oversample) + 0.5) / (fps * oversample)
    n_par = len(MOUTH_PARAMS)
    num = np.zeros((t.size, n_par), np.float64)
    den = np.zeros((t.size, n_par), np.float64)
    cls_w = np.zeros((t.size, len(CLASSES)), np.float64)
    cls_index = {c: i for i, c in enumerate(CLASSES)}
    for seg, cls in zip(segs, classes):
        v = VISEMES[cls]
        reach_a = _REACH * float(v.anticipation.max())
        reach_c = _REACH * float(v.carryover.max())
        lo = np.searchsorted(t, seg.start - reach_a)
        hi = np.searchsorted(t, seg.end + reach_c)
        if hi <= lo:
            continue
        tt = t[lo:hi, None]
        before = np.clip(seg.start - tt, 0.0, None)
        after = np.clip(tt - seg.end, 0.0, None)
        dom = v.dominance[None, :] * np.exp(
            -((before / v.anticipation[None, :]) ** 2) - (after / v.carryover[None, :]) ** 2
        )
        num[lo:hi] += dom * v.target[None, :]
        den[lo:hi] += dom
        cls_w[lo:hi, cls_index[cls]] += dom.mean(axis=1)
    empty = den <= 1e-12
    params = np.where(empty, 0.0, num / np.maximum(den, 1e-12))
    params = params.reshape(n_frames, oversample, n_par).mean(axis=1)
    cls_w = cls_w.reshape(n_frames, oversample, -1).mean(axis=1)
    row = cls_w.sum(axis=1, keepdims=True)
    weights = np.where(row > 1e-12, cls_w / np.maximum(row, 1e-12), 0.0)
    weights[row[:, 0] <= 1e-12, cls_index["sil"]] = 1.0
    _force_closures(params, segs, classes, fps)
    return VisemeTrack(
        fps=float(fps),
        params=np.clip(params, 0.0, 1.0).astype(np.float32),
        weights=weights.astype(np.float32),
        classes=CLASSES,
        duration=float(duration),
    )


def _best_frame(seg: PhonemeInterval, fps: float, n_frames: int) -> list[int]:
    """Frames whose centre lies inside ``seg``, or else the one frame that overlaps it most."""
    first = int(np.ceil(seg.start * fps - 0.5))
    last = int(np.floor(seg.end * fps - 0.5 - 1e-9))
    inside = [i for i in range(max(first, 0), min(last, n_frames - 1) + 1)]
    if inside:
        return inside
    i0 = int(np.floor(seg.start * fps))
    best, best_ov = min(max(i0, 0), n_frames - 1), -1.0
    for i in range(max(i0 - 1, 0), min(i0 + 2, n_frames)):
        ov = min(seg.end, (i + 1) / fps) - max(seg.start, i / fps)
        if ov > best_ov:
            best, best_ov = i, ov
    return [best]


def _force_closures(params: np.ndarray, segs: list[PhonemeInterval], classes: list[str], fps: float) -> None:
    """Full lip closure on p/b/m frames, full tuck on f/v frames (in place)."""
    n = params.shape[0]
    for seg, cls in zip(segs, classes):
        if cls == "PP":
            frames = _best_frame(seg, fps, n)
            params[frames, P["lip_close"]] = 1.0
            params[frames, P["jaw_open"]] = np.minimum(params[frames, P["jaw_open"]], _CLOSED_JAW)
            params[frames, P["lower_lip_tuck"]] = 0.0
        elif cls == "FF":
            frames = _best_frame(seg, fps, n)
            params[frames, P["lower_lip_tuck"]] = 1.0
            params[frames, P["lip_close"]] = 0.0


def visemes_from_speech(speech: Speech, fps: float, oversample: int = 4) -> VisemeTrack:
    """Mouth parameters at ``fps`` for a :class:`~talkinghead.speech.Speech`."""
    return visemes_from_timeline(speech.phonemes, speech.duration, fps, oversample)
