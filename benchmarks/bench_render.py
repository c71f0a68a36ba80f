"""Per-frame cost of the lower-face deformation and of its rendering (each backend, 128/192/256).

Usage::

    .venv/bin/python benchmarks/bench_render.py [--clip PATH] [--frames 64] [--repeat 3]

Tracks a 512x512 clip from ../shared/data/faces (cached by the tracker), drives the mouth with a
deterministic mix of all viseme parameters, and times (best of ``--repeat``):

- ``deform``: :func:`deform_lower_face` for all frames (the rig built once beforehand; its build
  time is reported separately);
- ``render``: :func:`render_frames` for all frames in one batch, per backend and resolution
  (PyTorch3D on the CPU uses naive rasterization, bin_size=0; on CUDA its coarse-to-fine
  binning), including shading and mask extraction.

Prints a Markdown table (ms per frame) and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "faces" / "RD_Radio2_000.mp4"


def drive(n: int) -> np.ndarray:
    """Smooth, deterministic mouth parameters ``(n, 7)`` covering every parameter."""
    t = np.arange(n) / 25.0
    p = np.zeros((n, 7))
    for k in range(7):
        p[:, k] = 0.5 + 0.5 * np.sin(2 * np.pi * (0.7 + 0.37 * k) * t + k)
    p[:, 1:] *= 0.6
    return np.clip(p, 0, 1)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(DEFAULT_CLIP))
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--resolutions", default="128,192,256")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from talkinghead.face.deform import build_rig, deform_lower_face, pingpong_indices
    from talkinghead.face.tracking import track_face
    from talkinghead.render.renderer import render_frames

    if not Path(args.clip).exists():
        sys.exit(f"clip {args.clip} not found (needs ../shared/data)")
    track = track_face(args.clip, progress=False)
    n = args.frames
    params = drive(n)
    idx = pingpong_indices(track.n_frames, n)
    t_rig = best(lambda: build_rig(track), args.repeat)
    rig = build_rig(track)
    t_def = best(lambda: deform_lower_face(track, params, idx, rig=rig), args.repeat)
    meshes = deform_lower_face(track, params, idx, rig=rig)
    res_list = [int(r) for r in args.resolutions.split(",")]
    configs = [("fast", "cpu"), ("pytorch3d", "cpu")]
    if torch.cuda.is_available():
        configs += [("pytorch3d", "cuda")]
    rows = []
    for backend, device in configs:
        cells = []
        for res in res_list:
            render_frames(meshes.select(slice(0, 2)), res, device=device, backend=backend)  # warm-up
            rep = args.repeat if not (backend == "pytorch3d" and device == "cpu") else 1
            t = best(lambda: render_frames(meshes, res, device=device, backend=backend), rep)
            cells.append(t / n * 1000)
        rows.append((f"render, {backend} ({device})", cells))

    print(f"clip: {Path(args.clip).name} ({track.width}x{track.height}, {track.n_frames} frames), "
          f"{n} output frames, mesh {meshes.vertices.shape[1]} vertices / {len(meshes.faces)} triangles")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, cuda: {torch.cuda.is_available()}")
    print()
    print("| stage (ms/frame) | " + " | ".join(f"{r}x{r}" for r in res_list) + " |")
    print("|---|" + "---|" * len(res_list))
    print(f"| rig build (once per track, ms) | {t_rig * 1000:.1f} |" + " |" * (len(res_list) - 1))
    print(f"| deform | {t_def / n * 1000:.2f} |" + " |" * (len(res_list) - 1))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
