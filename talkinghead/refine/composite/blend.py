"""Crops in and out of the frame, the region to synthesise, and seamless blending back.

Geometry (the same convention as :mod:`talkinghead.render.cameras`): crop pixel ``(i, j)`` of a
``resolution``-pixel crop of box ``(x0, y0, size)`` samples the frame at continuous point
``(x0 + (j + 0.5) * size / res, y0 + (i + 0.5) * size / res)``; frame pixel ``(Y, X)`` has its
centre at continuous point ``(X + 0.5, Y + 0.5)``. Landmarks are continuous points.

* :func:`extract_crops` - frames -> crops (out-of-frame pixels: edge replicated).
* :class:`ScaledFrame` - a frame kept at an integer fraction of its size, for
  :func:`extract_crops` when its crop boxes are much larger than the crops (memory).
* :func:`hole_mask` - the region the refiner must synthesise: union of the convex hulls of the
  original and the deformed mouth/jaw region, dilated.
* :func:`blend_alpha` - feathered alpha inside the hole (zero outside it and near the crop edge).
* :func:`silhouette_mask` - the pixels a projected triangle mesh covers.
* :func:`limit_alpha` - an alpha kept to a silhouette: falls to zero within a few pixels outside
  it (the background beside the jaw stays the frame's).
* :func:`is_grayscale`, :func:`to_grayscale` - a black-and-white source gets a black-and-white
  mouth (the refiner draws in colour).
* :func:`blend` - warp a refined crop back into the frame, colour-match it (mean/std in Lab on a
  ring just outside the alpha), alpha-blend. Pixels where the alpha is zero are exactly the
  input frame's.
* :func:`rgb_to_lab`, :func:`rgb_to_lab_approx` - uint8 RGB to float CIELAB (exact; fast, for
  statistics).
* :func:`ring_colour_transform` - that colour matching alone (:class:`ColourTransform`), to
  apply to the crop before further work on its colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ...render.types import CropBox


def crop_affine(box: CropBox, resolution: int) -> np.ndarray:
    """``(2, 3)`` float64 affine map from frame pixel indices ``(X, Y)`` to crop pixel indices."""
    s = box.size / resolution
    return np.array(
        [[1 / s, 0.0, (0.5 - box.x0) / s - 0.5], [0.0, 1 / s, (0.5 - box.y0) / s - 0.5]], np.float64
    )


@dataclass(frozen=True)
class ScaledFrame:
    """A frame kept at ``1 / factor`` of its size: each ``factor`` x ``factor`` block of pixels
    averaged (the right and bottom rows that do not fill a block are dropped).

    :func:`extract_crops` takes it in place of the full frame and scales the crop box to match, so
    frame continuous point ``(x, y)`` is ``(x / factor, y / factor)`` here. Worth it when the boxes
    are much larger than the crops (a 4K video's face: 200 frames kept to fine-tune on take 5 GB at
    full size): the crops are the same up to resampling, and the frame costs ``factor**2`` less.

    Attributes:
        image: ``(H // factor, W // factor, 3)`` uint8 RGB.
        factor: integer >= 1.
    """

    image: np.ndarray
    factor: int

    @classmethod
    def reduce(cls, frame: np.ndarray, factor: int) -> "ScaledFrame":
        """Average ``factor`` x ``factor`` blocks of ``frame`` ``(H, W, 3)`` uint8 (a copy, also
        for ``factor`` 1)."""
        k = max(int(factor), 1)
        f = np.asarray(frame)
        if k == 1:
            return cls(f.copy(), 1)
        h, w = f.shape[0] // k, f.shape[1] // k
        # INTER_AREA at an integer ratio is exactly the block mean
        return cls(cv2.resize(f[: h * k, : w * k], (w, h), interpolation=cv2.INTER_AREA), k)

    @staticmethod
    def factor_for(box_size: float, resolution: int, oversample: float = 2.0) -> int:
        """The largest integer factor that still leaves ``oversample`` frame pixels per crop pixel
        in a box of ``box_size`` frame pixels (1 = keep the full frame)."""
        return max(int(box_size // (oversample * resolution)), 1)


def extract_crops(frames: Sequence[np.ndarray | ScaledFrame] | np.ndarray, boxes: Sequence[CropBox],
                  resolution: int) -> np.ndarray:
    """Resample the crop box of each frame.

    Args:
        frames: ``n`` RGB frames ``(H, W, 3)`` uint8 (an array ``(n, H, W, 3)`` or a list), or
            :class:`ScaledFrame` of them.
        boxes: one :class:`CropBox` per frame, in the full frame's pixels.
        resolution: crop side in pixels.

    Returns:
        ``(n, resolution, resolution, 3)`` uint8. Downscaling by more than 1.5x is pre-filtered
        (Gaussian) against aliasing.
    """
    if len(frames) != len(boxes):
        raise ValueError(f"{len(frames)} frames but {len(boxes)} boxes")
    out = np.empty((len(boxes), resolution, resolution, 3), np.uint8)
    for k, (frame, box) in enumerate(zip(frames, boxes)):
        if isinstance(frame, ScaledFrame):
            src, f = frame.image, frame.factor
            box = CropBox(box.x0 / f, box.y0 / f, box.size / f)
        else:
            src = np.asarray(frame)
        s = box.size / resolution
        m = crop_affine(box, resolution)
        if s > 1.5:
            # blur only the box and the blur's reach (a 4K frame costs 30 ms to blur whole); the
            # sampled pixels are the same: within the window, or the frame's edge replicated
            sigma = 0.45 * s
            pad = int(np.ceil(3 * sigma)) + 2
            h, w = src.shape[:2]
            xa, ya = max(int(np.floor(box.x0)) - pad, 0), max(int(np.floor(box.y0)) - pad, 0)
            xb = min(int(np.ceil(box.x0 + box.size)) + pad, w)
            yb = min(int(np.ceil(box.y0 + box.size)) + pad, h)
            if xb - xa >= 2 and yb - ya >= 2:
                src = cv2.GaussianBlur(src[ya:yb, xa:xb], (0, 0), sigmaX=sigma)
                m[:, 2] += m[:, :2] @ [xa, ya]  # window pixel (x, y) = frame pixel (x + xa, y + ya)
            else:  # the box lies outside the frame: blur it all
                src = cv2.GaussianBlur(src, (0, 0), sigmaX=sigma)
        out[k] = cv2.warpAffine(src, m, (resolution, resolution), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


def to_crop_points(points: np.ndarray, box: CropBox, resolution: int) -> np.ndarray:
    """Frame points ``(P, >=2)`` (continuous pixels) -> crop points ``(P, 2)`` (continuous crop
    pixels, same convention), float64."""
    p = np.asarray(points, np.float64)[:, :2]
    return (p - [box.x0, box.y0]) * (resolution / box.size)


def frame_rect(mask: np.ndarray, box: CropBox, frame_shape: tuple[int, ...],
               pad: int = 0) -> tuple[int, int, int, int] | None:
    """The frame rectangle a crop-space mask can reach.

    Args:
        mask: ``(R, R)``, true (non-zero) on the crop pixels that matter.
        box: the crop's box in the frame.
        frame_shape: ``(H, W, ...)`` of the frame.
        pad: widening in frame pixels (e.g. for a ring around the mask), beyond the one pixel that
            bilinear resampling reaches.

    Returns:
        ``(xa, ya, xb, yb)`` frame pixel indices, ends exclusive, clipped to the frame and to the
        box, covering every crop pixel of ``mask`` (crop pixel ``j`` spans frame ``[x0 + j s,
        x0 + (j + 1) s)``); ``None`` when the mask is empty or the rectangle is.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h, w = frame_shape[:2]
    s = box.size / mask.shape[0]
    p = pad + 1
    xa = max(int(np.floor(box.x0 + xs.min() * s)) - p, int(np.floor(box.x0)), 0)
    ya = max(int(np.floor(box.y0 + ys.min() * s)) - p, int(np.floor(box.y0)), 0)
    xb = min(int(np.ceil(box.x0 + (xs.max() + 1) * s)) + p, int(np.ceil(box.x0 + box.size)) + 1, w)
    yb = min(int(np.ceil(box.y0 + (ys.max() + 1) * s)) + p, int(np.ceil(box.y0 + box.size)) + 1, h)
    return (xa, ya, xb, yb) if xb > xa and yb > ya else None


def warp_to_frame(image: np.ndarray, box: CropBox, rect: tuple[int, int, int, int], *,
                  border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """Resample a crop-space image onto a rectangle of the frame (bilinear).

    Args:
        image: ``(R, R)`` or ``(R, R, C)``, the crop of ``box`` (any dtype OpenCV warps).
        box: the crop's box in the frame.
        rect: ``(xa, ya, xb, yb)`` frame pixel indices, ends exclusive.
        border: OpenCV border mode outside the crop (constant 0 by default).

    Returns:
        ``(yb - ya, xb - xa[, C])``: pixel ``(y, x)`` is frame pixel ``(ya + y, xa + x)``.
    """
    xa, ya, xb, yb = rect
    m = crop_affine(box, image.shape[0])
    m[:, 2] += m[:, :2] @ [xa, ya]
    return cv2.warpAffine(image, m, (xb - xa, yb - ya), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=border, borderValue=0)


def hole_mask(point_sets: Sequence[np.ndarray], resolution: int, dilate_px: float) -> np.ndarray:
    """Union of the convex hulls of several point sets (crop pixels), dilated by a disc.

    Args:
        point_sets: each ``(P, 2)`` crop-pixel points (e.g. the mouth/jaw vertices of the
            original frame and of the deformed mesh).
        resolution: crop side.
        dilate_px: dilation radius in crop pixels.

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1}.
    """
    m = np.zeros((resolution, resolution), np.uint8)
    for pts in point_sets:
        p = np.asarray(pts, np.float64)
        if len(p) < 3:
            continue
        hull = cv2.convexHull(np.round((p - 0.5) * 16).astype(np.int32))
        cv2.fillConvexPoly(m, hull, 1, lineType=cv2.LINE_8, shift=4)
    r = int(round(dilate_px))
    if r > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return m.astype(np.float32)


def blend_alpha(hole: np.ndarray, feather_px: float, edge_px: int = 2) -> np.ndarray:
    """Feathered alpha for blending, contained in the hole.

    The hole is eroded by ``feather_px`` and blurred by a Gaussian whose support does not reach
    beyond the erosion, so the alpha is 1 deep inside the hole, falls smoothly to exactly 0 at its
    border, and is 0 everywhere outside it and within ``edge_px`` of the crop border.

    Args:
        hole: ``(R, R)`` mask, 1 = synthesised.
        feather_px: width of the ramp in crop pixels.

    Returns:
        ``(R, R)`` float32 in [0, 1].
    """
    m = (np.asarray(hole) > 0.5).astype(np.uint8)
    if edge_px > 0:
        m[:edge_px] = 0
        m[-edge_px:] = 0
        m[:, :edge_px] = 0
        m[:, -edge_px:] = 0
    r = max(int(round(feather_px / 2)), 1)
    inner = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    # Two box filters (~Gaussian) of radius r // 2 each: total support <= r, the erosion radius,
    # so the alpha never reaches outside the hole.
    a = inner.astype(np.float32)
    k = 2 * (r // 2) + 1
    a = cv2.blur(a, (k, k), borderType=cv2.BORDER_CONSTANT)
    a = cv2.blur(a, (k, k), borderType=cv2.BORDER_CONSTANT)
    a = np.where(m > 0, a, 0.0).astype(np.float32)
    # Smoothstep for a soft shoulder.
    a = a * a * (3 - 2 * a)
    a[a < 1e-3] = 0.0
    return a


def silhouette_mask(points: np.ndarray, triangles: np.ndarray, resolution: int) -> np.ndarray:
    """The pixels a projected triangle mesh covers.

    Args:
        points: ``(V, >=2)`` vertex positions in crop pixels (continuous, see the module note).
        triangles: ``(F, 3)`` vertex indices.
        resolution: crop side.

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1}: 1 where a triangle covers the pixel.
    """
    m = np.zeros((resolution, resolution), np.uint8)
    tri = np.round((np.asarray(points, np.float64)[:, :2] - 0.5) * 16).astype(np.int32)[np.asarray(triangles)]
    for t in tri:
        cv2.fillConvexPoly(m, t, 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(np.float32)


def limit_alpha(alpha: np.ndarray, silhouette: np.ndarray, margin_px: float) -> np.ndarray:
    """Keep a blending alpha to a silhouette.

    Inside the silhouette the alpha is unchanged; outside it is multiplied by a smooth ramp of the
    distance to the silhouette, from 1 at its edge to 0 at ``margin_px`` and beyond. The hole a
    refiner fills reaches past the face's outline (it is a dilated convex hull), and what the
    generator paints there, background beside the jaw, is softer than the real one: limited to the
    face's silhouette (the source's united with the new one's, so the old jaw still never shows),
    the frame keeps its own background.

    Args:
        alpha: ``(R, R)`` float in [0, 1] (:func:`blend_alpha`).
        silhouette: ``(R, R)``, > 0.5 = face (:func:`silhouette_mask`).
        margin_px: width of the ramp outside the silhouette, in crop pixels (> 0).

    Returns:
        ``(R, R)`` float32 in [0, 1], <= ``alpha`` everywhere; 0 farther than ``margin_px`` from the
        silhouette (all zeros when the silhouette is empty).
    """
    inside = np.asarray(silhouette) > 0.5
    if not inside.any():
        return np.zeros_like(alpha, dtype=np.float32)
    dist = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    t = np.clip(1.0 - dist / max(float(margin_px), 1e-6), 0.0, 1.0)
    t = t * t * (3 - 2 * t)
    out = (np.asarray(alpha, np.float32) * t).astype(np.float32)
    out[out < 1e-3] = 0.0
    return out


#: Channels of a black-and-white picture agree to within this many levels (of 255) at 99% of
#: its pixels, after colour compression (JPEG, 4:2:0 video); a colour face is far above it.
GRAY_TOLERANCE = 4


def is_grayscale(image: np.ndarray, tolerance: int = GRAY_TOLERANCE) -> bool:
    """True if an RGB image is black and white.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        tolerance: the largest spread between the channels (max - min, in levels) at the 99th
            percentile of the pixels.
    """
    img = np.asarray(image)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]  # (a reduction over the last axis is ~10x slower)
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return float(np.percentile(spread, 99)) <= tolerance


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB with its luma (ITU-R BT.601) in all three channels."""
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[..., None], 3, axis=-1)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB (L* 0-100), unquantised (8-bit Lab, rounded on the way in
    and out, added visible noise to a matched crop)."""
    return cv2.cvtColor(np.asarray(rgb, np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)


#: 8-bit OpenCV Lab -> CIELAB units (L* 0-100, a*, b*): scale and offset per channel.
_LAB8_SCALE = np.float32([100 / 255, 1.0, 1.0])
_LAB8_OFFSET = np.float32([0.0, -128.0, -128.0])


def rgb_to_lab_approx(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB through OpenCV's 8-bit conversion (a lookup table, ~20x faster
    than the float one), each value within about half a unit: for averages and statistics, not
    for pixels that are converted back."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    return lab * _LAB8_SCALE + _LAB8_OFFSET


def _lab_stats(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sel = rgb_to_lab_approx(np.asarray(img)[mask][None])[0]
    return sel.mean(0), sel.std(0) + 1e-3


@dataclass(frozen=True)
class ColourTransform:
    """A per-channel CIELAB shift and gain: ``(lab - source_mean) * gain + target_mean``, what
    :func:`blend`'s colour matching applies to a refined crop (L* 0-100, a*, b*)."""

    source_mean: np.ndarray
    gain: np.ndarray
    target_mean: np.ndarray

    def apply(self, rgb: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> the same transformed, uint8 RGB; with ``where`` (``(H, W)``
        bool), only those pixels (the others are returned as they are)."""
        if where is not None:
            out = np.array(rgb, copy=True)
            if where.any():
                out[where] = self.apply(out[where][None])[0]
            return out
        lab = (rgb_to_lab(rgb) - self.source_mean) * self.gain + self.target_mean
        out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def _blend_rect(frame: np.ndarray, box: CropBox, alpha: np.ndarray, ring_alpha: np.ndarray | None,
                colour_match: bool, ring_px: int | None):
    rp = ring_px if ring_px is not None else max(int(round(0.04 * box.size)), 2)
    reach = (np.asarray(alpha) > 0) | (np.asarray(ring_alpha) > 0 if ring_alpha is not None else False)
    return rp, frame_rect(reach, box, frame.shape, pad=(rp if colour_match else 0) + 1)


def _ring_transform(roi: np.ndarray, src: np.ndarray, ring_inside: np.ndarray, rp: int,
                    max_gain: float) -> ColourTransform | None:
    # pixels within rp of the region (a distance transform: a dilation by a disc of 4% of a
    # 4K face's box took 0.1 s)
    dist = cv2.distanceTransform((~ring_inside).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ring = (dist <= rp) & ~ring_inside
    if ring.sum() < 20:
        return None
    mu_f, sd_f = _lab_stats(roi, ring)
    mu_c, sd_c = _lab_stats(src, ring)
    return ColourTransform(mu_c, np.clip(sd_f / sd_c, 1 / max_gain, max_gain), mu_f)


def ring_colour_transform(
    frame: np.ndarray,
    crop: np.ndarray,
    box: CropBox,
    alpha: np.ndarray,
    *,
    ring_px: int | None = None,
    max_gain: float = 1.25,
    ring_alpha: np.ndarray | None = None,
) -> ColourTransform | None:
    """The colour matching :func:`blend` would apply to ``crop`` (same arguments), measured on
    the same ring; ``None`` when it would apply none (no alpha, a ring under 20 pixels).

    Apply it to the crop yourself (:meth:`ColourTransform.apply`), then blend with
    ``colour_match=False``, to work on the colour-matched crop before blending (as
    :mod:`talkinghead.refine.composite.anchor` does)."""
    frame = np.asarray(frame)
    rp, rect = _blend_rect(frame, box, alpha, ring_alpha, True, ring_px)
    if rect is None:
        return None
    xa, ya, xb, yb = rect
    ring_src = alpha if ring_alpha is None else ring_alpha
    ring_inside = warp_to_frame(np.asarray(ring_src, np.float32), box, rect) >= 1e-3
    if not ring_inside.any():
        return None
    src = warp_to_frame(crop, box, rect, border=cv2.BORDER_REPLICATE)
    return _ring_transform(frame[ya:yb, xa:xb], src, ring_inside, rp, max_gain)


def blend(
    frame: np.ndarray,
    crop: np.ndarray,
    box: CropBox,
    alpha: np.ndarray,
    *,
    colour_match: bool = True,
    ring_px: int | None = None,
    max_gain: float = 1.25,
    ring_alpha: np.ndarray | None = None,
    color_match: bool | None = None,
) -> np.ndarray:
    """Warp a refined crop back into its frame and blend it through a feathered alpha.

    Args:
        frame: the original frame ``(H, W, 3)`` uint8 RGB (not modified).
        crop: the refined crop ``(R, R, 3)`` uint8 RGB, of ``box``.
        box: the crop's box in the frame.
        alpha: ``(R, R)`` float in [0, 1] (:func:`blend_alpha`): 1 = refined pixel.
        colour_match: shift/scale the crop's Lab colour so that its mean/std on a ring just
            outside the alpha match the frame's on the same ring (removes residual colour seams;
            :func:`ring_colour_transform`).
        ring_px: ring width in frame pixels (default: 4% of the box side).
        max_gain: clamp of the per-channel std ratio.
        ring_alpha: the alpha whose outside ring gives the colour statistics (default ``alpha``).
            With an alpha limited to the face (:func:`limit_alpha`), pass the hole's alpha here:
            outside the hole the generator reproduces its input, so the ring measures only its
            colour drift, not the background it painted inside the hole.
        color_match: the old name of ``colour_match`` (still accepted; wins when given).

    Returns:
        A new frame ``(H, W, 3)`` uint8; pixels where the warped alpha is 0 are exactly ``frame``.
    """
    if color_match is not None:
        colour_match = color_match
    frame = np.asarray(frame)
    out = frame.copy()
    # Region of interest: where the alpha (and the ring of the colour statistics) can reach
    rp, rect = _blend_rect(frame, box, alpha, ring_alpha, colour_match, ring_px)
    if rect is None:
        return out
    xa, ya, xb, yb = rect  # ROI pixel (x, y) = frame pixel (x + xa, y + ya)
    a = warp_to_frame(alpha.astype(np.float32), box, rect)
    a[a < 1e-3] = 0.0
    inside = a > 0
    if not inside.any():
        return out
    src = warp_to_frame(crop, box, rect, border=cv2.BORDER_REPLICATE)
    roi = frame[ya:yb, xa:xb]
    if colour_match:
        if ring_alpha is not None:
            ring_inside = warp_to_frame(ring_alpha.astype(np.float32), box, rect) >= 1e-3
        else:
            ring_inside = inside
        transform = _ring_transform(roi, src, ring_inside, rp, max_gain)
        if transform is not None:  # applied to the crop (fewer pixels than its box in the frame)
            src = warp_to_frame(transform.apply(crop), box, rect, border=cv2.BORDER_REPLICATE)
    a_in = a[inside][:, None]
    mixed = roi[inside].astype(np.float32) * (1 - a_in) + src[inside].astype(np.float32) * a_in
    out[ya:yb, xa:xb][inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out
