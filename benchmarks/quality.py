#!/usr/bin/env python
"""Quality measurements: reconstruction, lip-sync against the plan, identity, stability.

Four groups of figures, per clip (``run_all.py`` computes them in the same pass as the speed
figures, on the same prepared face and the same output video):

**Reconstruction** (held-out frames = the last 25% of each clip; the refiner was fine-tuned on the
first 75% only): each held-out frame is rebuilt from its own tracked mesh, its masked crop and the
references, exactly as ``bench_refine.py`` does (its :func:`psnr`, :func:`ssim` and
``rendered_from_clip`` are reused): PSNR (dB) and SSIM of the mouth region (upper lip to chin,
``dataset.eval_box``) of the composited crop against the real crop. **LMD**: the rebuilt crop is
blended back into the full frame (as the pipeline does, colour match included); the real and
the rebuilt frames are both landmarked by MediaPipe (static mode, each frame on its own) and LMD is
the mean 2D distance of the 40 lip landmarks (``FACEMESH_LIPS``), divided by the inter-ocular
distance (outer eye corners 33-263 of the real frame), in percent.

Also: PSNR over every pixel of the full frame that the blend changed (cheeks and chin
included, not only the mouth box), and the colour shift of that region (Delta E of the mean Lab
colours: a tint of the synthesised skin).

**Lip-sync** (the output video of the fixed script, read back from the mp4 and re-landmarked by
MediaPipe in video mode, raw landmarks without smoothing): the *measured opening* of frame t is
the inner-lip gap (landmarks 13-14) divided by the mouth width (61-291), both in 2D image
pixels. The *planned opening* is the same quantity on the deformed mesh the pipeline rendered for
that frame (vertices of the same landmarks): it is what the viseme track asked for, after the
rig's mapping of all seven parameters (jaw_open, lip_close, rounding, ...). Figures: Pearson
correlation planned vs measured; the best lag in -5..5 frames (lag > 0: the mouth moves after
the plan; target 0 +/- 1); the correlation with the simple formula
``jaw_open * (1 - lip_close)``; the mean absolute error in mouth widths; the ratio of the mean
measured opening at bilabial closures (``lip_close >= 0.99``) to that at open vowels
(``jaw_open > 0.6``) (0 = lips fully shut on p/b/m); and the correlation of the measured opening
with the *source* video's own opening at the same source frames (leak of the original mouth;
should be low).

**Identity**: dlib's 128-D face embedding (``dlib_face_recognition_resnet_model_v1``, from the
``face-recognition-models`` package; HOG face detector + 68-point shape predictor for alignment)
of every k-th output frame and of the source frame it was made from; mean and max Euclidean
distance (dlib's same-person threshold is 0.6; 0 = identical). Skipped with a note when dlib is
not installed (``pip install dlib-bin face-recognition-models``).

**Stability**: frame-to-frame jitter of landmarks outside the mouth (eyes, eyebrows, nose, the
face outline above the mouth corners): mean norm of the second difference
``x[t+1] - 2 x[t] + x[t-1]`` (2D, pixels, divided by the inter-ocular distance, in percent),
on the output video and on the source frames in the same order (same tracker, video mode); their
ratio should be close to 1.

Run alone (speed figures come with it): ``.venv/bin/python benchmarks/quality.py --quick``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_refine import psnr, reconstruction_alphas, rendered_from_clip, ssim  # noqa: E402,F401  (psnr/ssim re-exported)
from common import fmt, md_table, verdict  # noqa: E402

#: MediaPipe landmark ids: inner-lip midpoints (upper, lower), mouth corners, outer eye corners.
LM_INNER_UPPER, LM_INNER_LOWER = 13, 14
LM_MOUTH_CORNERS = (61, 291)
LM_EYE_OUTER = (33, 263)
#: Lag search range (frames).
MAX_LAG = 5
#: Thresholds of the opening ratio: bilabial closure and open vowel frames.
CLOSED_AT, OPEN_AT = 0.99, 0.6


def _ids(connections) -> list[int]:
    return sorted({i for e in connections for i in e})


def lip_ids() -> list[int]:
    """The 40 MediaPipe lip landmarks (``FACEMESH_LIPS``)."""
    import mediapipe as mp

    return _ids(mp.solutions.face_mesh.FACEMESH_LIPS)


def stable_ids(canonical: np.ndarray | None = None) -> list[int]:
    """Landmarks outside the mouth: eyes, eyebrows, nose, and the face outline above the mouth
    corners (in ``canonical``, y down; the whole outline when ``canonical`` is ``None``)."""
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    ids = set(_ids(fm.FACEMESH_LEFT_EYE) + _ids(fm.FACEMESH_RIGHT_EYE) + _ids(fm.FACEMESH_LEFT_EYEBROW)
              + _ids(fm.FACEMESH_RIGHT_EYEBROW) + _ids(fm.FACEMESH_NOSE))
    oval = _ids(fm.FACEMESH_FACE_OVAL)
    if canonical is not None:
        y_mouth = float(np.mean(canonical[list(LM_MOUTH_CORNERS), 1]))
        oval = [i for i in oval if canonical[i, 1] < y_mouth]
    return sorted(ids | set(oval))


# ------------------------------------------------------------------------------------------
# Metric functions (pure numpy; tested in tests/test_bench_metrics.py)


def interocular(lm: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners, ``(n,)``, of landmarks ``(n, 478, >=2)``."""
    return np.linalg.norm(lm[:, LM_EYE_OUTER[0], :2] - lm[:, LM_EYE_OUTER[1], :2], axis=-1)


