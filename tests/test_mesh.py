"""Lower-face mesh asset and its viseme deformation (talkinghead.face.mesh / .deform)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from talkinghead.face.deform import (
    build_rig,
    deform_lower_face,
    pingpong_indices,
    track_from_landmarks,
)
from talkinghead.face.mesh import REGION_LIPS, REGION_MOUTH, load_lower_face_mesh
from talkinghead.face.types import FaceTrack
from talkinghead.visemes.types import MOUTH_PARAMS, P

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def astronaut_landmarks() -> np.ndarray:
    """MediaPipe landmarks of skimage.data.astronaut, ``(478, 3)`` pixels (detected once)."""
    import mediapipe as mp
    import skimage.data

    img = skimage.data.astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        res = fm.process(img)
    h, w = img.shape[:2]
    return np.array([[p.x * w, p.y * h, p.z * w] for p in res.multi_face_landmarks[0].landmark], np.float32)


@pytest.fixture(scope="module")
def track() -> FaceTrack:
    return track_from_landmarks(astronaut_landmarks(), 512, 512)


def params(n: int = 1, **kw) -> np.ndarray:
    p = np.zeros((n, len(MOUTH_PARAMS)))
    for k, v in kw.items():
        p[:, P[k]] = v
    return p


def rotated_track(track: FaceTrack, angles_deg, shift=(0.0, 0.0)) -> FaceTrack:
    """Copy of a one-frame track with frames rotated in the image plane (about z) and shifted."""
    rots, trans, lms = [], [], []
    for a in np.radians(angles_deg):
        c, s = np.cos(a), np.sin(a)
        r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float32) @ track.rotation[0]
        t = track.translation[0] + np.array([shift[0], shift[1], 0], np.float32)
        rots.append(r)
        trans.append(t)
        lms.append(track.scale[0] * track.canonical @ r.T + t)
    n = len(rots)
    return FaceTrack(
        landmarks=np.array(lms), raw_landmarks=np.array(lms), rotation=np.array(rots),
        translation=np.array(trans), scale=np.repeat(track.scale, n), canonical=track.canonical,
        expression=np.zeros((n, 478, 3), np.float32), detected=np.ones(n, bool), fps=25.0,
        width=track.width, height=track.height,
    )


# ---------------------------------------------------------------------------------------------
# asset


def test_asset_is_a_valid_trimesh():
    mesh = load_lower_face_mesh()
    tm = mesh.to_trimesh()
    assert len(tm.faces) > 200 and len(tm.vertices) == mesh.n_vertices
    assert tm.faces.max() < mesh.n_vertices
    assert (tm.area_faces > 1e-6).all(), "degenerate faces"
    assert len(np.unique(np.sort(tm.faces, 1), axis=0)) == len(tm.faces), "duplicate faces"
    assert tm.is_winding_consistent
    assert tm.face_normals[:, 2].mean() < -0.5, "faces should face the camera (-z)"
    # landmark map: unique MediaPipe ids of the 468-point mesh
    assert len(np.unique(mesh.landmark_index)) == mesh.n_vertices
    assert mesh.landmark_index.max() < 468
    for lid in (13, 14, 61, 291, 0, 17, 152):  # lips and chin are in
        assert lid in mesh.landmark_index
    for lid in (33, 263, 168):  # eyes and nose bridge are not
        assert lid not in mesh.landmark_index


def test_inner_lip_contour_is_the_closed_mouth_hole():
    mesh = load_lower_face_mesh()
    tm = mesh.to_trimesh()
    loop = mesh.inner_lip_loop
    assert len(np.unique(loop)) == len(loop) == 2 * len(mesh.inner_lip_upper) - 2
    # every loop edge (including the closing one) is a boundary edge of the surface
    edges, counts = np.unique(np.sort(tm.edges, 1), axis=0, return_counts=True)
    boundary = {tuple(e) for e in edges[counts == 1]}
    for a, b in zip(loop, np.roll(loop, -1)):
        assert tuple(sorted((a, b))) in boundary
    # halves share their corners, and match MediaPipe's inner-lip midpoints
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    assert up[0] == lo[0] and up[-1] == lo[-1]
    assert 13 in mesh.landmark_index[up] and 14 in mesh.landmark_index[lo]
    # the mouth-interior triangles cover exactly the hole's boundary
    allv = np.concatenate([up, lo])
    used = np.unique(allv[mesh.mouth_faces])
    assert set(used) == set(loop)
    assert set(mesh.upper_lip).isdisjoint(mesh.lower_lip)
    assert (mesh.face_regions() == REGION_LIPS).sum() > 20


def test_build_tool_reproduces_the_asset():
    spec = importlib.util.spec_from_file_location("build_asset", ROOT / "tools" / "build_lower_face_asset.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tri = mod.tessellation_triangles()
    # MediaPipe's surface: 468 vertices, 1322 edges, 852 faces -> Euler characteristic -2
    # (a sphere with 4 holes: outline, two eyes, mouth)
    e = np.unique(np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), 1), axis=0)
    assert len(tri) == 852 and 468 - len(e) + len(tri) == -2
    built = mod.build()
    mesh = load_lower_face_mesh()
    for name in ("landmark_index", "faces", "inner_lip_upper", "inner_lip_lower", "mouth_faces", "lips"):
        np.testing.assert_array_equal(built[name], getattr(mesh, name), err_msg=name)


# ---------------------------------------------------------------------------------------------
# deformation


def test_pingpong_indices():
    np.testing.assert_array_equal(pingpong_indices(4, 10), [0, 1, 2, 3, 2, 1, 0, 1, 2, 3])
    np.testing.assert_array_equal(pingpong_indices(1, 3), [0, 0, 0])
    assert pingpong_indices(5, 0).shape == (0,)


def test_neutral_track_leaves_the_persons_neutral_closed_mouth(track):
    rig = build_rig(track)
    mesh = rig.mesh
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    # the astronaut smiles with parted lips; her neutral is closed
    gap_src = np.linalg.norm(track.canonical[14] - track.canonical[13]) / rig.width
    assert gap_src > 0.05
    np.testing.assert_allclose(rig.neutral[up], rig.neutral[lo], atol=1e-9)
    out = deform_lower_face(track, params(3), np.zeros(3, int))
    v = out.vertices[:, : out.n_skin]
    np.testing.assert_allclose(v, out.neutral_vertices, atol=1e-3)
    np.testing.assert_allclose(v[0], v[2])
    # away from the mouth the person's own face is kept (upper outline untouched)
    src = track.landmarks[0][mesh.landmark_index]
    np.testing.assert_allclose(v[0][mesh.upper_boundary], src[mesh.upper_boundary], atol=1e-3)


def test_source_lip_motion_does_not_leak(track):
    """Two source frames that differ only by mouth expression give the same output mouth."""
    mesh = load_lower_face_mesh()
    t2 = rotated_track(track, [0.0, 0.0])
    rng = np.random.default_rng(0)
    lips = mesh.landmark_index[np.union1d(mesh.lips, mesh.jaw_line)]
    t2.expression[1, lips] = rng.normal(0, 0.05, (len(lips), 3)).astype(np.float32)
    rig = build_rig(track)  # same rig for both (the expression would change its opening range)
    p = params(2, jaw_open=0.6, lip_round=0.3)
    out = deform_lower_face(t2, p, np.array([0, 1]), rig=rig)
    np.testing.assert_allclose(out.vertices[0], out.vertices[1], atol=1e-3)


def test_full_closure_meets_exactly_even_with_open_jaw(track):
    mesh = load_lower_face_mesh()
    p = params(4, lip_close=1.0)
    p[:, P["jaw_open"]] = [0.0, 0.4, 1.0, 1.0]
    p[3, P["lip_round"]] = 1.0
    p[3, P["lower_lip_tuck"]] = 1.0
    out = deform_lower_face(track, p, np.zeros(4, int))
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    np.testing.assert_allclose(out.vertices[:, up], out.vertices[:, lo], atol=1e-4)
    # half closure leaves a gap
    half = deform_lower_face(track, params(1, jaw_open=1.0, lip_close=0.5), np.zeros(1, int))
    assert np.linalg.norm(half.vertices[0, up] - half.vertices[0, lo], axis=1).max() > 1.0


def test_jaw_opens_monotonically_and_moves_the_chin(track):
    mesh = load_lower_face_mesh()
    jaw = np.linspace(0, 1, 6)
    p = params(6)
    p[:, P["jaw_open"]] = jaw
    out = deform_lower_face(track, p, np.zeros(6, int))
    li = {lid: i for i, lid in enumerate(mesh.landmark_index)}
    gap = np.linalg.norm(out.vertices[:, li[14]] - out.vertices[:, li[13]], axis=1)
    assert gap[0] < 1e-3 and (np.diff(gap) > 0).all()
    width_px = out.mouth_width_px[0]
    assert gap[-1] / width_px == pytest.approx(build_rig(track).open_max, rel=0.25)
    chin_dy = out.vertices[:, li[152], 1] - out.vertices[0, li[152], 1]
    assert (np.diff(chin_dy) > 0).all()  # chin goes down (image y)
    # the upper face (outline above the mouth, under the nose) does not move
    ub = mesh.upper_boundary[mesh.reference_vertices[mesh.upper_boundary, 1] < -0.2]
    assert len(ub) > 5
    np.testing.assert_allclose(out.vertices[-1, ub], out.vertices[0, ub], atol=1e-3)
    # lower teeth follow the jaw, upper teeth stay
    n_up = len(mesh.teeth_upper_vertices)
    teeth0 = out.n_skin + 2 * len(mesh.inner_lip_upper)
    upper_teeth = out.vertices[:, teeth0 : teeth0 + n_up]
    lower_teeth = out.vertices[:, teeth0 + n_up :]
    np.testing.assert_allclose(upper_teeth[-1], upper_teeth[0], atol=1e-3)
    assert (lower_teeth[-1, :, 1] - lower_teeth[0, :, 1]).min() > 0.2 * gap[-1]


def test_the_open_mouth_is_lens_shaped(track):
    # real open mouths taper to the corners; the jaw moving the lower lip evenly opened a rectangle
    from talkinghead.face.deform import OPENING_PROFILE

    mesh = load_lower_face_mesh()
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    k = len(up) // 2
    for p in (params(1, jaw_open=1.0), params(1, jaw_open=0.6, teeth_show=1.0), params(1, jaw_open=1.0, lip_spread=1.0)):
        v = deform_lower_face(track, p, np.zeros(1, int)).vertices[0]
        gap = np.linalg.norm(v[lo] - v[up], axis=1)
        prof = gap / gap[k]
        assert prof[0] < 1e-6 and prof[-1] < 1e-6
        assert prof[1] < 0.6 and prof[-2] < 0.6  # next to the corners (a rectangle: ~0.9)
        assert 0.6 < prof[2] < 0.85 and 0.6 < prof[-3] < 0.85
        assert prof[k - 1] > 0.9 and prof[k + 1] > 0.9
        assert (np.diff(prof[: k + 1]) > 0).all() and (np.diff(prof[k:]) < 0).all()
    assert OPENING_PROFILE is not None


def test_lip_shapes_move_the_right_way(track):
    mesh = load_lower_face_mesh()
    li = {lid: i for i, lid in enumerate(mesh.landmark_index)}
    names = ["neutral", "lip_round", "lip_spread", "upper_lip_raise", "lower_lip_tuck"]
    p = params(len(names))
    for i, n in enumerate(names[1:], 1):
        p[i, P[n]] = 1.0
    v = deform_lower_face(track, p, np.zeros(len(names), int)).vertices
    width = np.linalg.norm(v[:, li[291]] - v[:, li[61]], axis=1)
    assert width[1] < 0.8 * width[0]  # rounding narrows
    assert width[2] > 1.1 * width[0]  # spreading widens
    assert v[1, li[0], 2] < v[0, li[0], 2] - 0.02 * width[0]  # rounding protrudes (closer)
    assert v[3, li[0], 1] < v[0, li[0], 1] - 0.04 * width[0]  # upper lip goes up
    assert v[4, li[17], 1] < v[0, li[17], 1]  # lower lip goes up ...
    assert v[4, li[14], 2] > v[0, li[14], 2] + 0.05 * width[0]  # ... and back under the teeth
    # chin and far cheeks hardly move for lip-only shapes
    for k in (1, 2, 3):
        assert np.abs(v[k, li[152]] - v[0, li[152]]).max() < 0.08 * width[0]


def test_pose_is_applied_per_frame(track):
    """Deforming in a rotated/shifted pose equals rotating/shifting the upright result."""
    t2 = rotated_track(track, [0.0, 25.0], shift=(30.0, -12.0))
    p = params(2, jaw_open=0.8, lip_spread=0.5)
    rig = build_rig(track)
    out = deform_lower_face(t2, p, np.array([0, 1]), rig=rig)
    r = t2.rotation[1] @ t2.rotation[0].T
    c0 = t2.translation[0]
    expect = (out.vertices[0] - c0) @ r.T + t2.translation[1]
    np.testing.assert_allclose(out.vertices[1], expect, atol=2e-3)


def test_opening_range_follows_the_video(track):
    wide = rotated_track(track, [0.0] * 10)
    rig0 = build_rig(wide)
    # a video where the mouth opens wide: lower-lip/jaw landmarks go down by up to 0.7 widths
    mesh = load_lower_face_mesh()
    lower = mesh.landmark_index[np.union1d(mesh.lower_lip, mesh.inner_lip_lower[1:-1])]
    down = rig0.basis[1] * rig0.width
    for t in range(10):
        wide.expression[t, lower] = (0.07 * t * down).astype(np.float32)
    rig1 = build_rig(wide)
    assert rig0.open_max == pytest.approx(0.45)
    assert rig1.open_max > 0.6
    assert rig1.jaw_angle_max > rig0.jaw_angle_max


def test_render_mesh_layout(track):
    out = deform_lower_face(track, params(1, jaw_open=1), np.zeros(1, int))
    assert out.vertices.shape[1] == out.faces.max() + 1
    assert out.vertices.dtype == np.float32 and np.isfinite(out.vertices).all()
    assert (out.face_region == REGION_MOUTH).sum() == len(load_lower_face_mesh().mouth_faces)
    with pytest.raises(ValueError):
        deform_lower_face(track, params(1), np.array([3]))
    with pytest.raises(ValueError):
        deform_lower_face(track, np.zeros((2, 5)), np.zeros(2, int))
