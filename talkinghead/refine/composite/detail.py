"""The source frame's fine skin detail, carried onto the rebuilt lower face.

The refiner works on a ``R``-pixel crop (192) and draws skin smoother than it is; when the face is
larger than the crop, upscaling the crop back into the frame loses every frequency above the
crop's Nyquist limit as well. The frame being re-animated has exactly the detail that is missing,
on the same skin: stubble, pores, freckles, fine lines. This module moves that detail (the
luminance minus its Gaussian blur) with the skin, from where each point of the lower face is in the
source frame to where the deformed mesh puts it, and adds it inside the blended region, on skin
only: near the lips and the mouth opening (source and new) the source's detail belongs to another
mouth and is left out.

Geometry: crop pixel conventions of :mod:`talkinghead.refine.composite.blend`.

* :func:`polygon_mask`, :func:`lips_mask` - a contour's inside; the lips and the mouth opening of
  a lower face, dilated.
* :func:`backward_flow` - for each crop pixel of the new face, where that skin is in the source.
* :func:`move_with_skin` - a source crop moved onto the new face by that flow.
* :func:`detail_weight` - where detail is added (skin of the blended region), in [0, 1].
* :func:`high_pass` - luminance detail of an image above a Gaussian scale.
* :func:`add_detail` - warp the source frame's detail and add it to the output frame.
* :func:`upper_band_weight`, :func:`keep_upper_band` - the skin between the nose and the upper
  lip (a moustache) taken whole from the source frame, moved with the skin.

The refiner has seen no moustache in training and erases one (a painted portrait's moustache
vanished entirely); the skin above the upper lip moves little while speaking and only with the
upper lip, so it is taken from the source frame itself (at its own resolution, after the blend),
moved by the mesh like the detail, with the lips of both faces left out (the lip line stays the
refiner's: its shape changes).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from ...face.mesh import LowerFaceMesh
from ...render.types import CropBox
from .blend import frame_rect, warp_to_frame

#: Detail finer than this Gaussian scale, in crop pixels (at least one frame pixel), is carried:
#: about the band a crop cannot hold (above its Nyquist limit) when the face is larger than the
#: crop, which is where the difference is most visible. Twice as coarse (1 crop pixel) also carried
#: the edges of expression folds (a smile's nasolabial fold on a neutral mouth, seen on a 1080p
#: clip) and cost twice as much in the pessimistic ``benchmarks/bench_detail.py`` bound (SSIM
#: -0.004 / -0.007 instead of -0.002 / -0.003).
DETAIL_SIGMA = 0.5
#: Dilation of the lips (and mouth opening) left without source detail, fraction of the crop side.
LIP_PAD = 0.04
#: Blur of the weight's edges, fraction of the crop side.
WEIGHT_SOFTEN = 0.01
#: The band kept above the upper lip reaches this far beyond each mouth corner (fraction of the
#: mouth's width), up to the top of the rebuilt region.
UPPER_BAND_SIDE = 0.15
#: The lips left out of that band: dilation of their outer contour, fraction of the crop side.
UPPER_BAND_LIP_PAD = 0.01
#: Blur of the band's edges, fraction of the crop side.
UPPER_BAND_SOFTEN = 0.015


def polygon_mask(points: np.ndarray, loop: np.ndarray, resolution: int, pad_px: float, *,
                 outline: bool = False) -> np.ndarray:
    """The region inside a closed loop of vertices, dilated.

    Args:
        points: ``(V, >=2)`` crop-pixel positions of the lower-face vertices (local indices).
        loop: ``(K,)`` vertex indices of the closed contour.
        resolution: crop side.
        pad_px: dilation radius in crop pixels.
        outline: also draw the contour itself (so that a loop closed flat, such as shut lips,
            still covers its line).

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1}.
    """
    p = np.round((np.asarray(points, np.float64)[loop, :2] - 0.5) * 16).astype(np.int32)
    m = np.zeros((resolution, resolution), np.uint8)
    cv2.fillPoly(m, [p], 1, lineType=cv2.LINE_8, shift=4)
    if outline:
        cv2.polylines(m, [p], True, 1, lineType=cv2.LINE_8, shift=4)
    k = int(round(pad_px))
    if k > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return m.astype(np.float32)


def lips_mask(points: np.ndarray, mesh: LowerFaceMesh, resolution: int, pad_px: float) -> np.ndarray:
    """The region inside the outer lip contour (lips and mouth opening), dilated
    (:func:`polygon_mask`, same arguments but the topology).

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1}.
    """
    loop = np.concatenate([mesh.outer_lip_upper, mesh.outer_lip_lower[::-1]])
    return polygon_mask(points, loop, resolution, pad_px)


def backward_flow(source_points: np.ndarray, new_points: np.ndarray, resolution: int) -> np.ndarray:
    """Displacement of the skin from the source face to the new one, at the new face's pixels.

    The per-vertex displacement ``new - source`` interpolated linearly (Delaunay triangulation of
    the new positions); zero outside their convex hull. The source position of crop pixel
    ``(i, j)`` of the new face is ``(j + 0.5, i + 0.5) - flow[i, j]``.

    Args:
        source_points, new_points: ``(V, >=2)`` crop-pixel positions of the same vertices.
        resolution: crop side.

    Returns:
        ``(resolution, resolution, 2)`` float32, crop pixels (x, y).
    """
    new = np.asarray(new_points, np.float64)[:, :2]
    d = new - np.asarray(source_points, np.float64)[:, :2]
    g = np.arange(resolution, dtype=np.float64) + 0.5
    gx, gy = np.meshgrid(g, g)
    return LinearNDInterpolator(new, d, fill_value=0.0)(gx, gy).astype(np.float32)


def move_with_skin(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """A source crop's pixels moved onto the new face: ``img`` sampled (bilinear) at the source
    position of each of the new face's crop pixels.

    Args:
        img: ``(R, R)`` or ``(R, R, C)`` crop of the source frame (any dtype OpenCV remaps).
        flow: ``(R, R, 2)`` :func:`backward_flow`.

    Returns:
        The same shape and dtype; 0 where the source position falls outside the crop.
    """
    r = flow.shape[0]
    g = np.arange(r, dtype=np.float32)
    gx, gy = np.meshgrid(g, g)
    return cv2.remap(img, gx - flow[..., 0], gy - flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)


def detail_weight(
    source_points: np.ndarray,
    new_points: np.ndarray,
    mesh: LowerFaceMesh,
    alpha: np.ndarray,
    flow: np.ndarray,
    *,
    lip_pad: float = LIP_PAD,
    soften: float = WEIGHT_SOFTEN,
) -> np.ndarray:
    """Where the source's detail is added: the blend's alpha, less the lips of either face.

    Args:
        source_points, new_points: ``(V, >=2)`` crop-pixel positions of the lower-face vertices in
            the source frame and in the deformed mesh.
        mesh: the lower-face topology.
        alpha: ``(R, R)`` blending alpha (the rebuilt region).
        flow: :func:`backward_flow` of the two.
        lip_pad, soften: fractions of the crop side (:data:`LIP_PAD`, :data:`WEIGHT_SOFTEN`).

    Returns:
        ``(R, R)`` float32 in [0, 1], <= ``alpha``: 0 on the new face's lips and opening and where
        the source pixel is on the source's lips or opening (both dilated by ``lip_pad``).
    """
    r = alpha.shape[0]
    keep = (1 - lips_mask(new_points, mesh, r, lip_pad * r)) * (
        1 - move_with_skin(lips_mask(source_points, mesh, r, lip_pad * r), flow))
    s = soften * r
    if s > 0:
        keep = cv2.GaussianBlur(keep.astype(np.float32), (0, 0), s)
    return (np.clip(keep, 0, 1) * np.asarray(alpha, np.float32)).astype(np.float32)


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Luminance detail: grey level minus its Gaussian blur (``sigma`` pixels).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.

    Returns:
        ``(H, W)`` float32, grey levels (zero mean locally).
    """
    y = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return y - cv2.GaussianBlur(y, (0, 0), sigma)


