"""Training loop of the refiner (generic training and per-face fine-tuning share it).

One step: the discriminator sees real and generated crops (hinge loss), then the generator is
updated with ``w_l1 * weighted L1 + w_ssim * (1 - SSIM) + w_adv * hinge + w_fm * feature matching``
(weights in :class:`TrainSettings`). On a CPU the loop runs in float32 with channels-last tensors
(bfloat16 autocast only where the CPU has native bf16 support or on CUDA; see
:func:`talkinghead.refine.infer.autocast_dtype`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from .dataset import BatchPrefetcher, PairSampler
from ..losses import feature_matching, hinge_d_loss, hinge_g_loss, ssim_loss, weighted_l1
from ..model import Discriminator, Generator

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    """Optimisation settings.

    Attributes:
        steps: optimisation steps.
        batch_size: crops per step.
        lr_g, lr_d: Adam learning rates (betas 0.5, 0.999).
        w_l1, w_ssim, w_adv, w_fm: loss weights.
        adv_start: first step with the adversarial and feature-matching terms (the generator is
            first fitted with the reconstruction terms alone).
        seed: sampling seed.
        lr_decay_from: step from which both learning rates fall linearly, reaching
            ``lr_final_factor`` times their value at the last step (``None`` = constant rates).
        lr_final_factor: learning-rate factor at the last step when decaying.
        warmup_steps: the learning rates rise linearly from ``1 / warmup_steps`` of their value
            over the first ``warmup_steps`` steps of a run (0 = none). A run starts Adam afresh
            from trained weights (fine-tuning, a resumed run): Adam's first updates have about the
            learning rate's size in every weight whatever its gradient, which jolts trained
            weights before its moment estimates settle.
        warmup_from: the step the warm-up starts at (``None``: the run's first step; a training
            tool that runs one schedule in several calls gives its first step).
        freeze_norm: keep the generator's batch-norm layers in inference mode (normalising with,
            and not updating, their running statistics) while everything else trains, so that
            the network being optimised is exactly the one that runs at inference. For
            fine-tuning at small batches of one face, whose batch statistics are noisy and not
            the training set's: the 24093-step weights' L1 on the same training batches was
            0.038 in inference mode but 0.050 / 0.043 / 0.040 with batch statistics of 8 / 16 /
            32 crops.
    """

    steps: int = 300
    batch_size: int = 8
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    w_l1: float = 1.0
    w_ssim: float = 0.5
    w_adv: float = 0.03
    w_fm: float = 0.5
    adv_start: int = 0
    seed: int = 0
    lr_decay_from: int | None = None
    lr_final_factor: float = 0.1
    freeze_norm: bool = False
    warmup_steps: int = 0
    warmup_from: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def lr_factor(self, step: int, end: int, start: int = 0) -> float:
        """Learning-rate multiplier at ``step`` of a run whose first step is ``start`` and last
        ``end - 1``: the warm-up times the decay."""
        origin = start if self.warmup_from is None else self.warmup_from
        warm = min(max(step - origin + 1, 1) / self.warmup_steps, 1.0) if self.warmup_steps > 0 else 1.0
        if self.lr_decay_from is None or step < self.lr_decay_from or end - 1 <= self.lr_decay_from:
            return warm
        frac = min((step - self.lr_decay_from) / (end - 1 - self.lr_decay_from), 1.0)
        return warm * (1.0 + frac * (self.lr_final_factor - 1.0))


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def train_refiner(
    generator: Generator,
    discriminator: Discriminator,
    sampler: PairSampler | BatchPrefetcher,
    settings: TrainSettings,
    *,
    device: str | torch.device = "cpu",
    amp_dtype: torch.dtype | None = None,
    progress: bool = False,
    progress_desc: str = "training refiner",
    on_step: Callable[[int, dict], None] | None = None,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    start_step: int = 0,
) -> list[dict]:
    """Train ``generator``/``discriminator`` in place for ``settings.steps`` steps.

    Args:
        sampler: batch source (its ``sample(batch_size)`` is called once per step).
        device: torch device.
        amp_dtype: autocast dtype (``None`` = float32).
        progress: show a tqdm bar.
        on_step: called after every step with ``(step, losses)`` (e.g. to checkpoint).
        optimizers: ``(opt_g, opt_d)`` to continue with (default: fresh Adam).
        start_step: index of the first step (for resumed runs; affects ``adv_start`` and the
            learning-rate decay, which ends at step ``start_step + settings.steps - 1``).

    Returns:
        Per-step loss dicts (floats: ``l1``, ``ssim``, ``g_adv``, ``fm``, ``d``, ``seconds``).
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    fmt = _to_training(generator, discriminator, settings, device, amp_dtype)
    opt_g, opt_d = optimizers if optimizers is not None else _adam(generator, discriminator, settings)
    # the rates the schedule scales: each group's first rate, kept across calls that share the
    # optimizers (a time probe, then the run: the probe's last, warmed-up rate is not a base)
    base_lrs = [[g.setdefault("initial_lr", g["lr"]) for g in opt.param_groups] for opt in (opt_g, opt_d)]
    end_step = start_step + settings.steps
    history: list[dict] = []
    bar = tqdm(range(start_step, end_step), desc=progress_desc, disable=not progress,
               unit="step", leave=False)
    for step in bar:
        t0 = time.perf_counter()
        batch = sampler.sample(settings.batch_size)
        batch = {k: v.to(device).contiguous(memory_format=fmt) for k, v in batch.items()}
        use_adv = step >= settings.adv_start and (settings.w_adv > 0 or settings.w_fm > 0)
        factor = settings.lr_factor(step, end_step, start_step)
        for opt, lrs in zip((opt_g, opt_d), base_lrs):
            for group, lr in zip(opt.param_groups, lrs):
                group["lr"] = lr * factor
        losses = _train_step(generator, discriminator, opt_g, opt_d, batch, settings, use_adv, device, amp_dtype)
        rec = {"step": step, **losses, "lr_factor": factor, "seconds": time.perf_counter() - t0}
        history.append(rec)
        if progress:
            bar.set_postfix(l1=f"{rec['l1']:.3f}", ssim=f"{1 - rec['ssim']:.3f}")
        if on_step is not None:
            on_step(step, rec)
    bar.close()
    generator.eval()
    discriminator.eval()
    return history


