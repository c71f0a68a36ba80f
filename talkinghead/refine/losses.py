"""Training losses of the refiner (no pretrained networks: none is obtainable offline).

* :func:`weighted_l1` - pixel L1 weighted towards the synthesised region and the mouth;
* :func:`ssim_loss` - 1 - SSIM (Gaussian window) averaged with a weight map (structure/texture);
* :func:`hinge_d_loss`, :func:`hinge_g_loss` - hinge adversarial losses of the PatchGAN;
* :func:`feature_matching` - L1 between discriminator features of real and generated crops.

All images are ``(B, C, H, W)`` float tensors in [-1, 1]; weight maps ``(B, 1, H, W)`` >= 0.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def weighted_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``|pred - target| * weight`` normalised by the mean weight (a scalar)."""
    w = weight.expand_as(pred)
    return (torch.abs(pred - target) * w).sum() / w.sum().clamp_min(1e-6)


@functools.lru_cache(maxsize=8)
def _gauss(size: int, sigma: float, device: str, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).to(device=device, dtype=dtype)


def ssim_map(a: torch.Tensor, b: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM of two images in [-1, 1] (computed on [0, 1]), ``(B, C, H, W)``."""
    a = (a + 1) / 2
    b = (b + 1) / 2
    c = a.shape[1]
    k = _gauss(size, sigma, str(a.device), a.dtype).expand(c, 1, size, size)
    pad = size // 2

    def blur(x):
        return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), k, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    saa = blur(a * a) - mu_a**2
    sbb = blur(b * b) - mu_b**2
    sab = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` averaged with ``weight``."""
    s = ssim_map(pred.float(), target.float())
    w = weight.float().expand_as(s)
    return 1 - (s * w).sum() / w.sum().clamp_min(1e-6)


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss: ``relu(1 - D(real)) + relu(1 + D(fake))``."""
    return F.relu(1 - real_logits.float()).mean() + F.relu(1 + fake_logits.float()).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss: ``-D(fake)``."""
    return -fake_logits.float().mean()


def feature_matching(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between discriminator features of real (detached) and generated images."""
    loss = torch.zeros((), device=fake_feats[0].device)
    for r, f in zip(real_feats, fake_feats):
        loss = loss + torch.abs(r.detach().float() - f.float()).mean()
    return loss / max(len(fake_feats), 1)
