#!/usr/bin/env python
"""Refiner reconstruction quality and speed on held-out frames of the development clips.

For every clip of ``--data/faces`` with 512x512 frames: the face is tracked, the last 25% of the
frames are held out, and each held-out frame is reconstructed from its own tracked mesh (render),
its crop with the mouth/jaw region masked, and reference crops chosen among the first 75% of the
frames. The refined crop is composited through the feathered blend mask and compared with the real
crop on the mouth region (from just above the upper lip to the chin, :func:`eval_box`): PSNR (dB)
and SSIM (scikit-image, RGB, data range 255). Both the generic weights and, with
``--finetune-steps N`` > 0, weights fine-tuned on the first 75% of each clip (``prepare_face``) are
measured. Also reported: flicker (the frame-to-frame change of the rebuilt mouth region relative
to the real one's), detail (the gradient energy of the rebuilt mouth and teeth relative to the
real one's: < 1 = blurrier; see :func:`evaluate`), inference ms/frame (batch 8) and preparation
time.

Prints a Markdown table and writes JSON (``benchmarks/results/refine.json`` by default).

    python benchmarks/bench_refine.py --finetune-steps 150
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.face.deform import build_rig  # noqa: E402
from talkinghead.face.tracking import track_face  # noqa: E402
from talkinghead.media import load_frames, probe  # noqa: E402
from talkinghead.refine.composite.blend import blend_alpha, extract_crops, limit_alpha  # noqa: E402
from talkinghead.refine.training.dataset import (  # noqa: E402
    FEATHER, HOLE_DILATE, SILHOUETTE_MARGIN, build_clip_data, choose_references, mouth_openness,
)
from talkinghead.refine.infer import GENERIC_WEIGHTS, Refiner  # noqa: E402
from talkinghead.options import RenderOptions  # noqa: E402
from talkinghead.refine.prepare import PrepareSettings, _boxes_for, prepare_face  # noqa: E402
from talkinghead.render.types import CropBox, RenderedFrames  # noqa: E402

HOLDOUT = 0.75


def dev_clips(data: str | Path, names: list[str] | None = None) -> list[Path]:
    """The 512x512 clips of ``data/faces`` (sorted), only those named ``names`` if given."""
    faces = sorted(Path(data, "faces").glob("*.mp4"))
    if names:
        faces = [f for f in faces if f.stem in names]
    return [f for f in faces if (lambda i: (i.width, i.height) == (512, 512))(probe(f))]


def held_out_clip(path: Path, resolution: int):
    """A development clip split as every benchmark here splits it.

    Returns:
        ``(frames, track, n_fit, clip)``: the decoded frames, the clip's track, the number of
        leading frames that may be fitted on (:data:`HOLDOUT`), and the held-out rest rendered
        and cropped at ``resolution`` (:func:`build_clip_data`), to be rebuilt and compared.
    """
    frames = load_frames(path)
    track = track_face(path, progress=False)
    n = min(len(frames), track.n_frames)
    n_fit = int(np.floor(n * HOLDOUT))
    return frames, track, n_fit, build_clip_data(frames, track, np.arange(n_fit, n), resolution, name=path.stem)


def add_common_arguments(ap: argparse.ArgumentParser, output: str) -> None:
    """``--data``, ``--weights``, ``--clips``, ``--output`` (default ``results/OUTPUT``), ``--threads``,
    ``--no-mirror``."""
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--weights", default=str(GENERIC_WEIGHTS))
    ap.add_argument("--clips", nargs="*", help="clip names (default: all 512x512 clips)")
    ap.add_argument("--output", default=str(Path(__file__).resolve().parent / "results" / output))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-mirror", dest="mirror", action="store_false",
                    help="one generator pass per frame (talkinghead say --fast) instead of averaging it with "
                         "the mirrored frame's (the default)")


def common_inputs(args) -> tuple[list[Path], Refiner] | None:
    """After :func:`add_common_arguments`: set the thread count, list the clips and load the
    weights; ``None`` (having said why) when no clip is found."""
    torch.set_num_threads(args.threads)
    faces = dev_clips(args.data, args.clips)
    if not faces:
        print("no 512x512 clips found under", args.data)
        return None
    return faces, Refiner.load(args.weights, "cpu")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    win = min(7, min(a.shape[:2]) // 2 * 2 - 1)
    return float(structural_similarity(a, b, channel_axis=-1, data_range=255, win_size=win))


def gradient_magnitude(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the grey image of ``img`` ``(H, W, 3)`` uint8 -> ``(H, W)``
    float64 (grey levels per pixel)."""
    import cv2

    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    gx = cv2.Sobel(g, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_64F, 0, 1, ksize=3)
    return np.hypot(gx, gy) / 8.0


