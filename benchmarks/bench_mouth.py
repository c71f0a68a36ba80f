#!/usr/bin/env python
"""Mouth realism: the rebuilt mouth against the real one, on held-out frames, at frame scale.

For each clip the face is tracked, the last 25% of the frames are held out and each held-out
frame ``t`` is rebuilt from its own tracked mesh, as ``bench_refine.py`` does (generic weights,
mirror-averaged, blended into the full frame: ``refiner``), then with the person's own mouth
retrieved from the first 75% of the clip and warped onto the frame's lips, and the shipped
interiors where the clip's mouth never opens as wide (:mod:`talkinghead.refine.composite.retrieve`, what
``say`` does, in chunks of 16 frames: ``own mouth``). The library never holds a
held-out frame, so the answer is never handed over.

Per clip and variant (open-mouth frames: real inner-lip opening >= ``--open`` mouth widths):

* ``psnr`` / ``ssim`` - the mouth region (upper lip to chin, ``eval_box``) mapped to the frame,
  every held-out frame;
* ``detail`` - variance of the Laplacian of the lip box (outer lip contour, padded 10%, scaled to
  128 px wide), output / real, mean over open-mouth frames (< 1 = softer than real);
* ``teeth_detail`` - the same inside the real inner-lip contour (teeth and mouth interior);
* ``interior`` - mean luminance inside the real inner-lip contour, output / real (1 = as dark as
  real), and ``interior_vs_cheeks`` - the output's interior luminance over the real cheeks'
  (the real value beside it);
* ``change`` - frame-to-frame change of the mouth region relative to the real frames' (> 1 =
  flicker);
* ``used`` - mean weight of the person's own retrieved mouth (0 = the refiner's mouth or the
  shipped interiors everywhere);
* ``paste_ms`` - choosing and pasting the real mouths, milliseconds per frame.

Portraits (``--portraits``; default: the bundled one and the painted ones of ``DATA/portraits``)
have no real open mouth to compare with: each says ``script_10s.txt`` (Piper seed 0, no
watermark) as ``say`` makes it, with and without the real mouths, and on the frames whose planned
inner lips open at least ``--open`` mouth widths the mean luminance inside the planned inner lips
is divided by the source frame's cheeks' (a real open mouth: 0.4-0.8; the development clips' real
frames: the ``real interior vs cheeks`` column above), with the Laplacian variance there (teeth
edges; 128-px-wide lip box as above).

Prints a Markdown table and writes JSON (``benchmarks/results/mouth.json``).

    python benchmarks/bench_mouth.py                       # faces/ 512x512 clips + train2 held-out clips
    python benchmarks/bench_mouth.py --clips WDA_KatieHill_000 --png out/mouth
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_refine import (  # noqa: E402
    HOLDOUT,
    add_common_arguments,
    common_inputs,
    psnr,
    reconstruction_alphas,
    rendered_from_clip,
    ssim,
)
from common import machine_info  # noqa: E402

from talkinghead.face.deform import build_rig  # noqa: E402
from talkinghead.face.tracking import track_face  # noqa: E402
from talkinghead.media import load_frames  # noqa: E402
from talkinghead.refine.composite.blend import blend, extract_crops  # noqa: E402
from talkinghead.refine.training.dataset import HOLE_DILATE, build_clip_data, choose_references, mouth_openness  # noqa: E402
from talkinghead.pipeline import CHUNK  # noqa: E402
from talkinghead.refine.prepare import _boxes_for, generic_interiors  # noqa: E402
from talkinghead.refine.composite.retrieve import (  # noqa: E402
    MouthSources,
    build_mouth_library,
    library_frames,
    mouth_shapes_from_track,
)
from talkinghead.render.types import CropBox  # noqa: E402

#: train2/ clips kept out of every training run of the shipped weights, for measurement only
#: (chosen before any training on train2: two 512-px HDTF-style talks, a 410-px one, and two
#: low-resolution crops, 256 px and a 224-px VoxCeleb2 one).
HELD_OUT_TRAIN2 = ("MimicTalk__German_20s", "Real3DPortrait__May_5s", "TPSMM__driving",
                   "styletalk__feifeili_clip1", "PC-AVS__Input_00098")
#: Landmarks at the middle of each cheek (MediaPipe face mesh), for the interior's reference light.
CHEEKS = (205, 425)
LIP_BOX_WIDTH = 128
VARIANTS = ("refiner", "own mouth")


def lip_box(points: np.ndarray, shape: tuple[int, ...], pad: float = 0.1) -> tuple[int, int, int, int]:
    """Frame rectangle ``(xa, ya, xb, yb)`` of the outer lip contour ``(P, 2)``, padded by ``pad`` of
    its width."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    p = pad * (x1 - x0)
    h, w = shape[:2]
    return (max(int(x0 - p), 0), max(int(y0 - p), 0), min(int(np.ceil(x1 + p)), w), min(int(np.ceil(y1 + p)), h))


