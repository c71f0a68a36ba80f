"""Face-tracking speed: per-frame time of the tracker on dev clips; prints a Markdown table.

    .venv/bin/python benchmarks/bench_tracking.py [--frames 150] [--threads 2] [CLIP ...]

Default clips from ../shared/data/faces: a 512x512 talking-head clip, a portrait clip with a
small face (sun.mp4, face ~18% of the frame height) and a 1280x720 half-body clip (s18.mp4). Decoding is timed separately (frames are decoded before tracking);
"track" = MediaPipe detection + face mesh per frame (incl. crops), "post" = gap filling, pose
fit, person canonical and One-Euro smoothing for the whole clip.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "faces"
DEFAULT = [DATA / "WDA_KatieHill_000.mp4", DATA / "sun.mp4", DATA / "s18.mp4"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--frames", type=int, default=150, help="frames per clip (default 150)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (OMP/TFLite hint)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "2")

    import numpy as np

    from talkinghead.face.tracking import TrackerSettings, build_track, detect_landmarks
    from talkinghead.media import probe, read_frames

    rows = []
    warm = True
    for clip in args.clips:
        if not clip.exists():
            print(f"skipping {clip}: not found", file=sys.stderr)
            continue
        info = probe(clip)
        t0 = time.perf_counter()
        frames = list(read_frames(clip, info=info, max_frames=args.frames))
        t_dec = time.perf_counter() - t0
        s = TrackerSettings()
        if warm:  # imports and MediaPipe graph set-up are not per-frame costs
            r, d, w, h = detect_landmarks(frames[:3], settings=s)
            build_track(r, d, fps=info.fps, width=w, height=h, settings=s)
            warm = False
        t0 = time.perf_counter()
        raw, det, w, h = detect_landmarks(frames, settings=s)
        t_track = time.perf_counter() - t0
        t0 = time.perf_counter()
        tr = build_track(raw, det, fps=info.fps, width=w, height=h, settings=s, source=str(clip))
        t_post = time.perf_counter() - t0
        n = len(frames)
        face_h = float(np.median(np.ptp(tr.raw_landmarks[:, :, 1], axis=1)))
        total = t_track + t_post
        rows.append((clip.name, f"{w}x{h}", n, f"{face_h:.0f} ({100 * face_h / h:.0f}%)",
                     f"{100 * det.mean():.0f}%", f"{1000 * t_dec / n:.1f}", f"{1000 * t_track / n:.1f}",
                     f"{1000 * t_post / n:.2f}", f"{n / total:.1f}"))

    cpu = platform.processor() or platform.machine()
    print(f"Face tracking, {os.cpu_count()} CPU cores visible ({cpu}), OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, {args.frames} frames per clip\n")
    print("| clip | size | frames | face height px (of frame) | detected | decode ms/frame "
          "| track ms/frame | post ms/frame | tracking fps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
