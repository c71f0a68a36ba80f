"""Rendering of the deformed lower face (talkinghead.render): masks, batching, backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkinghead.face.deform import deform_lower_face, track_from_landmarks
from talkinghead.face.mesh import REGION_LIPS, REGION_MOUTH
from talkinghead.render import CropBox, render_frames
from talkinghead.render.cameras import crop_boxes
from talkinghead.render.fast_backend import rasterize_fast
from talkinghead.render.pytorch3d_backend import rasterize
from talkinghead.visemes.types import MOUTH_PARAMS, P

from test_mesh import astronaut_landmarks, params, rotated_track

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def track():
    return track_from_landmarks(astronaut_landmarks(), 512, 512)


def mixed_params() -> np.ndarray:
    """A few mouth shapes covering all parameters."""
    rows = [
        {},
        {"jaw_open": 0.5},
        {"jaw_open": 1.0},
        {"jaw_open": 0.6, "lip_close": 1.0},
        {"lip_round": 1.0, "jaw_open": 0.3},
        {"lip_spread": 1.0, "jaw_open": 0.2, "teeth_show": 1.0},
        {"lower_lip_tuck": 1.0, "jaw_open": 0.1},
        {"upper_lip_raise": 1.0, "jaw_open": 0.4},
    ]
    p = np.zeros((len(rows), len(MOUTH_PARAMS)))
    for i, r in enumerate(rows):
        for k, v in r.items():
            p[i, P[k]] = v
    return p


@pytest.mark.parametrize("backend", ["pytorch3d", "fast"])
def test_camera_maps_image_pixels_onto_the_crop(backend):
    """A triangle given in frame pixels lands on the expected render pixels (pixel centres)."""
    box = CropBox(100.0, 200.0, 50.0)  # 10 px render -> 5 frame px per render px
    v = np.array([[[100.0, 200.0, 5.0], [120.0, 200.0, 5.0], [100.0, 210.0, 5.0]]], np.float32)
    f = np.array([[0, 1, 2]])
    if backend == "fast":
        p2f, _ = rasterize_fast(v, f, [box], 10)
    else:
        p2f = rasterize(v, f, [box], 10)[0][..., 0].numpy()
    expect = np.zeros((10, 10), bool)
    expect[0, :3] = True  # crop triangle (0,0)-(4,0)-(0,2): centres with x + 2y < 4
    expect[1, 0] = True
    np.testing.assert_array_equal(p2f[0] >= 0, expect)


def test_mouth_opening_grows_with_jaw_open(track):
    jaw = np.linspace(0, 1, 6)
    p = params(6)
    p[:, P["jaw_open"]] = jaw
    r = render_frames(deform_lower_face(track, p, np.zeros(6, int)), 128, device="cpu")
    area = r.mouth_mask.sum((1, 2))
    assert area[0] == 0
    assert (np.diff(area) > 0).all(), area
    # teeth show through the opening only
    assert (r.teeth_mask.max(-1) <= r.mouth_mask).all()
    assert r.teeth_mask[-1, ..., 1].sum() > 0  # lower teeth visible at jaw_open = 1
    # the whole opening lies within the face, the face fits the crop (empty border)
    assert (r.mouth_mask <= r.face_mask).all()
    assert r.face_mask[:, -1].sum() == 0 and r.face_mask[:, :, 0].sum() == 0
    assert ((r.region == REGION_LIPS).sum((1, 2)) > 50).all()


def test_full_lip_closure_renders_no_opening(track):
    p = params(4, lip_close=1.0)
    p[:, P["jaw_open"]] = [0.2, 0.5, 0.8, 1.0]
    p[2, P["teeth_show"]] = 1.0
    p[3, P["lip_round"]] = 1.0
    meshes = deform_lower_face(track, p, np.zeros(4, int))
    for backend in ("fast", "pytorch3d"):
        r = render_frames(meshes, 128, device="cpu", backend=backend)
        assert r.mouth_mask.sum() == 0, backend
        assert r.teeth_mask.sum() == 0, backend
        assert r.face_mask.sum() > 0.2 * r.face_mask.size
    # and without the closure the same jaw opens the mouth
    p[:, P["lip_close"]] = 0.0
    r = render_frames(deform_lower_face(track, p, np.zeros(4, int)), 128, device="cpu")
    assert (r.mouth_mask.sum((1, 2)) > 0).all()


@pytest.mark.parametrize("backend", ["pytorch3d", "fast"])
def test_batch_equals_frame_by_frame(track, backend):
    t2 = rotated_track(track, [0.0, 10.0, -15.0, 5.0], shift=(8.0, -5.0))
    p = mixed_params()[:4]
    meshes = deform_lower_face(t2, p, np.arange(4))
    batch = render_frames(meshes, 96, device="cpu", backend=backend)
    for i in range(4):
        one = render_frames(meshes.select([i]), 96, [batch.boxes[i]], device="cpu", backend=backend)
        np.testing.assert_array_equal(one.region[0], batch.region[i])
        np.testing.assert_allclose(one.surface[0], batch.surface[i], atol=1e-5)
        np.testing.assert_array_equal(one.mouth_mask[0], batch.mouth_mask[i])
        np.testing.assert_array_equal(one.teeth_mask[0], batch.teeth_mask[i])


@pytest.mark.parametrize("resolution", [128, 192])
def test_fast_backend_matches_pytorch3d(track, resolution):
    t2 = rotated_track(track, [0.0, 12.0, -20.0, 4.0, 0.0, -8.0, 15.0, 0.0])
    p = mixed_params()
    meshes = deform_lower_face(t2, p, np.arange(len(p)))
    ref = render_frames(meshes, resolution, device="cpu", backend="pytorch3d")
    fast = render_frames(meshes, resolution, ref.boxes, device="cpu", backend="fast")
    for name in ("face_mask", "mouth_mask"):
        agree = (getattr(ref, name) == getattr(fast, name)).mean()
        assert agree >= 0.999, (name, agree)
    assert (ref.teeth_mask == fast.teeth_mask).mean() >= 0.999
    assert (ref.region == fast.region).mean() >= 0.999
    both = (ref.face_mask > 0) & (fast.face_mask > 0)
    diff = np.abs(ref.surface - fast.surface).max(-1)[both]
    assert np.quantile(diff, 0.99) < 0.05 and diff.mean() < 0.01
    # the opening is actually exercised
    assert ref.mouth_mask.sum() > 100 and (ref.region == REGION_MOUTH).sum() > 0


def test_surface_normals_face_the_camera(track):
    r = render_frames(deform_lower_face(track, params(1), np.zeros(1, int)), 128, device="cpu")
    face = r.face_mask[0] > 0
    n = r.surface[0][face] * 2 - 1
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-3)
    assert n[:, 2].mean() > 0.6  # towards the viewer
    assert (r.surface[0][~face] == 0).all()


def test_crop_boxes_are_stable_and_follow_the_head(track):
    t2 = rotated_track(track, [0.0] * 20, shift=(0.0, 0.0))
    t2.translation[:, 0] += np.linspace(0, 40, 20).astype(np.float32)  # head slides right
    p = params(20)
    p[:, P["jaw_open"]] = np.random.default_rng(1).uniform(0, 1, 20)  # jittery mouth
    meshes = deform_lower_face(t2, p, np.arange(20))
    boxes = crop_boxes(meshes.neutral_vertices, meshes.mouth_width_px)
    sizes = np.array([b.size for b in boxes])
    x0 = np.array([b.x0 for b in boxes])
    y0 = np.array([b.y0 for b in boxes])
    assert np.ptp(sizes) == 0 and np.ptp(y0) < 1e-6  # mouth motion does not move the box
    assert x0[-1] - x0[0] > 25 and (np.diff(x0) > 0).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(track):
    p = mixed_params()
    meshes = deform_lower_face(track, p, np.zeros(len(p), int))
    cpu = render_frames(meshes, 128, device="cpu", backend="pytorch3d")
    gpu = render_frames(meshes, 128, cpu.boxes, device="cuda", backend="auto")
    assert (cpu.region == gpu.region).mean() >= 0.999


@pytest.mark.slow
def test_mesh_command_writes_a_video_with_audio(tmp_path):
    """End to end: script -> speech -> visemes -> tracked image -> mesh preview mp4."""
    import cv2

    from talkinghead.cli import main
    from talkinghead.media import probe, read_frames
    import skimage.data

    face = tmp_path / "astronaut.png"
    cv2.imwrite(str(face), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    out = tmp_path / "mesh.mp4"
    rc = main(["-q", "mesh", "--text", "Bob opened a map.", "--face", str(face), "-o", str(out),
               "--resolution", "128", "--no-cache"])
    assert rc == 0 and out.exists()
    info = probe(out)
    assert info.has_audio and info.fps == pytest.approx(25.0)
    assert (info.width, info.height) == (512, 512) and info.n_frames >= 15
    frames = np.stack(list(read_frames(out)))
    # the mouth region changes over time (the mesh speaks); far from the face nothing changes
    mouth = frames[:, 130:160, 200:250].astype(np.float32)
    corner = frames[:, :60, :60].astype(np.float32)
    assert mouth.std(0).mean() > 3 * corner.std(0).mean()
    # bad options are user errors
    assert main(["-q", "mesh", "--text", "Hi.", "--face", str(face), "-o", str(out), "--opacity", "2"]) == 2


def test_opening_is_filled_in_a_turned_head(track):
    """Head turned 30 degrees (yaw) with the jaw open: every pixel inside the inner-lip contour
    shows the mouth interior, teeth or lips, never background."""
    import cv2

    from talkinghead.face.mesh import load_lower_face_mesh
    from talkinghead.render.cameras import to_crop_pixels

    t2 = rotated_track(track, [0.0, 0.0])
    for k, a in enumerate(np.radians([30.0, -30.0])):
        c, s = np.cos(a), np.sin(a)
        t2.rotation[k] = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
    meshes = deform_lower_face(t2, params(2, jaw_open=1.0), np.arange(2))
    r = render_frames(meshes, 128, device="cpu")
    loop = load_lower_face_mesh().inner_lip_loop
    for k in range(2):
        pts = to_crop_pixels(meshes.vertices[k : k + 1], [r.boxes[k]], 128)[0, loop, :2]
        inside = np.zeros((128, 128), np.uint8)
        cv2.fillPoly(inside, [np.round(pts - 0.5).astype(np.int32)], 1)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
        assert inside.sum() > 50
        assert (r.region[k][inside] > 0).all()
        assert r.mouth_mask[k][inside].mean() > 0.9


def test_supersampling_antialiases_the_masks(track):
    meshes = deform_lower_face(track, params(1, jaw_open=0.8), np.zeros(1, int))
    one = render_frames(meshes, 64, device="cpu")
    ss = render_frames(meshes, 64, one.boxes, device="cpu", supersample=4)
    frac = (ss.face_mask > 0) & (ss.face_mask < 1)
    assert frac.sum() > 50  # soft edges
    assert set(np.unique(one.face_mask)) <= {0.0, 1.0}
    # same coverage on average, and the mouth opening area agrees
    assert abs(ss.face_mask.sum() - one.face_mask.sum()) < 0.03 * one.face_mask.sum()
    assert abs(ss.mouth_mask.sum() - one.mouth_mask.sum()) < 0.15 * one.mouth_mask.sum()
    assert (ss.teeth_mask.sum(-1) <= ss.mouth_mask + 1e-6).all()
