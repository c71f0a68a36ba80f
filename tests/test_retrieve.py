"""The person's own mouth: library, choice over time, warp and paste (talkinghead.refine.composite.retrieve)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkinghead.refine.composite.retrieve import (
    JUMP_COST,
    SHAPE_MAX,
    SHAPE_OK,
    MouthLibrary,
    MouthRetriever,
    library_frames,
    paste_mouth,
    shape_distances,
)

K = 5  # inner-lip pairs of the synthetic shapes


def _shape(opening: float, width: float = 1.0) -> np.ndarray:
    """A mouth-shape descriptor: every inner pair open by ``opening``, lens-shaped, and a width."""
    profile = opening * np.array([0.4, 0.85, 1.0, 0.85, 0.4])
    return np.concatenate([profile, [width]]).astype(np.float32)


def _library(openings, frames=None, crops=None, points=None) -> MouthLibrary:
    n = len(openings)
    frames = np.arange(n) if frames is None else np.asarray(frames)
    crops = np.zeros((n, 8, 8, 3), np.uint8) if crops is None else crops
    points = np.zeros((n, 4, 2), np.float32) if points is None else points
    return MouthLibrary(np.asarray(frames, np.int64), crops, np.zeros((n, 2), np.int64), points,
                        np.stack([_shape(o) for o in openings]), np.repeat(np.eye(3, dtype=np.float32)[None], n, 0),
                        np.ones(n, np.int64))


def test_library_frames_keep_detected_frames_in_runs():
    detected = np.ones(1000, bool)
    detected[100:110] = False
    ids = library_frames(detected, 900, max_frames=100, run=25)
    assert len(ids) <= 100 and np.all(np.diff(ids) > 0) and ids.max() < 900
    assert not np.isin(np.arange(100, 110), ids).any()
    assert (np.diff(ids) == 1).sum() >= 90  # mostly runs of consecutive frames
    assert np.array_equal(library_frames(detected[:50], 50), np.arange(50))


def test_shape_distance_is_the_opening_difference():
    from talkinghead.refine.composite.retrieve import opening_scale

    a = np.stack([_shape(0.2)])
    b = np.stack([_shape(0.2), _shape(0.3), _shape(0.2, 1.4)])
    d = shape_distances(a, b)[0]
    assert d[0] == pytest.approx(0.0, abs=1e-6)
    profile = np.array([0.4, 0.85, 1, 0.85, 0.4])
    expected = np.sqrt(np.mean((opening_scale(0.3 * profile) - opening_scale(0.2 * profile)) ** 2))
    assert d[1] == pytest.approx(expected, rel=1e-4)
    assert 0.5 * 0.1 < d[1] < 1.0 * 0.1  # about the openings' difference in mouth widths there
    assert 0 < d[2] < d[1]  # a width change costs less than a wrong opening
    # near shut lips the same gap counts several times more: shut must look shut
    near_shut = shape_distances(np.stack([_shape(0.0)]), np.stack([_shape(0.02)]))[0, 0]
    wide = shape_distances(np.stack([_shape(0.3)]), np.stack([_shape(0.32)]))[0, 0]
    assert near_shut > 3 * wide


def test_retriever_picks_the_matching_opening_and_stays_continuous():
    openings = [0.0, 0.1, 0.2, 0.3, 0.4, 0.2]
    lib = _library(openings)
    plan = np.stack([_shape(o) for o in (0.0, 0.1, 0.2, 0.3, 0.4, 0.8)])
    rot = np.repeat(np.eye(3)[None], len(plan), 0)
    entries, weights = MouthRetriever(lib).choose(plan, rot)
    assert list(entries[:5]) == [0, 1, 2, 3, 4]  # follows the video forward: no jump to entry 5
    assert (weights[:5] == 1).all()
    assert weights[5] == 0  # nothing in the video opens that wide: the refiner's mouth stays


def test_retriever_pays_a_jump_only_when_the_shape_is_worth_it():
    # entries 0-2 are consecutive frames of the video; entry 3 is far away in time and matches the
    # plan's last frame slightly better than entry 2 does
    lib = _library([0.0, 0.1, 0.2, 0.205], frames=[10, 11, 12, 300])
    plan = np.stack([_shape(o) for o in (0.0, 0.1, 0.205)])
    rot = np.repeat(np.eye(3)[None], 3, 0)
    entries, _ = MouthRetriever(lib).choose(plan, rot)
    assert list(entries) == [0, 1, 2]
    entries, _ = MouthRetriever(lib, jump_cost=0.0).choose(plan, rot)
    assert list(entries) == [0, 1, 3]


def test_retriever_carries_its_choice_across_chunks():
    lib = _library([0.1, 0.1, 0.3])
    rot = np.eye(3)[None]
    r = MouthRetriever(lib)
    first, _ = r.choose(np.stack([_shape(0.1)]), rot)
    second, _ = r.choose(np.stack([_shape(0.1)]), rot)
    assert second[0] in (first[0], first[0] + 1)  # the same frame or the next, not a jump


def test_weights_fall_from_shape_ok_to_shape_max():
    lib = _library([0.0])
    plan = np.stack([_shape(o) for o in np.linspace(0, 0.3, 61)])
    d = shape_distances(plan, lib.shapes)[:, 0]
    _, w = MouthRetriever(lib).choose(plan, np.repeat(np.eye(3)[None], len(plan), 0))
    assert (w[d <= SHAPE_OK] == 1).all() and (w[d >= SHAPE_MAX] == 0).all()
    between = (d > SHAPE_OK) & (d < SHAPE_MAX)
    assert between.sum() >= 2
    np.testing.assert_allclose(w[between], (SHAPE_MAX - d[between]) / (SHAPE_MAX - SHAPE_OK), atol=1e-5)


def _mouth_points(cx: float, cy: float, width: float, opening: float) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic lower face: outer-lip loop (16 points), inner-lip loop (12), and a ring of 12
    skin points around; returns ``(points (40, 2), outer_loop indices)``."""
    a16 = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    a12 = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    outer = np.stack([cx + 0.5 * width * np.cos(a16), cy + (0.18 * width + opening / 2) * np.sin(a16)], 1)
    inner = np.stack([cx + 0.4 * width * np.cos(a12), cy + (opening / 2 + 0.01) * np.sin(a12)], 1)
    ring = np.stack([cx + 1.0 * width * np.cos(a12), cy + 0.8 * width * np.sin(a12)], 1)
    return np.concatenate([outer, inner, ring]), np.arange(16)


