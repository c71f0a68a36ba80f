#!/usr/bin/env python
"""Build ``assets/mouth_interiors.npz``: real open mouths (teeth, tongue, the dark of the mouth)
of several people, for faces whose own video never opens its mouth that far (a portrait).

From each clip (default: the LivePortrait driving examples of ``../shared/data/train``, MIT): the
face is tracked, and up to ``--per-clip`` frames whose inner lips are open at least ``--min-open``
mouth widths, seen nearly from the front, are taken at evenly spread openings. Each is kept as
a :class:`talkinghead.refine.composite.retrieve.MouthLibrary` entry (the pixels around the lips, mouth at
most ``--max-mouth`` pixels wide, the lower-face vertices and the mouth-shape descriptor); the
libraries are joined into one file. ``talkinghead`` pastes only the inside of their inner lip
contour, in the person's own light, where the person's own video has no mouth open as wide
(:data:`talkinghead.refine.prepare.GENERIC_INTERIORS`).

    python tools/build_mouth_interiors.py              # writes assets/mouth_interiors.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.face.deform import build_rig  # noqa: E402
from talkinghead.face.tracking import track_face  # noqa: E402
from talkinghead.media import read_frames  # noqa: E402
from talkinghead.refine.training.dataset import mouth_openness  # noqa: E402
from talkinghead.refine.composite.retrieve import MouthLibrary, build_mouth_library, rotation_angles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pick_frames(openness: np.ndarray, angles: np.ndarray, detected: np.ndarray, min_open: float,
                max_angle: float, per_clip: int) -> np.ndarray:
    """Frames open at least ``min_open``, turned at most ``max_angle`` radians from the front,
    detected; ``per_clip`` of them at evenly spread openings (increasing frame order)."""
    ok = np.flatnonzero((openness >= min_open) & (angles <= max_angle) & detected)
    if len(ok) == 0:
        return ok
    order = ok[np.argsort(openness[ok], kind="stable")]
    picks = order[np.unique(np.linspace(0, len(order) - 1, min(per_clip, len(order))).round().astype(int))]
    return np.sort(picks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", type=Path,
                    default=sorted((ROOT.parent / "shared" / "data" / "train").glob("*.mp4")))
    ap.add_argument("--output", type=Path, default=ROOT / "assets" / "mouth_interiors.npz")
    ap.add_argument("--per-clip", type=int, default=4)
    ap.add_argument("--min-open", type=float, default=0.12, help="mouth widths")
    ap.add_argument("--max-angle", type=float, default=0.3, help="radians from the front")
    ap.add_argument("--max-mouth", type=float, default=128.0, help="pixels")
    args = ap.parse_args(argv)
    libs, sources = [], []
    for clip in args.clips:
        track = track_face(clip, progress=False)
        rig = build_rig(track)
        angles = rotation_angles(track.rotation, np.eye(3)[None])[:, 0]
        ids = pick_frames(mouth_openness(track, rig), angles, np.asarray(track.detected, bool), args.min_open,
                          args.max_angle, args.per_clip)
        if len(ids) == 0:
            print(f"{clip.name}: no frame open and frontal enough")
            continue
        lib = build_mouth_library(enumerate(read_frames(clip)), track, rig, ids, max_mouth=args.max_mouth)
        libs.append(lib)
        sources.append({"clip": clip.name, "frames": ids.tolist()})
        print(f"{clip.name}: frames {ids.tolist()}, crops {lib.crops.shape[1:3]}, factor {lib.factors[0]}")
    if not libs:
        print("no clip gave a mouth")
        return 1
    joined = MouthLibrary.concatenate(libs)
    joined.save(args.output, compressed=True)
    args.output.with_suffix(".json").write_text(json.dumps({"sources": sources, "min_open": args.min_open,
                                                            "max_angle": args.max_angle,
                                                            "max_mouth": args.max_mouth}, indent=1) + "\n")
    print(f"wrote {args.output} ({len(joined)} mouths, {args.output.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
