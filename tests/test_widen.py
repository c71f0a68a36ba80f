"""Widening a trained generator (Net2WiderNet) keeps its output and lets the copies train apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import load_tool

from talkinghead.refine.infer import Refiner
from talkinghead.refine.model import Generator, RefinerConfig
from talkinghead.refine.training.widen import widen_generator

TINY5 = dict(resolution=32, n_refs=2, channels=[8, 12, 16, 24, 32], disc_channels=[8, 16])
WIDER = [10, 20, 24, 40, 48]


def _trained_like(cfg: RefinerConfig) -> Generator:
    """A generator with non-trivial batch-norm statistics and affine parameters."""
    torch.manual_seed(0)
    g = Generator(cfg)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
        g.train()
        for _ in range(3):  # running statistics from data
            g(torch.randn(4, cfg.in_channels, cfg.resolution, cfg.resolution) * 2 + 0.5)
    return g.eval()


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_widened_generator_computes_the_same_function(mode):
    g = _trained_like(RefinerConfig(**TINY5))
    w = widen_generator(g, WIDER, noise=0.1, seed=1)
    assert w.config.channels == WIDER and g.config.channels == TINY5["channels"]
    assert sum(p.numel() for p in w.parameters()) > 2 * sum(p.numel() for p in g.parameters())
    x = torch.randn(3, g.config.in_channels, 32, 32)
    g.train(mode == "train")
    w.train(mode == "train")
    with torch.no_grad():
        a, b = g(x), w(x)
    assert (a - b).abs().max() < 1e-5
    assert a.abs().mean() > 0.05  # a real output, not zeros


def test_copies_of_a_channel_drift_apart_when_trained():
    g = _trained_like(RefinerConfig(**TINY5))
    w = widen_generator(g, WIDER, noise=0.1, seed=1).train()
    conv = w.down[0][0][0]  # level 0 -> 1: the new level-1 channels 12..19 copy old ones
    before = conv.weight.detach().clone()
    dupes = [(j, k) for j in range(12, 20) for k in range(12) if torch.equal(before[j], before[k])]
    assert dupes, "a new channel should start as a copy of an old one"
    opt = torch.optim.SGD(w.parameters(), lr=0.1)
    x = torch.randn(4, g.config.in_channels, 32, 32)
    loss = (w(x) - torch.rand(4, 3, 32, 32)).abs().mean()
    loss.backward()
    opt.step()
    after = conv.weight.detach()
    assert all(not torch.allclose(after[j], after[k]) for j, k in dupes)
    # without the perturbation the copies get the same gradient and stay twins
    w0 = widen_generator(g, WIDER, noise=0.0, seed=1).train()
    opt0 = torch.optim.SGD(w0.parameters(), lr=0.1)
    (w0(x) - torch.rand(4, 3, 32, 32)).abs().mean().backward()
    opt0.step()
    assert all(torch.allclose(w0.down[0][0][0].weight[j], w0.down[0][0][0].weight[k]) for j, k in dupes)


def test_narrowing_or_a_different_depth_is_refused():
    g = _trained_like(RefinerConfig(**TINY5))
    with pytest.raises(ValueError, match="narrow"):
        widen_generator(g, [8, 12, 16, 24, 16])
    with pytest.raises(ValueError, match="levels"):
        widen_generator(g, [8, 12, 16, 24])


def test_widen_tool_output_resumes_in_the_training_tool(tmp_path, restore_threads):
    from talkinghead.refine.training.datapack import save_pack
    from test_refine import synthetic_clip

    base = Refiner.new(RefinerConfig(**TINY5), "cpu", seed=0)
    base.save(tmp_path / "narrow.pt", meta={"tool": "train_generic_refiner", "steps": 7})
    wide_path = tmp_path / "wide.pt"
    assert load_tool("widen_refiner").main(["--input", str(tmp_path / "narrow.pt"), "--channels", *map(str, WIDER),
                                        "--output", str(wide_path)]) == 0
    wide = Refiner.load(wide_path, "cpu", with_discriminator=True)
    assert wide.config.channels == WIDER and wide.meta["steps"] == 7
    assert wide.meta["widened_from"]["channels"] == TINY5["channels"]
    save_pack([synthetic_clip(n=12)], tmp_path / "pack")
    config = {
        "model": {**TINY5, "channels": WIDER},
        "train": {"steps": 9, "batch_size": 2, "lr_g": 1e-4, "lr_d": 1e-4, "adv_start": 0},
        "data": {"clips": [], "train_fraction": 0.75, "max_frames_per_clip": 10},
        "cache_dir": str(tmp_path / "cache"),
        "checkpoint_every": 1000,
        "threads": 1,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    log = tmp_path / "log.jsonl"
    assert load_tool("train_generic_refiner").main(
        ["--config", str(tmp_path / "config.json"), "--data-pack", str(tmp_path / "pack"),
         "--output", str(wide_path), "--log", str(log), "--device", "cpu"]) == 0
    assert len(log.read_text().splitlines()) == 2  # resumed at step 7, not started afresh
    assert Refiner.load(wide_path, "cpu").meta["steps"] == 9


def test_committed_wide_config_matches_the_generic_one_but_for_the_widths():
    models = Path(__file__).resolve().parents[1] / "models"
    generic = json.loads((models / "refiner_generic.json").read_text())
    wide = json.loads((models / "refiner_wide.json").read_text())
    assert RefinerConfig.from_dict(wide["model"]).channels != generic["model"]["channels"]
    for key in ("resolution", "n_refs", "disc_channels"):
        assert wide["model"][key] == generic["model"][key]
    assert wide["data"] == generic["data"] and wide["augment"] == generic["augment"]
    # it resumes from the generic weights' last step
    assert wide["train"]["steps"] == generic["train"]["steps"] <= wide["train"]["lr_decay_from"]
