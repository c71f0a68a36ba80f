#!/usr/bin/env python
"""Speed of the whole pipeline, stage by stage, on the development clips; prints Markdown tables.

For each 512x512 clip of ``../shared/data/faces`` (``--clips``; default all five):

1. **Preparation** of a new face, with every cache disabled (a temporary ``TALKINGHEAD_CACHE``
   and ``cache=False``): tracking (:func:`track_face`) + rendering the fine-tuning data +
   fine-tuning the refiner (:func:`prepare_face`). The fine-tuning uses the first 75% of the frames
   (``train_fraction=0.75``) so that ``quality.py`` can measure reconstruction on the held-out
   rest with the same prepared face; the time is that of a real ``prepare`` (same steps, 150
   instead of 200 candidate frames for the data).
2. **Synthesis** of the fixed script ``benchmarks/script_10s.txt`` (about 10 s of speech), the
   stages called one by one exactly as :meth:`Pipeline.say` / :meth:`Pipeline.frames` call them
   (chunks of 16 frames), each timed: speech (``make_speech``, Piper voice loading included, as
   ``say`` does), visemes, decode (source frames into the memory map), mesh (deform), render,
   refine (crops + hole masks + refiner network), blend (warp back + colour match), detail (the
   source frame's skin detail), watermark (the invisible provenance mark ``say`` embeds by
   default), encode (H.264 + AAC mux). The first chunk is checked against
   :meth:`PreparedFace.refine_frames` (the split adds no work and changes no pixel);
   ``run_all.py``'s end-to-end line times ``talkinghead say`` itself, start-up included.

Figures: ms per output frame and share of the synthesis time; real-time factor (synthesis wall
time / audio duration); Piper's own real-time factor (a loaded voice); tracking fps; preparation
time; peak memory (RSS of the process and its ffmpeg children, sampled with psutil).

    .venv/bin/python benchmarks/bench_pipeline.py --quick       # one clip, 10 fine-tuning steps
    .venv/bin/python benchmarks/bench_pipeline.py               # all five clips, real settings

``benchmarks/run_all.py`` runs this and the quality measurements (``quality.py``) in one pass.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, PeakRSS, Timer, fmt, md_table, verdict  # noqa: E402

SCRIPT = BENCH / "script_10s.txt"
#: Fraction of each clip the refiner is fine-tuned on (the rest is held out, see quality.py).
HOLDOUT = 0.75
#: Synthesis stages in pipeline order (keys of the timings).
STAGES = ("speech", "visemes", "decode", "mesh", "render", "refine", "anchor", "blend", "mouths", "detail", "watermark",
          "encode")


@contextlib.contextmanager
def fresh_cache():
    """A temporary, empty ``TALKINGHEAD_CACHE`` for the duration of the block."""
    old = os.environ.get("TALKINGHEAD_CACHE")
    with tempfile.TemporaryDirectory(prefix="talkinghead-bench-cache-") as tmp:
        os.environ["TALKINGHEAD_CACHE"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("TALKINGHEAD_CACHE", None)
            else:
                os.environ["TALKINGHEAD_CACHE"] = old


def prepare_timed(clip: Path, *, steps: int | None = None, device: str = "auto",
                  train_fraction: float = HOLDOUT, progress: bool = False):
    """Prepare ``clip`` as a new face (no cache), timing tracking and fine-tuning.

    Returns:
        ``(prepared, stats)``: the :class:`PreparedFace` and a dict with ``track_s``,
        ``track_fps`` (source frames per second, decoding included), ``data_s``, ``finetune_s``,
        ``total_s``, ``steps``, ``source_frames`` and ``memory`` (:class:`PeakRSS`).
    """
    from talkinghead.face.tracking import track_face
    from talkinghead.refine.prepare import PrepareSettings, prepare_face

    s = PrepareSettings(train_fraction=train_fraction)
    if steps is not None:
        s.steps = int(steps)
    with fresh_cache(), PeakRSS() as mem:
        t0 = time.perf_counter()
        track = track_face(clip, cache=False, progress=progress)
        t_track = time.perf_counter() - t0
        t1 = time.perf_counter()
        prepared = prepare_face(clip, settings=s, device=device, cache=False, progress=progress, track=track)
        t_prep = time.perf_counter() - t1
    st = prepared.stats
    stats = {
        "source_frames": track.n_frames,
        "track_s": t_track,
        "track_fps": track.n_frames / t_track,
        "data_s": float(st.get("data_seconds", 0.0)),
        "finetune_s": float(st.get("finetune_seconds", 0.0)),
        "other_s": max(0.0, t_prep - float(st.get("data_seconds", 0.0)) - float(st.get("finetune_seconds", 0.0))),
        "total_s": t_track + t_prep,
        "steps": s.steps,
        "train_fraction": s.train_fraction,
        "finetune_frames": st.get("frames"),
        "memory": mem.as_dict(),
    }
    return prepared, stats


def piper_rtf(text: str) -> dict:
    """Piper's real-time factor with a loaded voice (synthesis time / audio duration)."""
    from talkinghead.speech.piper import PiperSpeaker

    t0 = time.perf_counter()
    speaker = PiperSpeaker()
    load = time.perf_counter() - t0
    speaker.speak("Warm up.")
    t0 = time.perf_counter()
    sp = speaker.speak(text)
    dt = time.perf_counter() - t0
    return {"load_s": load, "synth_s": dt, "audio_s": sp.duration, "rtf": dt / sp.duration}