def opening(lm: np.ndarray) -> np.ndarray:
    """Inner-lip gap / mouth width per frame, ``(n,)`` float64, from landmarks ``(n, 478, >=2)``
    (2D; NaN where the landmarks are NaN)."""
    lm = np.asarray(lm, np.float64)
    gap = np.linalg.norm(lm[:, LM_INNER_UPPER, :2] - lm[:, LM_INNER_LOWER, :2], axis=-1)
    width = np.linalg.norm(lm[:, LM_MOUTH_CORNERS[0], :2] - lm[:, LM_MOUTH_CORNERS[1], :2], axis=-1)
    return gap / np.where(width > 0, width, np.nan)


def mesh_opening(meshes) -> np.ndarray:
    """:func:`opening` of deformed meshes (:class:`~talkinghead.face.deform.DeformedMeshes`):
    the planned opening of each output frame, ``(n,)`` float64."""
    from talkinghead.face.mesh import load_lower_face_mesh

    li = load_lower_face_mesh().landmark_index
    local = {int(lid): int(np.flatnonzero(li == lid)[0])
             for lid in (LM_INNER_UPPER, LM_INNER_LOWER, *LM_MOUTH_CORNERS)}
    v = meshes.vertices[:, : meshes.n_skin].astype(np.float64)
    lm = np.full((len(v), max(local) + 1, 3), np.nan)
    for lid, k in local.items():
        lm[:, lid] = v[:, k]
    return opening(lm)


def mouth_lmd(pred: np.ndarray, real: np.ndarray, ids: list[int] | None = None) -> np.ndarray:
    """Landmark distance of the mouth per frame, ``(n,)``: mean 2D distance of the lip landmarks
    ``ids`` (default :func:`lip_ids`) between ``pred`` and ``real`` ``(n, 478, >=2)``, divided by
    the inter-ocular distance of ``real`` (so 0.01 = 1% of the eye-corner distance)."""
    ids = lip_ids() if ids is None else ids
    d = np.linalg.norm(np.asarray(pred)[:, ids, :2] - np.asarray(real)[:, ids, :2], axis=-1).mean(1)
    return d / interocular(real)


