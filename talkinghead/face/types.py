"""Typed results of the Face stage (tracking and mesh deformation), and the ``.npz`` format of
a :class:`FaceTrack` (:func:`save_track`, :func:`load_track`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import atomic_path

#: Number of MediaPipe face-mesh landmarks with ``refine_landmarks=True`` (468 + 10 iris points).
N_LANDMARKS = 478


@dataclass
class FaceTrack:
    """A face tracked through a video (or a single image treated as a one-frame video).

    Coordinates: image pixels, x to the right, y down, origin at the top-left corner of the
    (rotation-corrected) frame; z is MediaPipe's relative depth converted to the same pixel scale
    (``z_px = z_mediapipe * width``), smaller = closer to the camera. The camera is orthographic
    (weak perspective), as MediaPipe's image-space landmarks are.

    Pose: ``landmarks[t] ~= scale[t] * canonical @ rotation[t].T + translation[t]`` plus the
    non-rigid ``expression[t]`` (in canonical space, before scaling/rotation):
    ``landmarks[t] = scale[t] * (canonical + expression[t]) @ rotation[t].T + translation[t]``.

    Attributes:
        landmarks: smoothed landmarks, shape ``(n_frames, 478, 3)``, float32, pixels.
        raw_landmarks: detector output before temporal filtering (gaps interpolated), same shape.
        rotation: head rotation per frame, shape ``(n_frames, 3, 3)``, float32, proper rotations.
        translation: shape ``(n_frames, 3)``, float32, pixels.
        scale: shape ``(n_frames,)``, float32, pixels per canonical unit.
        canonical: this person's neutral face in canonical space, shape ``(478, 3)``, float32,
            frontal, x right (towards image right), y down, z away from camera; origin at the
            centroid of the stable landmarks (``talkinghead.face.pose.STABLE``), unit length =
            distance between the outer eye corners (landmarks 33 and 263). See
            :mod:`talkinghead.face.pose`.
        expression: non-rigid remainder, shape ``(n_frames, 478, 3)``, float32, canonical units.
        detected: whether the detector found the face in each frame (False = interpolated),
            shape ``(n_frames,)``, bool.
        fps: frame rate of the video.
        width, height: frame size in pixels.
        source: path of the tracked video/image (informative).
        settings: tracker settings used (part of the cache key).
        from_cache: True when :func:`talkinghead.face.tracking.track_face` loaded this track from
            its on-disk cache instead of tracking (not saved).
    """

    landmarks: np.ndarray
    raw_landmarks: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    canonical: np.ndarray
    expression: np.ndarray
    detected: np.ndarray
    fps: float
    width: int
    height: int
    source: str = ""
    settings: dict = field(default_factory=dict)
    from_cache: bool = False

    @property
    def n_frames(self) -> int:
        return int(self.landmarks.shape[0])

    def save(self, path) -> None:
        """Write this track to ``path`` (``.npz``, atomic); read it back with :meth:`load`."""
        save_track(self, path)

    @classmethod
    def load(cls, path) -> "FaceTrack":
        """Read a track written by :meth:`save` (raises InputError if it is not one)."""
        return load_track(path)


_ARRAYS = ("landmarks", "raw_landmarks", "rotation", "translation", "scale", "canonical",
           "expression", "detected")
#: Format version of the saved ``.npz``.
FORMAT_VERSION = 1


def save_track(track: FaceTrack, path: str | os.PathLike) -> Path:
    """Write ``track`` to ``path`` (``.npz``) atomically."""
    p = Path(path)
    with atomic_path(p, suffix=".npz") as tmp:
        write_track_file(track, tmp)
    return p


def write_track_file(track: FaceTrack, path: str | os.PathLike) -> None:
    """Write ``track`` in place to ``path`` (not atomically: :func:`save_track` is)."""
    meta = {
        "format_version": FORMAT_VERSION,
        "fps": float(track.fps),
        "width": int(track.width),
        "height": int(track.height),
        "source": str(track.source),
        "settings": {k: v for k, v in track.settings.items() if k != "cache_file"},
    }
    with open(path, "wb") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta)),
                            **{k: np.asarray(getattr(track, k)) for k in _ARRAYS})


def load_track(path: str | os.PathLike) -> FaceTrack:
    """Read a track written by :func:`save_track`.

    Raises :class:`InputError` if the file is missing or not a face track.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"face track not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{p} is not a talkinghead face track ({e})") from e
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{p} has face-track format {meta.get('format_version')}, "
                         f"expected {FORMAT_VERSION}; track the video again")
    return FaceTrack(**arrays, fps=meta["fps"], width=meta["width"], height=meta["height"],
                     source=meta["source"], settings=meta["settings"])