def synthesize_timed(prepared, face: Path, text: str, output: Path, *, device: str = "auto",
                     check_first_chunk: bool = True, own_mouth: bool | None = None) -> dict:
    """Make ``prepared`` say ``text`` into ``output``, each stage timed separately.

    The stages are those of :meth:`Pipeline.say` in the same order, with the same arguments
    (``own_mouth``: ``say``'s option, default :class:`~talkinghead.options.RenderOptions`'s).

    Returns:
        dict with ``seconds`` (per stage, see :data:`STAGES`), ``n_frames``, ``fps``,
        ``audio_s``, ``total_s`` (wall time of the synthesis), ``rtf``, ``memory``,
        ``src_index`` ``(n,)`` int64 (source frame of each output frame), ``params``
        ``(n, 7)`` float32 (viseme parameters), ``planned_opening`` ``(n,)`` float64 (inner-lip
        opening of the deformed mesh in mouth widths, see :func:`quality.mesh_opening`),
        ``first_chunk_identical`` (bool) and ``first_chunk_max_diff`` (grey levels).
    """
    from talkinghead.face.deform import deform_lower_face
    from talkinghead.inputs.frames import SourceFrames
    from talkinghead.media import VideoWriter
    from talkinghead.pipeline import CHUNK, Pipeline, Provenance, _source_index
    from talkinghead.refine.composite.blend import blend, extract_crops, is_grayscale, to_grayscale
    from talkinghead.options import RenderOptions

    defaults = RenderOptions()  # say's quality switches, as Pipeline.frames uses them
    MIRROR_AVERAGE, SKIN_DETAIL = defaults.mirror_average, defaults.skin_detail
    COLOUR_ANCHOR, OWN_MOUTH = defaults.colour_anchor, defaults.own_mouth
    from talkinghead.render.renderer import render_frames
    from talkinghead.speech.select import make_speech
    from talkinghead.visemes import visemes_from_speech

    from quality import mesh_opening

    pipe = Pipeline(prepared, face, device=device, progress=False)
    rdev = None if device == "auto" else device
    tm = Timer()
    r = prepared.resolution
    check = {"identical": None, "max_diff": None}
    planned = []
    check_s = 0.0  # time of the first-chunk check, not part of the synthesis
    with PeakRSS() as mem:
        t_all = time.perf_counter()
        with tm("speech"):
            speech = make_speech(text, seed=0)  # the same audio every run, so that runs compare
        fps = pipe.fps
        prov = Provenance()  # say()'s default: invisible watermark on, no audio watermark, no label
        prov.check()
        with tm("watermark"):
            audio_track = prov.mark_audio(speech.audio, speech.sample_rate)
        with tm("visemes"):
            visemes = visemes_from_speech(speech, fps)
        n_out = visemes.n_frames
        with tm("mesh"):  # source crop boxes (deform of the neutral mouth, once per face)
            src_index = _source_index(prepared.track.n_frames, pipe.fps, n_out, fps)
            boxes_src = pipe._source_boxes()
        with tm("decode"):
            src = SourceFrames(face, limit=int(src_index.max()) + 1)
        with tm("mouths"):
            mouths = prepared.mouth_sources() if (OWN_MOUTH if own_mouth is None else own_mouth) else None
        writer = VideoWriter(output, fps, audio=(audio_track, speech.sample_rate), crf=18,
                             metadata=prov.metadata(speech.text))
        writer.__enter__()
        try:
            for s in range(0, n_out, CHUNK):
                e = min(n_out, s + CHUNK)
                idx = src_index[s:e]
                with tm("mesh"):
                    meshes = deform_lower_face(prepared.track, visemes.params[s:e], idx, rig=pipe._rig)
                planned.append(mesh_opening(meshes))
                boxes = [boxes_src[i] for i in idx]
                with tm("render"):
                    rendered = render_frames(meshes, r, boxes, device=rdev)
                with tm("decode"):
                    frames = src.take(idx)
                with tm("refine"):
                    crops = extract_crops(frames, boxes, r)
                    holes = prepared.holes(meshes, boxes)
                    out_crops = prepared.refiner.refine(crops, rendered, prepared.references, holes, batch_size=8,
                                                        mirror_average=MIRROR_AVERAGE)
                with tm("anchor"):
                    alphas, hole_alphas = prepared.blend_alphas(meshes, boxes, holes)
                    flows = prepared.skin_flows(meshes, boxes) if (COLOUR_ANCHOR or SKIN_DETAIL) else None
                    if COLOUR_ANCHOR:  # includes the seam's colour matching
                        out_crops = prepared.anchor_crops(frames, out_crops, crops, meshes, boxes, alphas, hole_alphas,
                                                          flows)
                    out_crops = [to_grayscale(o) if is_grayscale(c) else o for o, c in zip(out_crops, crops)]
                with tm("blend"):
                    out = [blend(frames[k], out_crops[k], boxes[k], alphas[k], ring_alpha=hole_alphas[k],
                                 colour_match=not COLOUR_ANCHOR)
                           for k in range(len(idx))]
                with tm("mouths"):
                    if mouths is not None:
                        out = prepared.paste_mouths(frames, out, meshes, boxes, alphas, mouths)
                with tm("detail"):
                    out = prepared.finish_frames(frames, out, meshes, boxes, alphas, flows, skin_detail=SKIN_DETAIL)
                if check_first_chunk and s == 0:  # the split must not change the result
                    t_check = time.perf_counter()
                    ref = prepared.refine_frames(frames, meshes, rendered,
                                                 mouths=prepared.mouth_sources() if mouths is not None else None)
                    diff = max(int(np.abs(a.astype(np.int16) - b).max()) for a, b in zip(ref, out))
                    check = {"identical": diff == 0, "max_diff": diff}
                    check_s = time.perf_counter() - t_check
                with tm("watermark"):
                    out = [prov.mark(f, prepared.track.landmarks[i], fps) for f, i in zip(out, idx)]
                with tm("encode"):
                    for f in out:
                        writer.write(f)
            with tm("encode"):
                writer.__exit__(None, None, None)
        except BaseException as exc:
            writer.__exit__(type(exc), exc, exc.__traceback__)
            raise
        finally:
            src.close()
        total = time.perf_counter() - t_all - check_s
    return {
        "seconds": {k: tm.seconds.get(k, 0.0) for k in STAGES},
        "n_frames": int(n_out),
        "fps": float(fps),
        "audio_s": float(speech.duration),
        "total_s": total,
        "rtf": total / speech.duration,
        "memory": mem.as_dict(),
        "src_index": src_index,
        "params": visemes.params,
        "planned_opening": np.concatenate(planned),
        "first_chunk_identical": check["identical"],
        "first_chunk_max_diff": check["max_diff"],
        "output": str(output),
        "render_backend": _backend(rdev),
    }