def color_shift(a: np.ndarray, b: np.ndarray) -> float:
    """CIE76 distance (Delta E, Lab) between the mean colours of two sets of RGB uint8 pixels
    ``(..., 3)``: a tint of the synthesised region (about 2.3 is just noticeable)."""
    import cv2

    def mean_lab(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.uint8).reshape(-1, 1, 3)
        return cv2.cvtColor(x.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(0)

    return float(np.linalg.norm(mean_lab(a) - mean_lab(b)))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the samples where both are finite (NaN if < 3 or constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def partial_correlation(a: np.ndarray, b: np.ndarray, given: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` after removing from each its least-squares linear fit
    on ``given`` (samples where all three are finite; NaN if < 4).

    Used for the leak of the source mouth: the output follows the plan, so the raw correlation of
    source and output openings is mostly the (chance) correlation of source and plan; what is
    left once the plan is removed is what the original mouth adds.
    """
    a, b, c = (np.asarray(x, np.float64) for x in (a, b, given))
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
    if ok.sum() < 4:
        return float("nan")
    x = np.stack([c[ok], np.ones(int(ok.sum()))], 1)

    def residual(y: np.ndarray) -> np.ndarray:
        return y - x @ np.linalg.lstsq(x, y, rcond=None)[0]

    return pearson(residual(a[ok]), residual(b[ok]))


def lagged_correlations(planned: np.ndarray, measured: np.ndarray, max_lag: int = MAX_LAG) -> dict[int, float]:
    """``{lag: pearson(planned[t], measured[t + lag])}`` for lags ``-max_lag..max_lag``
    (overlapping part only)."""
    p, m = np.asarray(planned, np.float64), np.asarray(measured, np.float64)
    n = min(len(p), len(m))
    out = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            out[lag] = pearson(p[: n - lag], m[lag:n])
        else:
            out[lag] = pearson(p[-lag:n], m[: n + lag])
    return out


def best_lag(planned: np.ndarray, measured: np.ndarray, max_lag: int = MAX_LAG) -> tuple[int, float]:
    """The lag (frames) maximising :func:`lagged_correlations` and that correlation; lag > 0
    means ``measured`` follows ``planned`` late. ``(0, nan)`` when nothing correlates."""
    c = lagged_correlations(planned, measured, max_lag)
    finite = {k: v for k, v in c.items() if np.isfinite(v)}
    if not finite:
        return 0, float("nan")
    # ties: the smallest |lag|
    k = max(finite, key=lambda x: (finite[x], -abs(x)))
    return int(k), float(finite[k])


def opening_ratio(measured: np.ndarray, jaw_open: np.ndarray, lip_close: np.ndarray,
                  closed_at: float = CLOSED_AT, open_at: float = OPEN_AT) -> float:
    """Mean measured opening at bilabial closures (``lip_close >= closed_at``) / mean at open
    vowels (``jaw_open > open_at``); NaN when either set of frames is empty."""
    m = np.asarray(measured, np.float64)
    closed = (np.asarray(lip_close) >= closed_at) & np.isfinite(m)
    opened = (np.asarray(jaw_open) > open_at) & np.isfinite(m)
    if not closed.any() or not opened.any():
        return float("nan")
    den = m[opened].mean()
    return float(m[closed].mean() / den) if den > 0 else float("nan")


def jitter(lm: np.ndarray, ids: list[int]) -> float:
    """Mean second-difference norm of landmarks ``ids`` of ``lm`` ``(n, 478, >=2)`` (2D), each
    divided by the frame's inter-ocular distance: 0 for still or uniformly moving landmarks.
    NaN frames are skipped; NaN if fewer than 3 frames."""
    lm = np.asarray(lm, np.float64)
    if len(lm) < 3:
        return float("nan")
    x = lm[:, ids, :2]
    acc = np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1).mean(1) / interocular(lm)[1:-1]
    acc = acc[np.isfinite(acc)]
    return float(acc.mean()) if len(acc) else float("nan")


# ------------------------------------------------------------------------------------------
# Landmarking and identity


def landmarks(frames, static: bool) -> np.ndarray:
    """Raw MediaPipe landmarks ``(n, 478, 3)`` float64 of RGB frames (NaN where no face)."""
    from talkinghead.face.tracking import detect_landmarks

    raw, det, _w, _h = detect_landmarks(frames, static=static)
    raw = raw.astype(np.float64)
    raw[~det] = np.nan
    return raw


class FaceEmbedder:
    """dlib's 128-D face descriptor (HOG detector, 68-point alignment, ResNet embedding)."""

    def __init__(self):
        import dlib

        models = dlib_models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """Descriptor ``(128,)`` of the largest face in an RGB uint8 frame, or ``None``."""
        faces = self.detector(frame, 0)
        if len(faces) == 0:
            faces = self.detector(frame, 1)
        if len(faces) == 0:
            return None
        box = max(faces, key=lambda r: r.width() * r.height())
        return np.array(self.net.compute_face_descriptor(frame, self.shape(frame, box)))


def dlib_models_dir() -> Path:
    """The ``models`` folder of the ``face-recognition-models`` package, found without importing
    it (its ``__init__`` needs ``pkg_resources``, which recent setuptools no longer ship)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face-recognition-models is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def identity_available() -> str | None:
    """``None`` when dlib and its models are there, else the reason."""
    try:
        import dlib  # noqa: F401

        if not (dlib_models_dir() / "dlib_face_recognition_resnet_model_v1.dat").exists():
            raise ImportError("dlib_face_recognition_resnet_model_v1.dat missing")
    except Exception as exc:  # noqa: BLE001
        return f"identity skipped: {exc} (pip install dlib-bin face-recognition-models)"
    return None


# ------------------------------------------------------------------------------------------
# Evaluations


def reconstruction_metrics(prepared, clip: Path, holdout: float) -> dict:
    """PSNR/SSIM (as bench_refine.py) and mouth LMD of the held-out frames of ``clip``."""
    from talkinghead.media import load_frames
    from talkinghead.refine.composite.blend import blend
    from talkinghead.refine.training.dataset import HOLE_DILATE, build_clip_data
    from talkinghead.options import RenderOptions
    from talkinghead.render.types import CropBox

    frames = load_frames(clip)
    track = prepared.track
    n = min(len(frames), track.n_frames)
    held = np.arange(int(np.floor(n * holdout)), n)
    r = prepared.resolution
    cd = build_clip_data(frames, track, held, r, name=clip.stem)
    rows = np.arange(len(cd))
    holes = np.stack([cd.hole(k, None, HOLE_DILATE * r) for k in rows])
    out = prepared.refiner.refine(cd.crops, rendered_from_clip(cd, rows), prepared.references, holes,
                                  mirror_average=RenderOptions().mirror_average)
    ps, ss, ps_region, de, rebuilt = [], [], [], [], []
    for k in rows:
        a, hole_alpha = reconstruction_alphas(cd, k, holes[k])
        comp = np.clip(np.rint(cd.crops[k] * (1 - a[..., None]) + out[k] * a[..., None]), 0, 255).astype(np.uint8)
        x0, y0, x1, y1 = cd.eval_box[k]
        ps.append(psnr(comp[y0:y1, x0:x1], cd.crops[k][y0:y1, x0:x1]))
        ss.append(ssim(comp[y0:y1, x0:x1], cd.crops[k][y0:y1, x0:x1]))
        full = blend(frames[held[k]], out[k], CropBox(*cd.boxes[k]), a, ring_alpha=hole_alpha)
        rebuilt.append(full)
        changed = np.any(full != frames[held[k]], axis=-1)  # the whole blended region
        if changed.any():
            ps_region.append(psnr(full[changed], frames[held[k]][changed]))
            de.append(color_shift(full[changed], frames[held[k]][changed]))
    lm_real = landmarks([frames[i] for i in held], static=True)
    lm_fake = landmarks(rebuilt, static=True)
    lmd = mouth_lmd(lm_fake, lm_real)
    ok = np.isfinite(lmd)
    return {
        "held_out_frames": int(len(held)),
        "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)),
        "psnr_min": float(np.min(ps)), "ssim_min": float(np.min(ss)),
        "psnr_blend_region": float(np.mean(ps_region)) if ps_region else None,
        "color_shift_dE": float(np.mean(de)) if de else None,
        "lmd_percent": float(100 * lmd[ok].mean()) if ok.any() else None,
        "lmd_frames": int(ok.sum()),
        "_example": (frames[held[len(held) // 2]], rebuilt[len(held) // 2]),
    }


def output_metrics(output: Path, face: Path, src_index: np.ndarray, params: np.ndarray,
                   planned: np.ndarray, canonical: np.ndarray, identity_every: int = 5) -> dict:
    """Lip-sync, identity and stability figures of an output video made from ``face``.

    Args:
        output: the mp4 written by the pipeline.
        face: the face video it was made from.
        src_index: source frame of each output frame ``(n,)``.
        params: viseme parameters ``(n, 7)`` (``MOUTH_PARAMS`` order).
        planned: planned opening per output frame ``(n,)`` (:func:`mesh_opening`).
        canonical: the person's canonical face ``(478, 3)`` (picks the outline landmarks).
        identity_every: embed every this many frames.
    """
    from talkinghead.inputs.frames import SourceFrames
    from talkinghead.media import load_frames
    from talkinghead.visemes.types import P

    out_frames = load_frames(output)
    n = min(len(out_frames), len(src_index))
    with SourceFrames(face, limit=int(src_index.max()) + 1) as src:
        in_frames = src.take(src_index[:n])
    lm_out = landmarks(out_frames[:n], static=False)
    lm_in = landmarks(in_frames, static=False)
    measured = opening(lm_out)
    source_open = opening(lm_in)
    planned = np.asarray(planned[:n], np.float64)
    jaw, close = params[:n, P["jaw_open"]], params[:n, P["lip_close"]]
    lag, corr_at_lag = best_lag(planned, measured)
    ok = np.isfinite(measured)
    res = {
        "frames": int(n),
        "landmarked_frames": int(ok.sum()),
        "lipsync": {
            "corr_planned": pearson(planned, measured),
            "best_lag_frames": lag,
            "corr_at_best_lag": corr_at_lag,
            "lag_correlations": {str(k): v for k, v in lagged_correlations(planned, measured).items()},
            "corr_formula": pearson(jaw * (1 - close), measured),
            "mean_abs_error": float(np.nanmean(np.abs(planned - measured))),
            "mean_planned": float(np.nanmean(planned)),
            "mean_measured": float(np.nanmean(measured)),
            "bilabial_open_ratio": opening_ratio(measured, jaw, close),
            "bilabial_frames": int((close >= CLOSED_AT).sum()),
            "open_vowel_frames": int((jaw > OPEN_AT).sum()),
            "corr_source_mouth": pearson(source_open, measured),
            "corr_source_planned": pearson(source_open, planned),
            "leak_partial_corr": partial_correlation(source_open, measured, planned),
        },
        "stability": {},
        "identity": {},
    }
    ids = stable_ids(canonical)
    jo, ji = jitter(lm_out, ids), jitter(lm_in, ids)
    res["stability"] = {"jitter_output_percent": 100 * jo, "jitter_input_percent": 100 * ji,
                        "ratio": jo / ji if ji > 0 else float("nan"), "landmarks": len(ids)}
    why = identity_available()
    if why:
        res["identity"] = {"skipped": why}
    else:
        emb = FaceEmbedder()
        d, missed = [], 0
        for k in range(0, n, max(1, identity_every)):
            a, b = emb(out_frames[k]), emb(in_frames[k])
            if a is None or b is None:
                missed += 1
                continue
            d.append(float(np.linalg.norm(a - b)))
        res["identity"] = {"mean_distance": float(np.mean(d)) if d else None,
                           "max_distance": float(np.max(d)) if d else None,
                           "pairs": len(d), "no_face": missed, "every": identity_every}
    res["_series"] = {"planned": planned, "measured": measured, "source": source_open}
    return res


# ------------------------------------------------------------------------------------------
# Tables


def quality_table(name: str, rec: dict | None, out: dict | None) -> str:
    """One clip's quality figures (``rec``: :func:`reconstruction_metrics`, ``out``:
    :func:`output_metrics`)."""
    rows = []
    if rec:
        rows += [
            ("reconstruction PSNR, mouth (dB)", f"{rec['psnr']:.2f} (min {rec['psnr_min']:.2f})",
             verdict("recon_psnr", rec["psnr"])),
            ("reconstruction SSIM, mouth", f"{rec['ssim']:.3f} (min {rec['ssim_min']:.3f})",
             verdict("recon_ssim", rec["ssim"])),
            ("reconstruction PSNR, whole blended region (dB)", fmt(rec.get("psnr_blend_region")), "full frame, "
             "every pixel the blend changed"),
            ("reconstruction colour shift of that region (Delta E)", fmt(rec.get("color_shift_dE")),
             "lower is better (< 2.3 hardly visible)"),
            ("reconstruction LMD, lips (% of eye distance)", f"{fmt(rec['lmd_percent'])} "
             f"({rec['lmd_frames']}/{rec['held_out_frames']} frames)", "lower is better"),
        ]
    if out:
        ls, st, idn = out["lipsync"], out["stability"], out["identity"]
        rows += [
            ("lip-sync: corr(planned, measured opening)", fmt(ls["corr_planned"], 3), "higher is better (1 = perfect)"),
            ("lip-sync: best lag (frames, -5..5)", f"{ls['best_lag_frames']:+d} (r = {fmt(ls['corr_at_best_lag'], 3)})",
             verdict("lag_frames", ls["best_lag_frames"])),
            ("lip-sync: corr(jaw_open*(1-lip_close), measured)", fmt(ls["corr_formula"], 3), ""),
            ("lip-sync: mean |planned - measured| (mouth widths)",
             f"{fmt(ls['mean_abs_error'], 3)} (planned mean {fmt(ls['mean_planned'], 3)}, measured "
             f"{fmt(ls['mean_measured'], 3)})", "lower is better"),
            ("lip-sync: opening at p/b/m / at open vowels", f"{fmt(ls['bilabial_open_ratio'], 3)} "
             f"({ls['bilabial_frames']} / {ls['open_vowel_frames']} frames)", "lower is better (0 = shut)"),
            ("lip-sync: corr(source video's mouth, measured)", fmt(ls["corr_source_mouth"], 3),
             f"source vs plan {fmt(ls.get('corr_source_planned'), 3)} (chance)"),
            ("lip-sync: leak, corr(source, measured) with the plan removed", fmt(ls.get("leak_partial_corr"), 3),
             "near 0 = no leak of the original mouth"),
        ]
        if "skipped" in idn:
            rows.append(("identity: dlib embedding distance", "-", idn["skipped"]))
        else:
            rows.append(("identity: dlib distance output vs source frame",
                         f"{fmt(idn['mean_distance'], 3)} mean, {fmt(idn['max_distance'], 3)} max "
                         f"({idn['pairs']} frames)", "< 0.6 = same person (dlib); lower is better"))
        rows.append(("stability: non-mouth landmark jitter (% of eye distance)",
                     f"output {fmt(st['jitter_output_percent'], 3)} / input {fmt(st['jitter_input_percent'], 3)}"
                     f" = {fmt(st['ratio'], 2)}x", "ratio near 1"))
    return f"**{name}**\n\n" + md_table(("measure", "value", "target / reading"), rows)


def mean_table(records: list[tuple[str, dict | None, dict | None]]) -> str:
    """Averages over clips of the headline quality figures (one row per clip + the mean)."""
    def g(d, *keys):
        for k in keys:
            if d is None or k not in d:
                return None
            d = d[k]
        return d

    cols = [("PSNR (dB)", lambda r, o: g(r, "psnr"), 2), ("SSIM", lambda r, o: g(r, "ssim"), 3),
            ("region PSNR", lambda r, o: g(r, "psnr_blend_region"), 2),
            ("Delta E", lambda r, o: g(r, "color_shift_dE"), 1),
            ("LMD %", lambda r, o: g(r, "lmd_percent"), 2),
            ("sync corr", lambda r, o: g(o, "lipsync", "corr_planned"), 3),
            ("lag", lambda r, o: g(o, "lipsync", "best_lag_frames"), 0),
            ("p/b/m ratio", lambda r, o: g(o, "lipsync", "bilabial_open_ratio"), 3),
            ("source leak (partial corr)", lambda r, o: g(o, "lipsync", "leak_partial_corr"), 3),
            ("identity dist", lambda r, o: g(o, "identity", "mean_distance"), 3),
            ("jitter ratio", lambda r, o: g(o, "stability", "ratio"), 2)]
    rows, vals = [], {c[0]: [] for c in cols}
    for name, rec, out in records:
        row = [name]
        for title, f, d in cols:
            v = f(rec, out)
            if v is not None and np.isfinite(v):
                vals[title].append(float(v))
            row.append(fmt(v, d) if d else ("-" if v is None else f"{int(v):+d}"))
        rows.append(row)
    mean_row = ["**mean**"]
    for title, _f, d in cols:
        v = vals[title]
        mean_row.append(fmt(float(np.mean(v)), d if d else 1) if v else "-")
    rows.append(mean_row)
    return md_table(["clip"] + [c[0] for c in cols], rows)


def main(argv: list[str] | None = None) -> int:
    """Quality and speed in one pass (same as ``run_all.py``)."""
    import run_all

    return run_all.main(list(argv if argv is not None else sys.argv[1:]), prog="quality.py", doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
