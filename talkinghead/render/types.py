"""Typed result of the Render stage: conditioning images for the refiner."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CropBox:
    """A square crop of the frame around the lower face.

    ``x0, y0``: top-left corner in frame pixels (may lie outside the frame; out-of-frame pixels are
    padded); ``size``: side length in frame pixels. The crop is resampled to the render resolution.
    """

    x0: float
    y0: float
    size: float


@dataclass
class RenderedFrames:
    """Conditioning images for a batch of frames, all at ``resolution x resolution``.

    Attributes:
        boxes: crop box of each frame, length ``n``.
        surface: surface encoding of the deformed lower-face mesh, shape ``(n, H, W, 3)``, float32:
            camera-space normals mapped to [0, 1] (0 where no face).
        face_mask: lower-face coverage, shape ``(n, H, W)``, float32 in [0, 1].
        mouth_mask: the opening inside the inner-lip contour, shape ``(n, H, W)``, float32 in [0, 1];
            all zero when the lips are closed.
        teeth_mask: visible upper (channel 0) and lower (channel 1) teeth proxies inside the mouth
            opening, shape ``(n, H, W, 2)``, float32 in [0, 1].
        region: region id per pixel (0 background, 1 skin, 2 lips, 3 mouth interior, 4 upper
            teeth, 5 lower teeth; :data:`talkinghead.face.mesh.REGIONS`), shape ``(n, H, W)``,
            uint8; empty ``(0, 0, 0)`` if not produced.
        frame_index: source-video frame of each rendered frame, ``(n,)`` int64 (empty if
            unknown).
    """

    boxes: list[CropBox]
    surface: np.ndarray
    face_mask: np.ndarray
    mouth_mask: np.ndarray
    teeth_mask: np.ndarray
    region: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))
    frame_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def resolution(self) -> int:
        return int(self.surface.shape[1])