def _backend(device: str | None) -> str:
    from talkinghead.render.renderer import resolve_backend, resolve_device

    d = resolve_device(device)
    return f"{resolve_backend('auto', d)} on {d}"


# ------------------------------------------------------------------------------------------
# Tables


def stage_table(synths: list[dict]) -> str:
    """Per-stage ms per output frame and share, summed over clips."""
    n = sum(s["n_frames"] for s in synths)
    secs = {k: sum(s["seconds"].get(k, 0.0) for s in synths) for k in STAGES}
    total = sum(s["total_s"] for s in synths)
    audio = sum(s["audio_s"] for s in synths)
    notes = {
        "speech": "Piper TTS incl. voice loading (as `say` does)",
        "visemes": "phonemes -> mouth parameters",
        "decode": "source video -> memory map; frame gathering",
        "mesh": "lower-face deformation (+ crop boxes once)",
        "render": f"conditioning images ({synths[0].get('render_backend', '?')} backend)",
        "refine": "crops, hole masks, refiner network",
        "anchor": "blend alphas, skin flow, the refiner's colours anchored to the source face's",
        "blend": "warp back, colour match, feathered blend",
        "mouths": "the person's own mouth (or a shipped interior) warped onto the planned lips",
        "detail": "the source frame's skin detail and its own skin above the upper lip, moved with the skin",
        "watermark": "invisible provenance watermark (on by default)",
        "encode": "H.264 encode + AAC mux (ffmpeg)",
    }
    rows = []
    for k in STAGES:
        ms = 1000 * secs[k] / n
        v = verdict("render_ms", ms) if k == "render" else ""
        rows.append((k, f"{ms:.1f}", f"{100 * secs[k] / total:.1f}%", notes[k], v))
    other = total - sum(secs.values())
    rows.append(("(untimed: checks, bookkeeping)", f"{1000 * other / n:.1f}", f"{100 * other / total:.1f}%", "", ""))
    rtf = total / audio
    rows.append(("**total**", f"{1000 * total / n:.1f}", "100%", f"{n} frames, {audio:.1f} s of audio: "
                 f"**{rtf:.2f}x real time**", verdict("synthesis_rtf", rtf)))
    return md_table(("stage", "ms / output frame", "share", "what", "target"), rows)