def laplacian_variance(img: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of the grey image (over ``mask`` when given)."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    lap = cv2.Laplacian(g, cv2.CV_64F, ksize=3)
    return float(lap[mask].var()) if mask is not None else float(lap.var())


def polygon(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round((points - 0.5) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    return m.astype(bool)


def grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)


def lip_details(img: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> tuple[float, float]:
    """``(detail, teeth)``: the variance of the Laplacian of the lip box (outer contour ``(P, 2)``,
    padded 10%, scaled to :data:`LIP_BOX_WIDTH` wide) and of its part inside the inner contour
    (``nan`` when that is under 16 pixels)."""
    xa, ya, xb, yb = lip_box(outer, img.shape)
    scale = LIP_BOX_WIDTH / max(xb - xa, 1)
    size = (LIP_BOX_WIDTH, max(int(round((yb - ya) * scale)), 8))
    scaled = cv2.resize(img[ya:yb, xa:xb], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    inside = polygon((inner - [xa, ya]) * scale, scaled.shape[:2])
    return laplacian_variance(scaled), laplacian_variance(scaled, inside) if inside.sum() >= 16 else np.nan


def lip_picture(img: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """The lips and the face around them (outer contour padded 60%), 256 px wide, for the pictures."""
    xa, ya, xb, yb = lip_box(outer, img.shape, pad=0.6)
    return cv2.resize(img[ya:yb, xa:xb], (256, max(int(256 * (yb - ya) / max(xb - xa, 1)), 8)),
                      interpolation=cv2.INTER_CUBIC)


def outer_loop(rig) -> np.ndarray:
    """The outer lip contour of the rig's mesh as a closed loop of local vertex indices."""
    return np.concatenate([rig.mesh.outer_lip_upper, rig.mesh.outer_lip_lower[::-1]])


def mouth_measures(img: np.ndarray, lm: np.ndarray, rig, cheeks: float) -> dict:
    """Detail and interior light of one frame's mouth, at the real landmarks ``lm`` ``(478, 3)``."""
    ids = rig.mesh.landmark_index
    inner = lm[ids[rig.mesh.inner_lip_loop], :2]
    detail, teeth = lip_details(img, lm[ids[outer_loop(rig)], :2], inner)
    hole = polygon(inner, img.shape[:2])
    lum = float(grey(img)[hole].mean()) if hole.sum() >= 4 else np.nan
    return {"detail": detail, "teeth": teeth, "interior": lum, "interior_vs_cheeks": lum / max(cheeks, 1.0)}


def cheek_light(img: np.ndarray, lm: np.ndarray, radius: float) -> float:
    g = grey(img)
    m = np.zeros(g.shape, np.uint8)
    for i in CHEEKS:
        cv2.circle(m, (int(round(lm[i, 0])), int(round(lm[i, 1]))), max(int(round(radius)), 1), 1, -1)
    return float(g[m > 0].mean()) if m.any() else np.nan


def evaluate_clip(refiner, path: Path, mirror_average: bool, open_threshold: float, png: Path | None) -> dict:
    r = refiner.resolution
    frames = load_frames(path)
    track = track_face(path, progress=False)
    n = min(len(frames), track.n_frames)
    n_fit = int(np.floor(n * HOLDOUT))
    rig = build_rig(track)
    mesh = rig.mesh
    lm_ids = mesh.landmark_index
    held = np.arange(n_fit, n)
    clip = build_clip_data(frames, track, held, r, name=path.stem)
    openness = mouth_openness(track, rig)
    rframes = choose_references(openness, refiner.config.n_refs, np.arange(n_fit))
    refs = extract_crops([frames[i] for i in rframes], _boxes_for(track, rig, rframes, r), r)
    rows = np.arange(len(clip))
    holes = np.stack([clip.hole(k, None, HOLE_DILATE * r) for k in rows])
    out = refiner.refine(clip.crops, rendered_from_clip(clip, rows), refs, holes, mirror_average=mirror_average)

    lib_ids = library_frames(track.detected, n_fit)
    library = build_mouth_library(enumerate(frames), track, rig, lib_ids)
    # the held-out frames rebuilt by the refiner, then given real mouths in chunks, as say does
    boxes = [CropBox(*b) for b in clip.boxes]
    alphas = [reconstruction_alphas(clip, k, holes[k]) for k in rows]
    refined = [blend(frames[int(held[k])], out[k], boxes[k], alphas[k][0], ring_alpha=alphas[k][1]) for k in rows]
    sources = MouthSources(library, generic_interiors())
    shapes = mouth_shapes_from_track(track, rig, held)
    t0 = time.perf_counter()
    owned, used = [], []
    for s in range(0, len(rows), CHUNK):
        e = min(len(rows), s + CHUNK)
        choice = sources.choose(shapes[s:e], track.rotation[held[s:e]])
        used.append(choice.own_weights)
        owned += sources.paste(refined[s:e], [frames[int(t)] for t in held[s:e]], choice,
                               track.landmarks[held[s:e]][:, lm_ids], rig, np.stack([a[0] for a in alphas[s:e]]),
                               boxes[s:e])
    paste_s = time.perf_counter() - t0
    weights = np.concatenate(used)

    acc = {v: {"psnr": [], "ssim": [], "change": [], "detail": [], "teeth": [], "interior": [],
               "interior_vs_cheeks": []} for v in (*VARIANTS, "real")}
    previous: dict[str, np.ndarray] = {}
    n_open = 0
    for k in rows:
        t = int(held[k])
        box = boxes[k]
        s = box.size / r
        rebuilt, own = refined[k], owned[k]
        lm = track.landmarks[t]
        x0, y0, x1, y1 = clip.eval_box[k]
        fx0, fy0 = int(round(box.x0 + x0 * s)), int(round(box.y0 + y0 * s))
        fx1, fy1 = int(round(box.x0 + x1 * s)), int(round(box.y0 + y1 * s))
        real = frames[t]
        is_open = openness[t] >= open_threshold
        n_open += int(is_open)
        cheeks = cheek_light(real, lm, 0.08 * float(np.ptp(lm[lm_ids[mesh.outer_lip_upper], 0])))
        for name, img in (("refiner", rebuilt), ("own mouth", own), ("real", real)):
            region = img[fy0:fy1, fx0:fx1]
            a = acc[name]
            a["psnr"].append(psnr(region, real[fy0:fy1, fx0:fx1]))
            a["ssim"].append(ssim(region, real[fy0:fy1, fx0:fx1]))
            if name in previous:
                a["change"].append(float(np.abs(region.astype(np.float32)
                                                - previous[name][fy0:fy1, fx0:fx1].astype(np.float32)).mean()))
            previous[name] = img
            if is_open:
                for key, v in mouth_measures(img, lm, rig, cheeks).items():
                    a[key].append(v)
        if png is not None and k in _picked(openness[held]):
            png.parent.mkdir(parents=True, exist_ok=True)
            tiles = [lip_picture(x, lm[lm_ids[outer_loop(rig)], :2]) for x in (real, rebuilt, own)]
            cv2.imwrite(str(png.with_name(f"{png.name}_{path.stem}_{t}.png")),
                        cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))

    real = acc["real"]

    def ratio(name: str, key: str) -> float | None:
        a, b = np.asarray(acc[name][key], float), np.asarray(real[key], float)
        ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
        return float(np.mean(a[ok] / b[ok])) if ok.any() else None

    rec = {"clip": path.stem, "frames": int(len(rows)), "open_frames": n_open, "library_frames": len(library),
           "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "crop_box_px": round(float(np.median(clip.boxes[:, 2])), 1),
           "real_interior_vs_cheeks": _mean(real["interior_vs_cheeks"]),
           "used": float(np.mean(weights)), "used_open": float(np.mean(weights[openness[held] >= open_threshold]))
           if n_open else None,
           "paste_ms": round(1000 * paste_s / max(len(rows), 1), 2)}
    change_real = float(np.mean(real["change"])) if real["change"] else 0.0
    for v in VARIANTS:
        a = acc[v]
        rec[v] = {"psnr": float(np.mean(a["psnr"])), "ssim": float(np.mean(a["ssim"])),
                  "detail": ratio(v, "detail"), "teeth_detail": ratio(v, "teeth"), "interior": ratio(v, "interior"),
                  "interior_vs_cheeks": _mean(a["interior_vs_cheeks"]),
                  "change": float(np.mean(a["change"]) / change_real) if change_real > 0 else None}
    return rec


def evaluate_portrait(path: Path, open_threshold: float, png: Path | None) -> dict:
    """Interior light and detail of a portrait's planned open mouths, with and without the real
    mouths (see the module's docstring)."""
    from talkinghead.face.deform import deform_lower_face
    from talkinghead.pipeline import Pipeline, Provenance, _source_index
    from talkinghead.refine.composite.retrieve import mouth_shapes_from_meshes
    from talkinghead.speech.select import make_speech
    from talkinghead.visemes import visemes_from_speech

    face = Pipeline.from_face(path, progress=False)
    track, rig = face.prepared.track, face.prepared.rig
    speech = make_speech((Path(__file__).parent / "script_10s.txt").read_text(), seed=0, progress=False)
    visemes = visemes_from_speech(speech, face.fps)
    idx = _source_index(track.n_frames, face.fps, visemes.n_frames, face.fps)
    meshes = deform_lower_face(track, visemes.params, idx, rig=rig)
    opening = mouth_shapes_from_meshes(track, rig, meshes)[:, :-1].max(1)
    open_frames = np.flatnonzero(opening >= open_threshold)
    mesh = rig.mesh
    lm_ids = mesh.landmark_index
    rec = {"portrait": path.name, "frames": int(visemes.n_frames), "open_frames": int(len(open_frames))}
    shots = {}
    for variant, own in (("refiner", False), ("own mouth", True)):
        lum, lap = [], []
        for k, frame in enumerate(face.frames(speech, provenance=Provenance(watermark=False), own_mouth=own)):
            if opening[k] < open_threshold:
                continue
            src = track.landmarks[int(idx[k])]
            cheeks = cheek_light(frame, src, 0.08 * float(np.ptp(src[lm_ids[mesh.outer_lip_upper], 0])))
            inner = meshes.vertices[k, : meshes.n_skin][mesh.inner_lip_loop, :2]
            hole = cv2.erode(polygon(inner, frame.shape[:2]).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            if hole.sum() < 4:
                continue
            lum.append(float(grey(frame)[hole].mean()) / max(cheeks, 1.0))
            outer = meshes.vertices[k, : meshes.n_skin][outer_loop(rig), :2]
            lap.append(lip_details(frame, outer, inner)[1])
            if k == int(open_frames[np.argmax(opening[open_frames])]):
                shots[variant] = lip_picture(frame, outer)
        rec[variant] = {"interior_vs_cheeks": _mean(lum), "teeth_laplacian_variance": _mean(lap)}
    if png is not None and len(shots) == 2:
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png.with_name(f"{png.name}_portrait_{path.stem}.png")),
                    cv2.cvtColor(np.concatenate([shots["refiner"], shots["own mouth"]], 1), cv2.COLOR_RGB2BGR))
    return rec


def portrait_table(results: list[dict]) -> str:
    lines = ["| portrait | open frames | refiner: interior vs cheeks / teeth detail | real mouths: interior vs cheeks / "
             "teeth detail |", "| --- | --- | --- | --- |"]
    for x in results:
        lines.append(f"| {x['portrait']} | {x['open_frames']} of {x['frames']} | "
                     + " | ".join(f"{_f(x[v]['interior_vs_cheeks'])} / {_f(x[v]['teeth_laplacian_variance'], 0)}"
                                  for v in VARIANTS) + " |")
    return "\n".join(lines)


def _picked(opening: np.ndarray) -> set[int]:
    """Rows shown in the pictures: the widest-open held-out frame and the most closed one."""
    return {int(np.argmax(opening)), int(np.argmin(opening))}


def _mean(x) -> float | None:
    a = np.asarray(x, float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else None


def _f(x, d: int = 2) -> str:
    return "-" if x is None else f"{x:.{d}f}"


def table(results: list[dict]) -> str:
    head = ("| clip | size | " + " | ".join(f"{v}: PSNR / SSIM / detail / teeth / interior / change" for v in VARIANTS)
            + " | real interior vs cheeks | used (open) | paste ms/frame |")
    lines = [head, "|" + " --- |" * (len(VARIANTS) + 5)]
    for x in results:
        cells = [f"{_f(x[v]['psnr'])} / {_f(x[v]['ssim'], 3)} / {_f(x[v]['detail'])} / {_f(x[v]['teeth_detail'])} / "
                 f"{_f(x[v]['interior'])} / {_f(x[v]['change'])}" for v in VARIANTS]
        lines.append(f"| {x['clip']} | {x['size']} | " + " | ".join(cells)
                     + f" | {_f(x['real_interior_vs_cheeks'])} | {_f(x['used'])} ({_f(x['used_open'])}) | {x['paste_ms']} |")
    return "\n".join(lines)


def mean_record(results: list[dict]) -> dict:
    out = {}
    for v in VARIANTS:
        out[v] = {k: _mean([x[v][k] for x in results if x[v][k] is not None])
                  for k in ("psnr", "ssim", "detail", "teeth_detail", "interior", "change")}
        out[v]["min_ssim"] = float(min(x[v]["ssim"] for x in results))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "mouth.json")
    ap.add_argument("--train2", nargs="*", default=list(HELD_OUT_TRAIN2),
                    help="clips of DATA/train2 to measure too (default: those kept out of training)")
    ap.add_argument("--open", type=float, default=0.12, dest="open_threshold",
                    help="a frame's mouth is open from this inner-lip opening (mouth widths)")
    ap.add_argument("--png", type=Path, help="write real | refiner | own mouth pictures with this path prefix")
    ap.add_argument("--portraits", nargs="*", type=Path, help="portraits to measure (default: "
                    "assets/face/astronaut.png and DATA/portraits/*.png)")
    args = ap.parse_args(argv)
    inputs = common_inputs(args)
    if inputs is None:
        return 1
    faces, refiner = inputs
    faces = list(faces) + [p for name in args.train2 for p in sorted(Path(args.data, "train2").glob(f"{name}.*"))
                           if p.suffix in (".mp4", ".mpg")]
    results = []
    for f in faces:
        t0 = time.perf_counter()
        rec = evaluate_clip(refiner, f, args.mirror, args.open_threshold, args.png)
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(rec)
        print(json.dumps(rec), flush=True)
    print("\nMouth realism, held-out frames at frame scale (detail, teeth, interior: output / real on open-mouth "
          "frames; change: frame-to-frame change vs real)\n")
    print(table(results))
    mean = mean_record(results)
    print("\nmean: " + json.dumps(mean))
    portraits = args.portraits if args.portraits is not None else (
        [Path(__file__).resolve().parents[1] / "assets" / "face" / "astronaut.png"]
        + sorted(Path(args.data, "portraits").glob("*.png")))
    portrait_results = []
    for p in portraits:
        rec = evaluate_portrait(p, args.open_threshold, args.png)
        portrait_results.append(rec)
        print(json.dumps(rec), flush=True)
    if portrait_results:
        print("\nPortraits: planned open mouths, interior luminance over the cheeks' (real mouths 0.4-0.8) and "
              "Laplacian variance inside the lips\n")
        print(portrait_table(portrait_results))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"weights": args.weights, "mirror_average": args.mirror,
                               "open_threshold": args.open_threshold, "machine": machine_info(),
                               "clips": results, "mean": mean, "portraits": portrait_results}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
