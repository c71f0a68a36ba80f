"""Crop boxes around the lower face and orthographic cameras matching MediaPipe's image space.

Image space (as :class:`~talkinghead.face.types.FaceTrack`): x right, y down, z away from the
camera, pixels. A crop box maps frame pixel ``(x, y)`` to crop pixel
``((x - x0) * res / size, (y - y0) * res / size)``; pixel ``(i, j)`` of a render covers crop
pixel centre ``(j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

import numpy as np

from .types import CropBox

#: Side of the crop relative to the larger extent of the neutral lower face (room for the jaw
#: opening below the chin and a little context around the cheeks).
BOX_MARGIN = 1.3
#: Temporal smoothing of the box centre (Gaussian sigma, in frames).
BOX_SMOOTH_SIGMA = 3.0


def crop_boxes(
    neutral_vertices: np.ndarray,
    mouth_width_px: np.ndarray | None = None,
    *,
    margin: float = BOX_MARGIN,
    smooth_sigma: float = BOX_SMOOTH_SIGMA,
) -> list[CropBox]:
    """Square crop boxes around the lower face, stable over time.

    Args:
        neutral_vertices: the neutral closed lower face posed in each frame, ``(n, V, 3)``
            pixels (:attr:`DeformedMeshes.neutral_vertices`): the box follows the head, not
            the mouth motion.
        mouth_width_px: ``(n,)``; the box is extended downwards by one mouth width so an open
            jaw stays inside. Default: estimated from the vertex extent.
        margin: side = ``margin * max(width, height)`` of the (extended) extent.
        smooth_sigma: Gaussian smoothing of the box centre over frames; the side is the median
            over all frames (constant).

    Returns:
        One :class:`CropBox` per frame.
    """
    v = np.asarray(neutral_vertices, np.float64)
    lo = v[..., :2].min(1)
    hi = v[..., :2].max(1)
    if mouth_width_px is None:
        mouth_width_px = (hi[:, 0] - lo[:, 0]) / 2.5
    hi = hi.copy()
    hi[:, 1] += 0.5 * np.asarray(mouth_width_px, np.float64)
    centre = (lo + hi) / 2
    side = np.median(np.max(hi - lo, axis=1)) * margin
    if smooth_sigma > 0 and len(centre) > 1:
        from scipy.ndimage import gaussian_filter1d

        centre = gaussian_filter1d(centre, smooth_sigma, axis=0, mode="nearest")
    return [CropBox(float(cx - side / 2), float(cy - side / 2), float(side)) for cx, cy in centre]


def boxes_array(boxes: list[CropBox]) -> np.ndarray:
    """``(n, 3)`` float64 array of ``(x0, y0, size)``."""
    return np.array([[b.x0, b.y0, b.size] for b in boxes], np.float64).reshape(-1, 3)


def to_crop_pixels(vertices: np.ndarray, boxes: list[CropBox], resolution: int) -> np.ndarray:
    """Image-space vertices ``(n, V, 3)`` -> crop pixel coordinates ``(n, V, 3)`` (x right, y down;
    z scaled by the same factor, still smaller = closer), float64."""
    b = boxes_array(boxes)
    s = resolution / b[:, 2]
    out = np.asarray(vertices, np.float64) * s[:, None, None]
    out[..., 0] -= (b[:, 0] * s)[:, None]
    out[..., 1] -= (b[:, 1] * s)[:, None]
    return out


def crop_cameras(boxes: list[CropBox], resolution: int, z_offset: float, device="cpu"):
    """PyTorch3D orthographic cameras (one per box) that map image-space points (pixels, x right,
    y down, z away) onto a ``resolution``-pixel square render of the box.

    PyTorch3D's NDC has +X left, +Y up, +Z into the screen; the view rotation
    ``R = diag(-1, -1, 1)`` (180 degrees about z) turns image space into that frame, and the
    NDC projection ``ndc = 2 * (x_view + x0) / size + 1`` (per axis) maps the box onto [-1, 1], so
    render pixel ``(i, j)`` samples frame point ``(x0 + (j + 0.5) * size / res, y0 + (i + 0.5) *
    size / res)``. ``z_offset`` is added to z so that all geometry lies in front of the camera
    (z > 0); depth order is unchanged (smaller z = closer, as in MediaPipe).

    Returns :class:`pytorch3d.renderer.OrthographicCameras` (``in_ndc=True``).
    """
    import torch
    from pytorch3d.renderer import OrthographicCameras

    b = torch.tensor(boxes_array(boxes), dtype=torch.float32)
    f = 2.0 / b[:, 2]
    n = len(boxes)
    rot = torch.diag(torch.tensor([-1.0, -1.0, 1.0]))
    return OrthographicCameras(
        focal_length=torch.stack([f, f], 1),
        principal_point=torch.stack([1 + b[:, 0] * f, 1 + b[:, 1] * f], 1),
        R=rot.expand(n, 3, 3),
        T=torch.tensor([[0.0, 0.0, float(z_offset)]]).expand(n, 3),
        in_ndc=True,
        device=device,
    )
