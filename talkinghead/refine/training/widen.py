"""Widen a trained refiner generator without changing what it computes (Net2WiderNet).

A wider generator trained from scratch would throw away the generic weights' training (33 513 GPU
and CPU steps); widened this way it starts exactly where the narrow one stopped and training only
has to find a use for the new channels. Following Chen, Goodfellow and Shlens, "Net2Net:
Accelerating learning via knowledge transfer" (ICLR 2016):

* every convolution whose output level gets wider keeps its old filters and repeats randomly
  chosen ones (with their batch-norm scale, shift and running statistics) for the new channels,
  so a new channel is an exact copy of an old one;
* every convolution that reads a widened level divides the weights of a repeated input channel
  among its copies, so its output is unchanged;
* the copies' shares get a zero-sum perturbation (``noise`` times the layer's weight standard
  deviation): the sum over copies, and so the function, is unchanged, but the copies receive
  different gradients and drift apart in training (without it they would stay twins forever).

The U-Net's skip connections are followed: an up-sampling stage reads the coarser level and the
skip of its own level, each with its own channel map. The discriminator is not changed.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..model import Generator, RefinerConfig


def _channel_map(old: int, new: int, rng: np.random.Generator) -> np.ndarray:
    """``(new,)`` indices into the old channels: the old ones in order, then random repeats."""
    if new < old:
        raise ValueError(f"cannot narrow a level from {old} to {new} channels")
    return np.concatenate([np.arange(old), rng.integers(0, old, new - old)]).astype(np.int64)


def _widen_conv(conv: nn.Conv2d, new_conv: nn.Conv2d, in_map: np.ndarray, out_map: np.ndarray,
                noise: float, rng: np.random.Generator) -> None:
    """Fill ``new_conv`` from ``conv`` for input / output channel maps (old index per new channel)."""
    w = conv.weight.detach().double()  # (C_out_old, C_in_old, kh, kw)
    counts = np.bincount(in_map, minlength=w.shape[1]).astype(np.float64)
    scale = torch.from_numpy(1.0 / counts[in_map])  # (C_in_new,)
    w_in = w[:, torch.from_numpy(in_map)] * scale[None, :, None, None]  # (C_out_old, C_in_new, kh, kw)
    if noise > 0 and len(in_map) > w.shape[1]:
        # Zero-sum over the copies of each repeated input channel: the layer's output is unchanged.
        eps = torch.from_numpy(rng.standard_normal(w_in.shape)) * noise * float(w.std())
        group_mean = torch.zeros((w.shape[0], w.shape[1]) + tuple(w.shape[2:]), dtype=eps.dtype)
        group_mean.index_add_(1, torch.from_numpy(in_map), eps)
        group_mean /= torch.from_numpy(counts)[None, :, None, None]
        eps = eps - group_mean[:, torch.from_numpy(in_map)]  # 0 for a channel that is not repeated
        w_in = w_in + eps
    with torch.no_grad():
        new_conv.weight.copy_(w_in[torch.from_numpy(out_map)].to(new_conv.weight.dtype))
        if conv.bias is not None:
            new_conv.bias.copy_(conv.bias.detach()[torch.from_numpy(out_map)])


def _widen_norm(bn: nn.BatchNorm2d, new_bn: nn.BatchNorm2d, out_map: np.ndarray) -> None:
    idx = torch.from_numpy(out_map)
    with torch.no_grad():
        for name in ("weight", "bias"):
            getattr(new_bn, name).copy_(getattr(bn, name).detach()[idx])
        for name in ("running_mean", "running_var"):
            getattr(new_bn, name).copy_(getattr(bn, name)[idx])
        new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)


def _widen_block(block: nn.Sequential, new_block: nn.Sequential, in_map: np.ndarray, out_map: np.ndarray,
                 noise: float, rng: np.random.Generator) -> None:
    """One ``_conv`` block (Conv2d, BatchNorm2d, LeakyReLU)."""
    _widen_conv(block[0], new_block[0], in_map, out_map, noise, rng)
    _widen_norm(block[1], new_block[1], out_map)


def _widen_stage(stage: nn.Sequential, new_stage: nn.Sequential, in_map: np.ndarray, out_map: np.ndarray,
                 noise: float, rng: np.random.Generator) -> None:
    """A stage of one ``_conv`` block, or of blocks whose first maps ``in -> out``, the rest ``out -> out``."""
    if isinstance(stage[0], nn.Conv2d):  # a single block
        _widen_block(stage, new_stage, in_map, out_map, noise, rng)
        return
    for i, (block, new_block) in enumerate(zip(stage, new_stage)):
        _widen_block(block, new_block, in_map if i == 0 else out_map, out_map, noise, rng)


def widen_generator(generator: Generator, channels: list[int], *, noise: float = 0.1, seed: int = 0) -> Generator:
    """A wider copy of ``generator`` that computes the same function.

    Args:
        generator: a trained generator (left unchanged).
        channels: the new widths per U-Net level, finest first; as many levels as the old ones,
            each at least as wide.
        noise: size of the zero-sum perturbation of repeated channels' shares, in standard
            deviations of the layer's weights (0: exact copies that never drift apart).
        seed: seed of the channel choice and the perturbation.

    Returns:
        A new :class:`Generator` (CPU, float32, same mode as the old one) whose output equals the
        old one's for any input, in training mode (batch statistics) and in evaluation mode
        (running statistics), up to floating-point rounding.
    """
    old_cfg = generator.config
    if len(channels) != len(old_cfg.channels):
        raise ValueError(f"channels {channels} must have {len(old_cfg.channels)} levels like {old_cfg.channels}")
    rng = np.random.default_rng(seed)
    maps = [_channel_map(o, n, rng) for o, n in zip(old_cfg.channels, channels)]
    cfg = widen_config(old_cfg, channels)
    old = copy.deepcopy(generator).cpu().float()
    new = Generator(cfg)
    identity = np.arange(cfg.in_channels)
    _widen_stage(old.stem, new.stem, identity, maps[0], noise, rng)
    for i, (down, new_down) in enumerate(zip(old.down, new.down)):
        # The strided block reads level i and writes level i + 1; an optional second block stays there.
        _widen_block(down[0], new_down[0], maps[i], maps[i + 1], noise, rng)
        for block, new_block in zip(list(down)[1:], list(new_down)[1:]):
            _widen_block(block, new_block, maps[i + 1], maps[i + 1], noise, rng)
    levels = list(reversed(range(len(channels) - 1)))
    for i, up, new_up in zip(levels, old.up, new.up):
        # Reads cat([the coarser level upsampled, the skip of level i]).
        in_map = np.concatenate([maps[i + 1], maps[i] + old_cfg.channels[i + 1]])
        _widen_stage(up, new_up, in_map, maps[i], noise, rng)
    _widen_conv(old.head, new.head, maps[0], np.arange(3), noise, rng)
    new.train(generator.training)
    return new


def widen_config(config: RefinerConfig, channels: list[int]) -> RefinerConfig:
    """``config`` with the generator's ``channels`` replaced (the discriminator's kept)."""
    cfg = copy.deepcopy(config)
    cfg.channels = list(channels)
    cfg.validate()
    return cfg
