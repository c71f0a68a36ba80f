"""Networks of the Refine stage: a U-Net generator and a conditional PatchGAN discriminator.

The generator turns the conditioning of one frame into the photoreal lower-face crop:

======================  ========  ==============================================================
input                   channels  content (all ``resolution x resolution``)
======================  ========  ==============================================================
masked crop             3         the real crop, RGB in [-1, 1], zero where ``hole`` is 1
hole                    1         the region to synthesise (lips, chin, jaw), 1 = replace
surface                 3         rendered normals in [0, 1], mapped to [-1, 1]
face / lips / mouth     3         rendered coverage, lips and inner-mouth opening, [-1, 1]
teeth masks             2         upper and lower teeth proxies, [-1, 1]
references              3 * K     K crops of the same person (one showing teeth), RGB in [-1, 1]
======================  ========  ==============================================================

It predicts an RGB crop in [-1, 1]; the caller composites it into the masked crop through the
hole (see :func:`composite`), so pixels outside the hole are the input's.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

#: Channels of the rendered conditioning: surface (3), face, lips, mouth opening, teeth (2).
RENDER_CHANNELS = 8


@dataclass
class RefinerConfig:
    """Architecture of a refiner (stored inside every checkpoint).

    Attributes:
        resolution: side of the square crop in pixels (input and output).
        n_refs: number of reference crops given to the generator.
        channels: generator feature widths per U-Net level, finest first; the depth is
            ``len(channels)`` and ``resolution`` must be divisible by ``2 ** (len(channels) - 1)``.
        disc_channels: discriminator widths (PatchGAN, each layer halves the size but the last).
    """

    resolution: int = 192
    n_refs: int = 2
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256])
    disc_channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])

    @property
    def in_channels(self) -> int:
        return 3 + 1 + RENDER_CHANNELS + 3 * self.n_refs

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RefinerConfig":
        return cls(**{k: d[k] for k in ("resolution", "n_refs", "channels", "disc_channels") if k in d})

    def validate(self) -> None:
        step = 2 ** (len(self.channels) - 1)
        if self.resolution % step:
            raise ValueError(f"resolution {self.resolution} is not divisible by {step} (U-Net depth)")


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Generator(nn.Module):
    """U-Net: strided-conv encoder, bilinear-upsampling decoder with skip connections.

    The two finest levels use one convolution per stage (they dominate the cost on a CPU), the
    coarser ones two.

    ``forward(x)``: ``x`` of shape ``(B, config.in_channels, R, R)`` float -> ``(B, 3, R, R)`` in
    [-1, 1] (tanh).
    """

    def __init__(self, config: RefinerConfig):
        super().__init__()
        config.validate()
        self.config = config
        ch = config.channels

        def stage(cin: int, cout: int, level: int) -> nn.Sequential:
            if level < 2:
                return _conv(cin, cout)
            return nn.Sequential(_conv(cin, cout), _conv(cout, cout))

        self.stem = stage(config.in_channels, ch[0], 0)
        self.down = nn.ModuleList(
            nn.Sequential(_conv(ch[i], ch[i + 1], 4, stride=2), *(
                [_conv(ch[i + 1], ch[i + 1])] if i + 1 >= 2 else []))
            for i in range(len(ch) - 1)
        )
        self.up = nn.ModuleList(
            stage(ch[i + 1] + ch[i], ch[i], i) for i in reversed(range(len(ch) - 1))
        )
        self.head = nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        h = skips[0]
        for down in self.down:
            h = down(h)
            skips.append(h)
        skips.pop()  # the bottleneck itself
        for up in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = up(torch.cat([h, skip], dim=1))
        return torch.tanh(self.head(h))


class Discriminator(nn.Module):
    """PatchGAN conditioned on the rendering (and the masked crop).

    ``forward(image, cond)``: ``image`` ``(B, 3, R, R)``, ``cond`` ``(B, 4 + RENDER_CHANNELS, R, R)``
    (masked crop, hole, render) -> ``(logits, features)``: patch logits ``(B, 1, h, w)`` and the
    list of intermediate feature maps (for the feature-matching loss).
    """

    def __init__(self, config: RefinerConfig):
        super().__init__()
        ch = config.disc_channels
        cin = 3 + 4 + RENDER_CHANNELS
        layers = []
        for i, c in enumerate(ch):
            stride = 2 if i < len(ch) - 1 else 1
            layers.append(
                nn.Sequential(
                    nn.utils.spectral_norm(nn.Conv2d(cin, c, 4, stride=stride, padding=1)),
                    nn.LeakyReLU(0.2, inplace=True),
                )
            )
            cin = c
        self.layers = nn.ModuleList(layers)
        self.head = nn.utils.spectral_norm(nn.Conv2d(cin, 1, 4, padding=1))

    def forward(self, image: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = torch.cat([image, cond], dim=1)
        feats = []
        for layer in self.layers:
            h = layer(h)
            feats.append(h)
        return self.head(h), feats


def composite(pred: torch.Tensor, crop: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Paste the prediction into the input crop: ``crop * (1 - alpha) + pred * alpha``.

    Args:
        pred: generator output ``(B, 3, R, R)`` in [-1, 1].
        crop: the input crop ``(B, 3, R, R)`` in [-1, 1].
        alpha: ``(B, 1, R, R)`` in [0, 1] (1 = synthesised), e.g. the feathered hole.
    """
    return crop * (1 - alpha) + pred * alpha


def fused_for_inference(generator: nn.Module) -> nn.Module:
    """A copy of ``generator`` for inference, each convolution followed by batch norm folded into
    one convolution with the normalisation's running statistics (eval mode): the same function up
    to float rounding, without the normalisation layers' time (~16% of the generator's on a CPU,
    ``benchmarks/README.md``, "Speed")."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(generator).eval()
    for module in fused.modules():
        if (isinstance(module, nn.Sequential) and len(module) >= 2 and isinstance(module[0], nn.Conv2d)
                and isinstance(module[1], nn.BatchNorm2d)):
            module[0] = fuse_conv_bn_eval(module[0], module[1])
            module[1] = nn.Identity()
    return fused


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
