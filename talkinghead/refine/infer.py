"""Running a trained refiner: :class:`Refiner` (load/save checkpoints, batched inference, optionally
averaged with the mirrored frame's prediction: :func:`mirror_input`).

Checkpoint format (``torch.save`` of a dict, loaded with ``weights_only=True``)::

    {"format": "talkinghead-refiner", "version": 1, "config": RefinerConfig.to_dict(),
     "generator": state_dict, "discriminator": state_dict or None, "meta": {...}}
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..fileio import atomic_path, bundled_file
from ..render.types import RenderedFrames
from .condition import COND_FACE, COND_NORMAL_X, INPUT_COND, network_input, pack_condition, resize_condition
from .model import Discriminator, Generator, RefinerConfig, fused_for_inference
from .onnx_generator import OnnxGenerator

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "talkinghead-refiner"
CHECKPOINT_VERSION = 1
#: The generic weights shipped with the project: package data (an installed wheel), else the
#: repository's ``models/`` folder (a source checkout / editable install).
GENERIC_WEIGHTS = bundled_file("refiner_generic.pt", "models")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 where it is faster (CUDA with bf16 support, CPUs with native bf16: AVX512-BF16 or
    AMX); ``None`` (float32) otherwise. Measured here: without native support bf16 autocast is
    ~3x *slower* than float32 on the CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if os.environ.get("TALKINGHEAD_BF16") in ("0", "1"):
        return torch.bfloat16 if os.environ["TALKINGHEAD_BF16"] == "1" else None
    return torch.bfloat16 if _cpu_has_bf16() else None


#: Refiner inference backends (:func:`inference_backend`).
BACKENDS = ("torch", "onnxruntime")


def inference_backend(device: torch.device) -> str:
    """What runs the generator at inference: ``"torch"`` on CUDA and on CPUs with native bfloat16
    (bf16 autocast), ``"onnxruntime"`` (float32, :class:`~.onnx_generator.OnnxGenerator`) on
    other CPUs (0.55-0.8 of torch's float32 time, :mod:`~.onnx_generator`). ``TALKINGHEAD_REFINER_BACKEND``
    (``torch`` or ``onnxruntime``) overrides the choice on a CPU.

    Raises:
        InputError: an unknown ``TALKINGHEAD_REFINER_BACKEND``.
    """
    forced = os.environ.get("TALKINGHEAD_REFINER_BACKEND", "").strip().lower()
    if forced and forced not in BACKENDS:
        raise InputError(f"TALKINGHEAD_REFINER_BACKEND={forced!r}: expected one of {', '.join(BACKENDS)}")
    if device.type != "cpu":
        return "torch"
    if forced:
        return forced
    return "torch" if autocast_dtype(device) is not None else "onnxruntime"


def finetune_dtype(device: torch.device) -> torch.dtype | None:
    """Autocast dtype of fine-tuning: bfloat16 where inference uses it too (a CPU with native
    bf16, AVX512-BF16 or AMX, or a CUDA GPU with bf16; :func:`autocast_dtype`),
    else ``None`` (float32; float16 would need loss scaling). About 1.5x faster than float32 on a
    CPU with native bf16, with the same held-out quality (``benchmarks/bench_refine.py``; figures
    in ``models/README.md``, "bf16 fine-tuning")."""
    dt = autocast_dtype(device)
    return dt if dt == torch.bfloat16 else None


class Refiner:
    """A refiner generator (and optionally its discriminator) on a device.

    Attributes:
        config: architecture (:class:`RefinerConfig`).
        generator, discriminator: the networks (discriminator ``None`` when not loaded/needed).
        device: torch device.
        meta: free-form provenance (training data, steps, ...).
    """

    def __init__(self, config: RefinerConfig, generator: Generator, discriminator: Discriminator | None = None,
                 device: str | torch.device = "cpu", meta: dict | None = None):
        self.config = config
        self.device = resolve_device(device)
        self.generator = generator.to(self.device).eval()
        self.discriminator = discriminator.to(self.device).eval() if discriminator is not None else None
        self.meta = dict(meta or {})
        if self.device.type == "cpu":
            self.generator.to(memory_format=torch.channels_last)
        self._fused: tuple[tuple, torch.nn.Module | OnnxGenerator] | None = None

    @property
    def backend(self) -> str:
        """What :meth:`refine` runs the generator with (:func:`inference_backend`)."""
        return inference_backend(self.device)

    def inference_generator(self) -> torch.nn.Module | OnnxGenerator:
        """The generator with its batch norms folded into the convolutions
        (:func:`~.model.fused_for_inference`), what :meth:`refine` runs: a torch module, or its
        ONNX Runtime export where :attr:`backend` says so. Rebuilt whenever the generator's
        weights or statistics have changed in place (fine-tuning, ``load_state_dict``) or the
        backend has changed."""
        g = self.generator
        backend = self.backend
        key = tuple(t._version for t in (*g.parameters(), *g.buffers())) + (id(g), backend)
        if self._fused is None or self._fused[0] != key:
            fused = fused_for_inference(g)
            if backend == "onnxruntime":
                fused = OnnxGenerator(fused, self.config.in_channels, self.resolution)
            elif self.device.type == "cpu":
                fused.to(memory_format=torch.channels_last)
            self._fused = (key, fused)
        return self._fused[1]

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @classmethod
    def new(cls, config: RefinerConfig, device: str | torch.device = "cpu", seed: int = 0) -> "Refiner":
        """Randomly initialised generator and discriminator."""
        torch.manual_seed(seed)
        return cls(config, Generator(config), Discriminator(config), device)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str | torch.device | None = "auto",
             *, with_discriminator: bool = False) -> "Refiner":
        """Load a checkpoint (default: the shipped generic weights).

        Raises:
            InputError: missing or malformed checkpoint file.
        """
        p = Path(path) if path is not None else GENERIC_WEIGHTS
        if not p.exists():
            raise InputError(f"refiner weights not found: {p}")
        try:
            ck = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise InputError(f"cannot read refiner weights {p}: {exc}") from exc
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"{p} is not a talkinghead refiner checkpoint")
        config = RefinerConfig.from_dict(ck["config"])
        g = Generator(config)
        g.load_state_dict(ck["generator"])
        d = None
        if with_discriminator:
            d = Discriminator(config)
            if ck.get("discriminator"):
                d.load_state_dict(ck["discriminator"])
        return cls(config, g, d, resolve_device(device), ck.get("meta") or {})

    def save(self, path: str | os.PathLike, *, with_discriminator: bool = True, meta: dict | None = None) -> Path:
        """Write a checkpoint atomically (float32 weights)."""
        ck = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "generator": {k: v.detach().cpu().contiguous() for k, v in self.generator.state_dict().items()},
            "discriminator": (
                {k: v.detach().cpu().contiguous() for k, v in self.discriminator.state_dict().items()}
                if with_discriminator and self.discriminator is not None else None
            ),
            "meta": {**self.meta, **(meta or {})},
        }
        with atomic_path(path) as tmp:
            torch.save(ck, tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # a normal file, not mkstemp's 0600
        return Path(path)

    @torch.no_grad()
    def refine(
        self,
        frame_crops: np.ndarray,
        rendered: RenderedFrames,
        references: np.ndarray,
        holes: np.ndarray | None = None,
        *,
        batch_size: int = 8,
        mirror_average: bool = False,
    ) -> np.ndarray:
        """Synthesise the lower-face crops.

        Args:
            frame_crops: crops of the source frames, ``(n, R, R, 3)`` uint8 RGB, ``R =
                self.resolution`` (:func:`~talkinghead.refine.composite.blend.extract_crops` with
                ``rendered.boxes``).
            rendered: the conditioning of the same ``n`` frames (any resolution; resampled to
                ``R``).
            references: reference crops of the person, ``(K, R, R, 3)`` uint8, ``K =
                config.n_refs`` (:attr:`PreparedFace.references`).
            holes: region to synthesise, ``(n, R, R)`` in {0, 1} (:meth:`PreparedFace.holes`);
                default: the rendered face mask, dilated (the original jaw may then leak where the
                new jaw is smaller: prefer passing the holes).
            batch_size: frames per forward pass.
            mirror_average: also run the generator on the mirrored input (crop, conditioning,
                holes and references flipped left-right, the normals' x negated, as the training
                augmentation mirrors them) and average the two predictions (test-time
                augmentation: twice the generator time; the measured gain is in the note of
                :class:`talkinghead.options.RenderOptions`, ``fast``).

        Returns:
            The generator's crops ``(n, R, R, 3)`` uint8 RGB (the whole crop; blend them through
            :func:`~talkinghead.refine.composite.blend.blend_alpha` of the holes).
        """
        r = self.resolution
        crops = np.asarray(frame_crops)
        n = len(crops)
        if crops.shape[1:] != (r, r, 3):
            raise ValueError(f"frame_crops must have shape (n, {r}, {r}, 3), got {crops.shape}")
        if len(rendered.boxes) != n:
            raise ValueError(f"{n} crops but {len(rendered.boxes)} rendered frames")
        refs = np.asarray(references)
        if refs.shape != (self.config.n_refs, r, r, 3):
            raise ValueError(f"references must have shape ({self.config.n_refs}, {r}, {r}, 3), got {refs.shape}")
        cond = resize_condition(pack_condition(rendered), r)
        if holes is None:
            k = max(int(round(0.035 * r)), 1)
            ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
            holes = np.stack([cv2.dilate((c[..., 3] > 127).astype(np.uint8), ker) for c in cond]).astype(np.float32)
        holes = np.asarray(holes, np.float32)
        dev = self.device
        fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format
        ref_t = torch.from_numpy(refs).permute(0, 3, 1, 2).reshape(1, -1, r, r).float().div(127.5).sub(1).to(dev)
        out = np.empty((n, r, r, 3), np.uint8)
        generator = self.inference_generator()
        amp = autocast_dtype(dev)
        for s in range(0, n, batch_size):
            e = min(n, s + batch_size)
            crop = torch.from_numpy(crops[s:e]).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(dev)
            c = torch.from_numpy(cond[s:e]).permute(0, 3, 1, 2).float().div(255).to(dev)
            h = torch.from_numpy((holes[s:e] > 0.5).astype(np.float32))[:, None].to(dev)
            x = network_input(crop, h, c, ref_t.expand(e - s, -1, -1, -1))
            y = self._generate(generator, x, fmt, amp)
            if mirror_average:
                y = 0.5 * (y + self._generate(generator, mirror_input(x), fmt, amp).flip(-1))
            y = ((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            out[s:e] = y.permute(0, 2, 3, 1).cpu().numpy()
        return out

    @staticmethod
    def _generate(generator: torch.nn.Module | OnnxGenerator, x: torch.Tensor, fmt: torch.memory_format,
                  amp: torch.dtype | None) -> torch.Tensor:
        """``generator``'s output (float32) for the network input ``x``, under ``amp`` autocast
        (a torch module; the ONNX Runtime export runs float32 as exported)."""
        if isinstance(generator, OnnxGenerator):
            return generator(x)
        x = x.contiguous(memory_format=fmt)
        if amp is None:
            return generator(x).float()
        with torch.autocast(x.device.type, dtype=amp):
            return generator(x).float()


def mirror_input(x: torch.Tensor) -> torch.Tensor:
    """The generator input of the left-right mirrored frame (:func:`network_input` layout
    ``(B, 12 + 3K, R, R)``): every channel flipped, and the x component of the rendered normals
    (in [-1, 1]) negated where the face is rendered, as
    :class:`~talkinghead.refine.training.dataset.PairSampler` mirrors its training samples."""
    nx, face = INPUT_COND + COND_NORMAL_X, INPUT_COND + COND_FACE
    m = x.flip(-1).clone()
    m[:, nx] = torch.where(m[:, face] > -1, -m[:, nx], m[:, nx])
    return m
