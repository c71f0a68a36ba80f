"""Face tracking: accuracy against known motion, jitter, small faces, gaps, several faces, cache."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from face_fixtures import astronaut_clip, astronaut_image, write_clip  # noqa: E402

from talkinghead.errors import FaceError  # noqa: E402
from talkinghead.face import cache as track_cache  # noqa: E402
from talkinghead.face.pose import EYE_OUTER, STABLE, fit_similarity, load_generic_canonical  # noqa: E402
from talkinghead.face.tracking import TrackerSettings, track_face  # noqa: E402
from talkinghead.face.types import N_LANDMARKS, FaceTrack  # noqa: E402


def _rot_deg(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return np.degrees(Rotation.from_matrix(r).as_rotvec())


def _inplane(angle_deg: np.ndarray) -> np.ndarray:
    """3D rotations of an on-screen rotation made by cv2.getRotationMatrix2D(angle)."""
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    out = np.zeros((len(angle_deg), 3, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1], out[:, 2, 2] = c, s, -s, c, 1
    return out


def _jitter(x: np.ndarray) -> float:
    """Mean distance of each sample from its temporal mean (same units as x)."""
    return float(np.linalg.norm(x - x.mean(axis=0), axis=-1).mean())


@pytest.fixture(scope="module")
def moving():
    frames, truth = astronaut_clip(40, "affine")
    return frames, truth, track_face(frames, progress=False, cache=False)


def test_track_follows_known_motion(moving):
    frames, truth, tr = moving
    assert tr.n_frames == 40 and tr.detected.all()
    assert tr.landmarks.shape == (40, N_LANDMARKS, 3) and tr.landmarks.dtype == np.float32
    assert (tr.width, tr.height) == (512, 512)

    # Rotation: R_t = inplane_t @ R_base for one unknown base rotation (the photo's own pose).
    inpl = _inplane(truth.angle_deg)
    u, _, vt = np.linalg.svd(np.einsum("tji,tjk->ik", inpl, tr.rotation.astype(float)))
    base = u @ vt
    err = _rot_deg(np.einsum("tij,jk,tlk->til", tr.rotation.astype(float), base.T, inpl))
    assert np.abs(err[:, 2]).max() < 1.0  # in-plane (the known motion), degrees
    assert np.linalg.norm(err, axis=1).max() < 2.0  # incl. out-of-plane detector noise

    # Translation: the canonical origin is one fixed point of the photo, moved by the affine.
    a = truth.affine
    p = np.linalg.lstsq(a[:, :, :2].reshape(-1, 2), (tr.translation[:, :2] - a[:, :, 2]).reshape(-1),
                        rcond=None)[0]
    pred = np.einsum("tij,j->ti", a[:, :, :2], p) + a[:, :, 2]
    assert np.linalg.norm(pred - tr.translation[:, :2], axis=1).max() < 2.0  # pixels

    # Scale follows the zoom (relative).
    ratio = tr.scale / truth.scale
    assert np.abs(ratio / ratio.mean() - 1).max() < 0.02


def test_track_invariants(moving):
    _, _, tr = moving
    r = tr.rotation.astype(float)
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5)
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    recon = tr.scale[:, None, None] * np.einsum("tij,tnj->tni", r, tr.canonical[None] + tr.expression) \
        + tr.translation[:, None, :]
    assert np.abs(recon - tr.landmarks).max() < 1e-2  # pixels (float32 round-off)
    c = tr.canonical
    assert np.linalg.norm(c[EYE_OUTER[1]] - c[EYE_OUTER[0]]) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(c[STABLE].mean(axis=0)).max() < 1e-4
    assert c[EYE_OUTER[1], 0] > c[EYE_OUTER[0], 0]  # x right
    assert c[152, 1] > c[10, 1]  # y down: chin below forehead
    assert c[1, 2] < c[234, 2]  # z away from camera: nose tip nearer than the cheek's edge
    # Smoothed landmarks stay close to the detector's.
    assert np.abs(tr.landmarks - tr.raw_landmarks).mean() < 1.0
    # Pose-normalised stable points hardly move: the expression is small there.
    assert np.abs(tr.expression[:, STABLE]).mean() < 0.02


def test_generic_canonical_is_frontal_and_symmetric():
    g = load_generic_canonical()
    c, m = g["canonical"], g["mirror"]
    assert c.shape == (N_LANDMARKS, 3) and m.shape == (N_LANDMARKS,)
    assert np.array_equal(m[m], np.arange(N_LANDMARKS))  # an involution
    assert m[33] == 263 and m[61] == 291 and m[13] == 13 and m[468] == 473
    assert np.allclose(c[m] * [-1, 1, 1], c, atol=1e-5)


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(50, 3))
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec([0.2, -0.4, 0.1]).as_matrix()
    dst = 3.5 * src @ rot.T + [10.0, -4.0, 2.0]
    pose = fit_similarity(src, dst[None])
    assert np.allclose(pose.rotation[0], rot, atol=1e-9)
    assert pose.scale[0] == pytest.approx(3.5)
    assert np.allclose(pose.translation[0], [10.0, -4.0, 2.0])


def test_smoothing_removes_jitter_of_a_still_face():
    frames, _ = astronaut_clip(40, "static", noise=3.0)
    tr = track_face(frames, progress=False, cache=False)
    raw, smooth = _jitter(tr.raw_landmarks), _jitter(tr.landmarks)
    assert raw > 0.02  # the noise does make the detector jitter
    assert smooth < 0.5 * raw
    raw_only = track_face(frames, progress=False, cache=False, smoothing=False)
    assert np.array_equal(raw_only.landmarks, raw_only.raw_landmarks) or \
        np.abs(raw_only.landmarks - raw_only.raw_landmarks).max() < 1e-3


def test_small_face_in_a_wide_frame():
    # The photo at 0.3x in a 1280x720 frame: the face is ~45 px, 6% of the frame height.
    pos = (900.0, 250.0)
    frames, truth = astronaut_clip(8, "static", size=(1280, 720), face_scale=0.3, position=pos)
    tr = track_face(frames, progress=False, cache=False)
    assert tr.detected.all()
    face_h = np.ptp(tr.raw_landmarks[0, :, 1])
    assert face_h < 0.1 * 720
    # Same landmarks as on the full-size photo, mapped through the known transform.
    big = track_face([astronaut_image()], progress=False, cache=False)
    pts = big.raw_landmarks[0, :, :2]
    expected = pts @ truth.affine[0, :, :2].T + truth.affine[0, :, 2]
    err = np.linalg.norm(tr.landmarks[:, :, :2].mean(axis=0) - expected, axis=1)
    assert np.median(err) < 0.05 * face_h


def test_short_gap_is_interpolated_long_gap_fails():
    frames, _ = astronaut_clip(30, "affine")
    blank = np.full_like(frames[0], 90)
    gap = [f if not 10 <= i <= 12 else blank for i, f in enumerate(frames)]
    tr = track_face(gap, progress=False, fps=25)
    assert list(np.flatnonzero(~tr.detected)) == [10, 11, 12]
    # Interpolated frames lie between their neighbours.
    lo, hi = tr.raw_landmarks[9], tr.raw_landmarks[13]
    mid = tr.raw_landmarks[11]
    assert np.abs(mid - (lo + hi) / 2).max() < 1e-3

    long_gap = [blank] * 20 + frames[20:]
    with pytest.raises(FaceError, match=r"no face found in frames 0-19 .*the face shows in frames "
                                        r"20-29 \(0.80-1.20 s\): cut the video to them"):
        track_face(long_gap, progress=False, fps=25, settings=TrackerSettings(max_gap_s=0.5))


def test_no_face_at_all(tmp_path):
    import cv2

    blank = np.full((120, 160, 3), 200, np.uint8)
    with pytest.raises(FaceError, match="no face found in any of the 5 frames"):
        track_face([blank] * 5, progress=False)
    img = tmp_path / "wall.png"
    cv2.imwrite(str(img), blank)
    with pytest.raises(FaceError, match="no face found in frame 0 of wall.png"):
        track_face(img, progress=False, cache=False)


def test_several_faces_face_index():
    import cv2

    photo = astronaut_image()
    canvas = np.full((600, 1000, 3), 70, np.uint8)
    canvas[40:552, 20:532] = photo  # large face, left
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    canvas[150:450, 650:950] = small  # smaller face, right
    frames = [canvas] * 4
    first = track_face(frames, progress=False, face_index=0)
    second = track_face(frames, progress=False, face_index=1)
    assert first.detected.all() and second.detected.all()
    assert first.landmarks[:, :, 0].mean() < 532 < second.landmarks[:, :, 0].mean()
    assert first.scale.mean() > 1.4 * second.scale.mean()
    with pytest.raises(FaceError, match="face index 2"):
        track_face(frames, progress=False, face_index=2)


def test_image_file_and_save_load(tmp_path):
    import cv2

    p = tmp_path / "astronaut.png"
    cv2.imwrite(str(p), astronaut_image()[:, :, ::-1])
    tr = track_face(p, progress=False, cache=False)
    assert tr.n_frames == 1 and tr.detected.all()
    assert np.abs(tr.expression).max() < 1e-4  # a single image is its own neutral face
    out = tmp_path / "t.npz"
    tr.save(out)
    back = FaceTrack.load(out)
    for k in ("landmarks", "raw_landmarks", "rotation", "translation", "scale", "canonical",
              "expression", "detected"):
        assert np.array_equal(getattr(back, k), getattr(tr, k))
    assert (back.fps, back.width, back.height, back.source) == (tr.fps, tr.width, tr.height, tr.source)
    assert back.settings["face_index"] == 0


def test_cache_second_call_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(12, "affine")
    clip = write_clip(frames, tmp_path / "clip.mp4", fps=25)
    first = track_face(clip, progress=False)
    assert not first.from_cache
    files = list((tmp_path / "cache" / "tracks").glob("*.npz"))
    assert len(files) == 1
    second = track_face(clip, progress=False)
    assert second.from_cache
    assert second.settings["cache_file"] == str(files[0])
    assert np.array_equal(second.landmarks, first.landmarks)
    assert second.fps == pytest.approx(25.0) and second.n_frames == 12
    # Other settings, or other content, miss the cache.
    third = track_face(clip, progress=False, smoothing=False)
    assert not third.from_cache
    assert len(list((tmp_path / "cache" / "tracks").glob("*.npz"))) == 2
    assert files[0].name.startswith(track_cache.file_sha256(clip)[:32])  # keyed by content


def test_track_command(tmp_path, monkeypatch):
    from talkinghead.cli import main
    from talkinghead.media import load_frames

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(10, "affine")
    clip = write_clip(frames, tmp_path / "clip.mp4", fps=25)
    out, ov = tmp_path / "track.npz", tmp_path / "overlay.mp4"
    assert main(["-q", "track", str(clip), "-o", str(out), "--overlay", str(ov)]) == 0
    tr = FaceTrack.load(out)
    assert tr.n_frames == 10 and tr.detected.all()
    drawn, src = load_frames(ov), load_frames(clip)
    assert drawn.shape == src.shape
    # The mesh is drawn over the face (lips in red), not elsewhere.
    diff = np.abs(drawn.astype(int) - src.astype(int)).sum(axis=-1)
    x0, y0 = tr.landmarks[0, :, :2].min(axis=0).astype(int)
    x1, y1 = tr.landmarks[0, :, :2].max(axis=0).astype(int)
    inside = diff[0, y0:y1, x0:x1].mean()
    outside = diff[0, :, : max(x0 - 20, 1)].mean()
    assert inside > 20 and inside > 5 * outside  # outside: only re-encoding noise
    # A video without a face: exit code 4 and nothing written.
    blank = write_clip([np.full((64, 64, 3), 128, np.uint8)] * 3, tmp_path / "blank.mp4")
    assert main(["-q", "track", str(blank), "-o", str(tmp_path / "b.npz")]) == 4
    assert not (tmp_path / "b.npz").exists()


@pytest.mark.slow
@pytest.mark.data
def test_dev_clips_small_faces(shared_data):
    from talkinghead.media import read_frames

    for name in ("s18.mp4", "sun.mp4"):
        frames = list(read_frames(shared_data / "faces" / name, max_frames=30))
        tr = track_face(frames, progress=False, cache=False)
        assert tr.detected.all(), name


def test_detection_does_not_depend_on_the_announced_frame_count():
    # the frame count is preallocated when known; a probe's estimate may be off by a frame or two
    from talkinghead.face.tracking import detect_landmarks

    frames, _ = astronaut_clip(5, "affine")
    blank = np.full_like(frames[0], 90)
    frames = frames[:2] + [blank] + frames[2:]  # a frame without a face: NaN landmarks
    exact = detect_landmarks(frames, n_frames=len(frames))
    for n in (None, 2, len(frames) + 3):
        raw, det, w, h = detect_landmarks(frames, n_frames=n)
        assert raw.shape == exact[0].shape and (det == exact[1]).all() and (w, h) == exact[2:]
        np.testing.assert_array_equal(raw, exact[0])
    assert not exact[1][2] and np.isnan(exact[0][2]).all() and exact[1][[0, 1, 3]].all()