def add_detail(
    out_frame: np.ndarray,
    source_frame: np.ndarray,
    box: CropBox,
    weight: np.ndarray,
    flow: np.ndarray,
    *,
    sigma: float = DETAIL_SIGMA,
) -> np.ndarray:
    """Add the source frame's luminance detail, moved with the skin, to the output frame.

    Args:
        out_frame: the blended output ``(H, W, 3)`` uint8 RGB (not modified).
        source_frame: the frame it was made from, same shape.
        box: the crop box of the frame.
        weight: ``(R, R)`` :func:`detail_weight` (0 = nothing added).
        flow: ``(R, R, 2)`` :func:`backward_flow`, crop pixels.
        sigma: detail scale in crop pixels (:data:`DETAIL_SIGMA`); at least one frame pixel.

    Returns:
        A new frame; pixels where the warped weight is 0 are ``out_frame``'s.
    """
    out = np.array(out_frame, copy=True)
    warped = _warp_to_frame(weight, flow, box, out.shape)
    if warped is None:
        return out
    (xa, ya, xb, yb), wf, ff = warped
    h, w = out.shape[:2]
    sig = max(sigma * box.size / weight.shape[0], 1.0)  # frame pixels
    # the source region the moved detail comes from: the rectangle widened by the largest
    # displacement and the blur's reach
    pad = int(np.ceil(np.abs(ff).max() + 3 * sig)) + 2
    sxa, sya = max(xa - pad, 0), max(ya - pad, 0)
    sxb, syb = min(xb + pad, w), min(yb + pad, h)
    moved = _moved(high_pass(source_frame[sya:syb, sxa:sxb], sig), (sxa, sya), (xa, ya, xb, yb), ff)
    inside = wf > 0
    roi = out[ya:yb, xa:xb]
    added = roi[inside].astype(np.float32) + (wf[inside] * moved[inside])[:, None]
    roi[inside] = np.clip(np.rint(added), 0, 255).astype(np.uint8)
    return out


