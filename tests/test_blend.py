"""Crops, hole masks and blending back into the frame (talkinghead.refine.composite.blend)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkinghead.refine.composite.blend import (
    ScaledFrame,
    blend,
    blend_alpha,
    crop_affine,
    extract_crops,
    hole_mask,
    limit_alpha,
    ring_colour_transform,
    silhouette_mask,
    to_crop_points,
)
from talkinghead.render.types import CropBox


def _gradient_frame(h=240, w=320):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], -1).round().astype(np.uint8)


def test_extract_crop_samples_box_as_documented():
    frame = _gradient_frame()
    box = CropBox(x0=60.0, y0=40.0, size=128.0)
    crop = extract_crops([frame], [box], 64)[0]
    # Crop pixel (i, j) samples continuous point (x0 + (j + .5) s, y0 + (i + .5) s), s = 2.
    for i, j in [(0, 0), (10, 50), (63, 63), (31, 5)]:
        x = 60 + (j + 0.5) * 2 - 0.5  # frame index coordinates
        y = 40 + (i + 0.5) * 2 - 0.5
        expect = np.array([x * 255 / 320, y * 255 / 240, (x + y) * 255 / 560])
        assert np.abs(crop[i, j].astype(float) - expect).max() <= 1.5


def test_scaled_frame_gives_the_same_crops_at_a_fraction_of_the_memory():
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (721, 1283, 3), dtype=np.uint8), (0, 0), 2.5)
    sf = ScaledFrame.reduce(frame, 3)
    assert sf.image.shape == (240, 427, 3) and sf.factor == 3
    np.testing.assert_allclose(sf.image[10, 20], frame[30:33, 60:63].reshape(-1, 3).mean(0), atol=0.51)
    assert ScaledFrame.factor_for(1100, 192) == 2 and ScaledFrame.factor_for(600, 192) == 1
    assert ScaledFrame.reduce(frame, 1).image is not frame  # a copy
    boxes = [CropBox(200.3, 150.7, 420.0), CropBox(1000.0, 500.0, 400.0)]  # the second leaves the frame
    full = extract_crops([frame, frame], boxes, 96).astype(float)
    small = extract_crops([sf, sf], boxes, 96).astype(float)
    d = np.abs(full - small)  # resampling only (measured 0.8 mean, 3 at the 99th percentile)
    assert d[0].mean() < 1.0 and np.percentile(d[0], 99) <= 4
    assert d[1].mean() < 2.0  # beyond the frame's edge: the dropped last column is replicated instead
    # a box off by a pixel of the small frame would be far worse
    shifted = extract_crops([sf], [CropBox(203.3, 150.7, 420.0)], 96).astype(float)
    assert np.abs(full[0] - shifted).mean() > 3 * np.abs(full[0] - small[0]).mean()


def test_crop_points_match_crop_pixels():
    box = CropBox(10.0, 20.0, 100.0)
    p = to_crop_points(np.array([[10.0, 20.0], [110.0, 120.0], [60.0, 70.0]]), box, 50)
    np.testing.assert_allclose(p, [[0, 0], [50, 50], [25, 25]])
    m = crop_affine(box, 50)
    # frame pixel index X <-> crop index j: centres at X + .5 and j + .5
    np.testing.assert_allclose(m @ [59.5, 69.5, 1.0], [24.5, 24.5])


def test_hole_mask_is_union_of_hulls_dilated():
    a = np.array([[10, 10], [20, 10], [15, 20]], float)
    b = np.array([[40, 40], [50, 40], [50, 50], [40, 50]], float)
    m0 = hole_mask([a, b], 64, 0)
    assert m0[12, 15] == 1 and m0[45, 45] == 1 and m0[30, 30] == 0
    m3 = hole_mask([a, b], 64, 3)
    assert m3.sum() > m0.sum()
    assert (m3 >= m0).all()
    assert m3[53, 45] == 1 and m3[57, 45] == 0


def test_blend_alpha_inside_hole_and_feathered():
    hole = np.zeros((96, 96), np.float32)
    cv2.circle(hole, (48, 48), 30, 1, -1)
    a = blend_alpha(hole, 8)
    assert a.dtype == np.float32
    assert (a[hole == 0] == 0).all(), "alpha must not reach outside the hole"
    assert a[48, 48] == pytest.approx(1.0)
    ramp = a[48, 48 + 22:48 + 31]
    assert (np.diff(ramp) <= 1e-6).all() and 0 < ramp[3] < 1, "smooth ramp at the border"
    # touching the crop border: zero in the outer pixels
    full = np.ones((32, 32), np.float32)
    af = blend_alpha(full, 4, edge_px=2)
    assert (af[:2] == 0).all() and (af[:, -2:] == 0).all()


def test_silhouette_mask_fills_the_triangles():
    pts = np.array([[10, 10], [50, 10], [50, 50], [10, 50], [80, 80]], float)
    m = silhouette_mask(pts, np.array([[0, 1, 2], [0, 2, 3]]), 96)
    assert m.dtype == np.float32 and m.shape == (96, 96)
    assert m[30, 30] == 1 and m[12, 48] == 1 and m[48, 12] == 1
    assert m[5, 30] == 0 and m[60, 30] == 0 and m[70, 70] == 0  # vertex 4 is in no triangle
    assert abs(m.sum() - 40 * 40) < 2 * 40 * 2  # the square, up to its edge pixels


def test_limit_alpha_keeps_the_blend_to_the_silhouette():
    hole = np.zeros((96, 96), np.float32)
    cv2.circle(hole, (48, 48), 36, 1, -1)
    alpha = blend_alpha(hole, 6)
    sil = np.zeros((96, 96), np.float32)
    sil[20:76, 20:50] = 1  # the face covers the left half of the hole only
    out = limit_alpha(alpha, sil, 4)
    assert out.dtype == np.float32 and (out <= alpha + 1e-6).all()
    inside = sil > 0
    np.testing.assert_allclose(out[inside], alpha[inside])
    # beyond the margin (4 px right of the silhouette's last column, 49) the frame is kept
    assert (out[:, 54:] == 0).all() and alpha[48, 54:80].min() > 0.9
    # a smooth ramp within the margin
    ramp = out[48, 49:55]
    assert ramp[0] == pytest.approx(alpha[48, 49]) and (np.diff(ramp) <= 1e-6).all() and 0 < ramp[2] < 1
    assert not limit_alpha(alpha, np.zeros_like(sil), 4).any()


def test_blend_ring_alpha_sets_the_colour_statistics_ring():
    # The crop is the frame with a colour cast everywhere, except a patch just outside a small
    # alpha, painted green, as a generator paints background inside its hole. Measuring the
    # colour on the ring just outside the small alpha would see the green patch; the ring
    # outside the hole's alpha (ring_alpha) sees only the cast, which colour matching removes.
    frame, box, res, hole = _scene()
    crop = np.clip(extract_crops([frame], [box], res)[0].astype(int) + [30, -20, 20], 0, 255).astype(np.uint8)
    small = np.zeros_like(hole)
    cv2.ellipse(small, (48, 56), (16, 10), 0, 0, 360, 1, -1)
    painted = crop.copy()
    painted[(hole > 0) & (small == 0)] = (0, 255, 0)
    a_small, a_hole = blend_alpha(small, 4), blend_alpha(hole, 6)
    on_small = blend(frame, painted, box, a_small)
    on_hole = blend(frame, painted, box, a_small, ring_alpha=a_hole)
    m = crop_affine(box, res)
    a = cv2.warpAffine(a_small, m, (260, 200), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    core = a > 0.99
    err_small = np.abs(on_small[core].astype(int) - frame[core].astype(int)).mean()
    err_hole = np.abs(on_hole[core].astype(int) - frame[core].astype(int)).mean()
    plain = blend(frame, painted, box, a_small, color_match=False)
    err_plain = np.abs(plain[core].astype(int) - frame[core].astype(int)).mean()
    # measured: 23 grey levels off uncorrected, 9 matched on the hole's ring, 103 on the small one
    assert err_hole < 0.5 * err_plain and err_small > 2 * err_plain
    outside = a < 1e-3
    assert np.array_equal(on_hole[outside], frame[outside])


def _scene():
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (200, 260, 3), dtype=np.uint8), (0, 0), 3)
    box = CropBox(70.3, 35.7, 120.0)
    res = 96
    hole = np.zeros((res, res), np.float32)
    cv2.ellipse(hole, (48, 56), (26, 18), 0, 0, 360, 1, -1)
    return frame, box, res, hole


def test_blend_changes_only_inside_mask_exactly():
    frame, box, res, hole = _scene()
    crop = np.full((res, res, 3), (250, 20, 20), np.uint8)
    alpha = blend_alpha(hole, 6)
    out = blend(frame, crop, box, alpha, color_match=False)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # the warped alpha support, computed independently
    m = crop_affine(box, res)
    a = cv2.warpAffine(alpha, m, (260, 200), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    outside = a < 1e-3
    assert np.array_equal(out[outside], frame[outside]), "pixels outside the mask must be untouched"
    inside = a > 0.99
    assert inside.sum() > 500
    assert np.abs(out[inside].astype(int) - [250, 20, 20]).max() <= 1
    # nothing outside the box at all
    assert np.array_equal(out[:, :60], frame[:, :60])
    assert not np.array_equal(out, frame)


def test_blend_roundtrip_of_own_crop_is_near_identity():
    frame, box, res, hole = _scene()
    crop = extract_crops([frame], [box], res)[0]
    out = blend(frame, crop, box, blend_alpha(hole, 6), color_match=False)
    diff = np.abs(out.astype(int) - frame.astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 6


def test_color_match_removes_a_colour_cast():
    frame, box, res, hole = _scene()
    crop = extract_crops([frame], [box], res)[0].astype(int)
    cast = np.clip(crop + [40, -30, 25], 0, 255).astype(np.uint8)
    alpha = blend_alpha(hole, 6)
    plain = blend(frame, cast, box, alpha, color_match=False)
    matched = blend(frame, cast, box, alpha, color_match=True)
    err_plain = np.abs(plain.astype(int) - frame.astype(int)).mean()
    err_matched = np.abs(matched.astype(int) - frame.astype(int)).mean()
    assert err_matched < 0.4 * err_plain
    # the same matching, applied to the crop first (to work on its colours before blending)
    transform = ring_colour_transform(frame, cast, box, alpha)
    first = blend(frame, transform.apply(cast), box, alpha, color_match=False)
    assert np.abs(first.astype(int) - matched).max() <= 6 and np.abs(first.astype(int) - matched).mean() < 0.2
    assert ring_colour_transform(frame, cast, box, np.zeros_like(alpha)) is None
    part = transform.apply(cast, alpha > 0)  # only where it will be blended
    np.testing.assert_array_equal(part[alpha > 0], transform.apply(cast)[alpha > 0])
    np.testing.assert_array_equal(part[alpha == 0], cast[alpha == 0])


def test_blend_box_partly_outside_frame():
    frame, _, res, hole = _scene()
    box = CropBox(-50.0, 120.0, 150.0)  # left and bottom outside
    crop = np.full((res, res, 3), 128, np.uint8)
    out = blend(frame, crop, box, blend_alpha(hole, 6))
    assert out.shape == frame.shape
    assert np.array_equal(out[:100], frame[:100])


def test_black_and_white_pictures_are_recognised_after_compression():
    from talkinghead.refine.composite.blend import is_grayscale, to_grayscale

    rng = np.random.default_rng(0)
    face = np.zeros((64, 64, 3), np.uint8)
    face[...] = (205, 160, 135)  # skin
    face[40:50, 20:44] = (170, 80, 85)  # lips
    face = np.clip(face + rng.normal(0, 6, face.shape), 0, 255).astype(np.uint8)
    assert not is_grayscale(face)
    bw = to_grayscale(face)
    assert bw.shape == face.shape and (bw[..., 0] == bw[..., 2]).all()
    ok, jpg = cv2.imencode(".jpg", bw, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok and is_grayscale(cv2.imdecode(jpg, cv2.IMREAD_COLOR))
    # a faintly tinted face is still a colour face
    pale = np.clip(bw.astype(int) + (6, 0, -6), 0, 255).astype(np.uint8)
    assert not is_grayscale(pale)


def test_blend_accepts_the_old_color_match_keyword():
    frame = np.full((64, 64, 3), 100, np.uint8)
    crop = np.full((32, 32, 3), 180, np.uint8)
    box = CropBox(16.0, 16.0, 32.0)
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 1.0
    assert np.array_equal(blend(frame, crop, box, alpha, color_match=False),
                          blend(frame, crop, box, alpha, colour_match=False))
