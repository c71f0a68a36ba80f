"""The source face's colours anchoring the refiner's (talkinghead.refine.composite.anchor)."""

from __future__ import annotations

import cv2
import numpy as np

from talkinghead.face.mesh import load_lower_face_mesh
from talkinghead.refine.composite.anchor import (
    ANCHOR_DEADZONE,
    LIPS_DEADZONE,
    anchor_colours,
    anchor_regions,
    inner_mouth_mask,
    lip_band_mask,
    lips_offset,
)
from talkinghead.refine.composite.blend import silhouette_mask
from talkinghead.refine.composite.detail import backward_flow, lips_mask

R = 192


def _faces():
    """Crop-pixel lower-face vertices: a closed mouth and the same with the lower lip dropped."""
    mesh = load_lower_face_mesh()
    v = mesh.reference_vertices[:, :2]
    closed = (v - v.mean(0)) / np.ptp(v, 0).max() * 0.8 * R + R / 2
    opened = closed.copy()
    lower = np.isin(np.arange(len(closed)), np.concatenate([mesh.lower_lip, mesh.inner_lip_lower]))
    opened[lower, 1] += 16.0
    return mesh, closed, opened


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def _face_image(points, mesh, skin=(70.0, 14.0, 18.0), lips=(50.0, 40.0, 22.0), mouth=(20.0, 10.0, 5.0),
                seed=0) -> np.ndarray:
    """A crop (RGB uint8) with textured skin, lips and a dark mouth opening drawn from ``points``."""
    rng = np.random.default_rng(seed)
    lab = np.empty((R, R, 3), np.float32)
    lab[:] = skin
    band = lip_band_mask(points, mesh, R) > 0.5
    lab[band] = lips
    lab[inner_mouth_mask(points, mesh, R, 0.0) > 0.5] = mouth
    lab[..., 0] += cv2.GaussianBlur(rng.normal(0, 3, (R, R)).astype(np.float32), (0, 0), 1.0)
    return _lab_to_rgb(lab)


def test_regions_compare_lips_with_lips_and_skin_with_skin():
    mesh, closed, opened = _faces()
    alpha = np.ones((R, R), np.float32)
    for src, new in ((closed, opened), (opened, closed)):
        fl = backward_flow(src, new, R)
        reg = anchor_regions(src, new, mesh, alpha, fl)
        for m in (reg.skin, reg.lips, reg.lips_area, reg.opening):
            assert m.shape == (R, R) and m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
        assert (reg.skin <= alpha).all() and (reg.lips <= alpha).all()
        # skin is never measured on (or from) either face's lips, lips never in either opening
        assert not reg.skin[lips_mask(new, mesh, R, 0.0) > 0].any()
        assert not reg.skin[lips_mask(opened, mesh, R, 0.0) > 0].any()
        assert not reg.lips[inner_mouth_mask(new, mesh, R, 0.0) > 0].any()
        assert reg.lips.sum() > 20 and reg.skin.sum() > 0.1 * R * R
        # and skin only inside the face's outline (beyond it the moved source may be background)
        assert not reg.skin[silhouette_mask(new, mesh.solid_faces, R) == 0].any()
        # the new opening is left as painted (its middle fully)
        if new is opened:
            inner = np.concatenate([mesh.inner_lip_upper, mesh.inner_lip_lower])
            x, y = new[inner].mean(0).astype(int)
            assert reg.opening[y, x] > 0.99
        assert (reg.skin * reg.lips == 0).all()
    assert not anchor_regions(closed, opened, mesh, 0 * alpha, backward_flow(closed, opened, R)).skin.any()


