"""The Viseme stage's result: per-video-frame mouth parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Continuous mouth parameters, the columns of :attr:`VisemeTrack.params`. Each is in [0, 1]:
#:
#: - ``jaw_open``: jaw opening; 0 = teeth together, 1 = widest open vowel ("ah").
#: - ``lip_round``: rounding and protrusion of the lips ("oo", "w"); narrows the mouth.
#: - ``lip_spread``: spreading of the lip corners ("ee", smile-like); widens the mouth.
#: - ``lip_close``: lips pressed together (p, b, m). At 1 the lip opening is exactly zero,
#:   whatever the jaw does.
#: - ``lower_lip_tuck``: lower lip drawn up under the upper teeth (f, v).
#: - ``upper_lip_raise``: upper lip lifted off the teeth (sh, ch, r; shows upper teeth).
#: - ``teeth_show``: how much of the teeth is visible when the lips part (s, t, ee...).
MOUTH_PARAMS: tuple[str, ...] = (
    "jaw_open",
    "lip_round",
    "lip_spread",
    "lip_close",
    "lower_lip_tuck",
    "upper_lip_raise",
    "teeth_show",
)
P = {name: i for i, name in enumerate(MOUTH_PARAMS)}


@dataclass
class VisemeTrack:
    """Mouth shapes sampled at a video frame rate.

    Frame ``i`` covers the time ``[i / fps, (i + 1) / fps)`` of the audio and is sampled at its
    centre. ``n_frames = round(duration * fps)`` (at least 1), so the track is as long as the audio
    to within half a frame.

    Attributes:
        fps: frames per second.
        params: mouth parameters, shape ``(n_frames, len(MOUTH_PARAMS))``, float32 in [0, 1],
            columns in :data:`MOUTH_PARAMS` order.
        weights: blended viseme-class weights, shape ``(n_frames, len(classes))``, float32, each row
            sums to 1 (silence included as a class).
        classes: viseme class names, the columns of ``weights``.
        duration: length of the audio the track was made for, in seconds.
    """

    fps: float
    params: np.ndarray
    weights: np.ndarray
    classes: tuple[str, ...]
    duration: float

    @property
    def n_frames(self) -> int:
        return int(self.params.shape[0])

    def param(self, name: str) -> np.ndarray:
        """One parameter over time, shape ``(n_frames,)``."""
        return self.params[:, P[name]]

    def frame_times(self) -> np.ndarray:
        """Centre time of each frame in seconds, shape ``(n_frames,)``."""
        return (np.arange(self.n_frames) + 0.5) / self.fps

    @staticmethod
    def n_frames_for(duration: float, fps: float) -> int:
        """Number of frames for ``duration`` seconds at ``fps``."""
        return max(1, int(round(duration * fps)))
