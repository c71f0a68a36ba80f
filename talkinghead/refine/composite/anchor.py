"""The source frame's colours, anchoring the rebuilt lower face's.

The refiner paints the lower face (lips, skin, mouth opening) from a masked crop; on a face unlike
those it was trained on (a painting, heavy make-up, unusual light) its colours drift: lips paler
than the face's own, skin greyer or bluer than the skin around it. Colour matching at the blend's
seam (:func:`~talkinghead.refine.composite.blend.blend`) shifts the whole crop by what it measures on a
ring outside the painted region, where the refiner only reproduces its input, so it cannot see
this. The frame being re-animated shows the same lips and skin. This module moves the source
crop with the skin (the mesh's displacement, as :mod:`talkinghead.refine.composite.detail` does), measures
how far the painted colours are from it, separately on the skin (at a coarse scale: a normalised
Gaussian average) and on the lips (one median difference: lips are small and of one colour), never
on either face's mouth opening, and removes only the part of that difference beyond a dead zone: a
new mouth shape, another frame's light and tracking noise change the coarse colours of real
frames by a few units (measured on held-out frames of the development clips, see
``benchmarks/bench_detail.py``), and the refiner is trusted within them; a larger difference is
its error. The mouth opening, which no source pixel shows, is left as painted.

It works on the crop after the seam's colour matching
(:func:`~talkinghead.refine.composite.blend.ring_colour_transform`), so that the two corrections do not add up.

Colours are CIELAB (L* 0-100, a*, b*). Geometry: crop pixel conventions of
:mod:`talkinghead.refine.composite.blend`.

* :func:`inner_mouth_mask`, :func:`lip_band_mask` - the mouth opening; the lips themselves.
* :func:`anchor_regions` - where the skin and the lips are compared, and where each correction
  applies (:class:`AnchorRegions`).
* :func:`colour_offset` - the skin's coarse Lab difference source - painted, beyond the dead zone.
* :func:`lips_offset` - the lips' median Lab difference, beyond the dead zone.
* :func:`anchor_colours` - both applied to a painted crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...face.mesh import LowerFaceMesh
from .blend import rgb_to_lab, rgb_to_lab_approx, silhouette_mask
from .detail import lips_mask, move_with_skin, polygon_mask

#: Scale of the measured difference (Gaussian sigma), fraction of the crop side: coarse enough
#: that lips and skin a pixel or two out of register do not count, fine enough to tell the lips'
#: error from the chin's.
ANCHOR_SIGMA = 0.06
#: Differences (source - painted) up to this many CIELAB units (L*, a*, b*) are left to the
#: refiner: what another mouth shape, another frame's light and tracking noise cause on real
#: faces the refiner knows (about the 95th percentile of the coarse skin difference on the
#: development clips, so anchoring is neutral there: ``benchmarks/bench_detail.py``, figures in
#: ``benchmarks/README.md``, "The mouth region at frame scale").
ANCHOR_DEADZONE = (6.0, 3.0, 3.0)
#: The same for the lips' median difference (lips also change colour with their shape).
LIPS_DEADZONE = (6.0, 3.0, 3.0)
#: Skin lightness (CIELAB L*) at and above which the dead zones hold as measured (the development
#: faces' skin is L* 38-75). On darker skin (an underexposed photo, a dim room) they shrink in
#: proportion (:func:`deadzone_scale`): at L* 5 a difference of 5 units is a face twice as
#: bright, which the refiner, trained on well-lit faces, would paint.
DEADZONE_LIGHTNESS = 40.0
#: The same near white: skin lighter than ``100 - OVEREXPOSED_MARGIN`` (an overexposed photo, skin
#: clipped towards white) leaves little room for real shading, so a painted face a few units
#: greyer or tinted shows as a patch with a seam; the dead zones shrink in proportion to the room
#: left.
OVEREXPOSED_MARGIN = 20.0
#: The smallest fraction of the dead zones kept on the darkest skin.
MIN_DEADZONE_SCALE = 0.15
#: Exposure: when the painted skin's mean linear luminance differs from the source skin's by more
#: than this factor, the painted region is first scaled in linear light by the excess (see
#: :func:`exposure_gain`). Well beyond what the skin dead zone allows (6 L* at skin L* 60 is a
#: factor 1.26; 1.5 is about 10 L*), so that only a face painted at another exposure is scaled
#: (the refiner paints an underexposed photo's face, skin L* 3-5, as a well-lit one); an additive
#: CIELAB shift that large would blacken the painting's darker parts where a gain keeps its
#: shading. Smaller errors are the CIELAB anchoring's (``models/README.md``, "Under- and
#: overexposed faces").
EXPOSURE_TOLERANCE = 1.5
#: Fewer lip pixels than this (a face a few pixels wide, lips out of view): no lips correction.
MIN_LIP_PIXELS = 20
#: Margin between the lips and the skin measured, fraction of the crop side.
LIP_MARGIN = 0.015


def inner_mouth_mask(points: np.ndarray, mesh: LowerFaceMesh, resolution: int, pad_px: float) -> np.ndarray:
    """The mouth opening (inside the inner lip contour), dilated
    (:func:`~talkinghead.refine.composite.detail.polygon_mask`, same arguments but the topology).

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1} (only the contour's line and its dilation
        when the lips touch).
    """
    return polygon_mask(points, mesh.inner_lip_loop, resolution, pad_px, outline=True)


def lip_band_mask(points: np.ndarray, mesh: LowerFaceMesh, resolution: int) -> np.ndarray:
    """The lips themselves: inside the outer lip contour and outside the inner one.

    Returns:
        ``(resolution, resolution)`` float32 in {0, 1}.
    """
    outer = lips_mask(points, mesh, resolution, 0.0)
    return np.clip(outer - inner_mouth_mask(points, mesh, resolution, 0.0), 0, 1).astype(np.float32)


def _erode(mask: np.ndarray, px: float) -> np.ndarray:
    """``mask`` eroded by about ``px`` pixels (3x3 steps)."""
    n = int(round(px))
    return cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=n) if n > 0 else mask


@dataclass(frozen=True)
class AnchorRegions:
    """Where the painted colours are compared with the source's, per region, and where each
    region's correction applies.

    Attributes:
        skin: ``(R, R)`` float32 in [0, 1]: skin in both faces (away from either's lips).
        lips: ``(R, R)`` float32 in [0, 1]: lips in both faces (the new lips, whose source
            pixel is on the source's lips).
        lips_area: ``(R, R)`` float32 in [0, 1]: where the lips' correction applies (inside the
            new face's outer lip contour, softened); the skin's applies elsewhere.
        opening: ``(R, R)`` float32 in [0, 1]: the new face's mouth opening, softened, where
            nothing is corrected (no source pixel shows what is in it).
    """

    skin: np.ndarray
    lips: np.ndarray
    lips_area: np.ndarray
    opening: np.ndarray


def anchor_regions(source_points: np.ndarray, new_points: np.ndarray, mesh: LowerFaceMesh,
                   hole_alpha: np.ndarray, flow: np.ndarray, *, pad: float = LIP_MARGIN) -> AnchorRegions:
    """Where the painted colours are compared with the source's.

    Args:
        source_points, new_points: ``(V, >=2)`` crop-pixel positions of the lower-face vertices in
            the source frame and in the deformed mesh.
        mesh: the lower-face topology.
        hole_alpha: ``(R, R)`` the painted region's feathered alpha (1 = painted).
        flow: :func:`~talkinghead.refine.composite.detail.backward_flow` of the two.
        pad: margin kept between the regions, fraction of the crop side (a pixel out of register
            would compare lip with skin).

    Returns:
        :class:`AnchorRegions`; their weights are <= ``hole_alpha``, never on either face's
        mouth opening (the source's teeth and tongue belong to another mouth), and the skin's only
        inside the new face's outline.
    """
    r = hole_alpha.shape[0]
    k = pad * r
    a = np.asarray(hole_alpha, np.float32)
    new_lips = lips_mask(new_points, mesh, r, k)
    src_lips = move_with_skin(lips_mask(source_points, mesh, r, k), flow)
    # inside the new face's outline: beyond it (where the jaw rose) the refiner paints background
    # and the source there shows the old chin; inside it the flow maps onto the source face
    inside = _erode(silhouette_mask(new_points, mesh.solid_faces, r), k)
    skin = (1 - new_lips) * (1 - src_lips) * inside * a
    lips = _erode(lip_band_mask(new_points, mesh, r), k / 2) * move_with_skin(
        _erode(lip_band_mask(source_points, mesh, r), k / 2), flow) * a
    # the lips' correction covers the lips whole and fades out over the margin; the opening's
    # exemption starts just inside the inner lip contour
    soft = max(k / 2, 0.5)
    area = cv2.GaussianBlur(new_lips, (0, 0), soft)
    opening = cv2.GaussianBlur(_erode(inner_mouth_mask(new_points, mesh, r, 0.0), k / 2), (0, 0), soft)
    return AnchorRegions(*(np.clip(m, 0, 1).astype(np.float32) for m in (skin, lips, area, opening)))


def deadzone_scale(source: np.ndarray, weight: np.ndarray) -> float:
    """How much of the dead zones applies to a face: the lightness (CIELAB L*) of its skin's mean
    luminance over :data:`DEADZONE_LIGHTNESS`, or its room below white over
    :data:`OVEREXPOSED_MARGIN`, whichever is smaller, between :data:`MIN_DEADZONE_SCALE` and 1 (1 on
    any normally lit face; less on a dark one, where a few CIELAB units are a large change of
    brightness, and on a washed-out one).

    Args:
        source: ``(R, R, 3)`` uint8 RGB, the source crop moved onto the painted face.
        weight: ``(R, R)`` in [0, 1], its skin (:attr:`AnchorRegions.skin`).
    """
    y = _mean_luminance(source, weight)
    if y is None:
        return 1.0
    lightness = 116.0 * np.cbrt(y) - 16.0 if y > 0.008856 else 903.3 * y  # CIE L* of Y
    room = min(lightness / DEADZONE_LIGHTNESS, (100.0 - lightness) / OVEREXPOSED_MARGIN)
    return float(np.clip(room, MIN_DEADZONE_SCALE, 1.0))


_SRGB = np.arange(256, dtype=np.float64) / 255.0
#: sRGB code value -> linear light, ``(256,)``.
_TO_LINEAR = np.where(_SRGB <= 0.04045, _SRGB / 12.92, ((_SRGB + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055) * 255.0


def exposure_gain(painted: np.ndarray, source: np.ndarray, weight: np.ndarray,
                  tolerance: float = EXPOSURE_TOLERANCE) -> float:
    """The linear-light gain that brings the painted skin's brightness within ``tolerance`` of
    the source skin's (1 when it already is).

    Args:
        painted: ``(R, R, 3)`` uint8 RGB, the refiner's crop.
        source: ``(R, R, 3)`` uint8 RGB, the source crop moved onto the painted face.
        weight: ``(R, R)`` in [0, 1], the skin (:attr:`AnchorRegions.skin`).
        tolerance: :data:`EXPOSURE_TOLERANCE` (a ratio > 1).

    Returns:
        ``gain`` such that ``gain * painted`` has the source's mean luminance times at most
        ``tolerance`` (or over ``1 / tolerance``): the ratio soft-thresholded in the log domain.
    """
    y_source, y_painted = _mean_luminance(source, weight), _mean_luminance(painted, weight)
    if y_source is None:
        return 1.0
    ratio = (y_source + 1e-4) / (y_painted + 1e-4)
    excess = max(abs(np.log(ratio)) - np.log(tolerance), 0.0)
    return float(np.exp(np.sign(np.log(ratio)) * excess))


def _mean_luminance(img: np.ndarray, weight: np.ndarray) -> float | None:
    """Weighted mean relative luminance Y (linear light, 0-1) of ``img`` ``(R, R, 3)`` uint8 RGB
    over ``weight`` ``(R, R)``, from every 4th pixel each way (a mean); ``None`` without weight."""
    w = np.asarray(weight, np.float32)[::4, ::4]
    if float(w.sum()) < 1.0 / 16:
        return None
    lin = _TO_LINEAR[np.asarray(img)[::4, ::4]]
    y = 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]
    return float((y * w).sum() / w.sum())


def apply_gain(painted: np.ndarray, gain: float, alpha: np.ndarray) -> np.ndarray:
    """``painted`` scaled by ``gain`` in linear light, in proportion to ``alpha`` ``(R, R)``;
    ``(R, R, 3)`` uint8 RGB."""
    lin = _TO_LINEAR[np.asarray(painted)]
    a = np.asarray(alpha, np.float32)[..., None]
    return np.clip(np.rint(_to_srgb(lin * (1 + (gain - 1) * a))), 0, 255).astype(np.uint8)


def _soft_threshold(x: np.ndarray, t) -> np.ndarray:
    t = np.asarray(t, np.float32)
    return (np.sign(x) * np.maximum(np.abs(x) - t, 0.0)).astype(np.float32)


def _coarse_offset(diff: np.ndarray, weight: np.ndarray, sigma_px: float, deadzone) -> np.ndarray:
    """Normalised Gaussian average of ``diff`` ``(R, R, 3)`` over ``weight`` ``(R, R)`` (away from
    any weight, the weighted mean difference), soft-thresholded by ``deadzone``. A field this
    smooth is computed at a quarter of the resolution (when the scale allows) and scaled back up
    (bilinear)."""
    w = np.asarray(weight, np.float32)
    r = w.shape[0]
    wd = diff * w[..., None]
    f = 4 if sigma_px >= 8 and r % 4 == 0 else 1
    if f > 1:  # block means: the sums below stay proportional
        small = (r // f, r // f)
        wd, w = cv2.resize(wd, small, interpolation=cv2.INTER_AREA), cv2.resize(w, small, interpolation=cv2.INTER_AREA)
    mean = wd.sum(axis=(0, 1)) / max(float(w.sum()), 1e-6)
    num = cv2.GaussianBlur(wd, (0, 0), sigma_px / f)
    den = cv2.GaussianBlur(w, (0, 0), sigma_px / f)[..., None]
    c = 0.02  # pulls towards the mean where the weight is far (normalised-convolution fallback)
    out = _soft_threshold((num + c * mean) / (den + c), deadzone)
    return cv2.resize(out, (r, r), interpolation=cv2.INTER_LINEAR) if f > 1 else out


def colour_offset(painted: np.ndarray, source: np.ndarray, weight: np.ndarray, *,
                  sigma_px: float, deadzone=ANCHOR_DEADZONE) -> np.ndarray:
    """The coarse colour difference between a source and a painted crop, beyond a dead zone.

    Args:
        painted: ``(R, R, 3)`` uint8 RGB, the refiner's crop.
        source: ``(R, R, 3)`` uint8 RGB, the source crop moved onto the painted face.
        weight: ``(R, R)`` in [0, 1], where the two are compared (:attr:`AnchorRegions.skin`).
        sigma_px: Gaussian scale of the comparison, crop pixels.
        deadzone: ``(3,)`` CIELAB units per channel; the part of the difference within it is
            dropped (soft threshold).

    Returns:
        ``(R, R, 3)`` float32 CIELAB offset to add to ``painted`` (zero where the coarse difference
        is within the dead zone). Away from any weight (an opening wider than the scale) it falls
        back to the weighted mean difference; all zeros when ``weight`` is empty.
    """
    if float(np.sum(weight)) < 1.0:
        return np.zeros(painted.shape, np.float32)
    return _coarse_offset(rgb_to_lab_approx(source) - rgb_to_lab_approx(painted), weight, sigma_px, deadzone)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, 0.5 * cw[-1])])


def lips_offset(painted: np.ndarray, source: np.ndarray, weight: np.ndarray, *,
                deadzone=LIPS_DEADZONE) -> np.ndarray:
    """One colour difference for the lips: the weighted median of source - painted over them,
    per channel, beyond a dead zone.

    The lips are small and of one colour; a median, unlike a mean, is not moved by the teeth or
    the skin that a lip contour a pixel off lets into the measurement.

    Args:
        painted: ``(R, R, 3)`` uint8 RGB, the refiner's crop.
        source: ``(R, R, 3)`` uint8 RGB, the source crop moved onto the painted face.
        weight: ``(R, R)`` in [0, 1], the lips in both (:attr:`AnchorRegions.lips`).
        deadzone: ``(3,)`` CIELAB units (soft threshold).

    Returns:
        ``(3,)`` float32 CIELAB offset (zeros when fewer than :data:`MIN_LIP_PIXELS` pixels weigh).
    """
    w = np.asarray(weight, np.float32)
    sel = w > 0.5
    if sel.sum() < MIN_LIP_PIXELS:
        return np.zeros(3, np.float32)
    diff = rgb_to_lab_approx(np.asarray(source)[sel][None])[0] - rgb_to_lab_approx(np.asarray(painted)[sel][None])[0]
    med = np.array([_weighted_median(diff[:, c], w[sel]) for c in range(3)], np.float32)
    return _soft_threshold(med, deadzone)


def anchor_colours(painted: np.ndarray, source_crop: np.ndarray, flow: np.ndarray, regions: AnchorRegions,
                   hole_alpha: np.ndarray, *, sigma: float = ANCHOR_SIGMA, deadzone=ANCHOR_DEADZONE,
                   lips_deadzone=LIPS_DEADZONE) -> np.ndarray:
    """Pull a painted crop's colours back towards the source face's where they are far off.

    The skin and the lips are measured and corrected separately; the mouth opening, which no
    source pixel shows, is left as painted.

    Args:
        painted: ``(R, R, 3)`` uint8 RGB, the refiner's crop.
        source_crop: ``(R, R, 3)`` uint8 RGB, the same box of the source frame.
        flow: ``(R, R, 2)`` :func:`~talkinghead.refine.composite.detail.backward_flow`, crop pixels.
        regions: :func:`anchor_regions`.
        hole_alpha: ``(R, R)`` the painted region's alpha: the correction is applied wherever it
            is above 0, wholly (outside it the crop, which only reproduces the frame, is unchanged).
        sigma: comparison scale of the skin, fraction of the crop side (:data:`ANCHOR_SIGMA`).
        deadzone, lips_deadzone: :data:`ANCHOR_DEADZONE`, :data:`LIPS_DEADZONE`, both scaled by
            :func:`deadzone_scale` of the source's skin (unchanged on a normally lit face).

    Before that, a face painted far brighter or darker than the source's (more than
    :data:`EXPOSURE_TOLERANCE`, as the refiner paints an underexposed face) has its whole painted
    region, opening included, scaled in linear light (:func:`exposure_gain`).

    Returns:
        ``(R, R, 3)`` uint8 RGB; ``painted`` itself where nothing is beyond the dead zones.
    """
    r = painted.shape[0]
    moved = move_with_skin(np.ascontiguousarray(source_crop), flow)
    m = regions.lips_area[..., None]
    # corrected wholly wherever the crop is blended, feather included: a correction in proportion
    # to the alpha left the feather at the top of the region (under the nose) several times too
    # bright on a dark frame (a fade from black), a bright line across the face
    inside = (np.asarray(hole_alpha, np.float32) > 0).astype(np.float32)
    keep = (1 - regions.opening) * inside
    gain = exposure_gain(painted, moved, regions.skin)
    if gain != 1.0:  # a face painted far brighter or darker than it is: its light first, the whole region
        painted = apply_gain(painted, gain, inside)
    k = deadzone_scale(moved, regions.skin)  # smaller dead zones on a dark face
    deadzone, lips_deadzone = np.asarray(deadzone, np.float32) * k, np.asarray(lips_deadzone, np.float32) * k
    off = lips_offset(painted, moved, regions.lips, deadzone=lips_deadzone)[None, None, :] * m
    off = off + colour_offset(painted, moved, regions.skin, sigma_px=sigma * r, deadzone=deadzone) * (1 - m)
    changed = (keep > 0) & ((np.abs(off[..., 0]) + np.abs(off[..., 1]) + np.abs(off[..., 2])) > 1e-3)
    if not changed.any():
        return np.asarray(painted)
    # only the corrected pixels are converted, exactly, and back
    out = np.array(painted, copy=True)
    lab = rgb_to_lab(out[changed][None])[0] + off[changed] * keep[changed][:, None]
    rgb = cv2.cvtColor(lab[None], cv2.COLOR_LAB2RGB)[0]
    out[changed] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out
