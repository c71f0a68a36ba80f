"""Render deformed lower-face meshes into conditioning images (:class:`RenderedFrames`).

Backends: ``"pytorch3d"`` (the reference; ``MeshRasterizer``), ``"fast"`` (a vectorised NumPy
z-buffer with the same sampling rules, for the CPU; see :mod:`.fast_backend`) and ``"auto"``
(PyTorch3D on CUDA, fast on the CPU).
"""

from __future__ import annotations

import numpy as np

from ..face.deform import DeformedMeshes, deform_lower_face, pingpong_indices  # noqa: F401
from ..face.mesh import REGION_MOUTH, REGION_TEETH_LOWER, REGION_TEETH_UPPER
from ..face.types import FaceTrack
from .cameras import crop_boxes
from .types import CropBox, RenderedFrames

#: Default conditioning resolution (pixels).
DEFAULT_RESOLUTION = 128
BACKENDS = ("auto", "pytorch3d", "fast")


def resolve_device(device=None) -> str:
    """``None``/``"auto"`` -> ``"cuda"`` if available else ``"cpu"``; otherwise as given."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def resolve_backend(backend: str, device: str) -> str:
    """``"auto"`` -> ``"pytorch3d"`` on CUDA, ``"fast"`` on the CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown render backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "pytorch3d" if str(device).startswith("cuda") else "fast"
    return backend


