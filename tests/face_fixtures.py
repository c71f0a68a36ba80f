"""Synthetic face clips for tests (a plain module: ``from face_fixtures import astronaut_clip``).

The face is ``skimage.data.astronaut()`` (NASA photo, public domain, 512x512 RGB), moved by known
similarity transforms so that tests can check tracked motion against the truth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class ClipTruth:
    """The known motion of a synthetic clip.

    Attributes:
        affine: ``(T, 2, 3)`` maps source-image pixels ``(x, y, 1)`` to frame pixels.
        angle_deg: ``(T,)`` in-plane rotation in degrees (positive = counter-clockwise on screen,
            i.e. the matrix ``[[cos, sin], [-sin, cos]]`` in x-right / y-down pixel coordinates,
            as ``cv2.getRotationMatrix2D`` builds it).
        scale: ``(T,)`` zoom factor.
        shift: ``(T, 2)`` translation in pixels (added after rotating/scaling about the centre).
        center: ``(2,)`` rotation centre in source pixels.
        frame_size: ``(width, height)`` of the frames.
    """

    affine: np.ndarray
    angle_deg: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    center: np.ndarray
    frame_size: tuple[int, int]

    def relative(self, t: int, ref: int = 0) -> np.ndarray:
        """``(2, 3)`` transform from frame ``ref`` pixels to frame ``t`` pixels."""
        a = np.vstack([self.affine[t], [0, 0, 1]])
        b = np.vstack([self.affine[ref], [0, 0, 1]])
        return (a @ np.linalg.inv(b))[:2]


def astronaut_image() -> np.ndarray:
    """The 512x512 RGB uint8 astronaut photo."""
    from skimage import data

    return data.astronaut()


def astronaut_clip(
    n_frames: int = 40,
    motion: str = "affine",
    size: int | tuple[int, int] = 512,
    *,
    noise: float = 2.0,
    face_scale: float = 1.0,
    position: tuple[float, float] | None = None,
    max_shift: float = 4.0,
    max_angle: float = 2.0,
    max_zoom: float = 0.03,
    seed: int = 0,
    background: int | None = None,
) -> tuple[list[np.ndarray], ClipTruth]:
    """A short clip of the astronaut photo with known motion.

    Args:
        n_frames: number of frames.
        motion: ``"affine"`` (smooth translation, rotation and zoom, one sine period each with
            different phases) or ``"static"`` (no motion; only the per-frame noise changes).
        size: frame size, ``S`` (square) or ``(width, height)``.
        noise: standard deviation of the Gaussian noise added per frame (grey levels), so that a
            still image still makes the detector jitter.
        face_scale: zoom of the photo in the frame (e.g. 0.25 for a small face in a big frame).
        position: where the photo's centre goes in the frame (default: frame centre).
        max_shift, max_angle, max_zoom: motion amplitudes (pixels, degrees, relative zoom).
        seed: noise seed.
        background: grey level around the photo; default: the photo's border is mirrored when
            the photo fills the frame (``face_scale >= 1`` and a 512x512 frame), else grey 110
            (mirroring would put more faces in a large frame).

    Returns:
        ``(frames, truth)``: RGB uint8 frames ``(H, W, 3)`` and the :class:`ClipTruth`.
    """
    import cv2

    src = astronaut_image()
    w, h = (size, size) if isinstance(size, int) else size
    cx, cy = (w / 2, h / 2) if position is None else position
    center = np.array([src.shape[1] / 2, src.shape[0] / 2])
    t = np.arange(n_frames) / max(n_frames, 1)
    if motion == "affine":
        ang = max_angle * np.sin(2 * np.pi * t)
        zoom = 1.0 + max_zoom * np.sin(2 * np.pi * t + 1.0)
        shift = np.stack([max_shift * np.sin(2 * np.pi * t + 2.0),
                          max_shift * 0.75 * np.sin(2 * np.pi * t + 0.5)], axis=1)
    elif motion == "static":
        ang = np.zeros(n_frames)
        zoom = np.ones(n_frames)
        shift = np.zeros((n_frames, 2))
    else:
        raise ValueError(f"unknown motion {motion!r}")
    fills = face_scale >= 1.0 and (w, h) == (src.shape[1], src.shape[0])
    if background is None and fills:
        border = dict(borderMode=cv2.BORDER_REFLECT)
    else:
        g = 110 if background is None else int(background)
        border = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=(g, g, g))
    rng = np.random.default_rng(seed)
    frames, affs = [], []
    for i in range(n_frames):
        m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(ang[i]),
                                    float(zoom[i] * face_scale))
        m[:, 2] += np.array([cx, cy]) - center + shift[i]
        img = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, **border)
        if noise > 0:
            img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        frames.append(img)
        affs.append(m)
    truth = ClipTruth(affine=np.array(affs), angle_deg=ang, scale=zoom, shift=shift, center=center,
                      frame_size=(w, h))
    return frames, truth


def write_clip(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 25.0) -> Path:
    """Write frames to an mp4 (near-lossless H.264) with talkinghead.media; returns the path."""
    from talkinghead.media import write_video

    return write_video(path, frames, fps, crf=12, preset="veryfast")