def prep_table(preps: list[tuple[str, dict]]) -> str:
    rows = []
    for name, p in preps:
        rows.append((name, p["source_frames"], f"{p['track_s']:.1f}", f"{p['track_fps']:.1f} "
                     f"({verdict('tracking_fps', p['track_fps'])})", f"{p['data_s']:.1f}",
                     f"{p['finetune_s']:.1f} ({p['steps']} steps)", f"{p['total_s']:.1f}",
                     verdict("prepare_s", p["total_s"]), f"{p['memory']['peak_mb'] / 1024:.2f}"))
    return md_table(("clip", "frames", "tracking (s)", "tracking fps", "fine-tune data (s)", "fine-tune (s)",
                     "total (s)", "target <= 300 s", "peak RSS (GiB)"), rows)


def synth_table(synths: list[tuple[str, dict]]) -> str:
    rows = []
    for name, s in synths:
        rows.append((name, s["n_frames"], f"{s['audio_s']:.2f}", f"{s['total_s']:.1f}", f"{s['rtf']:.2f}",
                     verdict("synthesis_rtf", s["rtf"]), f"{s['memory']['peak_mb'] / 1024:.2f}",
                     "yes" if s["first_chunk_identical"] else f"no (max diff {s['first_chunk_max_diff']})"))
    return md_table(("clip", "frames", "audio (s)", "synthesis (s)", "x real time", "target", "peak RSS (GiB)",
                     "split == refine_frames"), rows)


def piper_table(p: dict) -> str:
    return md_table(("voice load (s)", "audio (s)", "synthesis (s)", "real-time factor", "target"),
                    [(fmt(p["load_s"]), fmt(p["audio_s"]), fmt(p["synth_s"]), f"{p['rtf']:.3f}",
                      verdict("piper_rtf", p["rtf"]))])


def main(argv: list[str] | None = None) -> int:
    """Speed only (no quality measurements): ``run_all.py --no-quality``."""
    import run_all

    return run_all.main(list(argv if argv is not None else sys.argv[1:]) + ["--no-quality"],
                        prog="bench_pipeline.py", doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
