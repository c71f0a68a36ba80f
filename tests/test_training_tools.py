"""Generic-training plumbing: data packs, worker prefetching, the time-planned training tool."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from talkinghead.refine.training.datapack import load_pack, save_pack
from talkinghead.refine.training.dataset import BatchPrefetcher, PairSampler, assemble_batch
from talkinghead.refine.infer import Refiner
from conftest import load_tool
from test_refine import TINY, synthetic_clip

SMALL_FIELDS = ("own_pts", "alt_pts", "lips_pts", "eval_box", "openness", "frame_ids", "boxes")


def clip_with_normals(n: int = 12, r: int = 32):
    """The synthetic clip with smooth, non-zero 'surface' channels inside its face ellipse."""
    clip = synthetic_clip(n=n, r=r)
    yy, xx = np.mgrid[0:r, 0:r]
    face = clip.cond[..., 3] > 0
    for ch, ramp in enumerate((xx, yy, xx + yy)):
        v = (60 + 150 * ramp / ramp.max()).astype(np.uint8)
        clip.cond[..., ch] = np.where(face, v[None], 0)
    return clip


def test_data_pack_roundtrip(tmp_path):
    clip = clip_with_normals()
    save_pack([clip], tmp_path / "pack")
    assert not list(tmp_path.rglob("*.part*"))
    [back] = load_pack(tmp_path / "pack")
    assert back.name == clip.name and back.n_train == clip.n_train and len(back) == len(clip)
    for field in SMALL_FIELDS:
        np.testing.assert_array_equal(getattr(back, field), getattr(clip, field))
    np.testing.assert_array_equal(back.cond[..., 3:], clip.cond[..., 3:])  # masks: lossless
    crop_err = np.abs(back.crops.astype(int) - clip.crops.astype(int))
    normal_err = np.abs(back.cond[..., :3].astype(int) - clip.cond[..., :3].astype(int))
    assert crop_err.mean() < 3 and normal_err.mean() < 2
    # a pack is much smaller than the raw arrays it holds
    size = sum(p.stat().st_size for p in (tmp_path / "pack").rglob("*") if p.is_file())
    assert size < 0.5 * (clip.crops.nbytes + clip.cond.nbytes)


def test_data_pack_rejects_another_data_version(tmp_path):
    save_pack([clip_with_normals(n=4)], tmp_path / "pack")
    index = json.loads((tmp_path / "pack" / "index.json").read_text())
    index["data_version"] = -1
    (tmp_path / "pack" / "index.json").write_text(json.dumps(index))
    with pytest.raises(RuntimeError, match="data version"):
        load_pack(tmp_path / "pack")
    with pytest.raises(RuntimeError, match="not a refiner data pack"):
        load_pack(tmp_path / "nothing")


def test_compact_batches_assemble_to_the_network_batch():
    clip = synthetic_clip()
    full = PairSampler([clip], 2, seed=3).sample(4)
    compact = PairSampler([clip], 2, seed=3).sample_compact(4)
    assert all(v.dtype == torch.uint8 for v in compact.values())
    def nbytes(batch):
        return sum(v.numel() * v.element_size() for v in batch.values())

    assert nbytes(compact) * 4 <= nbytes(full)  # what worker processes send
    again = assemble_batch(compact)
    for key, value in full.items():
        torch.testing.assert_close(again[key], value)
    assert set(torch.unique(full["weight"]).tolist()) >= {0.25, 1.25}


def test_prefetcher_workers_draw_distinct_valid_batches():
    import cv2

    clip = synthetic_clip()
    # OpenCV's thread pool busy in this process before the workers are forked: a forked worker
    # that touched it used to wait forever (seen in the full test suite)
    n_cv = cv2.getNumThreads()
    cv2.setNumThreads(2)
    for _ in range(5):
        cv2.GaussianBlur(np.random.default_rng(0).random((512, 512), np.float32), (15, 15), 3)
    prefetcher = BatchPrefetcher([clip], 2, batch_size=3, workers=2, seed=0, timeout=120)
    assert cv2.getNumThreads() == 2  # restored once the workers are forked
    cv2.setNumThreads(n_cv)
    batches = [prefetcher.sample(3) for _ in range(4)]
    cfg_in = 12 + 3 * 2
    for b in batches:
        assert b["input"].shape == (3, cfg_in, 32, 32) and b["input"].dtype == torch.float32
        hole = b["hole"]
        assert set(torch.unique(hole).tolist()) <= {0.0, 1.0} and hole.sum() > 0
        assert float((b["input"][:, :3] * hole).abs().max()) == 0  # the target cannot leak through
    # the two workers draw different random streams
    assert not torch.equal(batches[0]["target"], batches[1]["target"])
    with pytest.raises(ValueError, match="batches of 3"):
        prefetcher.sample(4)


def _training_tool():
    return load_tool("train_generic_refiner")


@pytest.mark.slow
def test_training_tool_fits_its_steps_to_a_time_budget(tmp_path, restore_threads):
    tool = _training_tool()
    save_pack([synthetic_clip(n=12)], tmp_path / "pack")
    config = {
        "model": TINY,
        "train": {"steps": 1, "batch_size": 2, "lr_g": 1e-3, "lr_d": 1e-3, "adv_start": 0,
                  "lr_decay_from": 0, "lr_final_factor": 0.1},
        "data": {"clips": [], "train_fraction": 0.75, "max_frames_per_clip": 10},
        "cache_dir": str(tmp_path / "cache"),
        "checkpoint_every": 1000,
        "threads": 1,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    out, log = tmp_path / "refiner.pt", tmp_path / "log.jsonl"
    rc = tool.main(["--config", str(tmp_path / "config.json"), "--data-pack", str(tmp_path / "pack"),
                    "--output", str(out), "--log", str(log), "--device", "cpu", "--plan-minutes", "0.15"])
    assert rc == 0
    meta = Refiner.load(out, "cpu").meta
    steps = [json.loads(line) for line in log.read_text().splitlines()]
    # the probe ran at constant rates, then the planned steps, recorded as the config's steps
    assert len(steps) == meta["steps"] == meta["config"]["train"]["steps"] > tool.PROBE_STEPS
    assert all(s["lr_factor"] == 1.0 for s in steps[:tool.PROBE_STEPS])
    assert meta["config"]["train"]["lr_decay_from"] == tool.PROBE_STEPS
    if len(steps) > tool.PROBE_STEPS + 1:  # the decay ends at the planned last step
        assert steps[-1]["lr_factor"] == pytest.approx(0.1)


def test_max_openness_leaves_out_the_widest_open_frames():
    tool = _training_tool()
    clip = synthetic_clip(n=12)
    clip.n_train = 9
    (kept,) = tool.limit_openness([clip], 0.6)
    rows = np.flatnonzero(clip.openness <= 0.6)
    assert 0 < len(rows) < len(clip) and len(kept) == len(rows)
    assert (kept.openness <= 0.6).all()
    assert np.array_equal(kept.crops, clip.crops[rows]) and np.array_equal(kept.cond, clip.cond[rows])
    assert np.array_equal(kept.frame_ids, clip.frame_ids[rows]) and kept.boxes.shape == (len(rows), 3)
    assert kept.n_train == int((rows < 9).sum())
    # a clip left with no training frame is dropped
    assert tool.limit_openness([clip], -1.0) == []