def masks_from_regions(region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region ids ``(n, H, W)`` -> ``(face_mask (n,H,W), mouth_mask (n,H,W), teeth_mask
    (n,H,W,2))``, float32 in {0, 1}. The mouth opening is where the mouth interior or the teeth
    show."""
    face = (region > 0).astype(np.float32)
    upper = region == REGION_TEETH_UPPER
    lower = region == REGION_TEETH_LOWER
    mouth = ((region == REGION_MOUTH) | upper | lower).astype(np.float32)
    teeth = np.stack([upper, lower], -1).astype(np.float32)
    return face, mouth, teeth


def _pool(a: np.ndarray, ss: int) -> np.ndarray:
    """Average ``ss x ss`` blocks of ``(n, H*ss, W*ss, ...)`` -> ``(n, H, W, ...)`` float32."""
    n, h, w = a.shape[0], a.shape[1] // ss, a.shape[2] // ss
    return a.reshape((n, h, ss, w, ss) + a.shape[3:]).mean(axis=(2, 4), dtype=np.float32)


def render_frames(
    meshes: DeformedMeshes,
    resolution: int = DEFAULT_RESOLUTION,
    boxes: list[CropBox] | None = None,
    *,
    device: str | None = None,
    backend: str = "auto",
    batch_size: int = 64,
    supersample: int = 1,
) -> RenderedFrames:
    """Render conditioning images for every frame of ``meshes``.

    Args:
        meshes: deformed meshes (:func:`~talkinghead.face.deform.deform_lower_face`).
        resolution: output side in pixels (square crop).
        boxes: crop boxes (one per frame); default :func:`~.cameras.crop_boxes` of the neutral
            face (stable over time).
        device: ``"cpu"``, ``"cuda"`` or ``None``/``"auto"`` (CUDA if available).
        backend: ``"auto"``, ``"pytorch3d"`` or ``"fast"``.
        batch_size: frames per rasterizer call (bounds memory).
        supersample: render at ``supersample`` x the resolution and average blocks: anti-aliased
            surface and masks (fractional at edges); ``region`` takes the sample nearest each
            pixel centre. 1 (default) = one sample per pixel, binary masks.

    Returns:
        :class:`RenderedFrames` (numpy arrays on the CPU).
    """
    n = meshes.n_frames
    ss = int(supersample)
    if ss < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    if boxes is None:
        boxes = crop_boxes(meshes.neutral_vertices, meshes.mouth_width_px)
    if len(boxes) != n:
        raise ValueError(f"got {len(boxes)} crop boxes for {n} frames")
    device = resolve_device(device)
    backend = resolve_backend(backend, device)
    res = resolution * ss
    surface = np.zeros((n, resolution, resolution, 3), np.float32)
    region = np.zeros((n, resolution, resolution), np.uint8)
    face = np.zeros((n, resolution, resolution), np.float32)
    mouth = np.zeros((n, resolution, resolution), np.float32)
    teeth = np.zeros((n, resolution, resolution, 2), np.float32)
    for s in range(0, n, batch_size):
        e = min(n, s + batch_size)
        v = meshes.vertices[s:e]
        if backend == "pytorch3d":
            from .pytorch3d_backend import render_pytorch3d

            surf, reg = render_pytorch3d(v, meshes.faces, meshes.face_region, boxes[s:e], res, device)
        else:
            from .fast_backend import render_fast

            surf, reg = render_fast(v, meshes.faces, meshes.face_region, boxes[s:e], res)
        f, m, t = masks_from_regions(reg)
        if ss > 1:
            surf, f, m, t = _pool(surf, ss), _pool(f, ss), _pool(m, ss), _pool(t, ss)
            reg = reg[:, ss // 2 :: ss, ss // 2 :: ss]
        surface[s:e], region[s:e], face[s:e], mouth[s:e], teeth[s:e] = surf, reg, f, m, t
    return RenderedFrames(
        boxes=list(boxes),
        surface=surface,
        face_mask=face,
        mouth_mask=mouth,
        teeth_mask=teeth,
        region=region,
        frame_index=np.asarray(meshes.frame_index, np.int64),
    )


def render_track(
    track: FaceTrack,
    params: np.ndarray,
    frame_index: np.ndarray | None = None,
    resolution: int = DEFAULT_RESOLUTION,
    *,
    device: str | None = None,
    backend: str = "auto",
) -> RenderedFrames:
    """Deform and render in one call. ``params`` ``(n, 7)``; ``frame_index`` defaults to
    :func:`pingpong_indices` over the track."""
    params = np.asarray(params)
    if frame_index is None:
        frame_index = pingpong_indices(track.n_frames, len(params))
    meshes = deform_lower_face(track, params, frame_index)
    return render_frames(meshes, resolution, device=device, backend=backend)


#: Preview colours per region id (background, skin, lips, mouth interior, upper, lower teeth).
PREVIEW_PALETTE = np.array(
    [[0, 0, 0], [225, 185, 160], [200, 90, 95], [60, 20, 25], [245, 245, 240], [225, 225, 215]], np.float32
) / 255.0


def preview_images(rendered: RenderedFrames) -> np.ndarray:
    """Lambert-shaded colour previews of the renders (region colours, light from the upper
    left front). Returns ``(n, H, W, 3)`` float32 in [0, 1] (0 outside the face)."""
    n = rendered.surface * 2.0 - 1.0  # camera normals: x right, y up, z to the viewer
    light = np.array([-0.35, 0.45, 0.82], np.float32)
    light /= np.linalg.norm(light)
    lambert = np.clip(n @ light, 0.0, 1.0)
    col = PREVIEW_PALETTE[rendered.region] * (0.25 + 0.75 * lambert)[..., None]
    return col * rendered.face_mask[..., None]


def paste_crop(
    frame: np.ndarray, crop_rgb: np.ndarray, alpha: np.ndarray, box: CropBox, opacity: float = 1.0
) -> np.ndarray:
    """Composite a crop-space image back onto its frame.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        crop_rgb: ``(r, r, 3)`` float in [0, 1] (the render of ``box``).
        alpha: ``(r, r)`` float in [0, 1].
        box: the crop box of the render.
        opacity: global opacity multiplier.

    Returns:
        A new ``(H, W, 3)`` uint8 frame.
    """
    import cv2

    r = crop_rgb.shape[0]
    s = box.size / r
    h, w = frame.shape[:2]
    # Only the box's footprint on the frame changes.
    xa, ya = max(int(np.floor(box.x0)), 0), max(int(np.floor(box.y0)), 0)
    xb, yb = min(int(np.ceil(box.x0 + box.size)) + 1, w), min(int(np.ceil(box.y0 + box.size)) + 1, h)
    out = frame.copy()
    if xb <= xa or yb <= ya:
        return out
    # crop pixel (u, v) covers frame point (x0 + (u + 0.5) s, y0 + (v + 0.5) s); with cv2's
    # pixel-centre convention crop index u maps to frame index x0 + (u + 0.5) s - 0.5 (minus the
    # region-of-interest origin).
    m = np.array([[s, 0, box.x0 + 0.5 * s - 0.5 - xa], [0, s, box.y0 + 0.5 * s - 0.5 - ya]], np.float64)
    rgba = np.concatenate([crop_rgb, alpha[..., None]], -1).astype(np.float32)
    warped = cv2.warpAffine(rgba, m, (xb - xa, yb - ya), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    a = np.clip(warped[..., 3:4] * opacity, 0, 1)
    roi = out[ya:yb, xa:xb].astype(np.float32)
    out[ya:yb, xa:xb] = np.clip(roi * (1 - a) + warped[..., :3] * 255.0 * a + 0.5, 0, 255).astype(np.uint8)
    return out
