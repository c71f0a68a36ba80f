"""The Refine stage: networks, training, checkpoints, inference, per-face preparation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from talkinghead.errors import InputError
from talkinghead.refine.training.dataset import Augment, ClipData, PairSampler, choose_references, eval_box, network_input
from talkinghead.refine.infer import GENERIC_WEIGHTS, Refiner, autocast_dtype
from talkinghead.refine.losses import ssim_map, weighted_l1
from talkinghead.refine.model import RENDER_CHANNELS, Discriminator, Generator, RefinerConfig
from talkinghead.refine.training.train import TrainSettings, train_refiner
from talkinghead.render.types import CropBox, RenderedFrames

TINY = dict(resolution=32, n_refs=2, channels=[8, 16, 32], disc_channels=[8, 16])


def _astronaut_face(r: int) -> np.ndarray:
    import cv2
    from skimage import data

    img = data.astronaut()[20:260, 130:370]  # the face and shoulders
    return cv2.resize(img, (r + 8, r + 8), interpolation=cv2.INTER_AREA)


def synthetic_clip(n: int = 10, r: int = 32, seed: int = 0) -> ClipData:
    """A tiny clip: shifted windows of the astronaut's face; conditioning = an ellipse 'mouth'
    whose opening follows a known signal and darkens the crop (so it is learnable)."""
    import cv2

    rng = np.random.default_rng(seed)
    base = _astronaut_face(r)
    crops, conds, opens = [], [], []
    for t in range(n):
        dx, dy = rng.integers(0, 8, 2)
        c = base[dy:dy + r, dx:dx + r].copy()
        o = 0.5 + 0.5 * np.sin(t)
        cond = np.zeros((r, r, RENDER_CHANNELS), np.uint8)
        face, mouth = np.zeros((r, r), np.uint8), np.zeros((r, r), np.uint8)
        cv2.ellipse(face, (r // 2, 2 * r // 3), (r // 3, r // 4), 0, 0, 360, 255, -1)
        cv2.ellipse(mouth, (r // 2, 2 * r // 3), (r // 6, max(1, int(r // 8 * o))), 0, 0, 360, 255, -1)
        cond[..., 3], cond[..., 5] = face, mouth
        c[cond[..., 5] > 0] = (40, 10, 10)
        crops.append(c)
        conds.append(cond)
        opens.append(o)
    ang = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ell = np.stack([r / 2 + r / 4 * np.cos(ang), 2 * r / 3 + r / 6 * np.sin(ang)], -1).astype(np.float32)
    own = np.repeat(ell[None], n, 0)
    return ClipData(
        name="synthetic",
        crops=np.stack(crops),
        cond=np.stack(conds),
        own_pts=own,
        alt_pts=own[:, None] * 1.0,
        lips_pts=own,
        eval_box=np.tile([r // 4, r // 2, 3 * r // 4, r - 2], (n, 1)).astype(np.int32),
        openness=np.array(opens, np.float32),
        frame_ids=np.arange(n),
        n_train=n,
        boxes=np.tile([0.0, 0.0, float(r)], (n, 1)),
    )


def test_generator_and_discriminator_shapes():
    cfg = RefinerConfig(**TINY)
    g, d = Generator(cfg), Discriminator(cfg)
    x = torch.randn(2, cfg.in_channels, 32, 32)
    y = g(x)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    logits, feats = d(y, torch.randn(2, 4 + RENDER_CHANNELS, 32, 32))
    assert logits.shape[0] == 2 and logits.shape[1] == 1 and len(feats) == 2
    with pytest.raises(ValueError):
        RefinerConfig(resolution=30, channels=[8, 16, 32]).validate()


def test_losses_basic_properties():
    a = torch.rand(1, 3, 16, 16) * 2 - 1
    w = torch.ones(1, 1, 16, 16)
    assert float(weighted_l1(a, a, w)) == 0
    assert float(ssim_map(a, a).mean()) == pytest.approx(1.0, abs=1e-4)
    b = -a
    assert float(ssim_map(a, b).mean()) < 0.5
    # weight: only the weighted region counts
    w2 = torch.zeros(1, 1, 16, 16)
    w2[..., :8, :] = 1
    c = a.clone()
    c[..., 8:, :] += 1
    assert float(weighted_l1(c, a, w2)) == 0


def test_sampler_batch_contents():
    clip = synthetic_clip()
    s = PairSampler([clip], 2, seed=1)
    b = s.sample(3)
    cfg = RefinerConfig(**TINY)
    assert b["input"].shape == (3, cfg.in_channels, 32, 32)
    assert b["target"].shape == (3, 3, 32, 32)
    hole = b["hole"]
    assert set(torch.unique(hole).tolist()) <= {0.0, 1.0} and hole.sum() > 0
    # the masked crop channel is zero inside the hole: the target cannot leak through
    assert float((b["input"][:, :3] * hole).abs().max()) == 0
    assert float(b["weight"].min()) > 0


def test_teeth_reference_dropout_draws_a_closed_mouth_first_reference():
    clip = synthetic_clip(n=40)
    open_pool, closed_pool, _ = PairSampler([clip], 2).pools[0]
    assert not set(open_pool) & set(closed_pool)

    def first_refs(dropout: float) -> set[int]:
        s = PairSampler([clip], 2, augment=Augment(teeth_ref_dropout=dropout), seed=3)
        return {s._refs(0, row)[0] for row in range(40) for _ in range(3)}

    assert first_refs(0.0) <= set(open_pool)
    assert first_refs(1.0) <= set(closed_pool)
    mixed = first_refs(0.5)
    assert mixed & set(open_pool) and mixed & set(closed_pool)


@pytest.fixture
def one_thread():
    """Tiny networks: one thread avoids OpenMP synchronisation costs on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("amp", [None, torch.bfloat16], ids=["float32", "bfloat16"])
