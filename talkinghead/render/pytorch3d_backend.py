"""PyTorch3D rasterization of the deformed lower-face meshes (the reference backend).

One :class:`pytorch3d.structures.Meshes` batch for all frames, orthographic crop cameras
(:func:`~talkinghead.render.cameras.crop_cameras`), ``MeshRasterizer`` with one face per pixel,
no blur, no back-face culling, then :class:`RegionNormalShader` turns fragments into the
conditioning images.
"""

from __future__ import annotations

import numpy as np
import torch

from .types import CropBox


class RegionNormalShader(torch.nn.Module):
    """Fragments -> surface-normal image and region-id image (a minimal PyTorch3D shader).

    ``forward(pix_to_face, bary_coords, vertex_normals, faces, face_region)``:

    - ``pix_to_face``: ``(N, H, W, K)`` packed face index per pixel (frame ``b``'s face ``f`` is
      ``b * F + f``; -1 = empty); only the nearest face (``K = 0``) is used.
    - ``bary_coords``: ``(N, H, W, K, 3)``.
    - ``vertex_normals``: ``(N, V, 3)`` image-space unit normals (x right, y down, z away).
    - ``faces``: ``(F, 3)``; ``face_region``: ``(F,)`` region ids.

    Returns ``(surface, region)``: ``surface`` ``(N, H, W, 3)`` float32, camera normals (x right,
    y up, z towards the viewer) mapped to [0, 1], 0 where empty; ``region`` ``(N, H, W)`` int64
    (0 = empty). Only covered pixels are shaded (no ``(N, H, W, 3, 3)`` temporaries).
    """

    def forward(self, pix_to_face, bary_coords, vertex_normals, faces, face_region):
        n_frames, h, w = pix_to_face.shape[:3]
        n_faces = faces.shape[0]
        p2f = pix_to_face[..., 0].reshape(-1)
        hit = torch.nonzero(p2f >= 0).squeeze(1)
        packed = p2f[hit]
        frame = packed // n_faces
        face = packed - frame * n_faces
        bary = bary_coords[..., 0, :].reshape(-1, 3)[hit].to(vertex_normals.dtype)
        n_verts = vertex_normals.shape[1]
        vidx = faces[face] + (frame * n_verts)[:, None]  # (M, 3) into the flattened normals
        vn = vertex_normals.reshape(-1, 3)[vidx]  # (M, 3 verts, 3)
        nrm = torch.nn.functional.normalize(torch.bmm(bary[:, None, :], vn)[:, 0], dim=-1)
        flip = torch.tensor([0.5, -0.5, -0.5], dtype=nrm.dtype, device=nrm.device)
        surface = torch.zeros(n_frames * h * w, 3, dtype=torch.float32, device=p2f.device)
        surface[hit] = (nrm * flip + 0.5).to(torch.float32)
        region = torch.zeros(n_frames * h * w, dtype=torch.int64, device=p2f.device)
        region[hit] = face_region[face]
        return surface.reshape(n_frames, h, w, 3), region.reshape(n_frames, h, w)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals, oriented like the face winding (towards the camera for the
    asset's faces). ``vertices`` ``(N, V, 3)``, ``faces`` ``(F, 3)`` -> ``(N, V, 3)`` unit."""
    v0, v1, v2 = (vertices[:, faces[:, i]] for i in range(3))
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)
    vn = torch.zeros_like(vertices)
    for i in range(3):
        vn.index_add_(1, faces[:, i], fn)
    return torch.nn.functional.normalize(vn, dim=-1)


def shade(pix_to_face, bary_coords, vertices, faces, face_region):
    """Shared shading step of both backends: vertex normals, then :class:`RegionNormalShader`.
    ``vertices`` ``(N, V, 3)`` image space. Returns ``(surface, region)`` tensors."""
    return RegionNormalShader()(pix_to_face, bary_coords, vertex_normals(vertices, faces), faces, face_region)


def rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    boxes: list[CropBox],
    resolution: int,
    device: str | torch.device = "cpu",
    bin_size: int | None = None,
    max_faces_per_bin: int | None = None,
):
    """Rasterize a batch of same-topology meshes in their crop boxes.

    Args:
        vertices: image-space vertices, ``(N, V, 3)`` pixels.
        faces: ``(F, 3)`` int.
        boxes: one crop box per frame.
        resolution: render side in pixels.
        device: torch device.
        bin_size: PyTorch3D bin size; ``None`` = PyTorch3D's heuristic on GPU and naive (0) on
            the CPU (where coarse binning is not implemented).

    Returns:
        ``(pix_to_face (N, H, W, 1) int64, bary_coords (N, H, W, 1, 3) float32)`` tensors on
        ``device``; ``pix_to_face`` indexes packed faces (``b * F + f``), -1 = empty.
    """
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    from .cameras import crop_cameras

    device = torch.device(device)
    v = torch.as_tensor(np.ascontiguousarray(vertices), dtype=torch.float32, device=device)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.int64, device=device)
    z_offset = float(1.0 - v[..., 2].min().item()) if v.numel() else 1.0
    cams = crop_cameras(boxes, resolution, z_offset, device=device)
    if bin_size is None and device.type == "cpu":
        bin_size = 0
    settings = RasterizationSettings(
        image_size=resolution,
        blur_radius=0.0,
        faces_per_pixel=1,
        bin_size=bin_size,
        max_faces_per_bin=max_faces_per_bin,
        cull_backfaces=False,
        perspective_correct=False,
    )
    meshes = Meshes(verts=v, faces=f.expand(v.shape[0], -1, -1))
    frags = MeshRasterizer(cameras=cams, raster_settings=settings)(meshes)
    return frags.pix_to_face, frags.bary_coords


def render_pytorch3d(vertices, faces, face_region, boxes, resolution, device="cpu", bin_size=None):
    """Rasterize and shade with PyTorch3D. Returns ``(surface, region)`` numpy arrays:
    ``(N, H, W, 3)`` float32 and ``(N, H, W)`` uint8."""
    device = torch.device(device)
    p2f, bary = rasterize(vertices, faces, boxes, resolution, device, bin_size)
    v = torch.as_tensor(np.ascontiguousarray(vertices), dtype=torch.float32, device=device)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.int64, device=device)
    r = torch.as_tensor(np.asarray(face_region), dtype=torch.int64, device=device)
    surface, region = shade(p2f, bary, v, f, r)
    return surface.cpu().numpy(), region.to(torch.uint8).cpu().numpy()