def _warp_to_frame(weight: np.ndarray, flow: np.ndarray, box: CropBox, shape: tuple
                   ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """A crop weight and the skin's flow in the frame: ``(rect, weight, flow)`` over the frame
    rectangle ``rect`` = ``(xa, ya, xb, yb)`` that holds the weight (its values below 1e-3 set to
    0; the flow in frame pixels), or ``None`` where the weight is 0 everywhere."""
    rect = frame_rect(np.asarray(weight) > 0, box, shape)
    if rect is None:
        return None
    wf = warp_to_frame(np.asarray(weight, np.float32), box, rect)
    wf[wf < 1e-3] = 0.0
    if not (wf > 0).any():
        return None
    ff = warp_to_frame(np.asarray(flow, np.float32), box, rect) * (box.size / weight.shape[0])
    return rect, wf, ff


def _moved(img: np.ndarray, origin: tuple[int, int], rect: tuple[int, int, int, int], ff: np.ndarray) -> np.ndarray:
    """``img`` (a part of the frame whose top-left pixel is frame pixel ``origin``) sampled where
    the skin of each pixel of the frame rectangle ``rect`` was (``ff``: :func:`_warp_to_frame`'s
    flow): ``(yb - ya, xb - xa, ...)``."""
    (ox, oy), (xa, ya, xb, yb) = origin, rect
    map_x = (np.arange(xa - ox, xb - ox, dtype=np.float32)[None, :] - ff[..., 0]).astype(np.float32)
    map_y = (np.arange(ya - oy, yb - oy, dtype=np.float32)[:, None] - ff[..., 1]).astype(np.float32)
    return cv2.remap(np.asarray(img), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def upper_band_weight(
    source_points: np.ndarray,
    new_points: np.ndarray,
    mesh: LowerFaceMesh,
    alpha: np.ndarray,
    flow: np.ndarray,
    *,
    side: float = UPPER_BAND_SIDE,
    lip_pad: float = UPPER_BAND_LIP_PAD,
    soften: float = UPPER_BAND_SOFTEN,
) -> np.ndarray:
    """Where the source's own skin replaces the refiner's: above the new face's upper lip.

    The region above the outer upper-lip contour, from ``side`` mouth widths beyond one corner to
    as far beyond the other, up to the top of the crop; less the new face's lips and those of the
    source moved with the skin (both dilated by ``lip_pad``), softened and limited to ``alpha``.

    Args:
        source_points, new_points: ``(V, >=2)`` crop-pixel positions of the lower-face vertices
            in the source frame and in the deformed mesh.
        mesh: the lower-face topology.
        alpha: ``(R, R)`` the rebuilt region's blending alpha (the band stays inside it).
        flow: :func:`backward_flow` of the two.
        side, lip_pad, soften: :data:`UPPER_BAND_SIDE`; fractions of the crop side
            (:data:`UPPER_BAND_LIP_PAD`, :data:`UPPER_BAND_SOFTEN`).

    Returns:
        ``(R, R)`` float32 in [0, 1], <= ``alpha``.
    """
    r = alpha.shape[0]
    lip = np.asarray(new_points, np.float64)[mesh.outer_lip_upper, :2]
    if lip[0, 0] > lip[-1, 0]:
        lip = lip[::-1]  # left corner first
    pad = side * float(lip[-1, 0] - lip[0, 0])
    poly = np.concatenate([[[lip[0, 0] - pad, lip[0, 1]]], lip, [[lip[-1, 0] + pad, lip[-1, 1]],
                                                                [lip[-1, 0] + pad, -1.0], [lip[0, 0] - pad, -1.0]]])
    band = np.zeros((r, r), np.uint8)
    cv2.fillPoly(band, [np.round((poly - 0.5) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    keep = band.astype(np.float32) * (1 - lips_mask(new_points, mesh, r, lip_pad * r)) * (
        1 - move_with_skin(lips_mask(source_points, mesh, r, lip_pad * r), flow))
    if soften > 0:
        keep = cv2.GaussianBlur(keep, (0, 0), soften * r)
    return (np.clip(keep, 0, 1) * np.asarray(alpha, np.float32)).astype(np.float32)


def keep_upper_band(
    out_frame: np.ndarray,
    source_frame: np.ndarray,
    box: CropBox,
    weight: np.ndarray,
    flow: np.ndarray,
) -> np.ndarray:
    """The source frame's own pixels, moved with the skin, mixed into the output frame where
    ``weight`` says (at the frame's resolution: a face larger than the crop keeps its fine detail).

    Args:
        out_frame: the blended output ``(H, W, 3)`` uint8 RGB (not modified).
        source_frame: the frame it was made from, same shape.
        box: the crop box of the frame.
        weight: ``(R, R)`` :func:`upper_band_weight` (0 = the output's pixel).
        flow: ``(R, R, 2)`` :func:`backward_flow`, crop pixels.

    Returns:
        A new frame; pixels where the warped weight is below 1e-3 are ``out_frame``'s.
    """
    out = np.array(out_frame, copy=True)
    warped = _warp_to_frame(weight, flow, box, out.shape)
    if warped is None:
        return out
    (xa, ya, xb, yb), wf, ff = warped
    moved = _moved(source_frame, (0, 0), (xa, ya, xb, yb), ff)
    inside = wf > 0
    roi = out[ya:yb, xa:xb]
    a = wf[inside][:, None]
    roi[inside] = np.clip(np.rint(roi[inside].astype(np.float32) * (1 - a) + moved[inside].astype(np.float32) * a),
                          0, 255).astype(np.uint8)
    return out