def test_tiny_refiner_training_reduces_loss(one_thread, amp):
    # bfloat16: what fine-tuning uses on a CPU with native bf16 (infer.finetune_dtype)
    torch.manual_seed(0)
    clip = synthetic_clip(n=12)
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=0)
    sampler = PairSampler([clip], 2, seed=0)
    hist = train_refiner(ref.generator, ref.discriminator, sampler,
                         TrainSettings(steps=60, batch_size=4, lr_g=2e-3, lr_d=2e-3, adv_start=30), amp_dtype=amp)
    first = np.mean([h["l1"] for h in hist[:5]])
    last = np.mean([h["l1"] for h in hist[-5:]])
    assert last < 0.6 * first, (first, last)
    assert hist[-1]["d"] > 0  # the adversarial part ran


@pytest.mark.parametrize("freeze", [False, True], ids=["batch-stats", "frozen-norm"])
def test_freeze_norm_trains_the_inference_network(one_thread, freeze):
    # freeze_norm: batch norm normalises with (and keeps) its running statistics while the
    # convolutions and the norm's affine parameters still learn; otherwise the statistics move.
    torch.manual_seed(0)
    clip = synthetic_clip(n=12)
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=0)
    norms = [m for m in ref.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    before = {k: v.clone() for k, v in ref.generator.state_dict().items()}
    train_refiner(ref.generator, ref.discriminator, PairSampler([clip], 2, seed=0),
                  TrainSettings(steps=3, batch_size=2, adv_start=0, freeze_norm=freeze))
    after = ref.generator.state_dict()
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    moved = [k for k in stats if not torch.equal(before[k], after[k])]
    assert moved == [] if freeze else len(moved) == len(stats)
    modules = dict(ref.generator.named_modules())
    trainable = [k for k in before if k.endswith((".weight", ".bias"))
                 and isinstance(modules[k.rsplit(".", 1)[0]], (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    unchanged = [k for k in trainable if torch.equal(before[k], after[k])]
    assert unchanged == []  # convolutions and the norms' affine parameters learned


def test_learning_rate_decays_linearly_to_the_final_factor(one_thread):
    s = TrainSettings(steps=10, lr_decay_from=4, lr_final_factor=0.1)
    assert [s.lr_factor(k, 10) for k in (0, 3, 4)] == [1.0, 1.0, 1.0]
    assert s.lr_factor(9, 10) == pytest.approx(0.1)
    assert s.lr_factor(6, 10) == pytest.approx(1 - 0.4 * 0.9)
    assert TrainSettings(steps=10).lr_factor(9, 10) == 1.0  # no decay by default

    # Applied to both optimizers, and relative to the steps of a resumed run.
    clip = synthetic_clip(n=12)
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=0)
    opt_g = torch.optim.Adam(ref.generator.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(ref.discriminator.parameters(), lr=5e-4)
    hist = train_refiner(ref.generator, ref.discriminator, PairSampler([clip], 2, seed=0),
                         TrainSettings(steps=4, batch_size=2, adv_start=0, lr_decay_from=100, lr_final_factor=0.5),
                         optimizers=(opt_g, opt_d), start_step=100)
    assert [h["lr_factor"] for h in hist] == pytest.approx([1.0, 5 / 6, 4 / 6, 0.5])
    assert opt_g.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(2.5e-4)


def test_learning_rate_warms_up_from_the_run_s_first_step(one_thread):
    s = TrainSettings(steps=10, warmup_steps=4, lr_decay_from=6, lr_final_factor=0.5)
    assert [s.lr_factor(k, 10) for k in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert s.lr_factor(9, 10) == pytest.approx(0.5)  # then the decay as before
    # a resumed run warms up from its own first step, or from ``warmup_from`` when given
    plain = TrainSettings(steps=10, warmup_steps=4)
    assert [plain.lr_factor(k, 110, 100) for k in (100, 102)] == pytest.approx([0.25, 0.75])
    tool_run = TrainSettings(steps=10, warmup_steps=4, warmup_from=100)
    assert tool_run.lr_factor(102, 200, start=102) == pytest.approx(0.75)  # not a second warm-up

    clip = synthetic_clip(n=12)
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=0)
    opt_g = torch.optim.Adam(ref.generator.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(ref.discriminator.parameters(), lr=1e-3)
    hist = train_refiner(ref.generator, ref.discriminator, PairSampler([clip], 2, seed=0),
                         TrainSettings(steps=3, batch_size=2, warmup_steps=2), optimizers=(opt_g, opt_d),
                         start_step=50)
    assert [h["lr_factor"] for h in hist] == pytest.approx([0.5, 1.0, 1.0])
    # a probe and then the run on the same optimizers (the training tool): the run's rates are
    # the configured ones, not the probe's last warmed-up ones
    opt_g = torch.optim.Adam(ref.generator.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(ref.discriminator.parameters(), lr=1e-3)
    probe = TrainSettings(steps=2, batch_size=2, warmup_steps=10, warmup_from=0)
    train_refiner(ref.generator, ref.discriminator, PairSampler([clip], 2, seed=0), probe,
                  optimizers=(opt_g, opt_d), start_step=0)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(2e-4)  # step 1 of 10
    train_refiner(ref.generator, ref.discriminator, PairSampler([clip], 2, seed=0),
                  TrainSettings(steps=1, batch_size=2, warmup_steps=10, warmup_from=0),
                  optimizers=(opt_g, opt_d), start_step=20)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(1e-3) and opt_d.param_groups[0]["lr"] == pytest.approx(1e-3)


def _rendered_from_clip(clip: ClipData, rows) -> RenderedFrames:
    c = clip.cond[rows].astype(np.float32) / 255
    return RenderedFrames(
        boxes=[CropBox(0.0, 0.0, float(clip.resolution))] * len(rows),
        surface=c[..., :3], face_mask=c[..., 3], mouth_mask=c[..., 5], teeth_mask=c[..., 6:8],
    )


def test_checkpoint_roundtrip_and_refine(tmp_path):
    clip = synthetic_clip()
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=3)
    path = ref.save(tmp_path / "r.pt", meta={"note": "x"})
    again = Refiner.load(path, "cpu")
    assert again.config == ref.config and again.meta["note"] == "x"
    rows = [0, 1, 2]
    rendered = _rendered_from_clip(clip, rows)
    refs = clip.crops[[3, 4]]
    holes = np.stack([clip.hole(k, None, 1) for k in rows])
    out1 = ref.refine(clip.crops[rows], rendered, refs, holes, batch_size=2)
    out2 = again.refine(clip.crops[rows], rendered, refs, holes)
    assert out1.shape == (3, 32, 32, 3) and out1.dtype == np.uint8
    assert np.array_equal(out1, out2)
    with pytest.raises(ValueError):
        ref.refine(clip.crops[rows, :16], rendered, refs, holes)
    with pytest.raises(ValueError):
        ref.refine(clip.crops[rows], rendered, refs[:1], holes)


def test_mirror_average_is_the_mean_of_the_frame_and_its_mirror_image():
    clip = synthetic_clip()
    rows = [0, 1, 2]
    crops, refs = clip.crops[rows], clip.crops[[3, 4]]
    holes = np.stack([clip.hole(k, None, 1) for k in rows])
    cond = clip.cond[rows].copy()
    face = cond[..., 3] > 0  # give the face non-trivial normals: n_x ramps across it
    cond[..., 0] = np.where(face, np.linspace(30, 220, cond.shape[2]).astype(np.uint8)[None, None, :], 0)
    cond[..., 1] = np.where(face, 140, 0)
    cond[..., 2] = np.where(face, 200, 0)

    def rendered(c: np.ndarray) -> RenderedFrames:
        c = c.astype(np.float32) / 255
        return RenderedFrames(boxes=[CropBox(0.0, 0.0, 32.0)] * len(c), surface=c[..., :3], face_mask=c[..., 3],
                              mouth_mask=c[..., 5], teeth_mask=c[..., 6:8])

    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=3)
    plain = ref.refine(crops, rendered(cond), refs, holes).astype(np.float64)
    # the mirror image, mirrored as PairSampler mirrors a training sample (n_x -> -n_x on the face)
    mc = cond[:, :, ::-1].copy()
    mc[..., 0] = np.where(mc[..., 3] > 0, 255 - mc[..., 0], 0)
    mirrored = ref.refine(crops[:, :, ::-1].copy(), rendered(mc), refs[:, :, ::-1].copy(),
                          holes[:, :, ::-1].copy())[:, :, ::-1].astype(np.float64)
    assert np.abs(plain - mirrored).mean() > 1, "the two passes differ (else this test proves nothing)"
    both = ref.refine(crops, rendered(cond), refs, holes, mirror_average=True).astype(np.float64)
    assert np.abs(both - (plain + mirrored) / 2).max() <= 1.0


def test_refine_runs_the_generator_with_its_batch_norms_folded_and_follows_weight_changes():
    from talkinghead.refine.model import fused_for_inference

    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=5)
    g = ref.generator
    with torch.no_grad():  # batch-norm statistics other than the initial 0 / 1
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    fused = fused_for_inference(g)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, ref.config.in_channels, ref.resolution, ref.resolution)
    with torch.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), g.eval()(x).numpy(), atol=1e-4)
    clip = synthetic_clip()
    args = (clip.crops[:2], _rendered_from_clip(clip, [0, 1]), clip.crops[[3, 4]],
            np.stack([clip.hole(k, None, 1) for k in (0, 1)]))
    first = ref.refine(*args)
    assert ref.inference_generator() is ref.inference_generator()  # built once while nothing changes
    with torch.no_grad():
        g.head.bias.add_(0.5)  # an in-place change, as fine-tuning makes: the folded copy follows
    assert np.abs(ref.refine(*args).astype(int) - first).mean() > 5


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(InputError):
        Refiner.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "other"}, bad)
    with pytest.raises(InputError):
        Refiner.load(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        Refiner.load(junk)


def test_autocast_choice(monkeypatch):
    from talkinghead.refine.infer import finetune_dtype

    monkeypatch.setenv("TALKINGHEAD_BF16", "0")
    assert autocast_dtype(torch.device("cpu")) is None
    assert finetune_dtype(torch.device("cpu")) is None
    monkeypatch.setenv("TALKINGHEAD_BF16", "1")
    assert autocast_dtype(torch.device("cpu")) == torch.bfloat16
    assert finetune_dtype(torch.device("cpu")) == torch.bfloat16


def test_choose_references_widest_and_most_closed():
    o = np.array([0.1, 0.5, 0.02, 0.9, 0.3])
    assert choose_references(o, 2).tolist() == [3, 2]
    assert choose_references(o, 2, np.array([0, 1, 4])).tolist() == [1, 0]
    assert len(choose_references(o, 3)) == 3


def test_network_input_masks_the_hole():
    crop = torch.ones(1, 3, 8, 8)
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 4:, :] = 1
    x = network_input(crop, hole, torch.zeros(1, RENDER_CHANNELS, 8, 8), torch.zeros(1, 6, 8, 8))
    assert x.shape == (1, 4 + RENDER_CHANNELS + 6, 8, 8)
    assert float(x[:, :3, 4:].abs().max()) == 0 and float(x[:, :3, :4].min()) == 1


