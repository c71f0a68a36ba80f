"""The source frame's skin detail carried onto the rebuilt face (talkinghead.refine.composite.detail)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkinghead.face.mesh import load_lower_face_mesh
from talkinghead.refine.composite.blend import crop_affine
from talkinghead.refine.composite.detail import add_detail, backward_flow, detail_weight, high_pass, lips_mask
from talkinghead.render.types import CropBox


def _face_points(r=96):
    """Crop-pixel positions of the lower-face vertices (the asset's reference geometry)."""
    mesh = load_lower_face_mesh()
    v = mesh.reference_vertices[:, :2]
    return mesh, (v - v.mean(0)) / np.ptp(v, 0).max() * 0.6 * r + r / 2


def test_backward_flow_of_a_translation():
    mesh, src = _face_points()
    new = src + [3.0, -2.0]
    fl = backward_flow(src, new, 96)
    assert fl.shape == (96, 96, 2) and fl.dtype == np.float32
    cx, cy = new.mean(0).astype(int)
    np.testing.assert_allclose(fl[cy, cx], [3.0, -2.0], atol=1e-4)
    assert (fl[0, 0] == 0).all() and (fl[95, 95] == 0).all()  # outside the face: no displacement


def test_detail_weight_leaves_out_both_mouths():
    mesh, closed = _face_points()
    r = 96
    opened = closed.copy()
    lower = np.isin(np.arange(len(closed)), np.concatenate([mesh.lower_lip, mesh.inner_lip_lower]))
    opened[lower, 1] += 8.0  # the lower lip dropped
    alpha = np.ones((r, r), np.float32)
    for src, new in ((closed, opened), (opened, closed)):
        fl = backward_flow(src, new, r)
        w = detail_weight(src, new, mesh, alpha, fl, soften=0.0)
        assert w.dtype == np.float32 and (w <= alpha).all()
        # no source detail on the new lips, nor from the source's lips: with an open source and
        # a closed new mouth, the chin just below the new lower lip shows (in the source) lip
        assert (w[lips_mask(new, mesh, r, 0.0) > 0] == 0).all()
        assert (w[lips_mask(opened, mesh, r, 0.0) > 0] == 0).all()
        cheek = np.round(new[mesh.jaw_line[0]]).astype(int)  # far from the mouth: all of the alpha
        assert w[cheek[1] - 2, cheek[0] + 2] == 1.0
        assert (detail_weight(src, new, mesh, 0.5 * alpha, fl) <= 0.5).all()


def _textured_scene(seed=0):
    """A frame with fine texture, its smoothed copy (what the refiner draws) and a crop box."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(60, 200, (240, 300, 3)).astype(np.float32), (0, 0), 12)
    texture = cv2.GaussianBlur(rng.normal(0, 25, (240, 300)).astype(np.float32), (0, 0), 0.8)
    frame = np.clip(base + texture[..., None], 0, 255).astype(np.uint8)
    smooth = cv2.GaussianBlur(frame, (0, 0), 3)
    return frame, smooth, CropBox(60.0, 30.0, 192.0)


def _weight_in_frame(weight, box, shape):
    return cv2.warpAffine(weight, crop_affine(box, weight.shape[0]), (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def test_add_detail_restores_the_fine_texture_in_place():
    frame, smooth, box = _textured_scene()
    r = 96
    weight = np.zeros((r, r), np.float32)
    weight[20:76, 20:76] = 1.0
    out = add_detail(smooth, frame, box, weight, np.zeros((r, r, 2), np.float32), sigma=1.0)
    wf = _weight_in_frame(weight, box, frame.shape)
    outside = wf < 1e-3
    assert np.array_equal(out[outside], smooth[outside]), "only the weighted region changes"
    core = wf > 0.99
    err_before = np.abs(smooth[core].astype(float) - frame[core]).mean()
    err_after = np.abs(out[core].astype(float) - frame[core]).mean()
    assert err_after < 0.6 * err_before
    hp = lambda img: np.abs(high_pass(img, 2.0)[core]).mean()  # noqa: E731
    assert hp(out) > 2 * hp(smooth) and hp(out) == pytest.approx(hp(frame), rel=0.35)


def test_add_detail_moves_the_texture_with_the_flow():
    frame, smooth, box = _textured_scene(1)
    r = 96
    weight = np.zeros((r, r), np.float32)
    weight[20:76, 20:76] = 1.0
    shift = np.array([3.0, 2.0], np.float32)  # crop pixels; box 192 / 96 -> (6, 4) frame pixels
    flow = np.broadcast_to(shift, (r, r, 2)).copy()
    out = add_detail(smooth, frame, box, weight, flow, sigma=1.0)
    core = _weight_in_frame(weight, box, frame.shape) > 0.99
    ys, xs = np.nonzero(core)
    y0, y1, x0, x1 = ys.min() + 8, ys.max() - 8, xs.min() + 8, xs.max() - 8
    added = out[y0:y1, x0:x1, 0].astype(float) - smooth[y0:y1, x0:x1, 0]
    real = high_pass(frame, 2.0)
    scores = {(dy, dx): np.corrcoef(added.ravel(), real[y0 - dy:y1 - dy, x0 - dx:x1 - dx].ravel())[0, 1]
              for dy in range(-1, 7) for dx in range(-1, 9)}
    assert max(scores, key=scores.get) == (4, 6), "the detail lands where the skin moved"
    assert scores[(4, 6)] > 0.6 and scores[(0, 0)] < 0.3


def test_upper_band_is_the_skin_above_the_upper_lip_and_takes_the_source_there():
    from talkinghead.refine.composite.detail import keep_upper_band, upper_band_weight

    mesh, closed = _face_points()
    r = 96
    opened = closed.copy()
    upper = np.isin(np.arange(len(closed)), np.concatenate([mesh.upper_lip, mesh.inner_lip_upper]))
    opened[upper, 1] -= 3.0  # the upper lip raised a little (an open vowel)
    alpha = np.ones((r, r), np.float32)
    fl = backward_flow(closed, opened, r)
    w = upper_band_weight(closed, opened, mesh, alpha, fl, soften=0.0)
    assert w.dtype == np.float32 and w.shape == (r, r) and (w <= alpha).all()
    lip = opened[mesh.outer_lip_upper]
    top = np.round(lip[np.argmin(lip[:, 1])]).astype(int)  # the upper lip's highest point
    assert w[top[1] - 4, top[0]] == 1.0  # the skin just above it (a moustache's place)
    assert (w[lips_mask(opened, mesh, r, 0.0) > 0] == 0).all()  # never the lips themselves
    below = np.round(opened[mesh.outer_lip_lower].max(0)).astype(int)
    assert (w[below[1] + 1:] == 0).all()  # nothing below the mouth
    cheek = np.round(opened[mesh.jaw_line[0]]).astype(int)
    assert w[cheek[1], cheek[0] + 2] == 0.0  # nor far out on the cheek
    assert (upper_band_weight(closed, opened, mesh, 0.5 * alpha, fl) <= 0.5).all()

    # the source frame, moved with the skin at its own resolution, replaces the output there and
    # nowhere else
    frame, smooth, box = _textured_scene(1)
    r2 = 96
    wb = np.zeros((r2, r2), np.float32)
    wb[30:50, 20:70] = 1.0
    wb = cv2.GaussianBlur(wb, (0, 0), 2.0)
    out = keep_upper_band(smooth, frame, box, wb, np.zeros((r2, r2, 2), np.float32))
    wf = _weight_in_frame(wb, box, frame.shape)
    assert np.array_equal(out[wf < 1e-3], smooth[wf < 1e-3])
    core = wf > 0.999
    assert core.sum() > 1000
    assert np.abs(out[core].astype(int) - frame[core].astype(int)).max() <= 1  # the frame's own pixels
    # with a flow, the pixels come from where the skin was: a shift of 2 crop pixels = 4 frame pixels
    fl = np.zeros((r2, r2, 2), np.float32)
    fl[..., 0] = 2.0
    moved = keep_upper_band(smooth, frame, box, wb, fl)
    s = int(round(2.0 * box.size / r2))
    ys, xs = np.nonzero(core)
    np.testing.assert_array_equal(moved[ys, xs], frame[ys, xs - s])
