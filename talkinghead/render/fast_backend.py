"""A vectorised NumPy z-buffer rasterizer that reproduces PyTorch3D's sampling (CPU backend).

PyTorch3D's CPU rasterizer has no coarse binning: it tests every face at every pixel (cost ~
pixels x faces). This backend only visits the pixels inside each triangle's bounding box, for all
triangles of all frames at once:

1. project to crop pixels (same mapping as :func:`~.cameras.crop_cameras`: render pixel
   ``(i, j)`` samples the crop point ``(j + 0.5, i + 0.5)``);
2. enumerate (triangle, pixel) pairs inside each bounding box (``np.repeat`` over box sizes);
3. barycentric coordinates from per-triangle affine coefficients; keep pixels strictly inside
   (as PyTorch3D with ``blur_radius=0``), skip degenerate triangles;
4. z-buffer: for each pixel the pair with the smallest interpolated z wins (one sort).

It returns the same ``(pix_to_face, bary_coords)`` as the PyTorch3D backend and uses the same
shader (:func:`~.pytorch3d_backend.shade`), so both backends differ only where a pixel centre
lies within float round-off of an edge or two surfaces have equal depth.
"""

from __future__ import annotations

import numpy as np
import torch

from .cameras import to_crop_pixels
from .types import CropBox


#: Frames rasterized together (bounds the size of the per-pair temporaries).
CHUNK_FRAMES = 8


