#!/usr/bin/env python
"""Portrait mode measured: rebuild a video's held-out frames from one still of the person.

A portrait gives the refiner one mouth state only. This benchmark asks what that costs and
whether fine-tuning on the portrait helps or hurts the mouths it never showed. For every
512x512 clip of ``--data/faces``:

1. frame 0 of the video is saved as a PNG (the "photo") and animated into the idle clip the
   pipeline makes of any portrait (:func:`talkinghead.inputs.portrait.animate_portrait`);
2. :func:`prepare_face` tracks that idle clip and fine-tunes the refiner on it for each of
   ``--finetune-steps`` (0 = the generic weights), exactly as ``talkinghead say --face
   photo.png --steps N`` does; its references come from the idle clip;
3. the held-out last 25% of the *real* video's frames are rebuilt from their own tracked meshes
   (render and masked crop, as :mod:`bench_refine` does) with the portrait's references and
   refiner, and compared with the real frames: PSNR/SSIM of the mouth region, flicker, and the
   detail of the mouth and the teeth (:func:`bench_refine.detail_ratios`).

Prints a Markdown table and writes JSON (``benchmarks/results/portrait.json`` by default).

    python benchmarks/bench_portrait.py --finetune-steps 0 150
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_refine import add_common_arguments, common_inputs, evaluate, held_out_clip  # noqa: E402
from talkinghead.face.deform import build_rig  # noqa: E402
from talkinghead.refine.training.dataset import mouth_openness  # noqa: E402
from talkinghead.refine.prepare import PrepareSettings, prepare_face  # noqa: E402

METRICS = ("psnr", "ssim", "temporal_ratio", "detail_mouth", "detail_teeth")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "portrait.json")
    ap.add_argument("--finetune-steps", type=int, nargs="+", default=[0, PrepareSettings.steps],
                    help="fine-tuning steps to compare (0 = generic weights)")
    args = ap.parse_args(argv)
    import cv2

    from talkinghead.inputs.portrait import animate_portrait

    inputs = common_inputs(args)
    if inputs is None:
        return 1
    faces, generic = inputs
    r = generic.resolution
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in faces:
            frames, track, _, clip = held_out_clip(f, r)
            photo = Path(tmp) / f"{f.stem}_frame0.png"
            cv2.imwrite(str(photo), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
            openness = mouth_openness(track, build_rig(track))
            rec = {"clip": f.stem, "held_out_frames": len(clip), "photo_openness": float(openness[0]),
                   "held_out_openness_max": float(openness[clip.frame_ids].max())}
            # the portrait's idle clip and its track go to a throw-away cache
            user_cache = os.environ.get("TALKINGHEAD_CACHE")
            os.environ["TALKINGHEAD_CACHE"] = str(Path(tmp) / "cache")
            try:
                t0 = time.perf_counter()
                idle = animate_portrait(photo, cache=False, progress=False)
                rec["animate_seconds"] = round(time.perf_counter() - t0, 1)
                for steps in args.finetune_steps:
                    t0 = time.perf_counter()
                    prepared = prepare_face(idle, settings=PrepareSettings(steps=steps), base_weights=args.weights,
                                            device="cpu", cache=False, progress=False)
                    m = evaluate(prepared.refiner, clip, prepared.references, mirror_average=args.mirror)
                    m["prepare_seconds"] = round(time.perf_counter() - t0, 1)
                    rec[f"steps_{steps}"] = m
            finally:
                if user_cache is None:
                    os.environ.pop("TALKINGHEAD_CACHE", None)
                else:
                    os.environ["TALKINGHEAD_CACHE"] = user_cache
            results.append(rec)
            print(json.dumps(rec), flush=True)

    summary = {
        "weights": args.weights,
        "weights_meta_steps": generic.meta.get("steps"),
        "finetune_steps": args.finetune_steps,
        "mirror_average": args.mirror,
        "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, "
                   f"{os.cpu_count()} CPUs visible",
        "clips": results,
        "mean": {f"steps_{s}": {m: float(np.mean([x[f"steps_{s}"][m] for x in results
                                                  if x[f"steps_{s}"].get(m) is not None] or [np.nan]))
                                for m in METRICS} for s in args.finetune_steps},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(summary, indent=2))

    print()
    print(f"Portrait mode: held-out frames (last 25%) rebuilt from frame 0 animated as a portrait, {r}x{r} "
          f"crops, mouth region; generic weights: {summary['weights_meta_steps']} steps")
    print()
    print("| clip | fine-tuning steps | PSNR | SSIM | change vs real | detail mouth / teeth | prepare (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def fmt(v, p):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{p}f}"

    for name, x in [(x["clip"], x) for x in results] + [("**mean**", summary["mean"])]:
        for s in args.finetune_steps:
            m = x[f"steps_{s}"]
            print(f"| {name} | {s} | {fmt(m['psnr'], 2)} | {fmt(m['ssim'], 3)} | {fmt(m['temporal_ratio'], 2)} "
                  f"| {fmt(m['detail_mouth'], 2)} / {fmt(m['detail_teeth'], 2)} | {m.get('prepare_seconds', '')} |")
    print()
    print("detail: gradient energy of the rebuilt lips and opening / visible teeth relative to the real "
          "frames' (< 1 = blurrier)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