def _to_training(generator: Generator, discriminator: Discriminator, settings: TrainSettings,
                 device: torch.device, amp_dtype: torch.dtype | None) -> torch.memory_format:
    """Move both networks to ``device`` in training mode (the generator's batch norms frozen when
    ``settings.freeze_norm``); returns the memory format they now use: channels-last, faster on
    the CPU and for reduced-precision convolutions on a GPU."""
    generator.to(device).train()
    discriminator.to(device).train()
    if settings.freeze_norm:
        for m in generator.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
    fmt = torch.channels_last if device.type == "cpu" or amp_dtype is not None else torch.contiguous_format
    generator.to(memory_format=fmt)
    discriminator.to(memory_format=fmt)
    return fmt


def _adam(generator: Generator, discriminator: Discriminator,
          settings: TrainSettings) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Fresh Adam optimizers ``(opt_g, opt_d)`` at the settings' learning rates."""
    opt_g = torch.optim.Adam(generator.parameters(), lr=settings.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=settings.lr_d, betas=(0.5, 0.999))
    return opt_g, opt_d


def _train_step(generator: Generator, discriminator: Discriminator, opt_g: torch.optim.Optimizer,
                opt_d: torch.optim.Optimizer, batch: dict, settings: TrainSettings, use_adv: bool,
                device: torch.device, amp_dtype: torch.dtype | None) -> dict:
    """One step on ``batch``: the discriminator's (when ``use_adv``), then the generator's
    (weighted L1 + SSIM, plus the adversarial and feature-matching terms when ``use_adv``).

    Returns:
        The losses as floats: ``l1``, ``ssim``, ``g_adv``, ``fm``, ``d``.
    """
    x, target, weight, dcond = batch["input"], batch["target"], batch["weight"], batch["dcond"]
    with _autocast(device, amp_dtype):
        pred = generator(x)
    pred = pred.float()

    d_loss = torch.zeros(())
    real_feats: list[torch.Tensor] = []
    if use_adv:
        with _autocast(device, amp_dtype):
            real_logits, real_feats = discriminator(target, dcond)
            fake_logits, _ = discriminator(pred.detach(), dcond)
        real_feats = [f.detach() for f in real_feats]
        d_loss = hinge_d_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

    l1 = weighted_l1(pred, target, weight)
    ss = ssim_loss(pred, target, weight)
    g = settings.w_l1 * l1 + settings.w_ssim * ss
    g_adv = fm = torch.zeros(())
    if use_adv:
        for p in discriminator.parameters():
            p.requires_grad_(False)
        with _autocast(device, amp_dtype):
            fake_logits, fake_feats = discriminator(pred, dcond)
        for p in discriminator.parameters():
            p.requires_grad_(True)
        g_adv = hinge_g_loss(fake_logits)
        fm = feature_matching(real_feats, fake_feats)
        g = g + settings.w_adv * g_adv + settings.w_fm * fm
    opt_g.zero_grad(set_to_none=True)
    g.backward()
    opt_g.step()
    return {"l1": float(l1.detach()), "ssim": float(ss.detach()), "g_adv": float(g_adv.detach()),
            "fm": float(fm.detach()), "d": float(d_loss.detach())}