def rasterize_fast(
    vertices: np.ndarray, faces: np.ndarray, boxes: list[CropBox], resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize a batch of same-topology meshes in their crop boxes.

    Args:
        vertices: image-space vertices ``(N, V, 3)`` pixels (z smaller = closer).
        faces: ``(F, 3)`` int.
        boxes: one crop box per frame.
        resolution: render side in pixels.

    Returns:
        ``pix_to_face`` ``(N, H, W)`` int64 (packed index ``b * F + f``; -1 = empty) and
        ``bary`` ``(N, H, W, 3)`` float32 (barycentric weights of the face's three vertices).
    """
    n, res = vertices.shape[0], int(resolution)
    faces = np.asarray(faces, np.int64)
    p = to_crop_pixels(vertices, boxes, res)  # (N, V, 3) float64
    pix_to_face = np.full((n, res, res), -1, np.int64)
    bary = np.zeros((n, res, res, 3), np.float32)
    for s in range(0, n, CHUNK_FRAMES):
        e = min(n, s + CHUNK_FRAMES)
        p2f, b = _rasterize_chunk(p[s:e], faces, res)
        p2f[p2f >= 0] += s * len(faces)
        pix_to_face[s:e] = p2f
        bary[s:e] = b
    return pix_to_face, bary


def _rasterize_chunk(p: np.ndarray, faces: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
    n, nf = p.shape[0], len(faces)
    tri = p[:, faces].reshape(n * nf, 3, 3)
    x0, y0, z0 = tri[:, 0, 0], tri[:, 0, 1], tri[:, 0, 2]
    x1, y1, z1 = tri[:, 1, 0], tri[:, 1, 1], tri[:, 1, 2]
    x2, y2, z2 = tri[:, 2, 0], tri[:, 2, 1], tri[:, 2, 2]
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    xmin = np.ceil(np.minimum(np.minimum(x0, x1), x2) - 0.5).clip(0, res)
    xmax = np.floor(np.maximum(np.maximum(x0, x1), x2) - 0.5).clip(-1, res - 1)
    ymin = np.ceil(np.minimum(np.minimum(y0, y1), y2) - 0.5).clip(0, res)
    ymax = np.floor(np.maximum(np.maximum(y0, y1), y2) - 0.5).clip(-1, res - 1)
    bw = (xmax - xmin + 1).astype(np.int32)
    bh = (ymax - ymin + 1).astype(np.int32)
    ok = (bw > 0) & (bh > 0) & (np.abs(area) > 1e-12)
    ids = np.nonzero(ok)[0]
    pix_to_face = np.full(n * res * res, -1, np.int64)
    bary_out = np.zeros((n * res * res, 3), np.float32)
    if len(ids) == 0:
        return pix_to_face.reshape(n, res, res), bary_out.reshape(n, res, res, 3)
    bw, bh, xmin, ymin = bw[ids], bh[ids], xmin[ids], ymin[ids]
    # Affine barycentrics in box-local pixel-centre coordinates (u, v) = (px - xmin, py - ymin):
    # w0 = a0 * u + b0 * v + c0, w1 likewise (float64 coefficients, float32 per pair).
    inv = 1.0 / area[ids]
    cx0, cy0 = xmin + 0.5, ymin + 0.5
    x0, y0, x1, y1, x2, y2 = (a[ids] for a in (x0, y0, x1, y1, x2, y2))
    a0 = (y1 - y2) * inv
    b0 = (x2 - x1) * inv
    c0 = ((x1 - cx0) * (y2 - cy0) - (x2 - cx0) * (y1 - cy0)) * inv
    a1 = (y2 - y0) * inv
    b1 = (x0 - x2) * inv
    c1 = ((x2 - cx0) * (y0 - cy0) - (x0 - cx0) * (y2 - cy0)) * inv
    counts = bw * bh
    t = np.repeat(np.arange(len(ids), dtype=np.int32), counts)
    starts = np.cumsum(counts) - counts
    off = np.arange(int(counts.sum()), dtype=np.int32) - starts[t].astype(np.int32)
    bwt = bw[t]
    v = off // bwt
    u = off - v * bwt
    uf, vf = u.astype(np.float32), v.astype(np.float32)
    w0 = a0.astype(np.float32)[t] * uf + b0.astype(np.float32)[t] * vf + c0.astype(np.float32)[t]
    w1 = a1.astype(np.float32)[t] * uf + b1.astype(np.float32)[t] * vf + c1.astype(np.float32)[t]
    w2 = 1.0 - w0 - w1
    inside = np.nonzero((w0 > 0) & (w1 > 0) & (w2 > 0))[0]
    t, u, v, w0, w1, w2 = t[inside], u[inside], v[inside], w0[inside], w1[inside], w2[inside]
    g = ids[t]  # chunk-packed face index (frame * F + face)
    z = w0 * z0[g] + w1 * z1[g] + w2 * z2[g]
    key = (g // nf) * (res * res) + (ymin[t].astype(np.int64) + v) * res + (xmin[t].astype(np.int64) + u)
    # z-buffer: sort by (pixel, depth) and keep the first pair of each pixel.
    if len(z):
        zmin, zmax = z.min(), z.max()
        zq = ((z - zmin) * ((2**31 - 1) / max(zmax - zmin, 1e-12))).astype(np.int64)
        order = np.argsort((key << 31) | zq)
        ks = key[order]
        first = np.ones(len(ks), bool)
        first[1:] = ks[1:] != ks[:-1]
        win = order[first]
        pix_to_face[key[win]] = g[win]
        bary_out[key[win]] = np.stack([w0[win], w1[win], w2[win]], 1)
    return pix_to_face.reshape(n, res, res), bary_out.reshape(n, res, res, 3)


def render_fast(vertices, faces, face_region, boxes, resolution):
    """Rasterize with :func:`rasterize_fast` and shade with the PyTorch3D backend's shader.
    Returns ``(surface (N, H, W, 3) float32, region (N, H, W) uint8)`` numpy arrays."""
    from .pytorch3d_backend import shade

    p2f, bary = rasterize_fast(vertices, faces, boxes, resolution)
    v = torch.from_numpy(np.ascontiguousarray(vertices, dtype=np.float32))
    f = torch.from_numpy(np.asarray(faces, np.int64))
    r = torch.from_numpy(np.asarray(face_region, np.int64))
    surface, region = shade(torch.from_numpy(p2f)[..., None], torch.from_numpy(bary)[..., None, :], v, f, r)
    return surface.numpy(), region.to(torch.uint8).numpy()
