"""Skin detail and colour anchoring from the source frame: what they do to the rebuilt mouth region,
at frame scale.

``talkinghead say`` adds the source frame's fine luminance detail, moved with the skin by the
mesh, on the rebuilt skin (:mod:`talkinghead.refine.composite.detail`, ``SKIN_DETAIL``). A reconstruction
cannot measure it fairly: rebuilding frame ``t`` from its own pixels would hand it the answer.
So, for the held-out last 25% of each 512x512 development clip, frame ``t`` is rebuilt as
``bench_refine.py`` does (generic weights, mirror-averaged, blended into the full frame) and then
given the detail of another frame ``t - N`` of the same clip, moved by the displacement of the
tracked landmarks from ``t - N`` to ``t`` (``N = 0`` is that answer: an upper bound). Unlike in
the product, where the skin the rig does not move has no displacement at all, the landmarks of
two frames also differ by head motion and tracking noise, so ``N > 0`` is a pessimistic bound.

The colour anchoring (:mod:`talkinghead.refine.composite.anchor`, ``COLOUR_ANCHOR``) is measured the same
way: the refined crop colour-matched at the seam, then its colours anchored to frame ``t - N``'s
moved by the landmarks, then blended (``t-N anchored``; with the detail too: ``t-N both``; and
with the skin above the upper lip taken from frame ``t - N`` too, :func:`~talkinghead.refine.composite.detail.upper_band_weight`:
``t-N band``, what ``say`` does). Also printed: percentiles of the anchor's coarse skin difference before its dead
zone (CIELAB units), what the dead zones are set against.

Reported per clip, on the mouth region (:func:`talkinghead.refine.training.dataset.eval_box`) mapped to
the frame: PSNR, SSIM, detail (the Sobel gradient energy relative to the real frame's: < 1 =
blurrier) and change (the mean frame-to-frame change of the region relative to the real frames':
> 1 = flicker), without detail and with the detail of frames ``t - N``.

    python benchmarks/bench_detail.py --offsets 0 4 25
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_refine import (  # noqa: E402
    add_common_arguments,
    common_inputs,
    gradient_magnitude,
    held_out_clip,
    psnr,
    reconstruction_alphas,
    rendered_from_clip,
    ssim,
)

from talkinghead.face.deform import build_rig  # noqa: E402
from talkinghead.refine.composite.anchor import ANCHOR_SIGMA, anchor_colours, anchor_regions, colour_offset  # noqa: E402
from talkinghead.refine.composite.blend import blend, extract_crops, ring_colour_transform, to_crop_points  # noqa: E402
from talkinghead.refine.training.dataset import HOLE_DILATE, choose_references, mouth_openness  # noqa: E402
from talkinghead.refine.composite.detail import (  # noqa: E402
    DETAIL_SIGMA,
    LIP_PAD,
    add_detail,
    backward_flow,
    detail_weight,
    keep_upper_band,
    move_with_skin,
    upper_band_weight,
)
from talkinghead.refine.prepare import _boxes_for  # noqa: E402
from talkinghead.render.types import CropBox  # noqa: E402


def evaluate_clip(refiner, path: Path, offsets: list[int], mirror_average: bool, sigma: float = DETAIL_SIGMA,
                  lip_pad: float = LIP_PAD) -> dict:
    """Frame-scale PSNR / SSIM / detail of one clip's held-out frames, without and with the
    detail of the frames ``offsets`` earlier."""
    r = refiner.resolution
    frames, track, n_fit, clip = held_out_clip(path, r)
    rig = build_rig(track)
    mesh = rig.mesh
    rframes = choose_references(mouth_openness(track, rig), refiner.config.n_refs, np.arange(n_fit))
    refs = extract_crops([frames[i] for i in rframes], _boxes_for(track, rig, rframes, r), r)
    rows = np.arange(len(clip))
    holes = np.stack([clip.hole(k, None, HOLE_DILATE * r) for k in rows])
    out = refiner.refine(clip.crops, rendered_from_clip(clip, rows), refs, holes, mirror_average=mirror_average)
    names = ["none"] + [f"t-{n}{v}" for n in offsets for v in ("", " anchored", " both", " band")]
    acc = {m: {"psnr": [], "ssim": [], "grad": [], "change": []} for m in names}
    skin_diff: dict[int, list[np.ndarray]] = {n: [] for n in offsets}
    grad_real = 0.0
    change_real: list[float] = []
    previous: dict[str, np.ndarray] = {}
    for k in rows:
        t = n_fit + int(k)
        box = CropBox(*clip.boxes[k])
        s = box.size / r
        alpha, hole_alpha = reconstruction_alphas(clip, k, holes[k])
        rebuilt = blend(frames[t], out[k], box, alpha, ring_alpha=hole_alpha)
        x0, y0, x1, y1 = clip.eval_box[k]
        fx0, fy0 = int(round(box.x0 + x0 * s)), int(round(box.y0 + y0 * s))
        fx1, fy1 = int(round(box.x0 + x1 * s)), int(round(box.y0 + y1 * s))
        real = frames[t][fy0:fy1, fx0:fx1]
        grad_real += gradient_magnitude(real).sum()
        if k > 0:
            change_real.append(float(np.abs(real.astype(np.float32) - frames[t - 1][fy0:fy1, fx0:fx1]).mean()))

        def record(name: str, img: np.ndarray) -> None:
            region = img[fy0:fy1, fx0:fx1]
            acc[name]["psnr"].append(psnr(region, real))
            acc[name]["ssim"].append(ssim(region, real))
            acc[name]["grad"].append(gradient_magnitude(region).sum())
            if name in previous:  # the same rectangle of the previous rebuilt frame
                acc[name]["change"].append(float(np.abs(region.astype(np.float32)
                                                        - previous[name][fy0:fy1, fx0:fx1]).mean()))
            previous[name] = img

        record("none", rebuilt)
        transform = ring_colour_transform(frames[t], out[k], box, alpha, ring_alpha=hole_alpha)
        matched = transform.apply(out[k]) if transform is not None else out[k]
        new = to_crop_points(track.landmarks[t][mesh.landmark_index], box, r)
        for n in offsets:
            tn = max(t - n, 0)
            src = to_crop_points(track.landmarks[tn][mesh.landmark_index], box, r)
            flow = backward_flow(src, new, r)
            weight = detail_weight(src, new, mesh, alpha, flow, lip_pad=lip_pad)
            record(f"t-{n}", add_detail(rebuilt, frames[tn], box, weight, flow, sigma=sigma))
            source_crop = extract_crops([frames[tn]], [box], r)[0]
            regions = anchor_regions(src, new, mesh, hole_alpha, flow)
            skin_diff[n].append(np.abs(colour_offset(matched, move_with_skin(source_crop, flow), regions.skin,
                                                     sigma_px=ANCHOR_SIGMA * r, deadzone=(0, 0, 0))
                                       )[regions.skin > 0.5])
            anchored_crop = anchor_colours(matched, source_crop, flow, regions, hole_alpha)
            anchored = blend(frames[t], anchored_crop, box, alpha, ring_alpha=hole_alpha, colour_match=False)
            record(f"t-{n} anchored", anchored)
            record(f"t-{n} both", add_detail(anchored, frames[tn], box, weight, flow, sigma=sigma))
            # and the skin above the upper lip taken from frame t - N (what say does since stop 20)
            band = upper_band_weight(src, new, mesh, alpha, flow)
            detailed = add_detail(anchored, frames[tn], box, weight * (1 - band), flow, sigma=sigma)
            record(f"t-{n} band", keep_upper_band(detailed, frames[tn], box, band, flow))
    return {"clip": path.stem, "frame_px_per_crop_px": round(float(clip.boxes[0][2] / r), 2),
            **{m: {"psnr": float(np.mean(a["psnr"])), "ssim": float(np.mean(a["ssim"])),
                   "detail": float(np.sum(a["grad"]) / max(grad_real, 1e-9)),
                   "change": float(np.mean(a["change"]) / max(np.mean(change_real), 1e-9))}
               for m, a in acc.items()},
            "anchor_skin_difference_percentiles_50_90_95_99": {
                f"t-{n}": np.percentile(np.concatenate(v), [50, 90, 95, 99], axis=0).round(2).tolist()
                for n, v in skin_diff.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "detail.json")
    ap.add_argument("--offsets", type=int, nargs="+", default=[0, 4, 25],
                    help="take the detail from the frame this many frames earlier (0 = the frame itself)")
    ap.add_argument("--sigma", type=float, default=DETAIL_SIGMA, help="detail scale, crop pixels (DETAIL_SIGMA)")
    ap.add_argument("--lip-pad", type=float, default=LIP_PAD, help="no detail this close to the lips (LIP_PAD)")
    args = ap.parse_args(argv)
    inputs = common_inputs(args)
    if inputs is None:
        return 1
    faces, generic = inputs
    results = []
    for f in faces:
        rec = evaluate_clip(generic, f, args.offsets, args.mirror, args.sigma, args.lip_pad)
        results.append(rec)
        print(json.dumps(rec), flush=True)
    names = ["none"] + [f"t-{n}{v}" for n in args.offsets for v in ("", " anchored", " both", " band")]
    mean = {m: {k: float(np.mean([x[m][k] for x in results])) for k in ("psnr", "ssim", "detail", "change")}
            for m in names}
    header = "| clip | " + " | ".join(f"{m} PSNR / SSIM / detail / change" for m in names) + " |"
    lines = [header, "|" + " --- |" * (len(names) + 1)]
    for x in results + [{"clip": "**mean**", **mean}]:
        lines.append(f"| {x['clip']} | " + " | ".join(
            f"{x[m]['psnr']:.2f} / {x[m]['ssim']:.3f} / {x[m]['detail']:.2f} / {x[m]['change']:.2f}"
            for m in names) + " |")
    print("\nRebuilt mouth region at frame scale, held-out frames; skin detail (t-N), colour anchoring "
          "(t-N anchored) or both (t-N both) from frame t - N, and with the skin above the upper lip "
          "taken from it too (t-N band, what say does) (none: the refiner alone); change: "
          "frame-to-frame change relative to the real frames' (> 1 = flicker)\n")
    print("\n".join(lines))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"weights": args.weights, "mirror_average": args.mirror, "offsets": args.offsets,
                               "sigma": args.sigma, "lip_pad": args.lip_pad,
                               "machine": f"{platform.processor() or platform.machine()}, torch threads "
                                          f"{torch.get_num_threads()}",
                               "clips": results, "mean": mean}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