def test_gross_colour_errors_are_pulled_back_small_ones_left():
    mesh, closed, opened = _faces()
    src, new = closed, opened
    fl = backward_flow(src, new, R)
    alpha = np.zeros((R, R), np.float32)
    alpha[8:-8, 8:-8] = 1.0
    reg = anchor_regions(src, new, mesh, alpha, fl)
    source = _face_image(src, mesh)
    truth = _lab(_face_image(new, mesh))
    # what a refiner unsure of this face paints: greyish-blue skin, pale lips, its own mouth
    painted = _face_image(new, mesh, skin=(80.0, 6.0, 6.0), lips=(66.0, 20.0, 12.0), mouth=(40.0, 12.0, -6.0))
    out = anchor_colours(painted, source, fl, reg, alpha)
    assert out.shape == painted.shape and out.dtype == np.uint8
    got, before = _lab(out), _lab(painted)
    skin = (reg.skin > 0.99) & (reg.lips_area < 0.01)
    err_before = np.abs((before - truth)[skin].mean(0))
    err_after = np.abs((got - truth)[skin].mean(0))
    assert (err_before > [9, 7, 11]).all()
    assert (err_after <= np.asarray(ANCHOR_DEADZONE) + 1.0).all()
    lips = (lip_band_mask(new, mesh, R) > 0.5) & (alpha > 0)
    lips = cv2.erode(lips.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    lip_err = np.abs(np.median((got - truth)[lips], axis=0))
    assert np.abs(np.median((before - truth)[lips], axis=0)).min() > 9
    assert (lip_err <= np.asarray(LIPS_DEADZONE) + 1.5).all()
    # the opening (no source pixel shows it) and everything outside the painted region: as painted
    opening = inner_mouth_mask(new, mesh, R, 0.0) > 0.5
    opening = cv2.erode(opening.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert opening.sum() > 10
    assert np.abs(out[opening].astype(int) - painted[opening]).max() <= 2
    np.testing.assert_array_equal(out[alpha == 0], painted[alpha == 0])
    # a painting within the dead zones of the source is returned as it is
    close = _face_image(new, mesh, skin=(72.0, 15.0, 17.0), lips=(52.0, 39.0, 23.0), mouth=(35.0, 5.0, 0.0))
    np.testing.assert_array_equal(anchor_colours(close, source, fl, reg, alpha), close)


def test_lips_offset_is_not_moved_by_a_few_stray_pixels():
    mesh, closed, _ = _faces()
    fl = np.zeros((R, R, 2), np.float32)
    reg = anchor_regions(closed, closed, mesh, np.ones((R, R), np.float32), fl)
    source = _face_image(closed, mesh)
    painted = _face_image(closed, mesh, lips=(66.0, 20.0, 12.0))
    clean = lips_offset(painted, source, reg.lips, deadzone=(0, 0, 0))
    np.testing.assert_allclose(clean, [-16.0, 20.0, 10.0], atol=2.5)
    # a quarter of the lip pixels of the source are teeth (white): the median does not care much
    teeth = source.copy()
    ys, xs = np.nonzero(reg.lips > 0.5)
    pick = np.random.default_rng(1).random(len(ys)) < 0.25
    teeth[ys[pick], xs[pick]] = 245
    stray = lips_offset(painted, teeth, reg.lips, deadzone=(0, 0, 0))
    assert np.abs(stray - clean).max() < 4.0
    assert not lips_offset(painted, source, np.zeros((R, R), np.float32)).any()


def test_an_underexposed_face_painted_as_a_lit_one_is_brought_down_to_its_light():
    """A dark photo (skin at L* 5) painted as a well-lit face (L* 25, the refiner's habit): the
    painted region is scaled in linear light to the source's level, shading kept, not blackened;
    a normally lit painting within the tolerance is not touched by the exposure step."""
    from talkinghead.refine.composite.anchor import EXPOSURE_TOLERANCE, apply_gain, deadzone_scale, exposure_gain

    mesh, closed, opened = _faces()
    fl = backward_flow(closed, opened, R)
    alpha = np.zeros((R, R), np.float32)
    alpha[8:-8, 8:-8] = 1.0
    reg = anchor_regions(closed, opened, mesh, alpha, fl)
    source = _face_image(closed, mesh, skin=(5.0, 4.0, 6.0), lips=(4.0, 8.0, 5.0), mouth=(1.0, 1.0, 1.0))
    painted = _face_image(opened, mesh, skin=(25.0, 12.0, 16.0), lips=(20.0, 30.0, 15.0), mouth=(8.0, 6.0, 3.0))
    assert deadzone_scale(source, reg.skin) < 0.2  # dark skin: small dead zones
    g = exposure_gain(painted, source, reg.skin)
    assert 0.05 < g < 0.3
    out = anchor_colours(painted, source, fl, reg, alpha)
    skin = (reg.skin > 0.99) & (reg.lips_area < 0.01)
    assert abs(_lab(out)[skin][:, 0].mean() - _lab(source)[skin][:, 0].mean()) < 1.5
    assert (_lab(out)[skin][:, 0] > 0.5).mean() > 0.95  # darkened, not clipped to black
    # the opening is darkened with the rest (exposure is the whole region's)
    opening = cv2.erode((inner_mouth_mask(opened, mesh, R, 0.0) > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert _lab(out)[opening][:, 0].mean() < _lab(painted)[opening][:, 0].mean() - 2
    # a lit face: no exposure step (gain 1 within the tolerance)
    lit = _face_image(closed, mesh)
    assert exposure_gain(_face_image(opened, mesh, skin=(73.0, 14.0, 18.0)), lit, reg.skin) == 1.0
    assert deadzone_scale(lit, reg.skin) == 1.0
    # the gain itself: linear light, alpha-weighted, identity at 1
    np.testing.assert_array_equal(apply_gain(painted, 1.0, alpha), painted)
    half = apply_gain(np.full((4, 4, 3), 188, np.uint8), 0.5, np.ones((4, 4), np.float32))
    assert abs(int(half[0, 0, 0]) - 137) <= 1  # sRGB 188 is linear 0.50; half of it is sRGB 137
    assert EXPOSURE_TOLERANCE > 1


def test_the_feather_of_a_dark_face_is_corrected_as_much_as_its_inside():
    """A dark frame painted as a lit face, with a feathered hole: the correction covers the
    feather wholly (in proportion to the alpha it left a bright line along the region's edge)."""
    mesh, closed, opened = _faces()
    fl = backward_flow(closed, opened, R)
    hard = np.zeros((R, R), np.float32)
    hard[20:-20, 20:-20] = 1.0
    alpha = cv2.GaussianBlur(hard, (0, 0), 6.0)  # a wide feather, as blend_alpha makes
    reg = anchor_regions(closed, opened, mesh, alpha, fl)
    source = _face_image(closed, mesh, skin=(5.0, 4.0, 6.0), lips=(4.0, 8.0, 5.0), mouth=(1.0, 1.0, 1.0))
    painted = _face_image(opened, mesh, skin=(25.0, 12.0, 16.0), lips=(20.0, 30.0, 15.0), mouth=(8.0, 6.0, 3.0))
    out = _lab(anchor_colours(painted, source, fl, reg, alpha))[..., 0]
    feather = (alpha > 0.2) & (alpha < 0.8)
    inside = (reg.skin > 0.99) & (reg.lips_area < 0.01)
    assert feather.sum() > 500 and inside.sum() > 500
    assert out[feather].mean() < out[inside].mean() + 2.0  # no brighter than the inside
    assert out[feather].mean() < _lab(painted)[feather][:, 0].mean() - 10  # corrected, not left lit
    np.testing.assert_array_equal(anchor_colours(painted, source, fl, reg, alpha)[alpha == 0], painted[alpha == 0])