def _mouth_crop(points: np.ndarray, size: int = 200, teeth: bool = True) -> np.ndarray:
    """A library crop ``(size, size, 3)``: skin, red lips inside the outer loop of
    :func:`_mouth_points` and, with ``teeth``, inside the inner loop a fine "teeth" pattern
    (vertical stripes 3 px wide, white and near black)."""
    crop = np.full((size, size, 3), (200, 160, 140), np.uint8)
    cv2.fillPoly(crop, [np.round(points[:16]).astype(np.int32)], (170, 40, 50))
    if teeth:
        inside = np.zeros((size, size), np.uint8)
        cv2.fillPoly(inside, [np.round(points[16:28]).astype(np.int32)], 1)
        stripes = ((np.arange(size) // 3) % 2).astype(bool)[None, :].repeat(size, 0)
        crop[(inside > 0) & stripes] = (240, 240, 235)
        crop[(inside > 0) & ~stripes] = (40, 20, 25)
    return crop


def test_paste_mouth_carries_the_video_s_teeth_texture_onto_the_planned_mouth():
    # the library frame shows an open mouth whose inside is a fine "teeth" pattern, red lips
    # around it and skin beyond
    lib_pts, loop = _mouth_points(100, 100, 100, 40)
    crop = _mouth_crop(lib_pts)
    lib = _library([0.4], crops=crop[None], points=lib_pts[None].astype(np.float32))
    # the output frame: a flat face whose planned mouth is elsewhere, 1.2x larger
    frame = np.full((300, 400, 3), (190, 150, 130), np.uint8)
    new_pts, _ = _mouth_points(230, 140, 120, 48)
    out = paste_mouth(frame, lib, 0, new_pts, loop, 1.0)
    planned_inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(planned_inside, [np.round(new_pts[16:28]).astype(np.int32)], 1)
    core = cv2.erode(planned_inside, np.ones((5, 5), np.uint8)) > 0
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(float)
    assert grey[core].std() > 60, "the opening shows the striped teeth, not a flat fill"
    # the stripes are where the warp puts them: 1.2x wider, centred on the planned mouth
    xs = np.arange(frame.shape[1])
    expected = ((np.floor((xs - 230) / 1.2 + 100) // 3) % 2).astype(bool)
    row = int(round(new_pts[16:28, 1].mean()))
    cols = np.flatnonzero(core[row])
    bright = grey[row, cols] > 140
    assert (bright == expected[cols]).mean() > 0.8
    # red lips land on the planned lips; far from the mouth the frame is untouched, bit for bit
    lip_band = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(lip_band, [np.round(new_pts[:16]).astype(np.int32)], 1)
    lip_band = (cv2.erode(lip_band, np.ones((3, 3), np.uint8)) > 0) & ~(cv2.dilate(planned_inside, np.ones((9, 9), np.uint8)) > 0)
    r, g, _ = out[lip_band].astype(float).mean(0)
    assert r - g > 80
    far = np.ones(frame.shape[:2], bool)
    far[60:220, 120:340] = False
    assert np.array_equal(out[far], frame[far])
    # weight 0 (no matching mouth) or no entry: the frame as it was
    assert np.array_equal(paste_mouth(frame, lib, 0, new_pts, loop, 0.0), frame)
    assert np.array_equal(paste_mouth(frame, lib, -1, new_pts, loop, 1.0), frame)


def test_paste_mouth_matches_the_frame_s_light():
    size = 200
    lib_pts, loop = _mouth_points(100, 100, 100, 0)
    crop = np.full((size, size, 3), (100, 80, 70), np.uint8)  # the library frame is darker
    lib = _library([0.0], crops=crop[None], points=lib_pts[None].astype(np.float32))
    frame = np.full((300, 300, 3), (200, 160, 140), np.uint8)
    new_pts, _ = _mouth_points(150, 150, 100, 0)
    out = paste_mouth(frame, lib, 0, new_pts, loop, 1.0)
    centre = out[145:155, 140:160].astype(float).mean((0, 1))
    # the gain is bounded (lighting changes within a video, not the face's colour)
    np.testing.assert_allclose(centre, np.array([100, 80, 70]) * 1.25, atol=3)


def test_library_round_trip(tmp_path):
    lib = _library([0.0, 0.2], crops=np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8))
    lib.save(tmp_path / "m.npz")
    back = MouthLibrary.load(tmp_path / "m.npz")
    for f in ("frames", "crops", "origins", "points", "shapes", "rotations", "factors"):
        assert np.array_equal(getattr(back, f), getattr(lib, f))
    both = MouthLibrary.concatenate([lib, _library([0.3], crops=np.zeros((1, 10, 6, 3), np.uint8))])
    assert both.crops.shape == (3, 10, 8, 3) and len(both) == 3
    assert both.frames[2] - both.frames[1] > 1000  # entries of two videos never follow each other
    assert JUMP_COST > 0


@pytest.mark.slow
def test_prepared_face_pastes_its_own_closed_lips(tmp_path):
    """A still face (the astronaut smiles, lips apart, teeth showing, throughout): a planned mouth
    open as much is pasted from the video's own (closer to the face's than the refiner's), a
    closed one (never in the video) is left to the refiner."""
    from face_fixtures import astronaut_clip, write_clip

    from talkinghead.face.deform import deform_lower_face
    from talkinghead.refine.infer import Refiner
    from talkinghead.refine.model import RefinerConfig
    from talkinghead.refine.prepare import PrepareSettings, prepare_face
    from talkinghead.render.renderer import render_frames

    frames, _ = astronaut_clip(n_frames=6)
    video = write_clip(frames, tmp_path / "astro.mp4")
    base = Refiner.new(RefinerConfig(resolution=64, n_refs=2, channels=[8, 16, 32], disc_channels=[8, 16]))
    wpath = base.save(tmp_path / "base.pt")
    prepared = prepare_face(video, settings=PrepareSettings(steps=0), base_weights=wpath, device="cpu",
                            progress=False)
    mouths = prepared.mouths
    assert mouths is not None and list(mouths.frames) == list(np.flatnonzero(prepared.track.detected))
    assert mouths.crops.shape[0] == 6 and (mouths.factors == 1).all()
    assert prepared.cache_file.with_suffix(".mouths.npz").exists()
    again = prepare_face(video, settings=PrepareSettings(steps=0), base_weights=wpath, device="cpu",
                         progress=False)
    assert again.stats["from_cache"] and np.array_equal(again.mouths.crops, mouths.crops)

    from talkinghead.refine.composite.retrieve import mouth_shapes_from_meshes, shape_distances

    params = np.zeros((2, 7))
    params[1, 3] = 1.0  # frame 1: lips closed (p, b, m), never in the video
    # frame 0: the jaw opened as far as the video's mouth is
    probe = np.zeros((21, 7))
    probe[:, 0] = np.linspace(0, 1, 21)
    trial = deform_lower_face(prepared.track, probe, np.ones(21, np.int64), rig=prepared.rig)
    d = shape_distances(mouth_shapes_from_meshes(prepared.track, prepared.rig, trial), mouths.shapes[:1])[:, 0]
    params[0, 0] = probe[np.argmin(d), 0]
    assert d.min() < SHAPE_OK
    meshes = deform_lower_face(prepared.track, params, np.array([1, 2]), rig=prepared.rig)
    rendered = render_frames(meshes, 64)
    src = [frames[1], frames[2]]
    plain = prepared.refine_frames(src, meshes, rendered, skin_detail=False)
    own = prepared.refine_frames(src, meshes, rendered, skin_detail=False, mouths=prepared.mouth_sources())
    mesh = prepared.rig.mesh
    loop = np.concatenate([mesh.outer_lip_upper, mesh.outer_lip_lower[::-1]])
    region = np.zeros(src[0].shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(meshes.vertices[0, : meshes.n_skin][loop, :2]).astype(np.int32)], 1)
    region = region > 0

    def grey(x):
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(float)[region]

    # the planned mouth shows the video's teeth and lip edges (as much contrast as the real mouth),
    # where the (untrained) refiner paints a flat patch
    assert grey(own[0]).std() > 0.7 * grey(src[0]).std() > 3 * grey(plain[0]).std()
    assert np.array_equal(own[1], plain[1])  # the video never closes its lips: the refiner's mouth


def test_mouth_sources_fill_an_opening_the_own_video_lacks_with_a_real_interior():
    """A face whose own video never opens its mouth (a portrait): a planned open mouth gets the
    shipped interior's teeth inside its inner lips; planned shut lips get the own lips only."""
    from types import SimpleNamespace

    from talkinghead.refine.composite.retrieve import MouthSources

    closed_pts, _ = _mouth_points(100, 100, 100, 0)
    open_pts, _ = _mouth_points(100, 100, 100, 40)
    own = _library([0.0], crops=_mouth_crop(closed_pts, teeth=False)[None], points=closed_pts[None].astype(np.float32))
    generic = _library([0.4], crops=_mouth_crop(open_pts)[None], points=open_pts[None].astype(np.float32))
    mesh = SimpleNamespace(outer_lip_upper=np.arange(9), outer_lip_lower=np.r_[0, 15:7:-1],
                           inner_lip_loop=np.arange(16, 28))
    rig = SimpleNamespace(mesh=mesh)
    frame = np.full((300, 300, 3), (190, 150, 130), np.uint8)
    planned_open, _ = _mouth_points(150, 150, 110, 44)
    planned_shut, _ = _mouth_points(150, 150, 110, 0)
    sources = MouthSources(own, generic)
    choice = sources.choose(np.stack([_shape(0.4), _shape(0.0)]), np.repeat(np.eye(3)[None], 2, 0))
    out = sources.paste([frame, frame], [frame, frame], choice, np.stack([planned_open, planned_shut]), rig)
    opening = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(opening, [np.round(planned_open[16:28]).astype(np.int32)], 1)
    core = cv2.erode(opening, np.ones((5, 5), np.uint8)) > 0
    grey = [cv2.cvtColor(o, cv2.COLOR_RGB2GRAY).astype(float) for o in out]
    assert grey[0][core].std() > 50, "the open mouth shows the interior's teeth"
    lips = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(planned_shut[:16]).astype(np.int32)], 1)
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8)) > 0
    r, g, _ = out[1][lips].astype(float).mean(0)
    assert r - g > 80 and grey[1][lips].std() < 20  # the own (red, shut) lips, no teeth in them


def test_of_two_frames_with_the_same_mouth_the_sharp_one_is_chosen():
    from talkinghead.refine.composite.retrieve import BLUR_COST, blur_costs

    pts, _ = _mouth_points(100, 100, 100, 40)
    sharp = _mouth_crop(pts)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
    costs = blur_costs(np.stack([blurred, sharp, sharp]))
    assert costs[1] == costs[2] == 0 and 0.5 * BLUR_COST < costs[0] <= BLUR_COST
    # frames 300 and 301 of the video show the same mouth; 301 is motion-blurred
    lib = _library([0.4, 0.4], frames=[300, 301], crops=np.stack([sharp, blurred]), points=np.stack([pts, pts]))
    entries, _ = MouthRetriever(lib).choose(np.stack([_shape(0.4)] * 3), np.repeat(np.eye(3)[None], 3, 0))
    assert list(entries) == [0, 0, 0]