def detail_ratios(outputs: list[np.ndarray], reals: list[np.ndarray],
                  masks: dict[str, list[np.ndarray]]) -> dict[str, float | None]:
    """How much fine detail (edges: teeth gaps, lip lines, folds) the output keeps, relative to
    the real frames, in each of several regions: the summed gradient magnitude of the outputs over
    a region's pixels divided by that of the real images (1 = as detailed as real, < 1 = blurrier,
    > 1 = more edges). Each image's gradients are computed once for all regions.

    Args:
        outputs, reals: same-sized ``(H, W, 3)`` uint8 images, pairwise.
        masks: region name -> one ``(H, W)`` bool mask per image pair, the pixels that count.

    Returns:
        Region name -> the ratio, or ``None`` when no pixel of that region is masked.
    """
    num = dict.fromkeys(masks, 0.0)
    den = dict.fromkeys(masks, 0.0)
    for i, (o, r) in enumerate(zip(outputs, reals)):
        g_out = g_real = None
        for name, ms in masks.items():
            m = ms[i]
            if m.any():
                if g_out is None:
                    g_out, g_real = gradient_magnitude(o), gradient_magnitude(r)
                num[name] += g_out[m].sum()
                den[name] += g_real[m].sum()
    return {name: float(num[name] / den[name]) if den[name] > 0 else None for name in masks}


def rendered_from_clip(clip, rows) -> RenderedFrames:
    c = clip.cond[rows].astype(np.float32) / 255
    from talkinghead.face.mesh import REGION_LIPS

    region = np.where(clip.cond[rows, ..., 4] > 127, REGION_LIPS, (clip.cond[rows, ..., 3] > 127).astype(np.uint8))
    return RenderedFrames(
        boxes=[CropBox(*b) for b in clip.boxes[rows]],
        surface=c[..., :3], face_mask=c[..., 3], mouth_mask=c[..., 5], teeth_mask=c[..., 6:8],
        region=region.astype(np.uint8),
    )


