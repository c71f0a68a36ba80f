"""``talkinghead doctor``: report what is installed and usable; non-zero if the default pipeline
cannot run."""

from __future__ import annotations

import argparse
import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EPILOG = """\
examples:
  talkinghead doctor          one line per component; exit 0 when the default pipeline can run
"""


@dataclass
class Check:
    """One component check: ``required`` ones make ``doctor`` fail."""

    name: str
    required: bool
    probe: Callable[[], str]


def _torch() -> str:
    import torch

    dev = "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu only"
    return f"torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads"


def _pytorch3d() -> str:
    import pytorch3d
    import torch
    from pytorch3d.renderer import MeshRasterizer, FoVOrthographicCameras, RasterizationSettings
    from pytorch3d.structures import Meshes

    verts = torch.tensor([[[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.0, 0.5, 1.0]]])
    faces = torch.tensor([[[0, 1, 2]]])
    rast = MeshRasterizer(cameras=FoVOrthographicCameras(), raster_settings=RasterizationSettings(image_size=16))
    frags = rast(Meshes(verts, faces))
    covered = int((frags.pix_to_face >= 0).sum())
    if covered == 0:
        raise RuntimeError("rasterized a triangle but no pixel was covered")
    return f"pytorch3d {pytorch3d.__version__}, rasterizer ok ({covered} px)"


def _mediapipe() -> str:
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True):
        pass
    return f"mediapipe {mp.__version__}, face mesh model loaded"


def _voice() -> str:
    from ..speech.piper import PiperSpeaker

    sp = PiperSpeaker()
    t = time.perf_counter()
    speech = sp.speak("Hello.")
    return f"piper voice '{sp.name}' ({sp.sample_rate} Hz), 'Hello.' in {time.perf_counter() - t:.2f} s, {speech.duration:.2f} s audio"


def _ffmpeg() -> str:
    import subprocess

    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    first = subprocess.run([exe, "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return f"{first.split(' Copyright')[0]} ({exe})"


def _espeak() -> str:
    from ..speech.phonemize import phonemize_words

    return "espeak-ng (phonemizer) ok: 'map' -> " + " ".join(phonemize_words("map")[0].phones)


def _pocketsphinx() -> str:
    import pocketsphinx

    return f"pocketsphinx {getattr(pocketsphinx, '__version__', '')} (English model bundled)"


def _c2pa() -> str:
    from ..provenance import c2pa_available

    if not c2pa_available():
        raise ImportError("c2pa-python is not importable: --sign-cert/--sign-key cannot sign")
    return "c2pa-python importable (Content Credentials signing)"


def _coqui() -> str:
    importlib.import_module("TTS")
    return "coqui-tts importable (models load from local paths only)"


def _refiner() -> str:
    from ..refine.infer import GENERIC_WEIGHTS, autocast_dtype, inference_backend, resolve_device

    path = Path(GENERIC_WEIGHTS)
    if not path.exists():
        raise FileNotFoundError(f"generic refiner weights missing: {path}")
    dev = resolve_device("auto")
    dt = autocast_dtype(dev)
    if inference_backend(dev) == "onnxruntime":
        precision = "float32 through ONNX Runtime (this CPU has no native bfloat16)"
    elif dt is not None:
        precision = f"{str(dt).replace('torch.', '')} autocast"
    elif os.environ.get("TALKINGHEAD_BF16") == "0":
        precision = "float32 (TALKINGHEAD_BF16=0)"
    else:
        precision = "float32 through torch (TALKINGHEAD_REFINER_BACKEND=torch)"
    return f"generic refiner weights {path} ({path.stat().st_size / 1e6:.1f} MB); on {dev.type}: {precision}"


CHECKS = [
    Check("torch", True, _torch),
    Check("pytorch3d", True, _pytorch3d),
    Check("mediapipe", True, _mediapipe),
    Check("piper voice", True, _voice),
    Check("ffmpeg", True, _ffmpeg),
    Check("espeak-ng", True, _espeak),
    Check("pocketsphinx", False, _pocketsphinx),
    Check("refiner weights", True, _refiner),
    Check("c2pa (optional)", False, _c2pa),
    Check("coqui (optional)", False, _coqui),
]


def register(sub) -> None:
    from ..cli import add_command

    p = add_command(sub, "doctor", help="check the installation",
                    description="Check each component the pipeline uses and report it. Exits 1 "
                    "if a component the default pipeline needs is missing or broken.", epilog=EPILOG)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failed_required = 0
    for c in CHECKS:
        try:
            msg = c.probe()
            status = "ok"
        except Exception as exc:  # report every failure, whatever it is
            msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
            status = "MISSING" if c.required else "absent"
            failed_required += c.required
        print(f"{status:8s} {c.name:18s} {msg}")
    if failed_required:
        print(f"\n{failed_required} required component(s) missing: the default pipeline cannot run.")
        return 1
    print("\nall required components are usable.")
    return 0