def test_eval_box_spans_lip_to_chin():
    top = np.array([[50.0, 60.0]])
    chin = np.array([[50.0, 100.0]])
    corners = np.array([[[35.0, 70.0], [65.0, 70.0]]])
    b = eval_box(top, chin, corners, 128)[0]
    assert b.tolist() == [28, 54, 72, 100]


def test_generic_weights_load_and_run():
    ref = Refiner.load(GENERIC_WEIGHTS, "cpu")
    assert ref.meta.get("steps", 0) > 0
    r = ref.resolution
    assert r >= 192
    assert GENERIC_WEIGHTS.stat().st_size <= 50e6
    face = _astronaut_face(r)[:r, :r]
    rendered = RenderedFrames(
        boxes=[CropBox(0.0, 0.0, float(r))],
        surface=np.zeros((1, r, r, 3), np.float32), face_mask=np.zeros((1, r, r), np.float32),
        mouth_mask=np.zeros((1, r, r), np.float32), teeth_mask=np.zeros((1, r, r, 2), np.float32),
    )
    rendered.face_mask[0, r // 2:, r // 4:3 * r // 4] = 1
    out = ref.refine(face[None], rendered, np.stack([face] * ref.config.n_refs))
    assert out.shape == (1, r, r, 3)
    # outside the hole the generator should roughly reproduce its input
    diff = np.abs(out[0, : r // 3].astype(int) - face[: r // 3].astype(int)).mean()
    assert diff < 40


@pytest.fixture(scope="module")
def astronaut_track():
    from face_fixtures import astronaut_clip

    from talkinghead.face.tracking import track_face

    frames, _ = astronaut_clip(n_frames=6)
    return frames, track_face(frames, progress=False)


@pytest.mark.slow
def test_reconstruction_meshes_follow_the_tracked_landmarks(astronaut_track):
    from talkinghead.face.deform import build_rig
    from talkinghead.refine.training.dataset import reconstruction_meshes

    frames, track = astronaut_track
    rig = build_rig(track)
    m = reconstruction_meshes(track, np.array([0, 3]), rig)
    idx = rig.mesh.landmark_index
    np.testing.assert_allclose(m.vertices[:, : m.n_skin], track.landmarks[[0, 3]][:, idx], atol=1e-2)


@pytest.mark.slow
def test_build_clip_data_and_prepare_face(astronaut_track, tmp_path, monkeypatch):
    import cv2
    from face_fixtures import write_clip

    from talkinghead.face.deform import deform_lower_face
    from talkinghead.refine.composite.blend import crop_affine, to_crop_points
    from talkinghead.refine.training.dataset import SILHOUETTE_MARGIN, build_clip_data
    from talkinghead.refine.infer import finetune_dtype
    from talkinghead.refine.prepare import STILL_MOUTH_RANGE, PrepareSettings, prepare_face
    from talkinghead.render.renderer import render_frames

    frames, track = astronaut_track
    clip = build_clip_data(np.stack(frames), track, np.arange(6), 64, name="astro")
    assert clip.crops.shape == (6, 64, 64, 3) and clip.cond.shape == (6, 64, 64, RENDER_CHANNELS)
    assert (clip.cond[..., 3] > 0).mean() > 0.1, "the lower face is rendered"
    assert (clip.eval_box[:, 1] < clip.eval_box[:, 3]).all() and (clip.eval_box[:, 0] < clip.eval_box[:, 2]).all()
    hole = clip.hole(0, 0, 2)
    assert 0.05 < hole.mean() < 0.8

    base = Refiner.new(RefinerConfig(resolution=64, n_refs=2, channels=[8, 16, 32], disc_channels=[8, 16]))
    base.meta["steps"] = 1
    wpath = base.save(tmp_path / "base.pt")
    video = write_clip(frames, tmp_path / "astro.mp4")
    s = PrepareSettings(steps=3, batch_size=2)
    prepared = prepare_face(video, settings=s, base_weights=wpath, device="cpu", progress=False)
    assert prepared.references.shape == (2, 64, 64, 3)
    assert prepared.stats["steps"] == 3 and prepared.cache_file.exists()
    assert prepared.stats["precision"] == ("bfloat16" if finetune_dtype(torch.device("cpu")) else "float32")
    # by default the batch-norm statistics stay the base weights' (fine-tuning on one face's small
    # batches moved them and painted blobs), while the convolutions learn
    base_state = Refiner.load(wpath, "cpu").generator.state_dict()
    tuned_state = prepared.refiner.generator.state_dict()
    norm_stats = [k for k in base_state if k.endswith(("running_mean", "running_var"))]
    assert norm_stats and all(torch.equal(base_state[k], tuned_state[k]) for k in norm_stats)
    convs = [k for k in base_state if k.endswith("weight") and base_state[k].ndim == 4]
    assert any(not torch.equal(base_state[k], tuned_state[k]) for k in convs)
    again = prepare_face(video, settings=s, base_weights=wpath, device="cpu", progress=False)
    assert again.stats["from_cache"]
    assert np.array_equal(again.references, prepared.references)
    # this clip is one still photo moved about: its mouth never moves, so by default (for_face)
    # it is used with the base weights, as a portrait is; an explicit step count still fine-tunes
    still = PrepareSettings.for_face(False, batch_size=2)
    assert still.min_mouth_range == STILL_MOUTH_RANGE and still.steps > 0
    skipped = prepare_face(video, settings=still, base_weights=wpath, device="cpu", progress=False, cache=False)
    assert skipped.stats["steps"] == 0 and skipped.stats["mouth_range"] < STILL_MOUTH_RANGE
    assert skipped.stats["final_l1"] is None and skipped.references.shape == (2, 64, 64, 3)
    assert PrepareSettings.for_face(False, 3).min_mouth_range == 0.0

    params = np.zeros((2, 7))
    params[:, 0] = 1.0  # jaw open
    meshes = deform_lower_face(prepared.track, params, np.array([1, 2]))
    rendered = render_frames(meshes, 64)
    src = [frames[1], frames[2]]
    out = prepared.refine_frames(src, meshes, rendered)
    # the blend is kept to the face: the source's and the new lower face's silhouettes, united
    holes = prepared.holes(meshes, rendered.boxes)
    alphas, hole_alphas = prepared.blend_alphas(meshes, rendered.boxes, holes)
    sil = prepared.silhouettes(meshes, rendered.boxes)
    assert alphas.shape == hole_alphas.shape == sil.shape == (2, 64, 64)
    assert (alphas <= hole_alphas + 1e-6).all()
    far = np.stack([cv2.distanceTransform((m < 0.5).astype(np.uint8), cv2.DIST_L2, 3) for m in sil])
    far = far > SILHOUETTE_MARGIN * 64 + 1
    assert not alphas[far].any()
    assert (alphas < hole_alphas - 1e-3).sum() > 50  # here ~10% of the hole: its ramp beside the face
    np.testing.assert_allclose(alphas[sil > 0.5], hole_alphas[sil > 0.5])
    for k in range(2):  # the open jaw reaches below the source chin: the new silhouette counts
        chin_new = to_crop_points(meshes.vertices[k, : meshes.n_skin], rendered.boxes[k], 64)[:, 1].max()
        chin_src = to_crop_points(prepared.track.landmarks[k + 1], rendered.boxes[k], 64)[:, 1].max()
        assert chin_new > chin_src + 1
        rows = np.flatnonzero(sil[k].any(1))
        assert rows.max() >= int(chin_new) - 1
        # the open mouth is part of the face (the source's closed lips must not show through it)
        inner = np.concatenate([prepared.rig.mesh.inner_lip_upper, prepared.rig.mesh.inner_lip_lower])
        x, y = to_crop_points(meshes.vertices[k, inner], rendered.boxes[k], 64).mean(0).astype(int)
        assert sil[k, y, x] == 1 and alphas[k, y, x] == pytest.approx(hole_alphas[k, y, x])
    # the source frame's fine skin detail is added (by default) on the rebuilt skin, and its own
    # skin kept above the upper lip (a moustache), and only there
    plain = prepared.refine_frames(src, meshes, rendered, skin_detail=False)
    weights, flows = prepared.detail_maps(meshes, rendered.boxes, alphas)
    assert weights.shape == (2, 64, 64) and flows.shape == (2, 64, 64, 2) and (weights <= alphas + 1e-6).all()
    bands = prepared.upper_bands(meshes, rendered.boxes, alphas, flows)
    assert bands.shape == (2, 64, 64) and (bands <= alphas + 1e-6).all() and (bands > 0.5).any()
    for k in range(2):
        box = rendered.boxes[k]
        w = cv2.warpAffine(weights[k] + bands[k], crop_affine(box, 64), src[k].shape[1::-1],
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        differs = np.any(out[k] != plain[k], axis=-1)
        assert differs.sum() > 100 and not differs[w < 1e-3].any()
    assert len(out) == 2 and out[0].shape == frames[1].shape
    # where the refiner paints colours far from the face's (here: its crops made lighter, greyer
    # and bluer inside the holes, as the shipped one paints a painted portrait's lower face), they
    # are pulled back towards the source's by default (lips and skin; the opening keeps its own)
    real_refine = prepared.refiner.refine

    def pale_refine(crops, rendered, references, holes, **kw):
        out = real_refine(crops, rendered, references, holes, **kw)
        lab = np.stack([cv2.cvtColor(o, cv2.COLOR_RGB2LAB) for o in out]).astype(np.float32)
        lab += (np.asarray(holes, np.float32) > 0.5)[..., None] * np.float32([40, -8, -15])  # L* +16
        return np.stack([cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB) for x in lab])

    monkeypatch.setattr(prepared.refiner, "refine", pale_refine)
    raw = prepared.refine_frames(src, meshes, rendered, skin_detail=False, colour_anchor=False)
    anchored = prepared.refine_frames(src, meshes, rendered, skin_detail=False)
    monkeypatch.setattr(prepared.refiner, "refine", real_refine)
    for k in range(2):
        region = cv2.warpAffine(hole_alphas[k], crop_affine(rendered.boxes[k], 64), src[k].shape[1::-1],
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) > 0.99
        lab = [np.median(cv2.cvtColor(im, cv2.COLOR_RGB2LAB)[region].astype(float), axis=0)
               for im in (src[k], raw[k], anchored[k])]
        err_raw, err_anchored = (np.abs(x - lab[0]) for x in lab[1:])  # 8-bit Lab: L* x 2.55
        assert (err_raw > 10).all(), err_raw
        assert err_anchored[0] < 0.7 * err_raw[0], (err_raw, err_anchored)
        assert (err_anchored[1:] < 0.5 * err_raw[1:]).all(), (err_raw, err_anchored)
    # a black-and-white source gets a black-and-white mouth (the refiner draws in colour)
    bw = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) for f in src]
    out_bw = prepared.refine_frames(bw, meshes, rendered)
    for k in range(2):
        spread = out_bw[k].max(-1).astype(int) - out_bw[k].min(-1)
        assert spread.max() <= 2 and np.any(out_bw[k] != bw[k])
    for k in range(2):
        box = rendered.boxes[k]
        changed = np.any(out[k] != src[k], axis=-1)
        assert changed.any()
        # every changed pixel lies inside the crop box
        ys, xs = np.nonzero(changed)
        assert xs.min() >= box.x0 - 1 and xs.max() <= box.x0 + box.size + 1
        assert ys.min() >= box.y0 - 1 and ys.max() <= box.y0 + box.size + 1
    # A cache folder that cannot be written (here inside /proc) costs the cache, not the result.
    if Path("/proc/self").is_dir():
        monkeypatch.setenv("TALKINGHEAD_CACHE", "/proc/talkinghead-cache")
        uncached = prepare_face(video, settings=PrepareSettings(steps=1, batch_size=2), base_weights=wpath,
                                device="cpu", progress=False)
        assert uncached.cache_file is None and uncached.stats["steps"] == 1
        assert uncached.references.shape == (2, 64, 64, 3)


def test_portraits_use_the_generic_weights_unless_steps_are_given():
    from talkinghead.refine.prepare import PORTRAIT_STEPS, PrepareSettings

    video, portrait = PrepareSettings.for_face(False), PrepareSettings.for_face(True)
    assert video.steps == PrepareSettings().steps > 0
    assert portrait.steps == PORTRAIT_STEPS == 0
    assert PrepareSettings.for_face(True, 40).steps == 40
    assert PrepareSettings.for_face(False, 0, face_index=2).steps == 0
    assert PrepareSettings.for_face(True, face_index=2).face_index == 2


def test_onnxruntime_backend_matches_torch_and_follows_weight_changes(monkeypatch):
    from talkinghead.refine.onnx_generator import OnnxGenerator

    monkeypatch.setenv("TALKINGHEAD_BF16", "0")  # torch in float32: the same arithmetic as the export
    ref = Refiner.new(RefinerConfig(**TINY), "cpu", seed=7)
    with torch.no_grad():
        for m in ref.generator.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    clip = synthetic_clip()
    args = (clip.crops[:3], _rendered_from_clip(clip, [0, 1, 2]), clip.crops[[3, 4]],
            np.stack([clip.hole(k, None, 1) for k in (0, 1, 2)]))
    monkeypatch.setenv("TALKINGHEAD_REFINER_BACKEND", "torch")
    assert ref.backend == "torch" and isinstance(ref.inference_generator(), torch.nn.Module)
    by_torch = ref.refine(*args, mirror_average=True).astype(int)
    monkeypatch.setenv("TALKINGHEAD_REFINER_BACKEND", "onnxruntime")
    assert ref.backend == "onnxruntime" and isinstance(ref.inference_generator(), OnnxGenerator)
    by_ort = ref.refine(*args, batch_size=2, mirror_average=True).astype(int)
    assert np.abs(by_ort - by_torch).max() <= 1  # float rounding only
    assert np.abs(by_torch - 127).mean() > 5  # a real output, not a blank one
    with torch.no_grad():
        ref.generator.head.bias.add_(0.5)  # fine-tuning changes the weights in place: a new export
    assert np.abs(ref.refine(*args, mirror_average=True).astype(int) - by_ort).mean() > 5


def test_backend_choice(monkeypatch):
    from talkinghead.refine.infer import inference_backend

    monkeypatch.delenv("TALKINGHEAD_REFINER_BACKEND", raising=False)
    monkeypatch.setenv("TALKINGHEAD_BF16", "1")
    assert inference_backend(torch.device("cpu")) == "torch"  # native bf16: torch's bf16 autocast
    monkeypatch.setenv("TALKINGHEAD_BF16", "0")
    assert inference_backend(torch.device("cpu")) == "onnxruntime"
    monkeypatch.setenv("TALKINGHEAD_REFINER_BACKEND", "torch")
    assert inference_backend(torch.device("cpu")) == "torch"
    monkeypatch.setenv("TALKINGHEAD_REFINER_BACKEND", "tensorrt")
    with pytest.raises(InputError, match="TALKINGHEAD_REFINER_BACKEND"):
        inference_backend(torch.device("cpu"))