def consecutive_differences(frames: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
    """Signed change between consecutive crops inside the later crop's evaluation box.

    Args:
        frames: ``(N, R, R, 3)`` uint8 crops of consecutive frames (face-anchored, so head motion
            is mostly compensated).
        boxes: ``(N, 4)`` evaluation boxes ``x0, y0, x1, y1`` (pixels).

    Returns:
        ``N - 1`` float64 arrays ``(h_k, w_k, 3)``, grey levels (-255..255).
    """
    return [frames[k, y0:y1, x0:x1].astype(np.float64) - frames[k - 1, y0:y1, x0:x1]
            for k, (x0, y0, x1, y1) in zip(range(1, len(frames)), boxes[1:])]


def reconstruction_alphas(clip, row: int, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha, hole_alpha)`` of a rebuilt row, ``(R, R)`` float32 each, as
    :meth:`PreparedFace.blend_alphas` makes them: the hole's feathered alpha, and the same kept to
    the face (here the source and the new mesh are the frame's own, rendered into the
    conditioning's face channel). Blend with ``alpha``; ``hole_alpha`` is ``blend``'s ``ring_alpha``."""
    r = clip.resolution
    hole_alpha = blend_alpha(hole, FEATHER * r)
    return limit_alpha(hole_alpha, clip.cond[row, ..., 3] > 127, SILHOUETTE_MARGIN * r), hole_alpha


def evaluate(refiner: Refiner, clip, refs: np.ndarray, png: Path | None = None, *,
             mirror_average: bool = RenderOptions().mirror_average) -> dict:
    """Reconstruct every row of ``clip``; mean PSNR/SSIM on the evaluation boxes, and flicker.

    Flicker: the mean frame-to-frame change of the rebuilt mouth region divided by that of the
    real frames (``temporal_ratio``; 1 = as much change as the real video, > 1 = the rebuilt mouth
    flickers) and the mean absolute difference between the two changes (``temporal_error``, grey
    levels). The held-out rows are consecutive frames.

    Detail (:func:`detail_ratios`, output / real gradient energy): ``detail_mouth`` over the lips
    and the mouth opening, ``detail_teeth`` over the visible teeth proxies inside the opening
    (``None`` when no teeth are visible): a white band instead of separate teeth reads well
    below 1.
    """
    r = clip.resolution
    rows = np.arange(len(clip))
    holes = np.stack([clip.hole(k, None, HOLE_DILATE * r) for k in rows])
    out = refiner.refine(clip.crops, rendered_from_clip(clip, rows), refs, holes, mirror_average=mirror_average)
    ps, ss, comps, mouth_masks, teeth_masks = [], [], [], [], []
    for k in rows:
        a = reconstruction_alphas(clip, k, holes[k])[0][..., None]
        comp = np.clip(np.rint(clip.crops[k] * (1 - a) + out[k] * a), 0, 255).astype(np.uint8)
        comps.append(comp)
        x0, y0, x1, y1 = clip.eval_box[k]
        ps.append(psnr(comp[y0:y1, x0:x1], clip.crops[k][y0:y1, x0:x1]))
        ss.append(ssim(comp[y0:y1, x0:x1], clip.crops[k][y0:y1, x0:x1]))
        in_box = np.zeros((r, r), bool)
        in_box[y0:y1, x0:x1] = True
        mouth_masks.append(in_box & (clip.mouth_weight(k) > 0.5))
        teeth_masks.append(in_box & (clip.cond[k, ..., 5] > 127) & (clip.cond[k, ..., 6:8].max(-1) > 127))
        if png is not None and k in (0, len(rows) // 2, len(rows) - 1):
            import cv2

            masked = (clip.crops[k] * (1 - holes[k][..., None])).astype(np.uint8)
            row = np.concatenate([masked, clip.cond[k, ..., :3], comp, clip.crops[k], refs[0]], 1)
            cv2.imwrite(str(png.with_name(f"{png.stem}_{k}.png")), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    d_out = consecutive_differences(np.stack(comps), clip.eval_box)
    d_real = consecutive_differences(clip.crops, clip.eval_box)
    change_out = np.mean([np.abs(d).mean() for d in d_out]) if d_out else 0.0
    change_real = np.mean([np.abs(d).mean() for d in d_real]) if d_real else 0.0
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "frames": int(len(rows)),
            "temporal_ratio": float(change_out / max(change_real, 1e-9)),
            "temporal_error": float(np.mean([np.abs(o - r).mean() for o, r in zip(d_out, d_real)])) if d_out else 0.0,
            **{f"detail_{k}": v for k, v in detail_ratios(comps, list(clip.crops),
                                                          {"mouth": mouth_masks, "teeth": teeth_masks}).items()},
            "teeth_pixels": int(sum(m.sum() for m in teeth_masks))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "refine.json")
    ap.add_argument("--finetune-steps", type=int, default=150, help="0 = generic weights only")
    ap.add_argument("--finetune-lr", type=float, default=PrepareSettings.lr, help="fine-tuning learning rate")
    ap.add_argument("--finetune-lr-final", type=float, default=PrepareSettings.lr_final_factor,
                    help="fine-tuning learning-rate factor at the last step (1 = constant)")
    ap.add_argument("--finetune-norm", choices=("frozen", "batch"),
                    default="frozen" if PrepareSettings.freeze_norm else "batch",
                    help="fine-tune with the batch-norm layers in inference mode or with batch statistics")
    ap.add_argument("--finetune-clips", nargs="*", default=None, help="fine-tune only these clips (default: all)")
    ap.add_argument("--png-dir", default=None, help="write example crops (masked | render | output | real | ref)")
    args = ap.parse_args(argv)
    inputs = common_inputs(args)
    if inputs is None:
        return 1
    faces, generic = inputs
    r = generic.resolution
    pngdir = Path(args.png_dir) if args.png_dir else None
    if pngdir:
        pngdir.mkdir(parents=True, exist_ok=True)
    results = []
    inf_ms = None
    for ci, f in enumerate(faces):
        frames, track, n_fit, clip = held_out_clip(f, r)
        rig = build_rig(track)
        rframes = choose_references(mouth_openness(track, rig), generic.config.n_refs, np.arange(n_fit))
        refs = extract_crops([frames[i] for i in rframes], _boxes_for(track, rig, rframes, r), r)
        rec = {"clip": f.stem, "held_out_frames": len(clip), "reference_frames": rframes.tolist()}
        rec["generic"] = evaluate(generic, clip, refs, pngdir / f"{f.stem}_generic.png" if pngdir else None,
                                  mirror_average=args.mirror)
        if inf_ms is None:
            crops = clip.crops[:8]
            rend = rendered_from_clip(clip, np.arange(len(crops)))
            holes = np.stack([clip.hole(k, None, HOLE_DILATE * r) for k in range(len(crops))])
            generic.refine(crops, rend, refs, holes, mirror_average=args.mirror)
            t = time.perf_counter()
            for _ in range(3):
                generic.refine(crops, rend, refs, holes, batch_size=8, mirror_average=args.mirror)
            inf_ms = (time.perf_counter() - t) / (3 * len(crops)) * 1000
        if args.finetune_steps > 0 and (args.finetune_clips is None or f.stem in args.finetune_clips):
            s = PrepareSettings(steps=args.finetune_steps, train_fraction=HOLDOUT,
                                lr=args.finetune_lr, lr_final_factor=args.finetune_lr_final,
                                freeze_norm=args.finetune_norm == "frozen")
            t0 = time.perf_counter()
            track_nc = None
            if "track_seconds_uncached" not in json.dumps(results):  # time one full preparation, uncached tracking
                t_tr = time.perf_counter()
                track_nc = track_face(f, progress=False, cache=False)
                rec["track_seconds_uncached"] = round(time.perf_counter() - t_tr, 1)
            prepared = prepare_face(f, settings=s, base_weights=args.weights, device="cpu", cache=False,
                                    progress=False, track=track_nc or track)
            rec["prepare_seconds"] = round(time.perf_counter() - t0, 1)
            rec["prepare_stats"] = prepared.stats
            assert np.array_equal(prepared.reference_frames, rframes)
            rec["finetuned"] = evaluate(prepared.refiner, clip, refs,
                                        pngdir / f"{f.stem}_finetuned.png" if pngdir else None,
                                        mirror_average=args.mirror)
        results.append(rec)
        print(json.dumps(rec), flush=True)

    def mean(key, m):
        v = [x[key][m] for x in results if key in x and x[key].get(m) is not None]
        return float(np.mean(v)) if v else None

    summary = {
        "weights": args.weights,
        "weights_meta_steps": generic.meta.get("steps"),
        "resolution": r,
        "finetune_steps": args.finetune_steps,
        "finetune_lr": args.finetune_lr,
        "finetune_lr_final_factor": args.finetune_lr_final,
        "finetune_norm": args.finetune_norm,
        "mirror_average": args.mirror,
        "inference_ms_per_frame": round(inf_ms, 1),
        "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, "
                   f"{os.cpu_count()} CPUs visible",
        "clips": results,
        "mean": {k: {m: mean(k, m) for m in ("psnr", "ssim", "temporal_ratio", "temporal_error", "detail_mouth", "detail_teeth")}
                 for k in ("generic", "finetuned")},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(summary, indent=2))
    print()
    print(f"Refiner reconstruction on held-out frames (last 25%), {r}x{r} crops, mouth region; "
          f"generic weights: {generic.meta.get('steps')} steps; fine-tune: {args.finetune_steps} steps")
    print()
    print("| clip | frames | generic PSNR | generic SSIM | fine-tuned PSNR | fine-tuned SSIM | change vs real "
          "(generic / fine-tuned) | detail mouth / teeth (generic) | detail mouth / teeth (fine-tuned) "
          "| prepare (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def fmt(x, k, m, p):
        v = x.get(k, {}).get(m)
        return "-" if v is None else f"{v:.{p}f}"

    for name, x in [(x["clip"], x) for x in results] + [("**mean**", summary["mean"])]:
        frames = x.get("held_out_frames", "")
        print(f"| {name} | {frames} | {fmt(x, 'generic', 'psnr', 2)} | {fmt(x, 'generic', 'ssim', 3)} "
              f"| {fmt(x, 'finetuned', 'psnr', 2)} | {fmt(x, 'finetuned', 'ssim', 3)} "
              f"| {fmt(x, 'generic', 'temporal_ratio', 2)} / {fmt(x, 'finetuned', 'temporal_ratio', 2)} "
              f"| {fmt(x, 'generic', 'detail_mouth', 2)} / {fmt(x, 'generic', 'detail_teeth', 2)} "
              f"| {fmt(x, 'finetuned', 'detail_mouth', 2)} / {fmt(x, 'finetuned', 'detail_teeth', 2)} "
              f"| {x.get('prepare_seconds', '')} |")
    print()
    print("change vs real: mean frame-to-frame change of the rebuilt mouth region / that of the real frames "
          "(> 1 = flicker); detail: gradient energy of the rebuilt lips and opening / visible teeth relative "
          "to the real frames' (< 1 = blurrier)")
    print()
    print(f"Inference: {inf_ms:.1f} ms/frame (batch 8, {'mirror-averaged' if args.mirror else 'one pass'}, "
          f"{summary['machine']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
