"""The refiner's input: the region it rebuilds (the hole) and the packed conditioning.

Used to run the refiner (:mod:`.infer`), to composite its crops (:mod:`.composite`) and to train
it (:mod:`.training`). Conventions: crops ``(R, R, 3)`` uint8 RGB; the conditioning packed as
``(R, R, 8)`` uint8 (:func:`pack_condition`); network tensors float in [-1, 1] (see :mod:`.model`).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..face.deform import MouthRig
from ..face.mesh import REGION_LIPS
from ..render.types import RenderedFrames
from .model import RENDER_CHANNELS

#: Vertices whose rig neutralisation weight exceeds this may move when the mouth is re-animated;
#: their hull (original and deformed) is the region the refiner synthesises.
CHANGE_WEIGHT = 0.25
#: Dilation of the hole, as a fraction of the crop side.
HOLE_DILATE = 0.035
#: Width of the blending ramp, as a fraction of the crop side.
FEATHER = 0.04
#: How far outside the face's silhouette (source and new, united) the blend may reach, as a
#: fraction of the crop side (:func:`~talkinghead.refine.composite.blend.limit_alpha`): enough for the
#: few pixels by which the tracked outline misses the real jaw edge, little enough that the
#: background beside the jaw stays the frame's.
SILHOUETTE_MARGIN = 0.02


def changeable_vertices(rig: MouthRig) -> np.ndarray:
    """Local skin-vertex indices that re-animation may move (rig weight > CHANGE_WEIGHT)."""
    return np.flatnonzero(rig.w_expr > CHANGE_WEIGHT)


# ------------------------------------------------------------------------------------------
# Conditioning packing


#: Packed-conditioning channels that mirroring treats specially: the x component of the surface
#: normals (negated by a left-right mirror) and the face coverage (where normals exist).
COND_NORMAL_X = 0
COND_FACE = 3
#: First conditioning channel in the generator input (after the masked crop and the hole:
#: :func:`network_input`); the discriminator's condition is the input's first
#: ``INPUT_COND + RENDER_CHANNELS`` channels.
INPUT_COND = 4


def pack_condition(rendered: RenderedFrames) -> np.ndarray:
    """Rendered frames -> ``(n, R, R, 8)`` uint8: surface (3), face, lips, mouth, teeth (2)."""
    n, r = len(rendered.boxes), rendered.resolution
    out = np.zeros((n, r, r, RENDER_CHANNELS), np.uint8)
    out[..., :3] = np.clip(np.rint(rendered.surface * 255), 0, 255)
    out[..., 3] = np.rint(np.clip(rendered.face_mask, 0, 1) * 255)
    if rendered.region is not None and rendered.region.size:
        out[..., 4] = (rendered.region == REGION_LIPS) * 255
    out[..., 5] = np.rint(np.clip(rendered.mouth_mask, 0, 1) * 255)
    out[..., 6:8] = np.rint(np.clip(rendered.teeth_mask, 0, 1) * 255)
    return out


def resize_condition(cond: np.ndarray, resolution: int) -> np.ndarray:
    """Resample packed conditioning ``(n, r, r, C)`` uint8 to ``resolution`` (bilinear)."""
    if cond.shape[1] == resolution:
        return cond
    out = np.empty((len(cond), resolution, resolution, cond.shape[-1]), np.uint8)
    for k, c in enumerate(cond):
        for s in range(0, c.shape[-1], 4):
            out[k, ..., s:s + 4] = cv2.resize(c[..., s:s + 4], (resolution, resolution),
                                              interpolation=cv2.INTER_LINEAR).reshape(resolution, resolution, -1)
    return out


def network_input(crop: torch.Tensor, hole: torch.Tensor, cond: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """Assemble the generator input.

    Args:
        crop: ``(B, 3, R, R)`` in [-1, 1].
        hole: ``(B, 1, R, R)`` in {0, 1}.
        cond: ``(B, 8, R, R)`` in [0, 1].
        refs: ``(B, 3K, R, R)`` in [-1, 1].

    Returns:
        ``(B, 12 + 3K, R, R)``.
    """
    return torch.cat([crop * (1 - hole), hole, cond * 2 - 1, refs], dim=1)
